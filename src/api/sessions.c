/*
 * api/sessions.c - sessions (spec/api.md 6.12 [55]-[62], spec/sessions.md
 * section 3): create (an upsert on externalId that also ensures a run),
 * list, retrieve, update, close, end-and-continue and the chat snapshot's
 * presigned URLs. Validation mirrors the SDK's zod schemas; the behaviour is
 * engine/sessions.c.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/sessions.h"
#include "engine/transcript.h"
#include "store/objstore.h"
#include "util/timefmt.h"

#define SESSION_TOKEN_TTL_S 3600
#define SNAPSHOT_URL_TTL_MS (300LL * 1000)

static void set_time_or_null(json_t *o, const char *k, int64_t ms)
{
    if (ms <= 0) {
        json_object_set_new(o, k, json_null());
        return;
    }
    char buf[32];
    time_format_iso(ms, buf);
    json_object_set_new(o, k, json_string(buf));
}

static json_t *loads_or(const char *text, json_t *fallback)
{
    json_t *v = text ? jsontext_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    if (!v)
        return fallback;
    json_decref(fallback);
    return v;
}

/* A SessionItem (new reference). */
static json_t *present_session(const store_session *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->friendly_id));
    json_object_set_new(o, "externalId",
                        s->external_id ? json_string(s->external_id) : json_null());
    json_object_set_new(o, "type", json_string(s->type));
    json_object_set_new(o, "taskIdentifier", json_string(s->task));
    json_object_set_new(o, "triggerConfig", loads_or(s->trigger_config, json_object()));
    json_object_set_new(o, "currentRunId",
                        s->current_run_id ? json_string(s->current_run_id) : json_null());
    json_t *tags = loads_or(s->tags, json_array());
    json_object_set_new(o, "tags", json_is_array(tags) ? tags : (json_decref(tags), json_array()));
    json_object_set_new(o, "metadata", loads_or(s->metadata, json_null()));
    set_time_or_null(o, "closedAt", s->closed_at);
    json_object_set_new(o, "closedReason",
                        s->closed_reason ? json_string(s->closed_reason) : json_null());
    set_time_or_null(o, "expiresAt", s->expires_at);
    set_time_or_null(o, "createdAt", s->created_at);
    set_time_or_null(o, "updatedAt", s->updated_at);
    return o;
}

/* The session of the URL's first parameter; replies 404 when none. */
static bool load(http_ctx *c, store_session *s)
{
    err_t e = {0};
    if (engine_session_get(c->app->en, c->auth.env, http_param(c, 0), s, &e) != 0) {
        http_reply_err(c, &e);
        return false;
    }
    return true;
}

/* JWT access to a session by any of its names: the URL value, its friendly
 * id and its external id (anyResource); replies 403 when refused. */
static bool authorize(http_ctx *c, const char *action, const store_session *s)
{
    scope_res res[3] = {{"sessions", http_param(c, 0)}, {"sessions", s->friendly_id}};
    size_t n = 2;
    if (s->external_id)
        res[n++] = (scope_res){"sessions", s->external_id};
    return http_authorize(c, action, res, n);
}

/* ---- validation (the SDK's zod schemas) -------------------------------- */

static bool bad(http_ctx *c, const char *msg)
{
    http_reply_error(c, 400, msg);
    return false;
}

/* A string of min..max characters (after trimming when trim); *out points
 * into the request pool. Absent is fine unless required. */
static bool str_field(http_ctx *c, json_t *obj, const char *k, size_t min, size_t max,
                      bool required, bool trim, const char **out)
{
    *out = NULL;
    json_t *v = json_object_get(obj, k);
    if (!v) {
        if (required)
            return bad(c, http_sprintf(c, "%s is required", k));
        return true;
    }
    if (!json_is_string(v))
        return bad(c, http_sprintf(c, "%s must be a string", k));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (trim) {
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
    }
    if (len < min || len > max)
        return bad(c, http_sprintf(c, "%s must be %zu to %zu characters", k, min, max));
    char *copy = h2o_mem_alloc_pool(&c->req->pool, len + 1);
    memcpy(copy, s, len);
    copy[len] = 0;
    *out = copy;
    return true;
}

