/*
 * api/sesschan.c - a session's .in / .out channels (spec/api.md 6.16
 * [74]-[78], spec/sessions.md 3): initialize (the X-S2-* grant), SSE
 * subscribe, the records drain, append, and the in-task session-stream
 * wait; with the latest SDK's named side channels
 * (/sessions/:s/channels/:name/:io). The records are S2 streams of
 * triggerd's own store (realtime/s2.c), one per (session key, channel, io);
 * the waitpoints and part-id claims are engine/sesschan.c.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/sessions.h"
#include "realtime/s2.h"
#include "util/id.h"
#include "util/jsontext.h"
#include "util/utf8.h"

#define WAIT_BODY_MAX (10 * 1024)
#define CHANNEL_NAME_MAX 128

/* The resolved channel of a request: its session row when one exists, the
 * addressing key and the S2 stream name (request pool). */
typedef struct chan_req {
    store_session s;
    bool has_row;
    const char *channel; /* NULL: the chat channel */
    session_chan ch;
} chan_req;

static void reply_ok_false(http_ctx *c, int status, const char *msg)
{
    http_reply_json(c, status, json_pack("{s:b,s:s}", "ok", 0, "error", msg));
}

static bool channel_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 1 || len > CHANNEL_NAME_MAX)
        return false;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

/* The JWT's session scope for action on any alias of the channel's
 * session: the URL value, and the row's friendly and external ids. */
static bool authorize(http_ctx *c, const char *action, const char *url, const chan_req *q)
{
    scope_res res[3] = {{"sessions", url}};
    size_t n = 1;
    if (q->has_row) {
        res[n++] = (scope_res){"sessions", q->s.friendly_id};
        if (q->s.external_id)
            res[n++] = (scope_res){"sessions", q->s.external_id};
    }
    return http_authorize(c, action, res, n);
}

/* Resolves /sessions/:session[/channels/:name]/:io. A friendly id without
 * a row is 404 "Session not found"; an external id without one is
 * addressed by the URL value unless need_row (then 404 Resource not
 * found). Checks the JWT's session scope for action on any alias. As the
 * real routes: the write routes (actions) check the scope before the 404,
 * so a token for another chat learns nothing of this one; the read routes
 * (loaders) resolve first. */
static bool resolve(http_ctx *c, bool named, bool need_row, const char *action, chan_req *q)
{
    memset(q, 0, sizeof *q);
    const char *url = http_param(c, 0);
    q->channel = named ? http_param(c, 1) : NULL;
    const char *io = http_param(c, named ? 2 : 1);
    if (strcmp(io, "in") != 0 && strcmp(io, "out") != 0) {
        http_reply_error(c, 400, "Invalid request parameters: io must be \"in\" or \"out\"");
        return false;
    }
    if (q->channel && !channel_name_ok(q->channel)) {
        http_reply_error(c, 400, "Invalid channel name");
        return false;
    }
    err_t e = {0};
    int rc = engine_session_get(c->app->en, c->auth.env, url, &q->s, &e);
    if (rc && rc != ERR_NOT_FOUND) {
        http_reply_err(c, &e);
        return false;
    }
    q->has_row = rc == 0;
    bool auth_first = strcmp(action, "write") == 0;
    if (auth_first && !authorize(c, action, url, q)) {
        store_session_clear(&q->s);
        return false;
    }
    if (!q->has_row && (need_row || strncmp(url, "session_", 8) == 0)) {
        http_reply_error(c, 404, need_row ? "Resource not found" : "Session not found");
        return false;
    }
    if (!auth_first && !authorize(c, action, url, q)) {
        store_session_clear(&q->s);
        return false;
    }
    q->ch.key = http_sprintf(c, "%s", q->has_row ? engine_session_key(&q->s) : url);
    q->ch.io = strcmp(io, "in") == 0 ? "in" : "out";
    char *name = s2_session_stream_name(c->auth.env->id, q->ch.key, q->channel, q->ch.io);
    q->ch.stream = http_sprintf(c, "%s", name);
    free(name);
    return true;
}

static bool is_secret(http_ctx *c)
{
    return c->auth.kind == AUTH_SECRET;
}

/* ---- [74] initialize ---------------------------------------------------- */

