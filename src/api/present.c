/*
 * api/present.c - shapes shared by the API files: trigger options parsed
 * from a request body, runs presented as the SDK's RetrieveRunResponse and
 * ListRunResponseItem (optional fields absent, never null: the SDK's zod
 * schemas reject null there), and the tokens minted into response headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/jwt.h"
#include "engine/queue.h"
#include "engine/status.h"
#include "store/schedules.h"
#include "util/crypto.h"
#include "util/jsonw.h"
#include "util/timefmt.h"

static const char *const machine_presets[] = {"micro",     "small-1x", "small-2x", "medium-1x",
                                              "medium-2x", "large-1x", "large-2x"};

bool api_machine_valid(const char *m)
{
    for (size_t i = 0; i < sizeof machine_presets / sizeof *machine_presets; i++)
        if (strcmp(m, machine_presets[i]) == 0)
            return true;
    return false;
}

static bool bad(http_ctx *c, const char *msg)
{
    http_reply_error(c, 400, msg);
    return false;
}

/* A JSON value as text: strings as they are, anything else serialized. */
static const char *as_text(http_ctx *c, json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return json_string_value(v);
    char *s = jsontext_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return NULL;
    char *p = http_sprintf(c, "%s", s);
    free(s);
    return p;
}

static bool parse_tags(http_ctx *c, json_t *tags, trigger_opts *o)
{
    if (!tags || json_is_null(tags))
        return true;
    size_t n = json_is_array(tags) ? json_array_size(tags) : 1;
    const char **tv = h2o_mem_alloc_pool(&c->req->pool, (n ? n : 1) * sizeof *tv);
    if (json_is_string(tags)) {
        tv[0] = json_string_value(tags);
    } else if (json_is_array(tags)) {
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(tags, i);
            if (!json_is_string(t))
                return bad(c, "tags must be a string or an array of strings");
            tv[i] = json_string_value(t);
        }
    } else {
        return bad(c, "tags must be a string or an array of strings");
    }
    for (size_t i = 0; i < n; i++)
        if (strlen(tv[i]) > ENGINE_TAG_MAX_LEN)
            return bad(c, "Tags must be less than 128 characters");
    o->tags = tv;
    o->n_tags = n;
    return true;
}

/* Seconds as the real API's stringifyDuration writes them: "1h1m1s",
 * units w, d, h, m, s, zero parts left out ("0s" for zero). */
const char *api_duration_string(http_ctx *c, int64_t secs)
{
    static const struct {
        const char *unit;
        int64_t secs;
    } units[] = {{"w", 604800}, {"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};
    char buf[96] = "";
    size_t len = 0;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        int64_t n = secs / units[i].secs;
        secs %= units[i].secs;
        if (n)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%lld%s", (long long)n,
                                    units[i].unit);
    }
    return http_sprintf(c, "%s", len ? buf : "0s");
}

static bool parse_ttl(http_ctx *c, json_t *ttl, trigger_opts *o)
{
    if (!ttl || json_is_null(ttl))
        return true;
    if (json_is_integer(ttl)) {
        json_int_t s = json_integer_value(ttl);
        if (s < 0)
            return bad(c, "ttl must be a non-negative integer or a duration string");
        o->ttl = api_duration_string(c, s);
        o->ttl_ms = (int64_t)s * 1000;
        return true;
    }
    if (!json_is_string(ttl))
        return bad(c, "ttl must be a non-negative integer or a duration string");
    const char *s = json_string_value(ttl);
    int64_t ms = 0;
    if (strcmp(s, "0") != 0 && dur_parse(s, &ms) != 0)
        return bad(c, http_sprintf(c, "Invalid ttl: %s", s));
    o->ttl = s;
    o->ttl_ms = ms;
    return true;
}

