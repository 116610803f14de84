/*
 * api/batches.c - batches (spec/api.md 6.2): the two-phase streaming batch
 * the 4.5 SDK uses (create, then NDJSON items deduplicated by index), the
 * one-shot routes older SDKs use, and batch retrieve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/timefmt.h"

#define ITEM_LINE_MAX (3 * 1024 * 1024)

static void batch_jwt(http_ctx *c, const char *id, bool write)
{
    json_t *scopes = json_pack("[s]", http_sprintf(c, "read:batch:%s", id));
    if (write)
        json_array_append_new(scopes, json_string(http_sprintf(c, "write:batch:%s", id)));
    api_jwt_headers(c, scopes, false);
    json_decref(scopes);
}

static bool can_batch_trigger(http_ctx *c, json_t *tasks)
{
    if (c->auth.kind == AUTH_SECRET)
        return true;
    scope_res coll[2] = {{"tasks", NULL}, {"batch", NULL}};
    if (scopes_grant_any(c->auth.scopes, "batchTrigger", coll, 2))
        return true;
    size_t n = json_array_size(tasks);
    bool ok = n > 0;
    for (size_t i = 0; i < n && ok; i++) {
        scope_res t = {"tasks", json_string_value(json_array_get(tasks, i))};
        ok = t.id && scopes_grant(c->auth.scopes, "batchTrigger", &t);
    }
    return ok || http_authorize(c, "batchTrigger", coll, 2);
}

void api_batch_create(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *rc = json_object_get(body, "runCount");
    if (!json_is_integer(rc) || json_integer_value(rc) <= 0) {
        http_reply_error(c, 400, "runCount must be a positive integer");
        return;
    }
    if (json_integer_value(rc) > API_BATCH_MAX_ITEMS) {
        http_reply_error(c, 400,
                         http_sprintf(c, "Batch runCount of %lld exceeds maximum allowed of %d.",
                                      (long long)json_integer_value(rc), API_BATCH_MAX_ITEMS));
        return;
    }
    if (!can_batch_trigger(c, json_object_get(body, "taskIdentifiers")))
        return;
    batch_create_opts o = {
        .run_count = json_integer_value(rc),
        .idempotency_key = json_string_value(json_object_get(body, "idempotencyKey")),
        .parent_run_id = json_string_value(json_object_get(body, "parentRunId")),
        .resume_parent = json_is_true(json_object_get(body, "resumeParentOnCompletion")),
        .one_time_token = c->auth.kind == AUTH_JWT && c->auth.one_time ? c->auth.token_hash : NULL,
        .version = "v3",
    };
    batch_create_result res;
    err_t e = {0};
    if (engine_batch_create(c->app->en, c->auth.env, &o, c->now, &res, &e) != 0) {
        if (e.code == ERR_STORE)
            http_add_header(c, "x-should-retry", "false");
        http_reply_err(c, &e);
        return;
    }
    batch_jwt(c, res.batch_id, true);
    json_t *out = json_pack("{s:s,s:I,s:b}", "id", res.batch_id, "runCount",
                            (json_int_t)res.run_count, "isCached", res.is_cached);
    if (o.idempotency_key)
        json_object_set_new(out, "idempotencyKey", json_string(o.idempotency_key));
    http_reply_json(c, 202, out);
}

/* Parses one item object {task, payload, options} as index idx into it.
 * Replies and returns false on invalid input. item must outlive the call. */
static bool parse_item(http_ctx *c, json_t *item, int64_t idx, const char *default_task,
                       batch_item *it)
{
    json_t *task = json_object_get(item, "task");
    const char *name = json_is_string(task) ? json_string_value(task) : default_task;
    if (!name) {
        http_reply_error(c, 400, http_sprintf(c, "Item %lld has no task", (long long)idx));
        return false;
    }
    it->index = idx;
    return api_trigger_opts(c, item, name, &it->opts);
}

/* Hands parsed items to the engine; replies on failure. */
static bool add_items(http_ctx *c, const char *batch_id, batch_item *items, size_t n,
                      batch_add_result *res)
{
    err_t e = {0};
    if (engine_batch_add(c->app->en, c->auth.env, batch_id, items, n, c->now, res, &e) != 0) {
        http_reply_err(c, &e);
        return false;
    }
    return true;
}