static void init(http_ctx *c, bool named)
{
    chan_req q;
    if (!resolve(c, named, false, "write", &q))
        return;
    if (strcmp(q.ch.io, "out") == 0 && !is_secret(c)) {
        http_reply_raw(c, 403, "text/plain; charset=utf-8",
                       "Initializing the out channel requires secret key authentication", 63);
    } else if (q.has_row && q.s.closed_at) {
        http_reply_raw(c, 400, "text/plain; charset=utf-8",
                       "Cannot initialize a channel on a closed session", 47);
    } else {
        /* a non-secret caller gets a grant that names this stream and
         * appends nothing (realtime/s2.h s2_token_mint_stream) */
        char *tok = is_secret(c) ? s2_token_mint(c->app, c->auth.env, c->now)
                                 : s2_token_mint_stream(c->app, c->auth.env, q.ch.stream, c->now);
        api_s2_grant(c, q.ch.stream, tok);
        free(tok);
        http_reply_json(c, 202, json_pack("{s:s}", "version", "v2"));
    }
    store_session_clear(&q.s);
}

void api_sesschan_init(http_ctx *c)
{
    init(c, false);
}
void api_sesschan_named_init(http_ctx *c)
{
    init(c, true);
}

/* ---- [75] SSE subscribe, HEAD ------------------------------------------ */

typedef struct settle_peek {
    bool last_is_turn_complete;
} settle_peek;

static void peek_rec(void *ud, const store_s2_rec *r)
{
    settle_peek *p = ud;
    json_t *j = s2_record_json(r);
    json_t *h = json_object_get(j, "headers");
    json_t *first = json_array_get(json_array_get(h, 0), 0);
    json_t *value = json_array_get(json_array_get(h, 0), 1);
    const char *name = json_string_value(first);
    if (name && !*name) { /* an S2 command record (trim): not a turn's end */
        json_decref(j);
        return;
    }
    p->last_is_turn_complete = name && strcmp(name, "trigger-control") == 0 &&
                               json_is_string(value) &&
                               strcmp(json_string_value(value), "turn-complete") == 0;
    json_decref(j);
}

/* X-Peek-Settled on .out: whether the newest record, skipping trims among
 * the last two, is a turn-complete control record. */
static bool settled(http_ctx *c, const chan_req *q)
{
    const char *v = http_header(c, "x-peek-settled");
    if (!v || strcmp(v, "1") != 0 || strcmp(q->ch.io, "out") != 0)
        return false;
    store_s2_tail t;
    if (store_s2_tail_get(c->app->st, q->ch.stream, &t) != 0 || !t.exists || t.next_seq == 0)
        return false;
    settle_peek p = {false};
    int64_t from = t.next_seq >= 2 ? t.next_seq - 2 : 0;
    if (store_s2_each(c->app->st, q->ch.stream, from, 2, peek_rec, &p) != 0)
        return false;
    return p.last_is_turn_complete;
}

static void subscribe(http_ctx *c, bool named)
{
    chan_req q;
    if (!resolve(c, named, false, "read", &q))
        return;
    store_session_clear(&q.s);
    api_s2_sse(c, q.ch.stream, settled(c, &q));
}

void api_sesschan_read(http_ctx *c)
{
    subscribe(c, false);
}
void api_sesschan_named_read(http_ctx *c)
{
    subscribe(c, true);
}

static void head(http_ctx *c, bool named)
{
    chan_req q;
    if (!resolve(c, named, false, "read", &q))
        return;
    store_session_clear(&q.s);
    http_add_header(c, "x-last-chunk-index", "0");
    http_reply_raw(c, 200, "text/plain; charset=utf-8", "", 0);
}

void api_sesschan_head(http_ctx *c)
{
    head(c, false);
}
void api_sesschan_named_head(http_ctx *c)
{
    head(c, true);
}

/* ---- [77] records ------------------------------------------------------- */

static void add_record(void *ud, const store_s2_rec *r)
{
    json_t *out = ud;
    json_t *j = s2_record_json(r);
    json_t *h = json_object_get(j, "headers");
    const char *first = json_string_value(json_array_get(json_array_get(h, 0), 0));
    if (first && !*first) { /* command records are not the channel's data */
        json_decref(j);
        return;
    }
    json_t *rec = json_object();
    json_t *env = r->body_len ? jsontext_loadb((const char *)r->body, r->body_len, 0, NULL) : NULL;
    json_t *data = json_object_get(env, "data");
    json_t *id = json_object_get(env, "id");
    json_object_set_new(rec, "data", data ? json_incref(data) : json_string(""));
    json_object_set_new(rec, "id", json_is_string(id) ? json_copy(id) : json_string(""));
    json_object_set_new(rec, "seqNum", json_integer(r->seq));
    if (json_array_size(h))
        json_object_set(rec, "headers", h);
    json_decref(env);
    json_decref(j);
    json_array_append_new(out, rec);
}

