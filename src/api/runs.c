/*
 * api/runs.c - the runs API (spec/api.md 6.4 and 6.9): retrieve, list,
 * cancel, replay, reschedule, tags, metadata, result, idempotency reset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/status.h"
#include "util/timefmt.h"

/* Loads the run named by path param 0, replying 404 (retryable) if absent. */
static bool load_run(http_ctx *c, store_run *r)
{
    err_t e = {0};
    if (engine_run_get(c->app->en, c->auth.env, http_param(c, 0), r, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            http_add_header(c, "x-should-retry", "true");
        http_reply_error(c, http_status_of(e.code), e.code == ERR_NOT_FOUND ? "Not found" : e.msg);
        return false;
    }
    return true;
}

/* JWT read access to a run: its id, task, any tag, or its batch. */
bool api_can_read_run(http_ctx *c, const store_run *r)
{
    if (c->auth.kind == AUTH_SECRET)
        return true;
    scope_res res[16];
    size_t n = 0;
    res[n++] = (scope_res){"runs", r->friendly_id};
    res[n++] = (scope_res){"tasks", r->task};
    if (r->batch_id)
        res[n++] = (scope_res){"batch", r->batch_id};
    json_t *tags = jsontext_loads(r->tags ? r->tags : "[]", 0, NULL);
    for (size_t i = 0; i < json_array_size(tags) && n < 16; i++)
        res[n++] = (scope_res){"tags", json_string_value(json_array_get(tags, i))};
    bool ok = http_authorize(c, "read", res, n);
    json_decref(tags);
    return ok;
}

void api_runs_retrieve(http_ctx *c)
{
    store_run r = {0};
    if (!load_run(c, &r))
        return;
    if (api_can_read_run(c, &r))
        http_reply_json(c, 200, api_present_run(c, &r, true));
    store_run_clear(&r);
}

/* ---- list ------------------------------------------------------------- */

typedef struct list_parse {
    http_ctx *c;
    store_run_filter *f;
    const char *error;
    int64_t page_size;
    const char *envs; /* filter[env] for the project-scoped list */
} list_parse;

/* Splits a comma list into arr (pool memory), up to STORE_FILTER_MAX. */
static size_t split(http_ctx *c, const char *v, const char **arr)
{
    size_t n = 0;
    char *copy = http_sprintf(c, "%s", v);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && n < STORE_FILTER_MAX;
         t = strtok_r(NULL, ",", &save))
        if (*t)
            arr[n++] = t;
    return n;
}

static bool parse_int64(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end)
        return false;
    *out = v;
    return true;
}

