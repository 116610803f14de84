/*
 * api/s2.c - the S2 append API triggerd serves for the SDK's v2 writers
 * (spec/s2.md): POST /v1/streams/{stream}/records as a unary JSON or
 * protobuf append over HTTP/1.1 (ops A, B) and as an S2S append session
 * over cleartext HTTP/2 (op C; ops A and B are served over HTTP/2 too).
 * Parsing and replies only; what an append
 * means is realtime/s2.c.
 *
 * Acks are durable: a unary reply waits for the turn's commit like every
 * reply (http/server.c); a session's ack for a frame is sent when the turn
 * that wrote it is on disk (streams_when_durable), in frame order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "http/router.h"
#include "realtime/s2.h"
#include "realtime/streams.h"
#include "util/timefmt.h"

#define S2_NAME_MAX 512

/* An error value (the message copied). */
static s2_err mkerr(int status, const char *code, const char *msg)
{
    s2_err e = {status, code, "", 0};
    snprintf(e.msg, sizeof e.msg, "%s", msg);
    return e;
}

static const char *bearer_of(const char *h)
{
    if (!h)
        return NULL;
    if (strncasecmp(h, "Bearer ", 7) == 0)
        h += 7;
    while (*h == ' ')
        h++;
    return h;
}

/* The media type without parameters, compared case-insensitively. */
static bool ctype_is(const char *ct, const char *want)
{
    if (!ct)
        return false;
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static int name_ok(const char *name, s2_err *e)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > S2_NAME_MAX) {
        e->status = 400;
        e->code = "bad_path";
        snprintf(e->msg, sizeof e->msg, "stream name must be 1 to 512 bytes");
        return -1;
    }
    return 0;
}

/* ---- ops A and B: unary appends over HTTP/1.1 -------------------------- */

static void reply_s2_err(http_ctx *c, const s2_err *e)
{
    http_reply_json(c, e->status, s2_err_json(e));
}

/* A unary append's outcome: status, content type and body (malloc'd). */
typedef struct unary_out {
    int status;
    const char *ctype;
    char *body;
    size_t len;
} unary_out;

static void out_json(unary_out *o, int status, json_t *j)
{
    o->status = status;
    o->ctype = "application/json";
    o->body = json_dumps(j, JSON_COMPACT);
    o->len = o->body ? strlen(o->body) : 0;
    json_decref(j);
}

static void out_err(unary_out *o, const s2_err *e)
{
    out_json(o, e->status, s2_err_json(e));
}

static void out_errmsg(unary_out *o, int status, const char *code, const char *msg)
{
    s2_err e = mkerr(status, code, msg);
    out_err(o, &e);
}

/* Ops A and B, whatever carries them: decodes the body by content type and
 * appends it in the turn's transaction; the caller sends o once durable. */
static void unary_append(app *a, const char *name, const char *ct, const uint8_t *p, size_t n,
                         int64_t now, unary_out *o)
{
    bool proto = ctype_is(ct, "application/protobuf") || ctype_is(ct, "application/x-protobuf");
    s2_input in = {0};
    json_t *body = NULL;
    s2_err e = {0};
    if (proto) {
        if (s2wire_decode_input(p, n, &in) != 0) {
            out_errmsg(o, 400, "bad_proto", "malformed AppendInput");
            return;
        }
    } else if (ctype_is(ct, "application/json") || !ct) {
        body = json_loadb(n ? (const char *)p : "", n, 0, NULL);
        if (!body) {
            out_errmsg(o, 400, "bad_json", "malformed JSON body");
            return;
        }
        if (s2_input_from_json(body, &in, &e) != 0) {
            json_decref(body);
            out_err(o, &e);
            return;
        }
    } else if (ctype_is(ct, "s2s/proto")) {
        out_errmsg(o, 400, "bad_header", "s2s/proto sessions need HTTP/2");
        return;
    } else {
        out_errmsg(o, 400, "bad_header", "unsupported content-type");
        return;
    }
    s2_ack ack;
    int rc = s2_append(a, name, &in, now, &ack, &e);
    s2wire_input_free(&in);
    json_decref(body);
    if (rc) {
        out_err(o, &e);
    } else if (proto) {
        o->status = 200;
        o->ctype = "application/protobuf";
        o->body = malloc(S2WIRE_ACK_MAX);
        if (!o->body)
            abort();
        o->len = s2wire_encode_ack(&ack, (uint8_t *)o->body);
    } else {
        out_json(o, 200, s2_ack_json(&ack));
    }
}