static bool tags_field(http_ctx *c, json_t *v, const char *k, size_t max)
{
    if (!json_is_array(v) || json_array_size(v) > max)
        return bad(c, http_sprintf(c, "%s must be an array of at most %zu strings", k, max));
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t)
    {
        if (!json_is_string(t) || json_string_length(t) > ENGINE_TAG_MAX_LEN)
            return bad(c, http_sprintf(c, "%s must be strings of at most %d characters", k,
                                       ENGINE_TAG_MAX_LEN));
    }
    return true;
}

static bool external_id_ok(http_ctx *c, const char *id)
{
    if (id && strncmp(id, "session_", 8) == 0)
        return bad(c, "externalId cannot start with 'session_' (reserved prefix for internal "
                      "friendlyIds)");
    return true;
}

static bool int_in(json_t *v, json_int_t lo, json_int_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

/* SessionTriggerConfig (4.5 fields plus the latest 4.x additions). */
static bool trigger_config_ok(http_ctx *c, json_t *tc)
{
    if (!json_is_object(tc))
        return bad(c, "triggerConfig is required");
    if (!json_is_object(json_object_get(tc, "basePayload")))
        return bad(c, "triggerConfig.basePayload must be an object");
    json_t *v;
    if ((v = json_object_get(tc, "machine")) &&
        !(json_is_string(v) && api_machine_valid(json_string_value(v))))
        return bad(c, "triggerConfig.machine is not a machine preset");
    if ((v = json_object_get(tc, "queue")) && !(json_is_string(v) && json_string_length(v) <= 128))
        return bad(c, "triggerConfig.queue must be a string of at most 128 characters");
    if ((v = json_object_get(tc, "tags")) && !tags_field(c, v, "triggerConfig.tags", 10))
        return false;
    if ((v = json_object_get(tc, "maxAttempts")) && !int_in(v, 1, 10))
        return bad(c, "triggerConfig.maxAttempts must be an integer from 1 to 10");
    if ((v = json_object_get(tc, "maxDuration")) && !int_in(v, 1, INT64_MAX))
        return bad(c, "triggerConfig.maxDuration must be a positive integer");
    if ((v = json_object_get(tc, "idleTimeoutInSeconds")) && !int_in(v, 1, 3600))
        return bad(c, "triggerConfig.idleTimeoutInSeconds must be an integer from 1 to 3600");
    static const char *strings[] = {"lockToVersion", "region", "concurrencyKey",
                                    "externalDeploymentId"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if ((v = json_object_get(tc, strings[i])) && !json_is_string(v))
            return bad(c, http_sprintf(c, "triggerConfig.%s must be a string", strings[i]));
    if ((v = json_object_get(tc, "ttl")) && !json_is_string(v) && !int_in(v, 0, INT64_MAX))
        return bad(c, "triggerConfig.ttl must be a duration or a number of seconds");
    return true;
}

/* ---- [55] create ------------------------------------------------------- */

void api_sessions_create(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    session_create_opts o = {0};
    if (!str_field(c, body, "type", 1, 64, true, false, &o.type) ||
        !str_field(c, body, "externalId", 1, 256, false, true, &o.external_id) ||
        !external_id_ok(c, o.external_id) ||
        !str_field(c, body, "taskIdentifier", 1, 128, true, false, &o.task))
        return;
    o.trigger_config = json_object_get(body, "triggerConfig");
    if (!trigger_config_ok(c, o.trigger_config))
        return;
    o.tags = json_object_get(body, "tags");
    if (o.tags && !tags_field(c, o.tags, "tags", ENGINE_MAX_TAGS))
        return;
    o.metadata = json_object_get(body, "metadata");
    if (o.metadata && !json_is_object(o.metadata)) {
        bad(c, "metadata must be an object");
        return;
    }
    json_t *exp = json_object_get(body, "expiresAt");
    if (json_is_string(exp)) {
        if (time_parse_iso(json_string_value(exp), &o.expires_at) != 0) {
            bad(c, "expiresAt must be a date");
            return;
        }
    } else if (json_is_number(exp)) {
        o.expires_at = (int64_t)json_number_value(exp);
    } else if (exp && !json_is_null(exp)) {
        bad(c, "expiresAt must be a date");
        return;
    }
    scope_res res[2] = {{"tasks", o.task}, {"sessions", NULL}};
    if (!http_authorize(c, "write", res, 2))
        return;
    store_session s = {0};
    bool cached = false;
    err_t e = {0};
    if (engine_session_create(c->app->en, c->auth.env, &o, c->now, &s, &cached, &e) != 0) {
        http_reply_err(c, &e);
        store_session_clear(&s);
        return;
    }
    const char *key = engine_session_key(&s);
    json_t *scopes = json_pack("[s,s]", http_sprintf(c, "read:sessions:%s", key),
                               http_sprintf(c, "write:sessions:%s", key));
    char *tok = auth_mint(c->auth.env, scopes, NULL, c->now, SESSION_TOKEN_TTL_S);
    json_decref(scopes);
    json_t *out = present_session(&s);
    json_object_set_new(out, "runId", json_string(s.current_run_id ? s.current_run_id : ""));
    json_object_set_new(out, "publicAccessToken", json_string(tok ? tok : ""));
    json_object_set_new(out, "isCached", json_boolean(cached));
    free(tok);
    store_session_clear(&s);
    http_reply_json(c, cached ? 200 : 201, out);
}

/* ---- [56] list --------------------------------------------------------- */

typedef struct list_parse {
    http_ctx *c;
    store_session_filter *f;
    const char *error;
} list_parse;

/* Splits a comma list into out (pool memory), at most STORE_FILTER_MAX. */
static size_t split(http_ctx *c, const char *v, const char **out)
{
    size_t n = 0;
    char *copy = http_sprintf(c, "%s", v);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && n < STORE_FILTER_MAX;
         t = strtok_r(NULL, ",", &save))
        out[n++] = t;
    return n;
}

static void list_param(void *ud, const char *k, const char *v)
{
    list_parse *p = ud;
    store_session_filter *f = p->f;
    char *end;
    if (strcmp(k, "page[size]") == 0) {
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 100)
            p->error = "page[size] must be between 1 and 100";
        f->limit = (int)n;
    } else if (strcmp(k, "page[after]") == 0) {
        f->after_seq = strtoll(v, &end, 10);
        if (*end || f->after_seq <= 0)
            p->error = "Invalid cursor";
    } else if (strcmp(k, "page[before]") == 0) {
        f->before_seq = strtoll(v, &end, 10);
        if (*end || f->before_seq <= 0)
            p->error = "Invalid cursor";
    } else if (strcmp(k, "filter[type]") == 0) {
        f->n_type = split(p->c, v, f->types);
    } else if (strcmp(k, "filter[tags]") == 0) {
        f->n_tag = split(p->c, v, f->tags);
    } else if (strcmp(k, "filter[taskIdentifier]") == 0) {
        f->n_task = split(p->c, v, f->tasks);
    } else if (strcmp(k, "filter[externalId]") == 0) {
        f->external_id = v;
    } else if (strcmp(k, "filter[status]") == 0) {
        const char *st[STORE_FILTER_MAX];
        size_t n = split(p->c, v, st);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(st[i], "ACTIVE") == 0)
                f->statuses |= SESSION_ACTIVE;
            else if (strcmp(st[i], "CLOSED") == 0)
                f->statuses |= SESSION_CLOSED;
            else if (strcmp(st[i], "EXPIRED") == 0)
                f->statuses |= SESSION_EXPIRED;
            else
                p->error = "filter[status] must be ACTIVE, CLOSED or EXPIRED";
        }
    } else {
        api_created_at_filter(p->c, k, v, &f->created_from, &f->created_to, &p->error);
    }
}

