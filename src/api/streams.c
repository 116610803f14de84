/*
 * api/streams.c - realtime streams (spec/api.md 6.14 [66]-[70]) and input
 * streams (6.15 [71]-[73]): create, NDJSON ingest and its resume probe,
 * single-part append, SSE read, input send and the input-stream waitpoint.
 *
 * Two backends. v2 (what both SDKs ask for by default, with the request
 * header x-trigger-realtime-streams-version: v2): create answers the
 * X-S2-* headers of spec/s2.md 2.1, the SDK's StreamsWriterV2 then appends
 * to triggerd's own S2 API (api/s2.c) and readers get S2's SSE format
 * (s2.md 8.2) with X-Stream-Version: v2. v1 (the header says v1 or is
 * absent): the NDJSON writer and the Redis-style SSE format. A stream that
 * has v1 records stays v1. Input streams are read in the S2 "batch" format
 * too, because the task-side input manager takes each part's id as a
 * sequence number (parseInt) and resumes with it, which the v1 "<ms>-<seq>"
 * ids would break.
 *
 * Ingest caveat: libh2o hands a handler the whole request body, so the
 * records of one NDJSON POST are committed (in order) when that body ends,
 * not line by line as they arrive.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "realtime/s2.h"
#include "realtime/streams.h"
#include "util/id.h"
#include "util/timefmt.h"

#define INPUT_PREFIX "$trigger.input:"
#define SSE_PING_MS 10000
#define SSE_IDLE_MS 60000
#define SSE_READ_BATCH 1000

/* ---- run lookup -------------------------------------------------------- */

