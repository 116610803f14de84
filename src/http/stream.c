/*
 * http/stream.c - streaming responses (SSE, NDJSON) over libh2o.
 *
 * h2o takes one batch of buffers at a time and calls proceed() when it is
 * done with them, so a stream keeps two buffers: the one h2o is sending and
 * the one writes append to. A reader that does not keep up makes writes
 * fail past HTTP_STREAM_MAX_BUFFERED (the caller drops it) instead of
 * growing memory without bound. The stream lives in the request's pool and
 * ends with it.
 */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

struct http_stream {
    h2o_generator_t gen; /* first: h2o hands it back to proceed/stop */
    h2o_req_t *req;
    char *sending; /* handed to h2o, until proceed */
    size_t sending_len;
    char *buf; /* queued */
    size_t len, cap;
    bool begun, in_flight, ending, aborting, final_sent, closed;
    void (*closed_cb)(void *ud);
    void *ud;
};

static void close_once(http_stream *s)
{
    if (s->closed)
        return;
    s->closed = true;
    if (s->closed_cb)
        s->closed_cb(s->ud);
}

/* Hands h2o the queued bytes (or the end) when it is free. */
static void kick(http_stream *s)
{
    if (!s->begun || s->in_flight || s->final_sent || s->closed)
        return;
    if (s->len == 0 && !s->ending)
        return;
    free(s->sending);
    s->sending = s->buf;
    s->sending_len = s->len;
    s->buf = NULL;
    s->len = s->cap = 0;
    h2o_iovec_t v = h2o_iovec_init(s->sending ? s->sending : "", s->sending_len);
    bool final = s->ending;
    s->in_flight = true;
    if (final)
        s->final_sent = true;
    h2o_send_state_t st = !final        ? H2O_SEND_STATE_IN_PROGRESS
                          : s->aborting ? H2O_SEND_STATE_ERROR
                                        : H2O_SEND_STATE_FINAL;
    h2o_send(s->req, &v, 1, st);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    http_stream *s = (http_stream *)g;
    s->in_flight = false;
    if (s->final_sent) {
        close_once(s);
        return;
    }
    kick(s);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    close_once((http_stream *)g);
}

static void on_dispose(void *p)
{
    http_stream *s = p;
    close_once(s);
    free(s->sending);
    free(s->buf);
}

http_stream *http_stream_start(http_ctx *c, int status, const char *content_type,
                               void (*closed)(void *ud), void *ud)
{
    h2o_req_t *r = c->req;
    http_stream *s = h2o_mem_alloc_shared(&r->pool, sizeof *s, on_dispose);
    memset(s, 0, sizeof *s);
    s->gen.proceed = on_proceed;
    s->gen.stop = on_stop;
    s->req = r;
    s->closed_cb = closed;
    s->ud = ud;
    c->replied = true;
    r->res.status = status;
    r->res.reason = "OK";
    h2o_add_header(&r->pool, &r->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    http__cors_headers(c);
    http__enqueue_stream(c, s);
    return s;
}

void http__stream_begin(http_stream *s)
{
    s->begun = true;
    h2o_start_response(s->req, &s->gen);
    /* send the head at once, even with nothing to say yet */
    s->in_flight = true;
    h2o_send(s->req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
}

int http_stream_write(http_stream *s, const char *data, size_t len)
{
    if (s->closed || s->ending)
        return -1;
    if (s->len + s->sending_len > HTTP_STREAM_MAX_BUFFERED)
        return -1;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + len)
            cap *= 2;
        s->buf = realloc(s->buf, cap);
        if (!s->buf)
            abort();
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    kick(s);
    return 0;
}

void http_stream_end(http_stream *s)
{
    if (s->closed || s->ending)
        return;
    s->ending = true;
    kick(s);
}

void http_stream_abort(http_stream *s)
{
    if (s->closed || s->ending)
        return;
    s->aborting = true;
    s->ending = true;
    kick(s);
}

size_t http_stream_buffered(const http_stream *s)
{
    return s->len + s->sending_len;
}