void api_sessions_list(http_ctx *c)
{
    store_session_filter f = {.env_id = c->auth.env->id, .now = c->now, .limit = 20};
    list_parse p = {c, &f, NULL};
    http_query_each(c, list_param, &p);
    if (!p.error && f.after_seq && f.before_seq)
        p.error = "Cannot use both page[after] and page[before]";
    if (p.error) {
        http_reply_json(
            c, 400,
            json_pack("{s:s,s:[{s:s}]}", "error", "Query Error", "details", "message", p.error));
        return;
    }
    /* a JWT reads every session, or (with a task filter) every filtered task */
    scope_res coll[2] = {{"sessions", NULL}, {"tasks", NULL}};
    if (c->auth.kind == AUTH_JWT && f.n_task) {
        scope_res tasks[STORE_FILTER_MAX];
        for (size_t i = 0; i < f.n_task; i++)
            tasks[i] = (scope_res){"tasks", f.tasks[i]};
        if (!scopes_grant_every(c->auth.scopes, "read", tasks, f.n_task, coll, 2) &&
            !http_authorize(c, "read", coll, 0))
            return;
    } else if (!http_authorize(c, "read", coll, 2)) {
        return;
    }
    store_session *ss = NULL;
    size_t n = 0;
    bool more = false;
    if (engine_session_list(c->app->en, &f, &ss, &n, &more) != 0) {
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, present_session(&ss[i]));
    json_t *pag = api_cursor_pagination(n, n ? ss[0].seq : 0, n ? ss[n - 1].seq : 0,
                                        f.before_seq > 0, more, f.after_seq > 0);
    for (size_t i = 0; i < n; i++)
        store_session_clear(&ss[i]);
    free(ss);
    http_reply_json(c, 200, json_pack("{s:o,s:o}", "data", data, "pagination", pag));
}