static void reply_text(http_ctx *c, int status, const char *msg)
{
    http_reply_raw(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static bool target_ok(http_ctx *c, const char *t)
{
    if (strcmp(t, "self") == 0 || strcmp(t, "parent") == 0 || strcmp(t, "root") == 0)
        return true;
    reply_text(c, 400, "Invalid target");
    return false;
}

/* Loads the run a write on (runId, target) goes to; 404 plain text. */
static bool load_target(http_ctx *c, store_run *r)
{
    if (!target_ok(c, http_param(c, 1)))
        return false;
    err_t e = {0};
    int rc =
        engine_stream_target(c->app->en, c->auth.env, http_param(c, 0), http_param(c, 1), r, &e);
    if (rc == 0)
        return true;
    if (rc == ERR_NOT_FOUND)
        reply_text(c, 404, e.msg);
    else
        http_reply_err(c, &e);
    return false;
}

/* ---- backend choice ----------------------------------------------------- */

/* Whether (run, key) is a v2 (S2) stream: not when it has v1 records, yes
 * when its S2 stream exists, else as the client asks (the SDK sends
 * x-trigger-realtime-streams-version on every request). *name receives the
 * S2 stream name (caller frees) when v2. */
static bool stream_is_v2(http_ctx *c, const store_run *r, const char *key, char **name)
{
    *name = NULL;
    int64_t last;
    if (store_stream_last_seq(c->app->st, r->friendly_id, key, &last) == 0 && last >= 0)
        return false;
    char *n = s2_run_stream_name(r->env_id, r->friendly_id, key);
    store_s2_tail t;
    const char *want = http_header(c, "x-trigger-realtime-streams-version");
    if ((store_s2_tail_get(c->app->st, n, &t) == 0 && t.exists) ||
        (want && strcmp(want, "v2") == 0)) {
        *name = n;
        return true;
    }
    free(n);
    return false;
}

void api_s2_grant(http_ctx *c, const char *name, const char *token)
{
    /* s2.md 2.1: the SDK reads these (lower-cased) and writes to our S2 API;
     * the endpoint has a scheme and no trailing slash (s2.md 2.2) */
    http_add_header(c, "x-s2-access-token", http_sprintf(c, "%s", token ? token : ""));
    http_add_header(c, "x-s2-basin", S2_BASIN);
    http_add_header(c, "x-s2-stream-name", http_sprintf(c, "%s", name));
    http_add_header(c, "x-s2-endpoint", http_sprintf(c, "%s/v1", http_origin(c)));
    http_add_header(c, "x-s2-flush-interval-ms", S2_FLUSH_INTERVAL_MS);
    http_add_header(c, "x-s2-max-retries", S2_MAX_RETRIES);
}

/* ---- [67] create, [68] ingest, [69] resume probe, [70] append ---------- */

void api_stream_create(http_ctx *c)
{
    store_run r = {0};
    if (!load_target(c, &r))
        return;
    if (engine_run_completed(&r)) {
        reply_text(c, 400, "Cannot initialize a realtime stream on a completed run");
        goto out;
    }
    err_t e = {0};
    if (engine_stream_register(c->app->en, &r, http_param(c, 2), &e) != 0) {
        http_reply_err(c, &e);
        goto out;
    }
    char *name = NULL;
    if (!stream_is_v2(c, &r, http_param(c, 2), &name)) {
        http_reply_json(c, 202, json_pack("{s:s}", "version", "v1"));
        goto out;
    }
    char *tok = s2_token_mint(c->app, c->auth.env, c->now);
    api_s2_grant(c, name, tok);
    free(tok);
    free(name);
    http_reply_json(c, 202, json_pack("{s:s}", "version", "v2"));
out:
    store_run_clear(&r);
}

static const char *client_id(http_ctx *c)
{
    const char *v = http_header(c, "x-client-id");
    return v && *v ? v : "default";
}

void api_stream_ingest(http_ctx *c)
{
    int64_t chunk = 0;
    const char *resume = http_header(c, "x-resume-from-chunk");
    if (resume && *resume) {
        char *end;
        long long v = strtoll(resume, &end, 10);
        if (*end || v < 0) {
            reply_text(c, 400,
                       http_sprintf(c, "Invalid X-Resume-From-Chunk header value: %s", resume));
            return;
        }
        chunk = v;
    }
    store_run r = {0};
    if (!load_target(c, &r))
        return;
    /* each NDJSON line is one record (the writer sends JSON.stringify(chunk)
     * + "\n" per chunk, so the line's index is the writer's chunk index) */
    h2o_iovec_t b = http_body(c);
    const char *cid = client_id(c);
    size_t i = 0;
    while (i < b.len) {
        const char *nl = memchr(b.base + i, '\n', b.len - i);
        size_t end = nl ? (size_t)(nl - b.base) : b.len;
        size_t len = end - i;
        if (len && b.base[i + len - 1] == '\r')
            len--;
        if (len) {
            int64_t seq;
            if (streams_append(c->app->streams, r.friendly_id, http_param(c, 2), b.base + i, len,
                               cid, chunk++, c->now, &seq) != 0) {
                http_reply_error(c, 500, "Something went wrong");
                goto out;
            }
        }
        i = end + 1;
    }
    http_reply_raw(c, 200, "text/plain; charset=utf-8", "", 0);
out:
    store_run_clear(&r);
}

void api_stream_head(http_ctx *c)
{
    store_run r = {0};
    if (!load_target(c, &r))
        return;
    int64_t last;
    if (store_stream_last_chunk(c->app->st, r.friendly_id, http_param(c, 2), client_id(c), &last) !=
        0) {
        http_reply_error(c, 500, "Something went wrong");
    } else {
        http_add_header(c, "x-last-chunk-index", http_sprintf(c, "%lld", (long long)last));
        http_reply_raw(c, 200, "text/plain; charset=utf-8", "", 0);
    }
    store_run_clear(&r);
}

/* [70] in v2: one S2 record {"data":part,"id":partId} (spec/api.md 6.14). */
static void append_v2(http_ctx *c, const char *name, h2o_iovec_t b)
{
    const char *pid = http_header(c, "x-part-id");
    char gen[32];
    if (!pid || !*pid) {
        id_nanoid(gen, 7);
        pid = gen;
    }
    json_t *rec = json_pack("{s:s%,s:s}", "data", b.base ? b.base : "", b.len, "id", pid);
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    if (!text) {
        http_reply_json(c, 422, json_pack("{s:b,s:s}", "ok", 0, "error", "Invalid part"));
        return;
    }
    s2_header none[1];
    s2_record r = {.headers = none, .n_headers = 0, .body = {(const uint8_t *)text, strlen(text)}};
    s2_input in = {.recs = &r, .n = 1};
    s2_ack ack;
    s2_err e = {0};
    if (8 + r.body.n > S2_MAX_RECORD_BYTES)
        http_reply_json(c, 413, json_pack("{s:b,s:s}", "ok", 0, "error", "Record too large"));
    else if (s2_append(c->app, name, &in, c->now, &ack, &e) != 0)
        http_reply_json(c, e.status >= 500 ? 500 : 422,
                        json_pack("{s:b,s:s}", "ok", 0, "error", e.msg));
    else
        http_reply_json(c, 200, json_pack("{s:b}", "ok", 1));
    free(text);
}

void api_stream_append(http_ctx *c)
{
    store_run r = {0};
    if (!load_target(c, &r))
        return;
    if (engine_run_completed(&r)) {
        reply_text(c, 400, "Cannot append to a realtime stream on a completed run");
        goto out;
    }
    err_t e = {0};
    if (engine_stream_register(c->app->en, &r, http_param(c, 2), &e) != 0) {
        http_reply_err(c, &e);
        goto out;
    }
    h2o_iovec_t b = http_body(c);
    char *name = NULL;
    if (stream_is_v2(c, &r, http_param(c, 2), &name)) {
        append_v2(c, name, b);
        free(name);
        goto out;
    }
    /* v1 stores the part as a JSON string: JSON.stringify(part) */
    json_t *part = json_stringn_nocheck(b.base ? b.base : "", b.len);
    char *text = json_dumps(part, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(part);
    int64_t seq;
    if (!text || streams_append(c->app->streams, r.friendly_id, http_param(c, 2), text,
                                strlen(text), NULL, -1, c->now, &seq) != 0)
        http_reply_json(c, 500, json_pack("{s:b,s:s}", "ok", 0, "error", "Something went wrong"));
    else
        http_reply_json(c, 200, json_pack("{s:b}", "ok", 1));
    free(text);
out:
    store_run_clear(&r);
}

/* ---- SSE readers [66] [72] --------------------------------------------- */

typedef struct sse_reader {
    app *a;
    http_stream *hs;
    streams_watch *w;
    uv_timer_t timer;
    char run_id[64];
    char *stream;
    bool v2;      /* S2 batch format (input streams) */
    bool s2;      /* an S2 stream (v2 run streams): stream is its name */
    bool ending;  /* http_stream_end called */
    bool wrote;   /* anything written yet (the response head goes with it) */
    int64_t last; /* last seq sent, -1 = none */
    int64_t idle_ms;
    int64_t last_data, last_write;
    struct sse_reader *next, *prev; /* every reader, for shutdown */
} sse_reader;

static sse_reader *g_readers; /* the loop's readers; one loop per process */

static void reader_free(uv_handle_t *h)
{
    sse_reader *rd = h->data;
    free(rd->stream);
    free(rd);
}

/* The stream is gone (client left or end sent): drop everything. */
static void on_closed(void *ud)
{
    sse_reader *rd = ud;
    if (rd->w && rd->a->streams)
        streams_watch_stop(rd->a->streams, rd->w);
    rd->w = NULL;
    if (rd->prev)
        rd->prev->next = rd->next;
    else
        g_readers = rd->next;
    if (rd->next)
        rd->next->prev = rd->prev;
    uv_timer_stop(&rd->timer);
    uv_close((uv_handle_t *)&rd->timer, reader_free);
}

/* Ends the reader: cleanly (the v1 client then completes) or broken
 * (abort: the client reconnects with Last-Event-ID). */
static void reader_stop(sse_reader *rd, bool abort)
{
    if (rd->ending)
        return;
    rd->ending = true;
    if (rd->w && rd->a->streams)
        streams_watch_stop(rd->a->streams, rd->w);
    rd->w = NULL;
    if (abort)
        http_stream_abort(rd->hs);
    else
        http_stream_end(rd->hs);
}

static void reader_end(sse_reader *rd)
{
    if (rd->s2 && !rd->ending) {
        static const char done[] = "data: [DONE]\n\n"; /* S2's normal end (s2.md 8.2) */
        http_stream_write(rd->hs, done, sizeof done - 1);
    }
    reader_stop(rd, false);
}

typedef struct emit_ctx {
    sse_reader *rd;
    size_t n;
    bool failed;
} emit_ctx;

static void emit(void *ud, const store_stream_rec *rec)
{
    emit_ctx *x = ud;
    sse_reader *rd = x->rd;
    x->n++;
    if (x->failed)
        return;
    char *ev;
    if (rd->v2) {
        /* S2 record body {"data":<record text>,"id":<part id>} (s2.md 8.2) */
        json_t *body = json_object();
        json_object_set_new(body, "data", json_stringn(rec->data, rec->len));
        json_object_set_new(body, "id", json_sprintf("inp_%lld", (long long)rec->seq));
        char *bt = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        json_t *batch = json_pack("{s:[{s:I,s:I,s:s}]}", "records", "seq_num", (json_int_t)rec->seq,
                                  "timestamp", (json_int_t)rec->created_at, "body", bt ? bt : "");
        free(bt);
        char *dt = json_dumps(batch, JSON_COMPACT);
        json_decref(batch);
        ev = NULL;
        if (dt &&
            asprintf(&ev, "event: batch\nid: %lld\ndata: %s\n\n", (long long)rec->seq, dt) < 0)
            ev = NULL;
        free(dt);
    } else if (asprintf(&ev, "id: %lld-%lld\ndata: %.*s\n\n", (long long)rec->created_at,
                        (long long)rec->seq, (int)rec->len, rec->data) < 0) {
        ev = NULL;
    }
    if (!ev || http_stream_write(rd->hs, ev, strlen(ev)) != 0) {
        x->failed = true; /* a slow reader: it reconnects with Last-Event-ID */
    } else {
        rd->last = rec->seq;
        rd->last_data = rd->last_write = time_now_ms();
        rd->wrote = true;
    }
    free(ev);
}

/* ---- S2 streams: s2.md 8.2 batches ---- */

typedef struct s2_emit {
    sse_reader *rd;
    json_t *recs;
    size_t n, bytes;
    int64_t last;
    bool failed;
} s2_emit;

static void s2_flush(s2_emit *x, int64_t tail)
{
    if (!json_array_size(x->recs) || x->failed)
        return;
    json_t *batch = json_pack("{s:O}", "records", x->recs);
    if (tail >= 0)
        json_object_set_new(batch, "tail",
                            json_pack("{s:I,s:I}", "seq_num", (json_int_t)tail, "timestamp",
                                      (json_int_t)time_now_ms()));
    char *dt = json_dumps(batch, JSON_COMPACT);
    json_decref(batch);
    char *ev = NULL;
    if (!dt || asprintf(&ev, "event: batch\nid: %lld\ndata: %s\n\n", (long long)x->last, dt) < 0)
        ev = NULL;
    free(dt);
    if (!ev || http_stream_write(x->rd->hs, ev, strlen(ev)) != 0) {
        x->failed = true;
    } else {
        x->rd->last = x->last;
        x->rd->last_data = x->rd->last_write = time_now_ms();
        x->rd->wrote = true;
    }
    free(ev);
    json_array_clear(x->recs);
    x->bytes = 0;
}

static void s2_collect(void *ud, const store_s2_rec *r)
{
    s2_emit *x = ud;
    x->n++;
    json_array_append_new(x->recs, s2_record_json(r));
    x->last = r->seq;
    x->bytes += 8 + r->headers_len + r->body_len;
    if (x->bytes >= S2_MAX_BATCH_BYTES)
        s2_flush(x, -1);
}

/* Sends the S2 records after rd->last; tail >= 0 (following) tags the
 * batches with the stream's tail, as S2 does for live batches. */
static void reader_send_s2(sse_reader *rd, int64_t tail)
{
    for (;;) {
        s2_emit x = {rd, json_array(), 0, 0, rd->last, false};
        int rc = store_s2_each(rd->a->st, rd->stream, rd->last + 1, SSE_READ_BATCH, s2_collect, &x);
        s2_flush(&x, tail);
        json_decref(x.recs);
        if (rc != 0 || x.failed) {
            reader_stop(rd, true);
            return;
        }
        if (x.n < SSE_READ_BATCH)
            return;
    }
}

/* Sends the records after rd->last up to upto (-1: all). */
static void reader_send(sse_reader *rd, int64_t upto)
{
    if (rd->s2) {
        reader_send_s2(rd, upto < 0 ? -1 : upto + 1);
        return;
    }
    for (;;) {
        emit_ctx x = {rd, 0, false};
        if (store_stream_each(rd->a->st, rd->run_id, rd->stream, rd->last, upto, SSE_READ_BATCH,
                              emit, &x) != 0 ||
            x.failed) {
            reader_stop(rd, true); /* a slow reader or a store error: it resumes */
            return;
        }
        if (x.n < SSE_READ_BATCH)
            return;
    }
}

static void on_wake(void *ud, int64_t durable_seq)
{
    sse_reader *rd = ud;
    if (durable_seq < 0 || rd->ending)
        return;
    reader_send(rd, durable_seq);
}

/* A heartbeat: an S2 ping event (ignored by the SDK) or an SSE comment. */
static void reader_ping(sse_reader *rd, int64_t now)
{
    static const char ping[] = ": ping\n\n";
    char s2ping[64];
    const char *p = ping;
    if (rd->s2) {
        snprintf(s2ping, sizeof s2ping, "event: ping\ndata: {\"timestamp\":%lld}\n\n",
                 (long long)now);
        p = s2ping;
    }
    if (http_stream_write(rd->hs, p, strlen(p)) != 0)
        reader_end(rd);
    rd->last_write = now;
    rd->wrote = true;
}

static void on_tick(uv_timer_t *t)
{
    sse_reader *rd = t->data;
    if (rd->ending)
        return;
    int64_t now = time_now_ms();
    if (now - rd->last_data >= rd->idle_ms) {
        reader_end(rd);
        return;
    }
    if (now - rd->last_write >= SSE_PING_MS)
        reader_ping(rd, now);
}

/* Timeout-Seconds: 1..600, else 400 plain text (as the real route, which
 * reads it with Number(): "10abc" and "1.5" are refused, " 5 " and "5.0"
 * are 5; an empty value is absent). */
static bool parse_timeout(http_ctx *c, int64_t *ms)
{
    const char *v = http_header(c, "timeout-seconds");
    *ms = SSE_IDLE_MS;
    if (!v || !*v)
        return true;
    char *end;
    double n = strtod(v, &end);
    while (end != v && isspace((unsigned char)*end))
        end++;
    bool finite = n == n && n > -1e18 && n < 1e18; /* NaN, Infinity: invalid */
    if (end == v || *end || !finite || n != (double)(int64_t)n) {
        reply_text(c, 400, "Invalid timeout seconds");
        return false;
    }
    if (n < 1) {
        reply_text(c, 400, "Timeout seconds must be greater than 0");
        return false;
    }
    if (n > 600) {
        reply_text(c, 400, "Timeout seconds must be less than 600");
        return false;
    }
    *ms = (int64_t)n * 1000;
    return true;
}

/* Last-Event-ID: "<ms>-<seq>" (v1 ids we hand out) or a plain seq. */
static int64_t parse_last_event(http_ctx *c)
{
    const char *v = http_header(c, "last-event-id");
    if (!v || !*v)
        return -1;
    const char *dash = strchr(v, '-');
    const char *num = dash ? dash + 1 : v;
    char *end;
    long long n = strtoll(num, &end, 10);
    if (end == num || *end || n < 0)
        return -1;
    return n;
}

/* Starts the SSE response of a reader of stream (an S2 stream's name when
 * s2) that resumes after seq last. */
static sse_reader *reader_open(http_ctx *c, const char *run_id, const char *stream, bool v2,
                               bool s2, int64_t last, int64_t idle)
{
    sse_reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        abort();
    rd->a = c->app;
    snprintf(rd->run_id, sizeof rd->run_id, "%s", run_id);
    rd->stream = strdup(stream);
    rd->v2 = v2;
    rd->s2 = s2;
    rd->last = last;
    rd->idle_ms = idle;
    rd->last_data = rd->last_write = time_now_ms();
    uv_timer_init(c->app->loop, &rd->timer);
    rd->timer.data = rd;
    rd->next = g_readers;
    if (g_readers)
        g_readers->prev = rd;
    g_readers = rd;
    http_add_header(c, "cache-control", "no-cache, no-transform");
    http_add_header(c, "x-accel-buffering", "no");
    if (v2) {
        http_add_header(c, "x-stream-version", "v2");
        http_add_header(c, "access-control-expose-headers", "*");
    }
    rd->hs = http_stream_start(c, 200, "text/event-stream", on_closed, rd);
    return rd;
}

static void reader_follow(sse_reader *rd)
{
    rd->w = streams_watch_start(rd->a->streams, rd->run_id, rd->stream, on_wake, rd);
    uv_timer_start(&rd->timer, on_tick, 1000, 1000);
    /* h2o sends the response head with the first body bytes: a reader with
     * nothing to catch up on would leave the client without headers (the
     * SDK gives up after 30 s) until the first record. S2 too sends a
     * heartbeat as soon as a reader reaches the tail (spec/s2.md 8.1). */
    if (!rd->wrote)
        reader_ping(rd, time_now_ms());
}

static void serve_sse(http_ctx *c, const char *stream, bool v2, bool output)
{
    store_run r = {0};
    err_t e = {0};
    if (engine_run_get(c->app->en, c->auth.env, http_param(c, 0), &r, &e) != 0) {
        http_reply_error(c, e.code == ERR_NOT_FOUND ? 404 : http_status_of(e.code),
                         e.code == ERR_NOT_FOUND ? "Not found" : e.msg);
        return;
    }
    bool ok = api_can_read_run(c, &r);
    bool done = engine_run_completed(&r);
    char *s2name = NULL;
    bool s2 = ok && output && stream_is_v2(c, &r, stream, &s2name);
    store_run_clear(&r);
    if (!ok)
        return;
    if (s2) {
        stream = http_sprintf(c, "%s", s2name);
        free(s2name);
        v2 = true;
    }
    int64_t idle;
    if (!parse_timeout(c, &idle))
        return;
    sse_reader *rd =
        reader_open(c, s2 ? "" : http_param(c, 0), stream, v2, s2, parse_last_event(c), idle);
    reader_send(rd, -1);
    if (rd->ending)
        return;
    if (done && (!v2 || s2)) {
        /* a finished run writes no more: the whole stream is replayed and
         * the reader ends (the v1 client completes on a clean end) */
        reader_end(rd);
        return;
    }
    reader_follow(rd);
}

void api_s2_sse(http_ctx *c, const char *name, bool settled)
{
    int64_t idle;
    if (!parse_timeout(c, &idle))
        return;
    /* Last-Event-ID N resumes at N+1; beyond the tail it clamps to the tail */
    int64_t last = parse_last_event(c);
    store_s2_tail t;
    if (last >= 0 && store_s2_tail_get(c->app->st, name, &t) == 0 && last >= t.next_seq)
        last = t.next_seq - 1;
    if (settled)
        http_add_header(c, "x-session-settled", "true");
    sse_reader *rd = reader_open(c, "", name, true, true, last, idle);
    reader_send(rd, -1);
    if (rd->ending)
        return;
    if (settled) {
        reader_end(rd); /* wait=0: what follows the cursor, then [DONE] */
        return;
    }
    reader_follow(rd);
}

void api_stream_read(http_ctx *c)
{
    serve_sse(c, http_param(c, 1), false, true);
}

void api_input_read(http_ctx *c)
{
    serve_sse(c, http_sprintf(c, INPUT_PREFIX "%s", http_param(c, 1)), true, false);
}

void api_streams_shutdown(app *a)
{
    (void)a;
    sse_reader *rd = g_readers;
    while (rd) {
        sse_reader *next = rd->next;
        reader_stop(rd, true); /* not the end of the stream: readers reconnect */
        rd = next;
    }
}

/* ---- [71] input send, [73] input-stream waitpoint ---------------------- */

static void input_error(http_ctx *c, int status, const char *msg)
{
    http_reply_json(c, status, json_pack("{s:b,s:s}", "ok", 0, "error", msg));
}

void api_input_send(http_ctx *c)
{
    const char *run_id = http_param(c, 0);
    scope_res res = {"inputStreams", run_id};
    if (!http_authorize(c, "write", &res, 1))
        return;
    store_run r = {0};
    err_t e = {0};
    if (engine_run_get(c->app->en, c->auth.env, run_id, &r, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            input_error(c, 404, "Run not found");
        else
            http_reply_err(c, &e);
        return;
    }
    bool done = engine_run_completed(&r);
    store_run_clear(&r);
    if (done) {
        input_error(c, 400, "Cannot send to input stream on a completed run");
        return;
    }
    h2o_iovec_t b = http_body(c);
    json_t *body = b.len ? json_loadb(b.base, b.len, JSON_DECODE_ANY, NULL) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        input_error(c, 400, "Invalid request body");
        return;
    }
    json_t *data = json_object_get(body, "data");
    /* the record is the raw user data, JSON.stringify(body.data) */
    char *text = data ? json_dumps(data, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("null");
    json_decref(body);
    const char *stream = http_sprintf(c, INPUT_PREFIX "%s", http_param(c, 1));
    int64_t seq;
    if (!text ||
        streams_append(c->app->streams, run_id, stream, text, strlen(text), NULL, -1, c->now,
                       &seq) != 0 ||
        engine_input_sent(c->app->en, c->auth.env, run_id, stream, text, c->now, &e) != 0) {
        free(text);
        input_error(c, 500, "Something went wrong");
        return;
    }
    free(text);
    http_reply_json(c, 200, json_pack("{s:b}", "ok", 1));
}

void api_input_wait(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *sid = json_object_get(body, "streamId");
    if (!json_is_string(sid) || !*json_string_value(sid)) {
        http_reply_error(c, 400, "streamId is required");
        return;
    }
    json_t *ls = json_object_get(body, "lastSeqNum");
    if (ls && !json_is_null(ls) && !json_is_number(ls)) {
        http_reply_error(c, 400, "lastSeqNum must be a number");
        return;
    }
    token_opts o;
    if (!api_token_opts(c, body, &o))
        return;
    int64_t after = api_seq_cursor(ls);
    const char *stream = http_sprintf(c, INPUT_PREFIX "%s", json_string_value(sid));
    char id[64];
    bool cached = false;
    err_t e = {0};
    if (engine_input_wait(c->app->en, c->auth.env, http_param(c, 0), stream, &o, after, c->now, id,
                          &cached, &e) != 0) {
        http_reply_error(c, http_status_of(e.code), e.msg);
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s,s:b}", "waitpointId", id, "isCached", cached));
}