void api_batch_items(http_ctx *c)
{
    const char *batch_id = http_param(c, 0);
    const char *ct = http_header(c, "content-type");
    if (!ct || (!strstr(ct, "application/x-ndjson") && !strstr(ct, "application/ndjson"))) {
        http_reply_error(c, 415, "Content-Type must be application/x-ndjson");
        return;
    }
    if (strncmp(batch_id, "batch_", 6) != 0) {
        http_reply_error(c, 400, "Invalid batch ID");
        return;
    }
    h2o_iovec_t b = http_body(c);
    if (b.len == 0 && c->auth.kind == AUTH_JWT) {
        http_reply_error(c, 403, "Unauthorized");
        return;
    }
    /* every line is parsed (and kept alive in `lines`) before any is triggered */
    size_t cap = 16, n = 0;
    batch_item *items = h2o_mem_alloc_pool(&c->req->pool, cap * sizeof *items);
    json_t *lines = json_array();
    const char *p = b.base, *end = b.base + b.len;
    bool ok = true;
    while (ok && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        bool blank = true;
        for (const char *q = p; q < le && blank; q++)
            blank = *q == ' ' || *q == '\r' || *q == '\t';
        if (len > ITEM_LINE_MAX) {
            http_reply_error(c, 400, "Batch item exceeds the maximum size of 3MB");
            ok = false;
        } else if (!blank) {
            json_t *item = jsontext_loadb(p, len, 0, NULL);
            json_t *idx = json_object_get(item, "index");
            if (!json_is_object(item) || !json_is_integer(idx) || json_integer_value(idx) < 0) {
                json_decref(item);
                http_reply_error(c, 400, "Invalid JSON line in batch items");
                ok = false;
                break;
            }
            json_array_append_new(lines, item);
            if (n == cap) {
                batch_item *bigger = h2o_mem_alloc_pool(&c->req->pool, 2 * cap * sizeof *items);
                memcpy(bigger, items, n * sizeof *items);
                items = bigger;
                cap *= 2;
            }
            ok = parse_item(c, item, json_integer_value(idx), NULL, &items[n++]);
        }
        p = le + 1;
    }
    batch_add_result res;
    if (ok && add_items(c, batch_id, items, n, &res)) {
        json_t *out = json_pack("{s:s,s:I,s:I,s:b}", "id", batch_id, "itemsAccepted",
                                (json_int_t)res.accepted, "itemsDeduplicated",
                                (json_int_t)res.deduplicated, "sealed", res.sealed);
        if (!res.sealed) {
            json_object_set_new(out, "enqueuedCount", json_integer(res.enqueued));
            json_object_set_new(out, "expectedCount", json_integer(res.expected));
        }
        http_reply_json(c, 200, out);
    }
    json_decref(lines);
}

/* One-shot batch: creates the batch, triggers every item, seals it.
 * items is borrowed; default_task is used for items without a task. */
static bool one_shot(http_ctx *c, json_t *body, json_t *items, const char *default_task, size_t max,
                     batch_create_result *res, const char *idem)
{
    size_t n = json_array_size(items);
    if (!json_is_array(items) || n == 0) {
        http_reply_error(c, 400, "Batch cannot be triggered with no items");
        return false;
    }
    if (n > max) {
        http_reply_error(c, 400, http_sprintf(c, "Batch size cannot exceed %zu items", max));
        return false;
    }
    batch_item *parsed = h2o_mem_alloc_pool(&c->req->pool, n * sizeof *parsed);
    json_t *tasks = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!parse_item(c, json_array_get(items, i), (int64_t)i, default_task, &parsed[i])) {
            json_decref(tasks);
            return false;
        }
        json_array_append_new(tasks, json_string(parsed[i].opts.task));
    }
    bool ok = can_batch_trigger(c, tasks);
    json_decref(tasks);
    if (!ok)
        return false;
    batch_create_opts o = {
        .run_count = (int64_t)n,
        .idempotency_key = idem,
        .parent_run_id = json_string_value(json_object_get(body, "parentRunId")),
        .resume_parent = json_is_true(json_object_get(body, "resumeParentOnCompletion")),
        .one_time_token = c->auth.kind == AUTH_JWT && c->auth.one_time ? c->auth.token_hash : NULL,
        .version = "v2",
    };
    err_t e = {0};
    if (engine_batch_create(c->app->en, c->auth.env, &o, c->now, res, &e) != 0) {
        http_add_header(c, "x-should-retry", "false");
        http_reply_err(c, &e);
        return false;
    }
    batch_add_result added;
    return res->is_cached || add_items(c, res->batch_id, parsed, n, &added);
}

/* The run ids of a batch in item order, as a JSON array of strings. */
static json_t *batch_runs(http_ctx *c, const store_batch *b)
{
    char **ids = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (store_batch_run_ids(c->app->st, b->id, &ids, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(arr, json_string(ids[i]));
            free(ids[i]);
        }
        free(ids);
    }
    return arr;
}

static bool load_batch(http_ctx *c, const char *id, store_batch *b)
{
    err_t e = {0};
    if (engine_batch_get(c->app->en, c->auth.env, id, b, &e) != 0) {
        http_add_header(c, "x-should-retry", "true");
        http_reply_error(c, e.code == ERR_NOT_FOUND ? 404 : 500, "Not found");
        return false;
    }
    return true;
}

void api_batch_v2(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *items = json_object_get(body, "items");
    json_t *tasks = json_array();
    for (size_t i = 0; i < json_array_size(items); i++)
        json_array_append(tasks, json_object_get(json_array_get(items, i), "task"));
    char *hash = api_request_hash(c, tasks);
    json_decref(tasks);
    batch_create_result res = {0};
    const char *seen = api_request_seen(c, hash);
    if (seen) {
        store_batch b = {0};
        if (!load_batch(c, seen, &b))
            return;
        snprintf(res.batch_id, sizeof res.batch_id, "%s", b.friendly_id);
        res.run_count = b.run_count;
        store_batch_clear(&b);
    } else if (!one_shot(c, body, items, NULL, API_V2_BATCH_MAX_ITEMS, &res, NULL) ||
               !api_request_remember(c, hash, res.batch_id)) {
        return;
    }
    batch_jwt(c, res.batch_id, false);
    http_reply_json(
        c, 202, json_pack("{s:s,s:I}", "id", res.batch_id, "runCount", (json_int_t)res.run_count));
}