void api_s2_append(http_ctx *c)
{
    const char *name = http_param(c, 0);
    s2_err e = {0};
    if (name_ok(name, &e) ||
        s2_token_check(c->app, bearer_of(http_header(c, "authorization")), name, c->now, &e)) {
        reply_s2_err(c, &e);
        return;
    }
    h2o_iovec_t b = http_body(c);
    unary_out o = {0};
    unary_append(c->app, name, http_header(c, "content-type"), (const uint8_t *)b.base, b.len,
                 c->now, &o);
    /* the reply waits for the turn's commit like every reply (server.c) */
    char *body = http_sprintf(c, "%*s", (int)o.len, "");
    if (o.len)
        memcpy(body, o.body, o.len);
    http_reply_raw(c, o.status, o.ctype, body, o.len);
    free(o.body);
}

/* ---- op C: S2S append sessions over h2c -------------------------------- */

typedef struct s2sess s2sess;

typedef struct pend {
    s2_ack ack;
    bool ready;
    streams_waiter *w;
    s2sess *sess;
    struct pend *next;
} pend;

struct s2sess {
    app *a;
    h2c_stream *s;
    char *name;
    uint8_t *in;
    size_t in_len, in_cap;
    pend *head, **tail;
    bool input_done;
    bool failed;    /* no more input is taken; err goes out after the acks due */
    bool term_sent; /* the terminal frame is out */
    s2_err err;
};

static void sess_send_terminal(s2sess *x);

static void sess_send_acks(s2sess *x)
{
    while (x->head && x->head->ready) {
        pend *p = x->head;
        uint8_t fr[4 + S2WIRE_ACK_MAX];
        size_t n = s2wire_encode_ack(&p->ack, fr + 4);
        s2wire_frame_prefix(fr, n, 0);
        h2c_write(x->s, fr, 4 + n);
        x->head = p->next;
        if (!x->head)
            x->tail = &x->head;
        free(p);
    }
    if (x->head)
        return;
    if (x->failed)
        sess_send_terminal(x);
    else if (x->input_done)
        h2c_end(x->s);
}

static void sess_drop_pending(s2sess *x)
{
    while (x->head) {
        pend *p = x->head;
        x->head = p->next;
        if (p->w)
            streams_waiter_cancel(p->w);
        free(p);
    }
    x->tail = &x->head;
}

/* Ends the session with an error: the batches before it that are stored
 * are still acked (once durable, in order), then the terminal frame. */
static void sess_fail(s2sess *x, const s2_err *e)
{
    if (x->failed)
        return;
    x->failed = true;
    x->err = *e;
    sess_send_acks(x);
}

/* The terminal frame: status (2 bytes) + ErrorInfo JSON, then the end. */
static void sess_send_terminal(s2sess *x)
{
    if (x->term_sent)
        return;
    x->term_sent = true;
    const s2_err *e = &x->err;
    json_t *j = s2_err_json(e);
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t tl = t ? strlen(t) : 0;
    uint8_t *fr = malloc(6 + tl);
    if (!fr)
        abort();
    s2wire_frame_prefix(fr, 2 + tl, S2_FRAME_TERMINAL);
    fr[4] = (uint8_t)(e->status >> 8);
    fr[5] = (uint8_t)e->status;
    if (tl)
        memcpy(fr + 6, t, tl);
    h2c_write(x->s, fr, 6 + tl);
    h2c_end(x->s);
    free(fr);
    free(t);
}