/* ---- [57] retrieve, [58] update, [59] close ----------------------------- */

void api_sessions_retrieve(http_ctx *c)
{
    store_session s = {0};
    if (!load(c, &s))
        return;
    if (authorize(c, "read", &s))
        http_reply_json(c, 200, present_session(&s));
    store_session_clear(&s);
}

/* admin on sessions:<the URL value> (update and close) */
static bool authorize_admin(http_ctx *c)
{
    scope_res res = {"sessions", http_param(c, 0)};
    return http_authorize(c, "admin", &res, 1);
}

void api_sessions_update(http_ctx *c)
{
    if (!authorize_admin(c))
        return;
    json_t *body = http_json(c);
    if (!body)
        return;
    session_update_opts o = {0};
    json_t *v;
    if ((v = json_object_get(body, "tags"))) {
        if (!tags_field(c, v, "tags", ENGINE_MAX_TAGS))
            return;
        o.has_tags = true;
        o.tags = v;
    }
    if ((v = json_object_get(body, "metadata"))) {
        if (!json_is_object(v) && !json_is_null(v)) {
            bad(c, "metadata must be an object or null");
            return;
        }
        o.has_metadata = true;
        o.metadata = v;
    }
    if ((v = json_object_get(body, "externalId"))) {
        o.has_external_id = true;
        if (!json_is_null(v) &&
            (!str_field(c, body, "externalId", 1, 256, false, true, &o.external_id) ||
             !external_id_ok(c, o.external_id)))
            return;
    }
    store_session s = {0};
    err_t e = {0};
    if (engine_session_update(c->app->en, c->auth.env, http_param(c, 0), &o, c->now, &s, &e) != 0)
        http_reply_err(c, &e);
    else
        http_reply_json(c, 200, present_session(&s));
    store_session_clear(&s);
}