bool api_trigger_opts(http_ctx *c, json_t *body, const char *task, trigger_opts *o)
{
    memset(o, 0, sizeof *o);
    o->task = task;
    if (!json_is_object(body))
        return bad(c, "Expected an object");
    json_t *opts = json_object_get(body, "options");
    if (opts && !json_is_null(opts) && !json_is_object(opts))
        return bad(c, "options must be an object");
    if (json_is_null(opts))
        opts = NULL;
    json_t *payload = json_object_get(body, "payload");
    o->payload = as_text(c, payload);
    json_t *v;
#define OPT(name) (opts ? json_object_get(opts, name) : NULL)
#define STR_OPT(field, name)                                                                       \
    if ((v = OPT(name)) && !json_is_null(v)) {                                                     \
        if (!json_is_string(v))                                                                    \
            return bad(c, name " must be a string");                                               \
        o->field = json_string_value(v);                                                           \
    }
    STR_OPT(payload_type, "payloadType")
    STR_OPT(idempotency_key, "idempotencyKey")
    STR_OPT(metadata_type, "metadataType")
    STR_OPT(parent_run_id, "parentRunId")
    STR_OPT(lock_to_version, "lockToVersion")
    STR_OPT(machine, "machine")
#undef STR_OPT
    if (o->payload_type && strcmp(o->payload_type, "application/store") == 0 &&
        (!json_is_string(payload) || !json_string_length(payload)))
        return bad(c, "payload must be a non-empty string when options.payloadType is "
                      "application/store");
    if (o->idempotency_key && strlen(o->idempotency_key) > 2048)
        return bad(c, "idempotencyKey must be 2048 characters or less");
    if (!o->idempotency_key) {
        const char *h = http_header(c, "idempotency-key");
        if (h && *h)
            o->idempotency_key = h;
    }
    if ((v = OPT("idempotencyKeyOptions")) && json_is_object(v)) {
        json_t *k = json_object_get(v, "key");
        if (json_is_string(k))
            o->idempotency_key_user = json_string_value(k);
    }
    const char *ikttl = NULL;
    if ((v = OPT("idempotencyKeyTTL")) && json_is_string(v))
        ikttl = json_string_value(v);
    else
        ikttl = http_header(c, "idempotency-key-ttl");
    if (ikttl && dur_parse_simple(ikttl, &o->idempotency_ttl_ms) != 0 &&
        dur_parse(ikttl, &o->idempotency_ttl_ms) != 0)
        return bad(c, "Invalid idempotencyKeyTTL");
    if ((v = OPT("queue")) && !json_is_null(v)) {
        json_t *name = json_object_get(v, "name");
        if (!json_is_object(v) || !json_is_string(name))
            return bad(c, "queue.name must be a string");
        o->queue = json_string_value(name);
    }
    if ((v = OPT("concurrencyKey")) && !json_is_null(v)) {
        if (!json_is_string(v) && !json_is_number(v))
            return bad(c, "concurrencyKey must be a string or a number");
        o->concurrency_key = as_text(c, v);
    }
    if ((v = OPT("delay")) && !json_is_null(v)) {
        if (!json_is_string(v))
            return bad(c, "delay must be a duration string or a date");
        /* like the real parseDelay, an unparsable delay means no delay */
        int64_t at;
        if (time_parse_when(json_string_value(v), c->now, &at) == 0)
            o->delay = json_string_value(v);
    }
    if (!parse_ttl(c, OPT("ttl"), o) || !parse_tags(c, OPT("tags"), o))
        return false;
    if ((v = OPT("metadata")) && !json_is_null(v))
        o->metadata = as_text(c, v);
    if ((v = OPT("priority")) && !json_is_null(v)) {
        if (!json_is_number(v))
            return bad(c, "priority must be a number");
        o->priority_ms = queue_priority_ms(json_number_value(v));
    }
    if (o->machine && !api_machine_valid(o->machine))
        return bad(c, http_sprintf(c, "Invalid machine preset: %s", o->machine));
    if ((v = OPT("maxAttempts")) && !json_is_null(v)) {
        if (!json_is_integer(v))
            return bad(c, "maxAttempts must be an integer");
        o->max_attempts = json_integer_value(v);
    }
    if ((v = OPT("maxDuration")) && !json_is_null(v)) {
        if (!json_is_number(v))
            return bad(c, "maxDuration must be a number");
        o->max_duration_s = (int64_t)json_number_value(v);
    }
    if ((v = OPT("test")) && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return bad(c, "test must be a boolean");
        o->test = json_is_true(v);
    }
    if ((v = OPT("resumeParentOnCompletion")))
        o->resume_parent = json_is_true(v);
#undef OPT
    return true;
}