static void on_ack_durable(void *ud, bool ok)
{
    pend *p = ud;
    s2sess *x = p->sess;
    p->w = NULL;
    p->ready = true;
    if (!ok) {
        /* rolled back: this batch and the ones after it are not stored */
        sess_drop_pending(x);
        x->failed = true;
        x->err = mkerr(503, "unavailable", "the append was not stored; retry");
    }
    sess_send_acks(x);
}

/* Handles one AppendInput frame. */
static void sess_frame(s2sess *x, uint8_t flags, s2_bytes payload)
{
    if (flags & (S2_FRAME_TERMINAL | S2_FRAME_COMPRESSION)) {
        s2_err e = mkerr(400, "bad_frame",
                         flags & S2_FRAME_TERMINAL ? "unexpected terminal frame"
                                                   : "compressed frames are not accepted");
        sess_fail(x, &e);
        return;
    }
    s2_input in;
    if (s2wire_decode_input(payload.p, payload.n, &in) != 0) {
        sess_fail(x, &(s2_err[]){mkerr(400, "bad_proto", "malformed AppendInput")}[0]);
        return;
    }
    s2_ack ack;
    s2_err e = {0};
    int rc = s2_append(x->a, x->name, &in, time_now_ms(), &ack, &e);
    s2wire_input_free(&in);
    if (rc) {
        sess_fail(x, &e);
        return;
    }
    pend *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->ack = ack;
    p->sess = x;
    *x->tail = p;
    x->tail = &p->next;
    p->w = streams_when_durable(x->a->streams, on_ack_durable, p);
}

static void sess_data(void *ud, h2c_stream *s, const uint8_t *data, size_t n)
{
    (void)s;
    s2sess *x = ud;
    if (x->failed)
        return;
    if (x->in_len + n > x->in_cap) {
        size_t cap = x->in_cap ? x->in_cap : 16384;
        while (cap < x->in_len + n)
            cap *= 2;
        x->in = realloc(x->in, cap);
        if (!x->in)
            abort();
        x->in_cap = cap;
    }
    memcpy(x->in + x->in_len, data, n);
    x->in_len += n;
    size_t off = 0;
    while (!x->failed) {
        uint8_t flags;
        s2_bytes payload;
        long used = s2wire_frame_parse(x->in + off, x->in_len - off, &flags, &payload);
        if (used < 0) {
            sess_fail(x, &(s2_err[]){mkerr(400, "bad_frame", "frame length out of range")}[0]);
            break;
        }
        if (used == 0)
            break;
        sess_frame(x, flags, payload);
        off += (size_t)used;
    }
    memmove(x->in, x->in + off, x->in_len - off);
    x->in_len -= off;
}

static void sess_end(void *ud, h2c_stream *s)
{
    (void)s;
    s2sess *x = ud;
    x->input_done = true;
    if (x->failed)
        return;
    if (x->in_len) {
        sess_fail(x, &(s2_err[]){mkerr(400, "bad_frame", "truncated frame at end of input")}[0]);
        return;
    }
    sess_send_acks(x);
}

static void sess_close(void *ud)
{
    s2sess *x = ud;
    sess_drop_pending(x); /* a client gone mid-session: its records stay stored */
    free(x->name);
    free(x->in);
    free(x);
}

static const h2c_handler sess_handler = {sess_data, sess_end, sess_close};

/* ---- ops A and B over h2c: the body is collected, then appended -------- */

#define UNARY_H2_MAX (8 * 1024 * 1024)

typedef struct h2unary {
    app *a;
    h2c_stream *s;
    char *name, *ctype;
    uint8_t *body;
    size_t len;
    bool too_big, answered;
    unary_out out;
    streams_waiter *w;
} h2unary;

static void h2u_send(h2unary *u)
{
    u->answered = true;
    h2c_reply(u->s, u->out.status, u->out.ctype, u->out.body ? u->out.body : "", u->out.len);
}

