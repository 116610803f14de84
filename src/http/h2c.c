/*
 * http/h2c.c - an nghttp2 server session over an h2o socket.
 *
 * nghttp2 does the protocol (framing, HPACK, flow control, settings); this
 * file moves bytes: socket input into nghttp2_session_mem_recv, and
 * nghttp2_session_mem_send output into one h2o_socket_write at a time
 * (h2o allows one write in flight; output made meanwhile waits in `out`).
 * A response body is a per-stream queue read by a deferred data provider,
 * resumed whenever the handler queues more, so the peer's window is obeyed.
 */
#include "http/h2c.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define H2C_MAX_HEADERS 32

typedef struct buf {
    uint8_t *p;
    size_t len, cap, off; /* off: bytes already consumed from the front */
} buf;

typedef struct h2c_conn h2c_conn;

struct h2c_stream {
    h2c_conn *conn;
    int32_t id;
    char *names[H2C_MAX_HEADERS], *values[H2C_MAX_HEADERS];
    size_t n_headers;
    char *method, *path;
    const h2c_handler *h;
    void *ud;
    bool responded, ended, eof_sent, body_done;
    buf out; /* response body not yet taken by nghttp2 */
    h2c_stream *next;
};

struct h2c_conn {
    h2o_socket_t *sock;
    nghttp2_session *ng;
    h2c_dispatch dispatch;
    void *ctx;
    buf out;          /* frames waiting for the socket */
    buf writing;      /* the write in flight */
    bool closing;     /* no more reads; close once written */
    bool in_callback; /* inside mem_recv: flush after it returns */
    size_t n_streams;
    h2c_stream *streams; /* open ones, to tell their owners when we close */
    uv_timer_t idle;
    int64_t idle_ms;
};

static void buf_add(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_free(buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void conn_flush(h2c_conn *c, bool may_destroy);

/* ---- teardown ---------------------------------------------------------- */

static void on_idle_closed(uv_handle_t *h)
{
    h2c_conn *c = h->data;
    buf_free(&c->out);
    buf_free(&c->writing);
    free(c);
}

static void stream_free(h2c_stream *s);

static void conn_destroy(h2c_conn *c)
{
    /* nghttp2_session_del calls no callbacks: the open streams' owners are
     * told here, after which every h2c_* call on them is a no-op */
    nghttp2_session *ng = c->ng;
    c->ng = NULL;
    while (c->streams) {
        h2c_stream *s = c->streams;
        c->streams = s->next;
        if (s->h && s->h->on_close)
            s->h->on_close(s->ud);
        stream_free(s);
    }
    nghttp2_session_del(ng);
    h2o_socket_close(c->sock);
    uv_timer_stop(&c->idle);
    uv_close((uv_handle_t *)&c->idle, on_idle_closed);
}

static void stream_free(h2c_stream *s)
{
    for (size_t i = 0; i < s->n_headers; i++) {
        free(s->names[i]);
        free(s->values[i]);
    }
    buf_free(&s->out);
    free(s);
}

/* ---- output ------------------------------------------------------------ */

static void on_written(h2o_socket_t *sock, const char *err)
{
    h2c_conn *c = sock->data;
    c->writing.len = 0;
    if (err) {
        c->closing = true;
        c->out.len = 0;
    }
    conn_flush(c, true);
}

static void arm_idle(h2c_conn *c);
static void on_idle(uv_timer_t *t);

/* Moves nghttp2's pending output to the socket, or (may_destroy: only
 * from the socket's and timer's own callbacks, never under a handler's
 * call) closes the connection when neither side wants more. */
static void conn_flush(h2c_conn *c, bool may_destroy)
{
    if (c->in_callback || !c->ng)
        return;
    if (!c->closing) {
        for (;;) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->ng, &data);
            if (n < 0) {
                c->closing = true;
                break;
            }
            if (n == 0)
                break;
            buf_add(&c->out, data, (size_t)n);
        }
    }
    if (c->writing.len)
        return; /* on_written calls back */
    if (c->out.len && !c->closing) {
        buf t = c->writing;
        c->writing = c->out;
        c->out = t;
        c->out.len = 0;
        h2o_iovec_t iov = h2o_iovec_init(c->writing.p, c->writing.len);
        h2o_socket_write(c->sock, &iov, 1, on_written);
        return;
    }
    if (c->closing || (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng))) {
        if (may_destroy)
            conn_destroy(c);
        else
            uv_timer_start(&c->idle, on_idle, 0, 0); /* destroys from the timer */
        return;
    }
    arm_idle(c);
}

static void on_idle(uv_timer_t *t)
{
    h2c_conn *c = t->data;
    if (!c->ng)
        return;
    if (!c->closing && nghttp2_session_want_read(c->ng)) {
        if (c->n_streams)
            return;
        /* 0.22.10 never closes its per-writer connections (s2.md 5.1) */
        nghttp2_session_terminate_session(c->ng, NGHTTP2_NO_ERROR);
    }
    conn_flush(c, true);
}

static void arm_idle(h2c_conn *c)
{
    if (!c->n_streams && !uv_is_active((uv_handle_t *)&c->idle))
        uv_timer_start(&c->idle, on_idle, (uint64_t)c->idle_ms, 0);
    else if (c->n_streams)
        uv_timer_stop(&c->idle);
}

/* ---- response bodies --------------------------------------------------- */

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *out, size_t max, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)ng, (void)id, (void)ud;
    h2c_stream *s = src->ptr;
    size_t avail = s->out.len - s->out.off;
    if (avail == 0) {
        if (s->ended) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            s->eof_sent = true;
            return 0;
        }
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = avail < max ? avail : max;
    memcpy(out, s->out.p + s->out.off, n);
    s->out.off += n;
    if (s->out.off == s->out.len)
        s->out.off = s->out.len = 0;
    if (s->ended && s->out.len == 0) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        s->eof_sent = true;
    }
    return (ssize_t)n;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE                 \
    }