static void records(http_ctx *c, bool named)
{
    const char *after = http_query(c, "afterEventId");
    int64_t from = 0;
    if (after) {
        const char *p = after;
        while (isdigit((unsigned char)*p))
            p++;
        if (!*after || *p) { /* ^\d+$ */
            http_reply_error(c, 400, "Invalid afterEventId");
            return;
        }
        /* past any tail when it does not fit: the read clamps to nothing */
        errno = 0;
        long long v = strtoll(after, NULL, 10);
        from = errno == ERANGE || v == LLONG_MAX ? INT64_MAX : v + 1;
    }
    chan_req q;
    if (!resolve(c, named, false, "read", &q))
        return;
    store_session_clear(&q.s);
    json_t *recs = json_array();
    if (store_s2_each(c->app->st, q.ch.stream, from, SIZE_MAX, add_record, recs) != 0) {
        json_decref(recs);
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    http_reply_json(c, 200, json_pack("{s:o}", "records", recs));
}

void api_sesschan_records(http_ctx *c)
{
    records(c, false);
}
void api_sesschan_named_records(http_ctx *c)
{
    records(c, true);
}

/* ---- [76] append -------------------------------------------------------- */

/* The body as the real route reads it (Request.text(): invalid UTF-8
 * becomes U+FFFD), and on .in without a client-forged
 * payload.actionSource "webhook": only the hosted webhook ingress may claim
 * that trust, and the latest SDK's agent skips validating such actions
 * (the reference server's sanitizeSessionInput). NULL when an .in body is
 * JSON that cannot be checked (nested past jansson's depth; JSON.parse in
 * the agent would read it). Caller frees. */
static char *body_text(h2o_iovec_t b, bool in, size_t *len)
{
    char *text = utf8_lossy(b.base ? b.base : "", b.len, len);
    /* parsed every time: a substring test for "actionSource" would miss
     * the key written with escapes ("action\u0053ource") */
    if (!in)
        return text;
    json_t *rec = jsontext_loadb(text, *len, JSON_DECODE_ANY, NULL);
    if (!rec) {
        if (!jsontext_valid(text, *len))
            return text; /* not JSON: nothing the agent reads as a source */
        free(text);
        return NULL;
    }
    json_t *payload = json_object_get(rec, "payload");
    json_t *src = json_object_get(payload, "actionSource");
    if (json_is_string(src) && strcmp(json_string_value(src), "webhook") == 0) {
        json_object_del(payload, "actionSource");
        free(text);
        text = jsontext_dumps(rec, JSON_COMPACT | JSON_ENCODE_ANY);
        *len = text ? strlen(text) : 0;
    }
    json_decref(rec);
    return text;
}

static void append(http_ctx *c, bool named)
{
    /* The real route also refuses a body without Content-Length (413);
     * h2o 2.2 keeps that header to itself, so an empty body (what fetch
     * sends as Content-Length: 0) is taken as one, and the route's 1 MiB
     * limit bounds a chunked body. */
    chan_req q;
    if (!resolve(c, named, true, "write", &q))
        return;
    char *body = NULL;
    size_t body_len = 0;
    const char *status = engine_session_status(&q.s, c->now);
    if (strcmp(status, "ACTIVE") != 0) {
        bool closed = strcmp(status, "CLOSED") == 0;
        /* the latest SDK's transport takes 409 session_closed as terminal;
         * 4.5.0's treats every non-2xx alike */
        json_t *err = json_pack("{s:b,s:s,s:s}", "ok", 0, "error",
                                closed ? "Cannot append to a closed session"
                                       : "Cannot append to an expired session",
                                "code", closed ? "session_closed" : "session_expired");
        if (closed)
            json_object_set_new(err, "closedReason",
                                q.s.closed_reason ? json_string(q.s.closed_reason) : json_null());
        http_reply_json(c, closed ? 409 : 400, err);
        goto out;
    }
    if (strcmp(q.ch.io, "out") == 0 && !is_secret(c)) {
        reply_ok_false(c, 403, "Appending to the out channel requires secret key authentication");
        goto out;
    }
    body = body_text(http_body(c), strcmp(q.ch.io, "in") == 0, &body_len);
    if (!body) {
        reply_ok_false(c, 422, "Invalid body: JSON nested too deep");
        goto out;
    }
    err_t e = {0};
    /* the chat channel's .in boots a run for the message (a continuation when
     * the last one ended) before the record lands; errors only cost the wake */
    if (!q.channel && strcmp(q.ch.io, "in") == 0) {
        char run_id[64];
        bool triggered;
        if (engine_session_ensure_run(c->app->en, c->auth.env, &q.s, "continuation", c->now, run_id,
                                      &triggered, &e) != 0)
            fprintf(stderr, "triggerd: session %s: no run for the append: %s\n", q.s.friendly_id,
                    e.msg);
    }
    const char *pid = http_header(c, "x-part-id");
    char gen[16];
    bool claimed = true;
    if (pid && *pid) {
        if (engine_session_part_claim(c->app->en, c->auth.env, &q.ch, pid, c->now, &claimed, &e) !=
            0) {
            reply_ok_false(c, 500, e.msg);
            goto out;
        }
    } else {
        id_nanoid(gen, 7);
        pid = gen;
    }
    int64_t seq = -1;
    if (claimed) {
        json_t *rec = json_pack("{s:s%,s:s}", "data", body, body_len, "id", pid);
        char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
        json_decref(rec);
        if (!text) {
            engine_session_part_release(c->app->en, c->auth.env, &q.ch, pid);
            reply_ok_false(c, 500, "Something went wrong, please try again.");
            goto out;
        }
        size_t len = strlen(text);
        if (8 + len > S2_MAX_RECORD_BYTES) {
            free(text);
            engine_session_part_release(c->app->en, c->auth.env, &q.ch, pid);
            reply_ok_false(c, 413,
                           http_sprintf(c, "Record metered size %zu exceeds %d bytes", 8 + len,
                                        S2_MAX_RECORD_BYTES));
            goto out;
        }
        s2_header none[1];
        s2_record r = {.headers = none, .n_headers = 0, .body = {(const uint8_t *)text, len}};
        s2_input in = {.recs = &r, .n = 1};
        s2_ack ack;
        s2_err se = {0};
        int rc = s2_append(c->app, q.ch.stream, &in, c->now, &ack, &se);
        free(text);
        if (rc != 0) {
            engine_session_part_release(c->app->en, c->auth.env, &q.ch, pid);
            reply_ok_false(c, 500, "Something went wrong, please try again.");
            goto out;
        }
        seq = ack.start.seq;
    }
    /* a side channel's .in never wakes a run */
    if (!q.channel) {
        int rc = engine_session_appended(c->app->en, c->auth.env, &q.ch, body, c->now, &e);
        if (rc != 0) {
            reply_ok_false(c, 500, "Something went wrong, please try again.");
            goto out;
        }
    }
    json_t *ok = json_pack("{s:b}", "ok", 1);
    if (seq >= 0)
        json_object_set_new(ok, "seq", json_integer(seq));
    http_reply_json(c, 200, ok);
out:
    free(body);
    store_session_clear(&q.s);
}

void api_sesschan_append(http_ctx *c)
{
    append(c, false);
}
void api_sesschan_named_append(http_ctx *c)
{
    append(c, true);
}

/* ---- [78] session-stream wait ------------------------------------------- */

void api_sesschan_wait(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *sess = json_object_get(body, "session");
    json_t *io = json_object_get(body, "io");
    if (!json_is_string(sess) || !*json_string_value(sess)) {
        http_reply_error(c, 400, "session is required");
        return;
    }
    if (!json_is_string(io) ||
        (strcmp(json_string_value(io), "in") != 0 && strcmp(json_string_value(io), "out") != 0)) {
        http_reply_error(c, 400, "io must be \"in\" or \"out\"");
        return;
    }
    json_t *ls = json_object_get(body, "lastSeqNum");
    if (ls && !json_is_null(ls) && !json_is_number(ls)) {
        http_reply_error(c, 400, "lastSeqNum must be a number");
        return;
    }
    json_t *to = json_object_get(body, "timeout");
    if (to && !json_is_null(to) && !json_is_string(to)) {
        http_reply_error(c, 400, "timeout must be a string");
        return;
    }
    token_opts o;
    if (!api_token_opts(c, body, &o))
        return;
    const char *url = json_string_value(sess);
    store_session s = {0};
    err_t e = {0};
    /* the run first, then the session (the real route's order) */
    store_run r = {0};
    int rc = engine_run_get(c->app->en, c->auth.env, http_param(c, 0), &r, &e);
    store_run_clear(&r);
    if (rc) {
        http_reply_err(c, &e);
        return;
    }
    rc = engine_session_get(c->app->en, c->auth.env, url, &s, &e);
    if (rc && (rc != ERR_NOT_FOUND || strncmp(url, "session_", 8) == 0)) {
        http_reply_err(c, &e);
        return;
    }
    session_chan ch = {.key = http_sprintf(c, "%s", rc == 0 ? engine_session_key(&s) : url),
                       .io = strcmp(json_string_value(io), "in") == 0 ? "in" : "out"};
    store_session_clear(&s);
    char *name = s2_session_stream_name(c->auth.env->id, ch.key, NULL, ch.io);
    ch.stream = http_sprintf(c, "%s", name);
    free(name);
    int64_t after = api_seq_cursor(ls);
    char id[64];
    bool cached = false;
    if (engine_session_stream_wait(c->app->en, c->auth.env, http_param(c, 0), &ch, &o, after,
                                   c->now, id, &cached, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s,s:b}", "waitpointId", id, "isCached", cached));
}