void api_jwt_headers(http_ctx *c, json_t *scopes, bool full_claims)
{
    const store_env *env = c->auth.env;
    json_t *extra = NULL;
    json_t *rt = c->auth.claims ? json_object_get(c->auth.claims, "realtime") : NULL;
    if (rt)
        extra = json_pack("{s:O}", "realtime", rt);
    char *tok = auth_mint(env, scopes, extra, c->now, 3600);
    /* {sub, pub[, scopes, realtime]}: written as text, no tree */
    jsonw w = {0};
    jsonw_obj(&w);
    jsonw_kstr(&w, "sub", env->id);
    jsonw_kbool(&w, "pub", true);
    if (full_claims) {
        jsonw_kvalue(&w, "scopes", scopes);
        if (rt)
            jsonw_kvalue(&w, "realtime", rt);
    }
    jsonw_obj_end(&w);
    char *ctext = jsonw_finish(&w, NULL);
    if (tok)
        http_add_header(c, "x-trigger-jwt", tok);
    if (ctext)
        http_add_header(c, "x-trigger-jwt-claims", ctext);
    free(tok);
    free(ctext);
    json_decref(extra);
}

char *api_object_url(http_ctx *c, const char *method, const char *key, int64_t ttl_ms)
{
    char *u = objstore_url(c->app->os, http_origin(c), method, key, c->now, c->now + ttl_ms);
    if (!u)
        abort();
    char *url = http_sprintf(c, "%s", u);
    free(u);
    return url;
}

char *api_packet_key(http_ctx *c, const store_env *env, const char *filename)
{
    return http_sprintf(c, "packets/%s/%s", env->id, filename);
}

static void set_time(json_t *o, const char *k, int64_t ms)
{
    if (ms <= 0)
        return;
    char buf[32];
    time_format_iso(ms, buf);
    json_object_set_new(o, k, json_string(buf));
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

/* SerializedError {message, name?, stackTrace?} from a stored TaskRunError. */
static json_t *present_error(const char *text)
{
    json_t *e = jsontext_loads(text, 0, NULL);
    if (!json_is_object(e)) {
        json_decref(e);
        return json_pack("{s:s}", "message", text);
    }
    const char *type = json_string_value(json_object_get(e, "type"));
    json_t *out = json_object();
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (type && (strcmp(type, "STRING_ERROR") == 0 || strcmp(type, "CUSTOM_ERROR") == 0))
        msg = json_string_value(json_object_get(e, "raw"));
    if (type && strcmp(type, "INTERNAL_ERROR") == 0) {
        /* as createJsonErrorObject in @trigger.dev/core presents it */
        const char *code = json_string_value(json_object_get(e, "code"));
        char buf[256];
        snprintf(buf, sizeof buf, "trigger.dev internal error (%s)", code ? code : "UNKNOWN");
        json_object_set_new(out, "message", json_string(buf));
        json_decref(e);
        return out;
    }
    json_object_set_new(out, "message", json_string(msg ? msg : ""));
    set_str(out, "name", json_string_value(json_object_get(e, "name")));
    set_str(out, "stackTrace", json_string_value(json_object_get(e, "stackTrace")));
    json_decref(e);
    return out;
}

static json_t *common_fields(const store_run *r, bool current)
{
    run_status s = (run_status)r->status;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->friendly_id));
    json_object_set_new(o, "status", json_string(status_api_name(s, current)));
    json_object_set_new(o, "taskIdentifier", json_string(r->task));
    set_str(o, "idempotencyKey", r->idempotency_key_user);
    set_str(o, "version", r->version);
    json_object_set_new(o, "isQueued", json_boolean(status_is_queued(s)));
    json_object_set_new(o, "isExecuting", json_boolean(status_is_executing(s)));
    json_object_set_new(o, "isWaiting", json_boolean(status_is_waiting(s)));
    json_object_set_new(o, "isCompleted", json_boolean(status_is_completed(s)));
    json_object_set_new(o, "isSuccess", json_boolean(status_is_success(s)));
    json_object_set_new(o, "isFailed", json_boolean(status_is_failed(s)));
    json_object_set_new(o, "isCancelled", json_boolean(s == RUN_CANCELED));
    json_object_set_new(o, "isTest", json_boolean(r->is_test != 0));
    set_time(o, "createdAt", r->created_at);
    set_time(o, "updatedAt", r->updated_at);
    set_time(o, "startedAt", r->started_at);
    set_time(o, "finishedAt", r->completed_at);
    set_time(o, "delayedUntil", r->delay_until);
    set_str(o, "ttl", r->ttl);
    set_time(o, "expiredAt", r->expired_at);
    json_t *tags = jsontext_loads(r->tags ? r->tags : "[]", 0, NULL);
    json_object_set_new(o, "tags", json_is_array(tags) ? tags : json_array());
    if (!json_is_array(tags))
        json_decref(tags);
    json_object_set_new(o, "costInCents", json_integer(0));
    json_object_set_new(o, "baseCostInCents", json_integer(0));
    /* compute time, as the real server's usageDurationMs: waits excluded */
    json_object_set_new(o, "durationMs", json_integer(r->usage_ms));
    if (r->metadata && (!r->metadata_type || strcmp(r->metadata_type, "application/json") == 0)) {
        json_t *md = jsontext_loads(r->metadata, JSON_DECODE_ANY, NULL);
        if (json_is_object(md))
            json_object_set_new(o, "metadata", md);
        else
            json_decref(md);
    }
    return o;
}