static void list_param(void *ud, const char *k, const char *v)
{
    list_parse *p = ud;
    store_run_filter *f = p->f;
    http_ctx *c = p->c;
    if (strcmp(k, "page[size]") == 0) {
        if (!parse_int64(v, &p->page_size) || p->page_size < 1 || p->page_size > 100)
            p->error = "page[size] must be between 1 and 100";
    } else if (strcmp(k, "page[after]") == 0) {
        if (!parse_int64(v, &f->after_seq))
            p->error = "Invalid cursor";
    } else if (strcmp(k, "page[before]") == 0) {
        if (!parse_int64(v, &f->before_seq))
            p->error = "Invalid cursor";
    } else if (strcmp(k, "filter[status]") == 0) {
        const char *names[STORE_FILTER_MAX];
        size_t n = split(c, v, names);
        for (size_t i = 0; i < n; i++) {
            run_status out[2];
            int m = status_filter_to_db(names[i], out);
            if (m == 0) {
                p->error = "Invalid status filter";
                return;
            }
            for (int j = 0; j < m && f->n_status < STORE_FILTER_MAX; j++)
                f->statuses[f->n_status++] = out[j];
        }
    } else if (strcmp(k, "filter[taskIdentifier]") == 0) {
        f->n_task = split(c, v, f->tasks);
    } else if (strcmp(k, "filter[version]") == 0) {
        f->n_version = split(c, v, f->versions);
    } else if (strcmp(k, "filter[tag]") == 0) {
        f->n_tag = split(c, v, f->tags);
    } else if (strcmp(k, "filter[batch]") == 0) {
        f->n_batch = split(c, v, f->batch_ids);
    } else if (strcmp(k, "filter[queue]") == 0) {
        f->n_queue = split(c, v, f->queues); /* "task/<name>" or a custom name */
    } else if (strcmp(k, "filter[schedule]") == 0) {
        f->n_schedule = split(c, v, f->schedule_ids);
    } else if (strcmp(k, "filter[machine]") == 0) {
        f->n_machine = split(c, v, f->machines);
        for (size_t i = 0; i < f->n_machine; i++)
            if (!api_machine_valid(f->machines[i]))
                p->error = "Invalid machine preset";
    } else if (strcmp(k, "filter[isTest]") == 0) {
        if (strcmp(v, "true") == 0)
            f->is_test = 1;
        else if (strcmp(v, "false") == 0)
            f->is_test = 0;
        else
            p->error = "filter[isTest] must be true or false";
    } else if (strcmp(k, "filter[createdAt][from]") == 0) {
        if (!parse_int64(v, &f->created_from) && time_parse_iso(v, &f->created_from) != 0)
            p->error = "Invalid filter[createdAt][from]";
    } else if (strcmp(k, "filter[createdAt][to]") == 0) {
        if (!parse_int64(v, &f->created_to) && time_parse_iso(v, &f->created_to) != 0)
            p->error = "Invalid filter[createdAt][to]";
    } else if (strcmp(k, "filter[createdAt][period]") == 0) {
        int64_t ms;
        if (dur_parse(v, &ms) != 0)
            p->error = "Invalid filter[createdAt][period]";
        else
            f->created_from = c->now - ms;
    } else if (strcmp(k, "filter[env]") == 0) {
        p->envs = v;
    }
}

static void reply_list(http_ctx *c, store_run_filter *f, const store_env *const *envs,
                       size_t n_envs)
{
    store_run *runs = NULL;
    size_t n = 0;
    bool more = false;
    if (store_run_list(c->app->st, f, &runs, &n, &more) != 0) {
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        const store_env *env = envs[0];
        for (size_t k = 0; k < n_envs; k++)
            if (strcmp(envs[k]->id, runs[i].env_id) == 0)
                env = envs[k];
        json_array_append_new(data, api_present_list_item(c, &runs[i], env));
    }
    json_t *pag = api_cursor_pagination(n, n ? runs[0].seq : 0, n ? runs[n - 1].seq : 0,
                                        f->before_seq > 0, more, f->after_seq > 0);
    for (size_t i = 0; i < n; i++)
        store_run_clear(&runs[i]);
    free(runs);
    http_reply_json(c, 200, json_pack("{s:o,s:o}", "data", data, "pagination", pag));
}

static bool parse_list(http_ctx *c, store_run_filter *f, list_parse *p)
{
    memset(f, 0, sizeof *f);
    f->is_test = -1;
    memset(p, 0, sizeof *p);
    p->c = c;
    p->f = f;
    p->page_size = 25;
    http_query_each(c, list_param, p);
    if (p->error) {
        http_reply_json(
            c, 400,
            json_pack("{s:s,s:[{s:s}]}", "error", "Query Error", "details", "message", p->error));
        return false;
    }
    f->limit = (int)p->page_size;
    return true;
}

bool api_runs_filter(http_ctx *c, store_run_filter *f)
{
    list_parse p;
    return parse_list(c, f, &p);
}

void api_runs_list(http_ctx *c)
{
    store_run_filter f;
    list_parse p;
    if (!parse_list(c, &f, &p))
        return;
    if (c->auth.kind == AUTH_JWT) {
        scope_res coll[2] = {{"runs", NULL}, {"tasks", NULL}};
        bool ok = scopes_grant_any(c->auth.scopes, "read", coll, 2);
        if (!ok && f.n_task) {
            ok = true;
            for (size_t i = 0; i < f.n_task && ok; i++) {
                scope_res t = {"tasks", f.tasks[i]};
                ok = scopes_grant(c->auth.scopes, "read", &t);
            }
        }
        if (!ok && !http_authorize(c, "read", coll, 2))
            return;
    }
    f.env_ids[0] = c->auth.env->id;
    f.n_env = 1;
    const store_env *envs[1] = {c->auth.env};
    reply_list(c, &f, envs, 1);
}