void api_sessions_close(http_ctx *c)
{
    if (!authorize_admin(c))
        return;
    json_t *body = http_body(c).len ? http_json(c) : json_object();
    if (!body)
        return;
    if (!c->body)
        c->body = body;
    const char *reason = NULL;
    if (!str_field(c, body, "reason", 0, 256, false, false, &reason))
        return;
    store_session s = {0};
    err_t e = {0};
    if (engine_session_close(c->app->en, c->auth.env, http_param(c, 0), reason, c->now, &s, &e) !=
        0)
        http_reply_err(c, &e);
    else
        http_reply_json(c, 200, present_session(&s));
    store_session_clear(&s);
}

/* ---- [60] end-and-continue --------------------------------------------- */

void api_sessions_end_and_continue(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    const char *calling = NULL, *reason = NULL;
    if (!str_field(c, body, "callingRunId", 1, 256, true, false, &calling) ||
        !str_field(c, body, "reason", 0, 64, true, false, &reason))
        return;
    store_session s = {0};
    if (!load(c, &s))
        return;
    bool ok = authorize(c, "write", &s);
    store_session_clear(&s);
    if (!ok)
        return;
    char run_id[64] = "";
    bool swapped = false;
    err_t e = {0};
    if (engine_session_end_and_continue(c->app->en, c->auth.env, http_param(c, 0), calling, reason,
                                        c->now, run_id, &swapped, &e) != 0) {
        int status = http_status_of(e.code);
        http_reply_error(c, status, status == 500 ? "Failed to swap session run" : e.msg);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s,s:b}", "runId", run_id, "swapped", swapped));
}

/* ---- [61] / [62] snapshot-url ------------------------------------------ */

static const char *snapshot_key(http_ctx *c, const store_session *s)
{
    return http_sprintf(c, "packets/%s/%s/sessions/%s/snapshot.json", c->auth.env->project_ref,
                        c->auth.env->slug, s->friendly_id);
}

/* PUT: where the agent uploads its chat snapshot; GET: where it reads it
 * back (a 404 there means no snapshot yet). Keyed on the friendly id. */
static void snapshot_url(http_ctx *c, const char *method, const char *action)
{
    store_session s = {0};
    if (!load(c, &s))
        return;
    if (authorize(c, action, &s)) {
        const char *key = snapshot_key(c, &s);
        http_reply_json(c, 200,
                        json_pack("{s:s}", "presignedUrl",
                                  api_object_url(c, method, key, SNAPSHOT_URL_TTL_MS)));
    }
    store_session_clear(&s);
}

void api_sessions_snapshot_put(http_ctx *c)
{
    snapshot_url(c, "PUT", "write");
}

void api_sessions_snapshot_get(http_ctx *c)
{
    snapshot_url(c, "GET", "read");
}

/* The page once the snapshot is read (limit checked by the route). */
static void transcript_done(http_ctx *c, int rc, const char *blob, size_t len, const char *ct)
{
    (void)ct;
    if (rc && rc != ERR_NOT_FOUND) {
        http_reply_error(c, rc == ERR_UNAVAILABLE ? 503 : 500, "Something went wrong");
        return;
    }
    const char *lim = http_query(c, "limit");
    int64_t limit = lim ? strtoll(lim, NULL, 10) : 0;
    http_reply_json(c, 200, transcript_page(rc ? NULL : blob, rc ? 0 : len, limit,
                                            http_query(c, "before")));
}

/* GET /api/v1/sessions/:s/transcript[?limit&before] (latest SDK; secret
 * key only): a page of the chat's persisted transcript, read from the
 * snapshot the agent uploaded; no snapshot is an empty page. */
void api_sessions_transcript(http_ctx *c)
{
    const char *lim = http_query(c, "limit");
    int64_t limit = 0;
    if (lim) {
        char *end;
        long long v = strtoll(lim, &end, 10);
        if (!*lim || *end || v < 0 || v > 1000000) {
            http_reply_error(c, 400, "limit must be a non-negative integer");
            return;
        }
        limit = v;
    }
    (void)limit;
    store_session s = {0};
    if (!load(c, &s))
        return;
    const char *key = snapshot_key(c, &s);
    store_session_clear(&s);
    api_object_get(c, key, transcript_done);
}