void h2c_respond(h2c_stream *s, int status, const char *content_type)
{
    if (s->responded || !s->conn->ng)
        return;
    s->responded = true;
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    nghttp2_nv nva[] = {NV(":status", st), NV("content-type", content_type),
                        NV("server", "triggerd")};
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read_body};
    nghttp2_submit_response(s->conn->ng, s->id, nva, 3, &prd);
    conn_flush(s->conn, false);
}

void h2c_write(h2c_stream *s, const void *p, size_t n)
{
    if (!s->responded || s->ended || !s->conn->ng)
        return;
    buf_add(&s->out, p, n);
    nghttp2_session_resume_data(s->conn->ng, s->id);
    conn_flush(s->conn, false);
}

void h2c_end(h2c_stream *s)
{
    if (!s->responded || s->ended || !s->conn->ng)
        return;
    s->ended = true;
    nghttp2_session_resume_data(s->conn->ng, s->id);
    conn_flush(s->conn, false);
}

void h2c_reply(h2c_stream *s, int status, const char *content_type, const void *body, size_t n)
{
    h2c_respond(s, status, content_type);
    h2c_write(s, body, n);
    h2c_end(s);
}

/* ---- request side ------------------------------------------------------ */

const char *h2c_method(h2c_stream *s)
{
    return s->method;
}

const char *h2c_path(h2c_stream *s)
{
    return s->path;
}

const char *h2c_header(h2c_stream *s, const char *name)
{
    for (size_t i = 0; i < s->n_headers; i++)
        if (strcasecmp(s->names[i], name) == 0)
            return s->values[i];
    return NULL;
}

void h2c_set_handler(h2c_stream *s, const h2c_handler *h, void *ud)
{
    s->h = h;
    s->ud = ud;
}

static h2c_stream *stream_of(h2c_conn *c, int32_t id)
{
    return nghttp2_session_get_stream_user_data(c->ng, id);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    h2c_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2c_stream *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->conn = c;
    s->id = f->hd.stream_id;
    nghttp2_session_set_stream_user_data(ng, s->id, s);
    s->next = c->streams;
    c->streams = s;
    c->n_streams++;
    uv_timer_stop(&c->idle);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)ng, (void)flags;
    h2c_stream *s = stream_of(ud, f->hd.stream_id);
    if (!s || s->n_headers == H2C_MAX_HEADERS)
        return 0;
    char *n = strndup((const char *)name, nlen), *v = strndup((const char *)value, vlen);
    if (!n || !v)
        abort();
    if (strcmp(n, ":method") == 0 && !s->method)
        s->method = v;
    else if (strcmp(n, ":path") == 0 && !s->path)
        s->path = v;
    s->names[s->n_headers] = n;
    s->values[s->n_headers++] = v;
    return 0;
}

static void request_end(h2c_stream *s)
{
    if (s->body_done)
        return;
    s->body_done = true;
    if (s->h && s->h->on_end)
        s->h->on_end(s->ud, s);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ng;
    h2c_conn *c = ud;
    h2c_stream *s = stream_of(c, f->hd.stream_id);
    if (!s)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        if (!s->method)
            s->method = "";
        if (!s->path)
            s->path = "";
        c->dispatch(c->ctx, s);
        if (!s->h && !s->responded) {
            static const char msg[] = "{\"code\":\"bad_path\",\"message\":\"not found\"}";
            h2c_reply(s, 404, "application/json", msg, sizeof msg - 1);
        }
    }
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        request_end(s);
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *p, size_t n,
                   void *ud)
{
    (void)ng, (void)flags;
    h2c_stream *s = stream_of(ud, id);
    if (s && s->h && s->h->on_data && !s->body_done)
        s->h->on_data(s->ud, s, p, n);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    h2c_conn *c = ud;
    h2c_stream *s = stream_of(c, id);
    if (!s)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    for (h2c_stream **pp = &c->streams; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    if (s->h && s->h->on_close)
        s->h->on_close(s->ud);
    stream_free(s);
    c->n_streams--;
    return 0;
}

/* ---- input ------------------------------------------------------------- */

static void on_read(h2o_socket_t *sock, const char *err)
{
    h2c_conn *c = sock->data;
    if (err) {
        h2o_socket_read_stop(sock);
        c->closing = true;
        conn_flush(c, true);
        return;
    }
    c->in_callback = true;
    ssize_t n =
        nghttp2_session_mem_recv(c->ng, (const uint8_t *)sock->input->bytes, sock->input->size);
    c->in_callback = false;
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (n < 0) {
        /* a protocol error: nghttp2 queued GOAWAY; send it and stop */
        h2o_socket_read_stop(sock);
    }
    conn_flush(c, true);
}

void h2c_serve(h2o_socket_t *sock, uv_loop_t *loop, int64_t idle_ms, h2c_dispatch fn, void *ctx)
{
    h2c_conn *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->sock = sock;
    c->dispatch = fn;
    c->ctx = ctx;
    c->idle_ms = idle_ms;
    uv_timer_init(loop, &c->idle);
    c->idle.data = c;
    sock->data = c;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_server_new(&c->ng, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 128},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 4 * 1024 * 1024}};
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 2);
    /* a connection window as large as the stream windows */
    nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0, 4 * 1024 * 1024);
    h2o_socket_read_start(sock, on_read);
    if (sock->input->size)
        on_read(sock, NULL);
    else
        conn_flush(c, true);
}