void api_project_runs_list(http_ctx *c)
{
    store_project proj = {0};
    if (store_project_get(c->app->st, &proj) != 0 || strcmp(proj.ref, http_param(c, 0)) != 0) {
        http_reply_error(c, 404, "Project not found");
        return;
    }
    store_run_filter f;
    list_parse p;
    if (!parse_list(c, &f, &p))
        return;
    const store_env *envs[8];
    size_t n = 0;
    if (p.envs) {
        const char *names[STORE_FILTER_MAX];
        size_t k = split(c, p.envs, names);
        for (size_t i = 0; i < k && n < 8; i++) {
            const store_env *e = auth_env_by_slug(c->app->au, names[i]);
            if (e) {
                envs[n++] = e;
                break; /* the first match is used, as the real API does */
            }
        }
        if (n == 0) {
            http_reply_error(c, 500, "Internal Server Error");
            return;
        }
    } else {
        const char *slugs[] = {"dev", "stg", "prod"};
        for (size_t i = 0; i < 3; i++) {
            const store_env *e = auth_env_by_slug(c->app->au, slugs[i]);
            if (e)
                envs[n++] = e;
        }
    }
    for (size_t i = 0; i < n; i++)
        f.env_ids[i] = envs[i]->id;
    f.n_env = n;
    reply_list(c, &f, envs, n);
}

/* ---- mutations -------------------------------------------------------- */

