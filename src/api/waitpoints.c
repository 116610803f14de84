/*
 * api/waitpoints.c - waitpoint tokens (spec/api.md 6.8): create, list,
 * retrieve, complete, and the callback URL that completes a token without
 * credentials, authenticated by an HMAC of the waitpoint id under the
 * environment's key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/crypto.h"
#include "util/timefmt.h"

#define TOKEN_JWT_TTL_S (24 * 3600)

static const char *callback_url(http_ctx *c, const store_env *env, const store_waitpoint *w)
{
    char mac[65];
    crypto_hmac_sha256_hex(auth_env_key(env), w->id, strlen(w->id), mac);
    return http_sprintf(c, "%s/api/v1/waitpoints/tokens/%s/callback/%s", http_origin(c),
                        w->friendly_id, mac);
}

/* WAITING, COMPLETED or TIMED_OUT (a completion with an error output). */
static const char *token_status(const store_waitpoint *w)
{
    if (strcmp(w->status, "PENDING") == 0)
        return "WAITING";
    return w->output_is_error ? "TIMED_OUT" : "COMPLETED";
}

static void set_time(json_t *o, const char *k, int64_t ms)
{
    if (ms <= 0)
        return;
    char buf[32];
    time_format_iso(ms, buf);
    json_object_set_new(o, k, json_string(buf));
}

static json_t *present_token(http_ctx *c, const store_waitpoint *w, bool full)
{
    json_t *tags = jsontext_loads(w->tags ? w->tags : "[]", 0, NULL);
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:o}", "id", w->friendly_id, "url", callback_url(c, c->auth.env, w),
                  "status", token_status(w), "tags", json_is_array(tags) ? tags : json_array());
    if (!json_is_array(tags))
        json_decref(tags);
    set_time(o, "completedAt", w->completed_at);
    set_time(o, "timeoutAt", w->timeout_at);
    set_time(o, "createdAt", w->created_at);
    if (w->idempotency_key) {
        json_object_set_new(o, "idempotencyKey", json_string(w->idempotency_key));
        set_time(o, "idempotencyKeyExpiresAt", w->idempotency_expires_at);
    }
    if (!full)
        return o;
    set_time(o, "completedAfter", w->completed_after);
    json_object_set_new(o, "type", json_string(w->type));
    json_object_set_new(o, "userProvidedIdempotencyKey",
                        json_boolean(w->user_idempotency_key != 0));
    if (w->inactive_idempotency_key)
        json_object_set_new(o, "inactiveIdempotencyKey", json_string(w->inactive_idempotency_key));
    if (w->output)
        json_object_set_new(o, "output", json_string(w->output));
    json_object_set_new(o, "outputType",
                        json_string(w->output_type ? w->output_type : "application/json"));
    json_object_set_new(o, "outputIsError", json_boolean(w->output_is_error != 0));
    return o;
}

/* Fills o from a token-shaped body (idempotencyKey, idempotencyKeyTTL,
 * timeout, tags); strings borrowed from body or the pool. On invalid input
 * replies 400 and returns false. */
int64_t api_seq_cursor(json_t *v)
{
    double d = json_is_number(v) ? json_number_value(v) : -1;
    return d >= 9e18 ? INT64_MAX - 1 : d < 0 ? -1 : (int64_t)d; /* never cast out of range */
}