void api_batch_v1(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    const char *idem = http_header(c, "idempotency-key");
    batch_create_result res;
    if (!one_shot(c, body, json_object_get(body, "items"), NULL, API_V2_BATCH_MAX_ITEMS, &res,
                  idem))
        return;
    store_batch b = {0};
    if (!load_batch(c, res.batch_id, &b))
        return;
    json_t *ids = batch_runs(c, &b);
    json_t *runs = json_array();
    json_t *items = json_object_get(body, "items");
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const char *task = json_string_value(json_object_get(json_array_get(items, i), "task"));
        json_array_append_new(runs, json_pack("{s:O,s:s,s:b}", "id", json_array_get(ids, i),
                                              "taskIdentifier", task ? task : "", "isCached",
                                              res.is_cached));
    }
    json_decref(ids);
    batch_jwt(c, res.batch_id, false);
    json_t *out =
        json_pack("{s:s,s:b,s:o}", "id", res.batch_id, "isCached", res.is_cached, "runs", runs);
    if (idem)
        json_object_set_new(out, "idempotencyKey", json_string(idem));
    store_batch_clear(&b);
    http_reply_json(c, 202, out);
}

void api_batch_task_v1(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    batch_create_result res;
    if (!one_shot(c, body, json_object_get(body, "items"), http_param(c, 0), 100, &res, NULL))
        return;
    store_batch b = {0};
    if (!load_batch(c, res.batch_id, &b))
        return;
    http_reply_json(c, 200,
                    json_pack("{s:s,s:o}", "batchId", res.batch_id, "runs", batch_runs(c, &b)));
    store_batch_clear(&b);
}

static json_t *present_batch(http_ctx *c, const store_batch *b)
{
    char created[32], updated[32];
    time_format_iso(b->created_at, created);
    time_format_iso(b->updated_at, updated);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:o}", "id", b->friendly_id, "status", b->status,
                          "createdAt", created, "updatedAt", updated, "runCount",
                          (json_int_t)b->run_count, "runs", batch_runs(c, b));
    if (b->idempotency_key)
        json_object_set_new(o, "idempotencyKey", json_string(b->idempotency_key));
    return o;
}

static bool can_read_batch(http_ctx *c, const char *id)
{
    scope_res res[2] = {{"batch", id}, {"runs", NULL}};
    return http_authorize(c, "read", res, 2);
}

void api_batch_retrieve_v2(http_ctx *c)
{
    store_batch b = {0};
    if (!can_read_batch(c, http_param(c, 0)) || !load_batch(c, http_param(c, 0), &b))
        return;
    json_t *o = present_batch(c, &b);
    json_t *errs = jsontext_loads(b.errors ? b.errors : "[]", 0, NULL);
    json_t *proc = json_pack("{s:o}", "errors", json_is_array(errs) ? errs : json_array());
    if (b.completed_at) {
        char done[32];
        time_format_iso(b.completed_at, done);
        json_object_set_new(proc, "completedAt", json_string(done));
        json_object_set_new(o, "processingCompletedAt", json_string(done));
    }
    json_object_set_new(o, "processing", proc);
    store_batch_clear(&b);
    http_reply_json(c, 200, o);
}

void api_batch_retrieve_v1(http_ctx *c)
{
    store_batch b = {0};
    if (!can_read_batch(c, http_param(c, 0)) || !load_batch(c, http_param(c, 0), &b))
        return;
    json_t *o = present_batch(c, &b);
    json_t *errs = jsontext_loads(b.errors ? b.errors : "[]", 0, NULL);
    size_t nerr = json_array_size(errs);
    json_object_set_new(o, "successfulRunCount", json_integer(b.items_accepted - (int64_t)nerr));
    json_object_set_new(o, "failedRunCount", json_integer((json_int_t)nerr));
    json_object_set_new(o, "errors", json_is_array(errs) ? errs : json_array());
    store_batch_clear(&b);
    http_reply_json(c, 200, o);
}

/* [9] BatchTaskRunExecutionResult: the batch's finished runs' results, in
 * item order (ApiBatchResultsPresenter). */
void api_batch_results(http_ctx *c)
{
    store_batch b = {0};
    store_run *runs = NULL;
    size_t n = 0;
    err_t e = {0};
    if (engine_batch_results(c->app->en, c->auth.env, http_param(c, 0), &b, &runs, &n, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            http_reply_error(c, 404, "Batch not found");
        else
            http_reply_error(c, 500, "Something went wrong, please try again.");
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(items, api_present_result(&runs[i]));
        store_run_clear(&runs[i]);
    }
    free(runs);
    http_reply_json(c, 200, json_pack("{s:s,s:o}", "id", b.friendly_id, "items", items));
    store_batch_clear(&b);
}