static void h2u_data(void *ud, h2c_stream *s, const uint8_t *p, size_t n)
{
    (void)s;
    h2unary *u = ud;
    if (u->too_big)
        return;
    if (u->len + n > UNARY_H2_MAX) {
        u->too_big = true;
        return;
    }
    uint8_t *nb = realloc(u->body, u->len + n);
    if (!nb)
        abort();
    u->body = nb;
    memcpy(u->body + u->len, p, n);
    u->len += n;
}

static void h2u_durable(void *ud, bool ok)
{
    h2unary *u = ud;
    u->w = NULL;
    if (!ok) {
        free(u->out.body);
        u->out = (unary_out){0};
        out_errmsg(&u->out, 503, "unavailable", "the append was not stored; retry");
    }
    h2u_send(u);
}

static void h2u_end(void *ud, h2c_stream *s)
{
    (void)s;
    h2unary *u = ud;
    if (u->too_big) {
        out_errmsg(&u->out, 413, "invalid", "request body too large");
        h2u_send(u);
        return;
    }
    unary_append(u->a, u->name, u->ctype, u->body, u->len, time_now_ms(), &u->out);
    if (u->out.status == 200)
        u->w = streams_when_durable(u->a->streams, h2u_durable, u);
    else
        h2u_send(u);
}

static void h2u_close(void *ud)
{
    h2unary *u = ud;
    if (u->w)
        streams_waiter_cancel(u->w);
    free(u->out.body);
    free(u->body);
    free(u->name);
    free(u->ctype);
    free(u);
}

static const h2c_handler unary_handler = {h2u_data, h2u_end, h2u_close};

static void h2c_json(h2c_stream *s, const s2_err *e)
{
    json_t *j = s2_err_json(e);
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    h2c_reply(s, e->status, "application/json", t ? t : "{}", t ? strlen(t) : 2);
    free(t);
}

/* "/v1/streams/<enc>/records[?...]" → the decoded name (malloc'd), or NULL. */
static char *session_name(const char *path)
{
    static const char pre[] = "/v1/streams/", suf[] = "/records";
    size_t plen = strcspn(path, "?");
    if (plen < sizeof pre - 1 + sizeof suf - 1 + 1 || strncmp(path, pre, sizeof pre - 1) != 0 ||
        strncmp(path + plen - (sizeof suf - 1), suf, sizeof suf - 1) != 0)
        return NULL;
    const char *seg = path + sizeof pre - 1;
    size_t slen = plen - (sizeof pre - 1) - (sizeof suf - 1);
    if (memchr(seg, '/', slen))
        return NULL;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    char *d = router_decode(&pool, seg, slen);
    char *name = d ? strdup(d) : NULL;
    h2o_mem_clear_pool(&pool);
    return name;
}

void api_s2_h2c(void *ctx, h2c_stream *s)
{
    app *a = ctx;
    char *name = session_name(h2c_path(s));
    if (!name) {
        h2c_json(s, &(s2_err[]){mkerr(404, "bad_path", "not found")}[0]);
        return;
    }
    s2_err e = {0};
    if (strcmp(h2c_method(s), "POST") != 0)
        e = mkerr(405, "bad_path", "method not allowed");
    else if (!name_ok(name, &e))
        s2_token_check(a, bearer_of(h2c_header(s, "authorization")), name, time_now_ms(), &e);
    if (e.status) {
        free(name);
        h2c_json(s, &e);
        return;
    }
    const char *ct = h2c_header(s, "content-type");
    if (!ctype_is(ct, "s2s/proto")) {
        h2unary *u = calloc(1, sizeof *u);
        if (!u)
            abort();
        u->a = a;
        u->s = s;
        u->name = name;
        u->ctype = ct ? strdup(ct) : NULL;
        h2c_set_handler(s, &unary_handler, u);
        return;
    }
    s2sess *x = calloc(1, sizeof *x);
    if (!x)
        abort();
    x->a = a;
    x->s = s;
    x->name = name;
    x->tail = &x->head;
    h2c_set_handler(s, &sess_handler, x);
    h2c_respond(s, 200, "s2s/proto"); /* HEADERS first, before any ack (s2.md 5.4) */
}