bool api_token_opts(http_ctx *c, json_t *body, token_opts *o)
{
    memset(o, 0, sizeof *o);
    json_t *v = json_object_get(body, "idempotencyKey");
    if (v && !json_is_string(v)) {
        http_reply_error(c, 400, "idempotencyKey must be a string");
        return false;
    }
    o->idempotency_key = json_string_value(v);
    if (o->idempotency_key && strlen(o->idempotency_key) > 2048) {
        http_reply_error(c, 400, "idempotencyKey must be 2048 characters or less");
        return false;
    }
    v = json_object_get(body, "idempotencyKeyTTL");
    if (json_is_string(v) && dur_parse(json_string_value(v), &o->idempotency_ttl_ms) != 0) {
        http_reply_error(c, 400, "Invalid idempotencyKeyTTL");
        return false;
    }
    v = json_object_get(body, "timeout");
    if (json_is_string(v) && time_parse_when(json_string_value(v), c->now, &o->timeout_at) != 0) {
        http_reply_error(c, 400, http_sprintf(c, "Invalid timeout: %s", json_string_value(v)));
        return false;
    }
    v = json_object_get(body, "tags");
    if (json_is_string(v)) {
        const char **one = h2o_mem_alloc_pool(&c->req->pool, sizeof *one);
        one[0] = json_string_value(v);
        o->tags = one;
        o->n_tags = 1;
    } else if (json_is_array(v)) {
        size_t n = json_array_size(v);
        const char **tv = h2o_mem_alloc_pool(&c->req->pool, (n ? n : 1) * sizeof *tv);
        for (size_t i = 0; i < n; i++)
            if (!(tv[i] = json_string_value(json_array_get(v, i)))) {
                http_reply_error(c, 400, "tags must be strings");
                return false;
            }
        o->tags = tv;
        o->n_tags = n;
    }
    return true;
}

