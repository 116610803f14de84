/*
 * lib/runs.c - the runs API (spec/api.md 6.4): retrieve, list, cancel,
 * replay and reschedule, and the mapping of a run object onto trigger_run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client.h"
#include "jsonutil.h"
#include "tasks.h"

static void run_clear(trigger_run *r)
{
    free(r->id);
    free(r->status);
    free(r->task_identifier);
    free(r->created_at);
    free(r->updated_at);
    free(r->delayed_until);
    free(r->idempotency_key);
    trigger__strv_free(r->tags, r->tags_count);
    free(r->payload_json);
    free(r->output_json);
    free(r->metadata_json);
    free(r->error_message);
    *r = (trigger_run){0};
}

void trigger_run_free(trigger_run *r)
{
    if (!r)
        return;
    run_clear(r);
    free(r);
}

/* Fills r from a run object (retrieve, list item and reschedule share the
 * common fields). Returns 0 or TRIGGER_ENOMEM, r cleared on failure. */
static int run_parse(const json_t *j, trigger_run *r)
{
    int err = 0;
    r->id = trigger__json_str(j, "id", &err);
    r->status = trigger__json_str(j, "status", &err);
    r->task_identifier = trigger__json_str(j, "taskIdentifier", &err);
    r->created_at = trigger__json_str(j, "createdAt", &err);
    r->updated_at = trigger__json_str(j, "updatedAt", &err);
    r->delayed_until = trigger__json_str(j, "delayedUntil", &err);
    r->idempotency_key = trigger__json_str(j, "idempotencyKey", &err);
    r->tags = trigger__json_strv(j, "tags", &r->tags_count, &err);
    r->payload_json = trigger__json_text(j, "payload", &err);
    r->output_json = trigger__json_text(j, "output", &err);
    r->metadata_json = trigger__json_text(j, "metadata", &err);
    r->error_message = trigger__json_str(json_object_get(j, "error"), "message", &err);
    r->attempt_count = (int)json_integer_value(json_object_get(j, "attemptCount"));
    r->is_test = json_is_true(json_object_get(j, "isTest"));
    if (err)
        run_clear(r);
    return err;
}

static int run_new(trigger_client *c, const json_t *j, trigger_run **out)
{
    trigger_run *r = calloc(1, sizeof *r);
    if (!r || run_parse(j, r)) {
        free(r);
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    }
    if (!r->id) {
        trigger_run_free(r);
        return trigger__fail(c, TRIGGER_ESERVER, "run reply has no id");
    }
    *out = r;
    return TRIGGER_OK;
}

/* Performs METHOD /api/<version>/runs/<id><suffix> with an optional body. */
static int run_call(trigger_client *c, const char *method, const char *version, const char *run_id,
                    const char *suffix, const json_t *body, trigger__reply *rp)
{
    if (!run_id || !*run_id)
        return trigger__fail(c, TRIGGER_EBADREQ, "a run id is required");
    trigger__buf path = {0};
    trigger__buf_puts(&path, "/api/");
    trigger__buf_puts(&path, version);
    trigger__buf_puts(&path, "/runs/");
    trigger__buf_put_encoded(&path, run_id);
    trigger__buf_puts(&path, suffix);
    if (path.oom)
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    trigger__call call = {.method = method, .path = path.data, .json = body};
    int rc = trigger__request(c, &call, rp);
    trigger__buf_free(&path);
    return rc;
}

int trigger_runs_retrieve(trigger_client *c, const char *run_id, trigger_run **out)
{
    if (!out)
        return trigger__fail(c, TRIGGER_EBADREQ, "out is required");
    trigger__reply rp = {0};
    int rc = run_call(c, "GET", "v3", run_id, "", NULL, &rp);
    if (!rc)
        rc = run_new(c, rp.json, out);
    trigger__reply_clear(&rp);
    return rc;
}

/* ---- list ---------------------------------------------------------------- */