static json_t *related(const store_run *r, bool current)
{
    json_t *o = common_fields(r, current);
    json_object_set_new(o, "depth", json_integer(r->depth));
    json_object_set_new(o, "triggerFunction",
                        json_string(r->trigger_function ? r->trigger_function : "trigger"));
    set_str(o, "batchId", r->batch_id);
    return o;
}

/* A packet jansson would not parse: nested deeper than it goes, which
 * JSON.parse accepts (or not JSON at all, then left out as before). Its
 * text goes into the reply as it is, unparsed. */
static void present_deep(http_ctx *c, json_t *o, const char *key, const char *data, bool plain)
{
    size_t n = strlen(data), off = 0, len = n;
    if (!jsontext_valid(data, n) || (!plain && !jsontext_member(data, n, "json", &off, &len)))
        return;
    json_object_set_new(o, key, http_raw_json(c, data + off, len));
}

/* A payload or output packet: parsed inline, or a presigned URL if offloaded. */
static void present_packet(http_ctx *c, json_t *o, const char *key, const char *url_key,
                           const char *data, const char *type)
{
    if (!data)
        return;
    if (type && strcmp(type, "application/store") == 0) {
        const store_env *env = c->auth.env;
        json_object_set_new(
            o, url_key,
            json_string(api_object_url(c, "GET", api_packet_key(c, env, data), 3600 * 1000)));
        return;
    }
    bool plain = !type || strcmp(type, "application/json") == 0;
    if (plain || strcmp(type, "application/super+json") == 0) {
        json_t *v = jsontext_loads(data, JSON_DECODE_ANY, NULL);
        /* superjson {json, meta}: the plain JSON part is the closest value */
        json_t *inner = plain ? v : json_object_get(v, "json");
        if (inner)
            json_object_set(o, key, inner);
        else if (!v)
            present_deep(c, o, key, data, plain);
        json_decref(v);
        return;
    }
    json_object_set_new(o, key, json_string(data));
}

json_t *api_present_run(http_ctx *c, const store_run *r, bool full)
{
    json_t *o = related(r, c->current_api);
    json_object_set_new(o, "attemptCount", json_integer(r->attempt_count));
    if (!full)
        return o;
    present_packet(c, o, "payload", "payloadPresignedUrl", r->payload, r->payload_type);
    if (r->status == RUN_COMPLETED_SUCCESSFULLY)
        present_packet(c, o, "output", "outputPresignedUrl", r->output, r->output_type);
    if (r->error)
        json_object_set_new(o, "error", present_error(r->error));
    json_t *rel = json_object();
    store *st = c->app->st;
    const char *env_id = c->auth.env ? c->auth.env->id : NULL;
    if (r->root_id) {
        store_run root = {0};
        if (store_run_get(st, env_id, r->root_id, &root) == 0)
            json_object_set_new(rel, "root", related(&root, c->current_api));
        store_run_clear(&root);
    }
    if (r->parent_id) {
        store_run parent = {0};
        if (store_run_get(st, env_id, r->parent_id, &parent) == 0)
            json_object_set_new(rel, "parent", related(&parent, c->current_api));
        store_run_clear(&parent);
    }
    store_run *kids = NULL;
    size_t nk = 0;
    json_t *children = json_array();
    if (store_run_children(st, r->friendly_id, 1000, &kids, &nk) == 0) {
        for (size_t i = 0; i < nk; i++) {
            json_array_append_new(children, related(&kids[i], c->current_api));
            store_run_clear(&kids[i]);
        }
        free(kids);
    }
    json_object_set_new(rel, "children", children);
    json_object_set_new(o, "relatedRuns", rel);
    /* RunScheduleDetails of the schedule whose tick made the run */
    store_schedule sc = {0};
    if (r->schedule_id && c->auth.env &&
        store_schedule_get(st, c->auth.env->project_id, r->schedule_id, &sc) == 0) {
        json_t *so = json_pack("{s:s,s:{s:s,s:s,s:s}}", "id", sc.friendly_id, "generator", "type",
                               "CRON", "expression", sc.cron, "description", sc.description);
        if (sc.external_id)
            json_object_set_new(so, "externalId", json_string(sc.external_id));
        if (sc.user_dedup)
            json_object_set_new(so, "deduplicationKey", json_string(sc.dedup_key));
        json_object_set_new(o, "schedule", so);
        store_schedule_clear(&sc);
    }
    json_object_set_new(o, "attempts", json_array());
    return o;
}