void api_tokens_create(http_ctx *c)
{
    json_t *body = http_body(c).len ? http_json(c) : json_object();
    if (!body)
        return;
    if (!c->body)
        c->body = body;
    token_opts o;
    if (!api_token_opts(c, body, &o))
        return;
    char id[64];
    bool cached;
    err_t e = {0};
    if (engine_token_create(c->app->en, c->auth.env, &o, c->now, id, &cached, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    store_waitpoint w = {0};
    if (engine_waitpoint_get(c->app->en, c->auth.env, id, &w, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    json_t *scopes = json_pack("[s]", http_sprintf(c, "write:waitpoints:%s", id));
    char *tok = auth_mint(c->auth.env, scopes, NULL, c->now, TOKEN_JWT_TTL_S);
    if (tok) {
        http_add_header(c, "x-trigger-jwt", tok);
        free(tok);
    }
    json_t *claims = json_pack("{s:s,s:b,s:O}", "sub", c->auth.env->id, "pub", 1, "scopes", scopes);
    char *ct = jsontext_dumps(claims, JSON_COMPACT);
    if (ct)
        http_add_header(c, "x-trigger-jwt-claims", ct);
    free(ct);
    json_decref(claims);
    json_decref(scopes);
    http_reply_json(c, 200,
                    json_pack("{s:s,s:b,s:s}", "id", id, "isCached", cached, "url",
                              callback_url(c, c->auth.env, &w)));
    store_waitpoint_clear(&w);
}

typedef struct token_list_parse {
    http_ctx *c;
    store_waitpoint_filter *f;
    const char *error;
} token_list_parse;

static void token_param(void *ud, const char *k, const char *v)
{
    token_list_parse *p = ud;
    store_waitpoint_filter *f = p->f;
    char *end;
    if (strcmp(k, "page[size]") == 0) {
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 100)
            p->error = "page[size] must be between 1 and 100";
        f->limit = (int)n;
    } else if (strcmp(k, "page[after]") == 0) {
        f->after_seq = strtoll(v, &end, 10);
        if (*end)
            p->error = "Invalid cursor";
    } else if (strcmp(k, "page[before]") == 0) {
        f->before_seq = strtoll(v, &end, 10);
        if (*end)
            p->error = "Invalid cursor";
    } else if (strcmp(k, "filter[status]") == 0) {
        char *copy = http_sprintf(p->c, "%s", v);
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            if (strcmp(t, "WAITING") && strcmp(t, "COMPLETED") && strcmp(t, "TIMED_OUT")) {
                p->error = "Invalid status filter";
                return;
            }
            if (f->n_status < 4)
                f->statuses[f->n_status++] = t;
        }
    } else if (strcmp(k, "filter[idempotencyKey]") == 0) {
        f->idempotency_key = v;
    } else if (strcmp(k, "filter[tags]") == 0) {
        char *copy = http_sprintf(p->c, "%s", v);
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && f->n_tag < STORE_FILTER_MAX;
             t = strtok_r(NULL, ",", &save))
            f->tags[f->n_tag++] = t;
    } else {
        api_created_at_filter(p->c, k, v, &f->created_from, &f->created_to, &p->error);
    }
}

void api_tokens_list(http_ctx *c)
{
    store_waitpoint_filter f = {.env_id = c->auth.env->id, .type = "MANUAL", .limit = 25};
    token_list_parse p = {c, &f, NULL};
    http_query_each(c, token_param, &p);
    if (p.error) {
        http_reply_json(
            c, 400,
            json_pack("{s:s,s:[{s:s}]}", "error", "Query Error", "details", "message", p.error));
        return;
    }
    store_waitpoint *ws = NULL;
    size_t n = 0;
    bool more = false;
    if (store_waitpoint_list(c->app->st, &f, &ws, &n, &more) != 0) {
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, present_token(c, &ws[i], false));
    json_t *pag = api_cursor_pagination(n, n ? ws[0].seq : 0, n ? ws[n - 1].seq : 0,
                                        f.before_seq > 0, more, f.after_seq > 0);
    for (size_t i = 0; i < n; i++)
        store_waitpoint_clear(&ws[i]);
    free(ws);
    http_reply_json(c, 200, json_pack("{s:o,s:o}", "data", data, "pagination", pag));
}

/* The real API answers 500 for an unknown id here (spec/api.md [46]); a
 * 404 is what the SDK's error classes expect, so we send that. */
void api_tokens_retrieve(http_ctx *c)
{
    store_waitpoint w = {0};
    err_t e = {0};
    if (engine_waitpoint_get(c->app->en, c->auth.env, http_param(c, 0), &w, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, present_token(c, &w, true));
    store_waitpoint_clear(&w);
}

/* Serializes body.data the way the SDK's stringifyIO would for JSON. */
static const char *data_text(http_ctx *c, json_t *data)
{
    if (!data)
        return NULL;
    char *s = jsontext_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *p = http_sprintf(c, "%s", s ? s : "null");
    free(s);
    return p;
}

void api_tokens_complete(http_ctx *c)
{
    const char *id = http_param(c, 0);
    scope_res res = {"waitpoints", id};
    if (!http_authorize(c, "write", &res, 1))
        return;
    json_t *body = http_body(c).len ? http_json(c) : json_object();
    if (!body)
        return;
    if (!c->body)
        c->body = body;
    err_t e = {0};
    if (engine_waitpoint_complete(c->app->en, c->auth.env, id,
                                  data_text(c, json_object_get(body, "data")), c->now, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:b}", "success", 1));
}

void api_tokens_callback(http_ctx *c)
{
    const char *id = http_param(c, 0), *hash = http_param(c, 1);
    store_waitpoint w = {0};
    err_t e = {0};
    if (engine_waitpoint_get(c->app->en, NULL, id, &w, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    const store_env *env = auth_env_by_id(c->app->au, w.env_id);
    char want[65] = "";
    bool ok = false;
    if (env && strlen(hash) == 64) {
        crypto_hmac_sha256_hex(auth_env_key(env), w.id, strlen(w.id), want);
        ok = crypto_equal(want, hash, 64);
        /* a URL handed out before a key rotation works while that key is in
         * its grace window, as the key itself does */
        char(*old)[64] = NULL;
        size_t n = 0;
        if (!ok && auth_env_grace_keys(c->app->au, env->id, c->now, &old, &n) == 0)
            for (size_t i = 0; i < n && !ok; i++) {
                crypto_hmac_sha256_hex(old[i], w.id, strlen(w.id), want);
                ok = crypto_equal(want, hash, 64);
            }
        free(old);
    }
    store_waitpoint_clear(&w);
    if (!ok) {
        http_reply_error(c, 401, "Invalid URL, hash doesn't match");
        return;
    }
    /* any JSON body is the output; an unparsable one becomes {} */
    h2o_iovec_t b = http_body(c);
    json_t *data = b.len ? jsontext_loadb(b.base, b.len, JSON_DECODE_ANY, NULL) : NULL;
    const char *out = data_text(c, data ? data : json_object());
    json_decref(data);
    if (engine_waitpoint_complete(c->app->en, env, id, out, c->now, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:b}", "success", 1));
}