void api_runs_cancel(http_ctx *c)
{
    store_run r = {0};
    err_t e = {0};
    if (engine_run_get(c->app->en, c->auth.env, http_param(c, 0), &r, &e) != 0) {
        http_reply_error(c, http_status_of(e.code),
                         e.code == ERR_NOT_FOUND ? "Resource not found" : e.msg);
        return;
    }
    scope_res res[2] = {{"runs", r.friendly_id}, {"tasks", r.task}};
    bool ok = c->auth.kind == AUTH_SECRET || http_authorize(c, "write", res, 2);
    store_run_clear(&r);
    if (!ok)
        return;
    if (engine_run_cancel(c->app->en, c->auth.env, http_param(c, 0), c->now, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s}", "id", http_param(c, 0)));
}

void api_runs_replay(http_ctx *c)
{
    trigger_result tr;
    err_t e = {0};
    if (engine_run_replay(c->app->en, c->auth.env, http_param(c, 0), c->now, &tr, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            http_reply_error(c, 404, "Run not found");
        else
            http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s}", "id", tr.run_id));
}

void api_runs_reschedule(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *d = json_object_get(body, "delay");
    int64_t at;
    if (!json_is_string(d) || time_parse_when(json_string_value(d), c->now, &at) != 0) {
        http_reply_error(
            c, 400,
            http_sprintf(c, "Invalid delay: %s", json_is_string(d) ? json_string_value(d) : ""));
        return;
    }
    err_t e = {0};
    if (engine_run_reschedule(c->app->en, c->auth.env, http_param(c, 0), at, c->now, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    store_run r = {0};
    if (!load_run(c, &r))
        return;
    http_reply_json(c, 200, api_present_run(c, &r, true));
    store_run_clear(&r);
}

void api_runs_tags(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *tags = json_object_get(body, "tags");
    size_t n = json_is_array(tags) ? json_array_size(tags) : 1;
    const char **tv = h2o_mem_alloc_pool(&c->req->pool, (n ? n : 1) * sizeof *tv);
    if (json_is_string(tags)) {
        tv[0] = json_string_value(tags);
    } else if (json_is_array(tags)) {
        for (size_t i = 0; i < n; i++) {
            tv[i] = json_string_value(json_array_get(tags, i));
            if (!tv[i]) {
                http_reply_json(c, 400,
                                json_pack("{s:s,s:[]}", "error", "Invalid request body", "issues"));
                return;
            }
        }
    } else {
        http_reply_json(c, 400, json_pack("{s:s,s:[]}", "error", "Invalid request body", "issues"));
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (strlen(tv[i]) > ENGINE_TAG_MAX_LEN) {
            http_reply_error(c, 400, "Tags must be less than 128 characters");
            return;
        }
    size_t added;
    err_t e = {0};
    if (engine_run_add_tags(c->app->en, c->auth.env, http_param(c, 0), tv, n, c->now, &added, &e) !=
        0) {
        http_reply_err(c, &e);
        return;
    }
    if (added == 0)
        http_reply_json(c, 200, json_pack("{s:s}", "message", "No new tags to add"));
    else
        http_reply_json(c, 200,
                        json_pack("{s:s}", "message",
                                  http_sprintf(c, "Successfully set %zu new tags.", added)));
}

static bool valid_ops(json_t *ops)
{
    return !ops || json_is_null(ops) || json_is_array(ops);
}

void api_runs_metadata_put(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *md = json_object_get(body, "metadata");
    if (!json_is_object(body) || (md && !json_is_null(md) && !json_is_object(md)) ||
        !valid_ops(json_object_get(body, "operations")) ||
        !valid_ops(json_object_get(body, "parentOperations")) ||
        !valid_ops(json_object_get(body, "rootOperations"))) {
        http_reply_error(c, 400, "Invalid request body");
        return;
    }
    json_t *out = NULL;
    err_t e = {0};
    if (engine_run_update_metadata(c->app->en, c->auth.env, http_param(c, 0), body, c->now, &out,
                                   &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:o}", "metadata", out));
}

/* The real server returns the raw packet string here, which the SDK's schema
 * rejects (spec/api.md [20]); we return the parsed object, which it accepts. */
void api_runs_metadata_get(http_ctx *c)
{
    store_run r = {0};
    if (!load_run(c, &r))
        return;
    json_t *md = r.metadata ? jsontext_loads(r.metadata, 0, NULL) : NULL;
    http_reply_json(c, 200,
                    json_pack("{s:o,s:s}", "metadata", md ? md : json_object(), "metadataType",
                              r.metadata_type ? r.metadata_type : "application/json"));
    store_run_clear(&r);
}

json_t *api_present_result(const store_run *r)
{
    json_t *o;
    if (r->status == RUN_COMPLETED_SUCCESSFULLY) {
        o = json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "id", r->friendly_id, "outputType",
                      r->output_type ? r->output_type : "application/json", "taskIdentifier",
                      r->task);
        if (r->output)
            json_object_set_new(o, "output", json_string(r->output));
    } else {
        json_t *err = NULL;
        if (r->status == RUN_CANCELED)
            err = json_pack("{s:s,s:s}", "type", "INTERNAL_ERROR", "code", "TASK_RUN_CANCELLED");
        else if (r->error)
            err = jsontext_loads(r->error, 0, NULL);
        if (!err)
            err = json_pack("{s:s,s:s}", "type", "STRING_ERROR", "raw", "Unknown error");
        o = json_pack("{s:b,s:s,s:o,s:s}", "ok", 0, "id", r->friendly_id, "error", err,
                      "taskIdentifier", r->task);
    }
    return o;
}

void api_runs_result(http_ctx *c)
{
    store_run r = {0};
    err_t e = {0};
    if (engine_run_get(c->app->en, c->auth.env, http_param(c, 0), &r, &e) != 0 ||
        !status_is_final((run_status)r.status)) {
        store_run_clear(&r);
        http_reply_error(c, 404, "Run either doesn't exist or is not finished");
        return;
    }
    json_t *o = api_present_result(&r);
    store_run_clear(&r);
    http_reply_json(c, 200, o);
}

void api_idempotency_reset(http_ctx *c)
{
    if (c->auth.kind == AUTH_JWT) {
        scope_res res = {"runs", NULL};
        if (!http_authorize(c, "write", &res, 1))
            return;
    }
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *task = json_object_get(body, "taskIdentifier");
    if (!json_is_string(task) || json_string_length(task) == 0) {
        http_reply_error(c, 400, "taskIdentifier is required");
        return;
    }
    err_t e = {0};
    if (engine_idempotency_reset(c->app->en, c->auth.env, http_param(c, 0), json_string_value(task),
                                 &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s}", "id", http_param(c, 0)));
}