json_t *api_present_list_item(http_ctx *c, const store_run *r, const store_env *env)
{
    json_t *o = common_fields(r, c->current_api);
    json_t *md = json_object_get(o, "metadata");
    if (md) {
        json_object_del(md, "$$streams");
        json_object_del(md, "$$streamsVersion");
        json_object_del(md, "$$streamsBaseUrl");
    }
    json_object_set_new(o, "env", json_pack("{s:s,s:s}", "id", env->id, "name", env->slug));
    json_object_set_new(o, "depth", json_integer(r->depth));
    return o;
}

/* Retries of one logical call carry the same x-trigger-request-idempotency-key
 * (spec/api.md 1.5); the entity the first call made is remembered for 24 h. */
#define REQUEST_KEY_TTL_MS (24LL * 3600 * 1000)

char *api_request_hash(http_ctx *c, json_t *parts)
{
    const char *rk = http_header(c, "x-trigger-request-idempotency-key");
    if (!rk || !*rk)
        return NULL;
    json_t *arr = json_pack("[s,s]", rk, c->auth.env->id);
    json_array_extend(arr, parts);
    char *text = jsontext_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!text)
        return NULL;
    char *hex = h2o_mem_alloc_pool(&c->req->pool, 65);
    crypto_sha256_hex(text, strlen(text), hex);
    free(text);
    return hex;
}

const char *api_request_seen(http_ctx *c, const char *hash)
{
    char *entity = NULL;
    if (!hash || store_request_get(c->app->st, hash, c->now, &entity) != 0 || !entity)
        return NULL;
    char *id = http_sprintf(c, "%s", entity);
    free(entity);
    return id;
}

bool api_request_remember(http_ctx *c, const char *hash, const char *entity)
{
    if (!hash || store_request_put(c->app->st, hash, entity, c->now + REQUEST_KEY_TTL_MS) == 0)
        return true;
    http_reply_error(c, 500, "Something went wrong");
    return false;
}

json_t *api_cursor_pagination(size_t n, int64_t first_seq, int64_t last_seq, bool backward,
                              bool more, bool after)
{
    json_t *pag = json_object();
    if (n == 0)
        return pag;
    if (backward || more)
        json_object_set_new(pag, "next", json_sprintf("%lld", (long long)last_seq));
    if (backward ? more : after)
        json_object_set_new(pag, "previous", json_sprintf("%lld", (long long)first_seq));
    return pag;
}

bool api_created_at_filter(http_ctx *c, const char *k, const char *v, int64_t *from, int64_t *to,
                           const char **error)
{
    if (strcmp(k, "filter[createdAt][period]") == 0) {
        int64_t ms;
        if (dur_parse(v, &ms) != 0)
            *error = "Invalid filter[createdAt][period]";
        else
            *from = c->now - ms;
    } else if (strcmp(k, "filter[createdAt][from]") == 0) {
        if (time_parse_iso(v, from) != 0)
            *from = strtoll(v, NULL, 10);
    } else if (strcmp(k, "filter[createdAt][to]") == 0) {
        if (time_parse_iso(v, to) != 0)
            *to = strtoll(v, NULL, 10);
    } else {
        return false;
    }
    return true;
}