void trigger_run_page_free(trigger_run_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++)
        run_clear(&p->runs[i]);
    free(p->runs);
    free(p->next_cursor);
    free(p);
}

static char *list_path(const trigger_list_filter *f)
{
    trigger__buf b = {0};
    trigger__buf_puts(&b, "/api/v1/runs");
    if (f && f->limit > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", f->limit);
        trigger__buf_put_query(&b, "page[size]", n);
    }
    if (f && f->cursor)
        trigger__buf_put_query(&b, "page[after]", f->cursor);
    if (f && f->status)
        trigger__buf_put_query(&b, "filter[status]", f->status);
    if (f && f->task)
        trigger__buf_put_query(&b, "filter[taskIdentifier]", f->task);
    if (f && f->tag)
        trigger__buf_put_query(&b, "filter[tag]", f->tag);
    return trigger__buf_take(&b);
}

static int page_parse(trigger_client *c, const json_t *j, trigger_run_page **out)
{
    json_t *data = json_object_get(j, "data");
    if (!json_is_array(data))
        return trigger__fail(c, TRIGGER_ESERVER, "run list reply has no data array");
    trigger_run_page *p = calloc(1, sizeof *p);
    size_t n = json_array_size(data);
    if (!p || (n && !(p->runs = calloc(n, sizeof *p->runs))))
        goto oom;
    for (; p->count < n; p->count++)
        if (run_parse(json_array_get(data, p->count), &p->runs[p->count]))
            goto oom;
    int err = 0;
    p->next_cursor = trigger__json_str(json_object_get(j, "pagination"), "next", &err);
    if (err)
        goto oom;
    *out = p;
    return TRIGGER_OK;
oom:
    trigger_run_page_free(p);
    return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
}

int trigger_runs_list(trigger_client *c, const trigger_list_filter *f, trigger_run_page **out)
{
    if (!out)
        return trigger__fail(c, TRIGGER_EBADREQ, "out is required");
    char *path = list_path(f);
    if (!path)
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    trigger__reply rp = {0};
    trigger__call call = {.method = "GET", .path = path};
    int rc = trigger__request(c, &call, &rp);
    if (!rc)
        rc = page_parse(c, rp.json, out);
    trigger__reply_clear(&rp);
    free(path);
    return rc;
}

/* ---- actions ------------------------------------------------------------- */

int trigger_runs_cancel(trigger_client *c, const char *run_id)
{
    trigger__reply rp = {0};
    int rc = run_call(c, "POST", "v2", run_id, "/cancel", NULL, &rp);
    trigger__reply_clear(&rp);
    return rc;
}

int trigger_runs_replay(trigger_client *c, const char *run_id, trigger_handle *out)
{
    if (!out)
        return trigger__fail(c, TRIGGER_EBADREQ, "out is required");
    trigger__reply rp = {0};
    int rc = run_call(c, "POST", "v1", run_id, "/replay", NULL, &rp);
    if (!rc)
        rc = trigger__copy_id(c, out->id, json_string_value(json_object_get(rp.json, "id")));
    if (!rc)
        out->is_cached = false;
    trigger__reply_clear(&rp);
    return rc;
}

int trigger_runs_reschedule(trigger_client *c, const char *run_id, const char *delay,
                            trigger_run **out)
{
    if (!delay || !*delay)
        return trigger__fail(c, TRIGGER_EBADREQ, "a delay is required");
    json_t *body = json_object();
    int rc = body ? trigger__json_set_str(body, "delay", delay) : TRIGGER_ENOMEM;
    if (rc) {
        json_decref(body);
        return trigger__fail(c, rc, rc == TRIGGER_ENOMEM ? "out of memory" : "delay not UTF-8");
    }
    trigger__reply rp = {0};
    rc = run_call(c, "POST", "v1", run_id, "/reschedule", body, &rp);
    if (!rc && out)
        rc = run_new(c, rp.json, out);
    trigger__reply_clear(&rp);
    json_decref(body);
    return rc;
}
