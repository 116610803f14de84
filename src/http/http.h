/*
 * http/http.h - what API handlers see of a request: path params, query,
 * headers, the parsed body, the authenticated caller, and the reply
 * functions. Replies are queued until the turn's store commit is durable
 * (see server.c), so a handler never answers before its writes are safe.
 */
#ifndef TD_HTTP_H
#define TD_HTTP_H

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "auth/auth.h"
#include "auth/scopes.h"
#include "util/err.h"

typedef struct http_ctx http_ctx;
typedef struct http_stream http_stream;
typedef void (*http_handler)(http_ctx *c);

enum {
    ROUTE_CORS = 1 << 0,      /* answers OPTIONS and sends CORS headers */
    ROUTE_SECRET = 1 << 1,    /* a secret key authenticates */
    ROUTE_JWT = 1 << 2,       /* a public access token authenticates */
    ROUTE_PAT = 1 << 3,       /* a personal access token authenticates */
    ROUTE_NOAUTH = 1 << 4,    /* no credentials */
    ROUTE_RL_EXEMPT = 1 << 5, /* not behind the rate limiter */
    ROUTE_CHUNKED = 1 << 6,   /* body may come without Content-Length */
    ROUTE_LEGACY = 1 << 7,    /* legacy auth messages ("Invalid or Missing API Key") */
    /* answered once the turn's transaction is committed, without waiting for
     * its fsync: only for writes whose loss in a crash can only hand a run out
     * again (a dequeue, an attempt start, a heartbeat), never lose or finish one */
    ROUTE_LAZY_DURABLE = 1 << 8,
};

typedef struct http_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v3/runs/:runId"; a final "*" matches the rest */
    http_handler fn;
    unsigned flags;
    size_t max_body; /* 0: no per-route limit beyond the server's */
} http_route;

#define HTTP_MAX_PARAMS 6

struct http_ctx {
    h2o_req_t *req;
    app *app;
    const http_route *route;
    const char *params[HTTP_MAX_PARAMS]; /* percent-decoded, pool memory */
    size_t n_params;
    auth_result auth;
    json_t *body;     /* parsed JSON body when the handler asked for it */
    bool current_api; /* x-trigger-api-version: 2025-07-16 */
    int64_t now;      /* request time, ms epoch */
    bool replied;
    bool lazy_durable; /* this answer need not wait for the fsync (as ROUTE_LAZY_DURABLE) */
    struct jsontext_splice *splices; /* raw JSON texts of the reply (http_raw_json), pool */
    size_t n_splices;
};

/* ---- request ---------------------------------------------------------- */

/* Path param i (in pattern order). */
const char *http_param(http_ctx *c, size_t i);

/* Request header value (pool memory, NUL-terminated) or NULL. */
const char *http_header(http_ctx *c, const char *name);

/* Decoded query parameter (pool memory) or NULL. */
const char *http_query(http_ctx *c, const char *name);

/* Calls fn for every query parameter (decoded names and values). */
void http_query_each(http_ctx *c, void (*fn)(void *ud, const char *k, const char *v), void *ud);

/* Parses the body as JSON. On failure replies 400 ("Request body is empty",
 * "Invalid JSON") and returns NULL. The value is owned by c. */
json_t *http_json(http_ctx *c);

/* The raw body (may be empty). */
h2o_iovec_t http_body(http_ctx *c);

/* The origin ("http://host:port") clients should use for URLs we hand out. */
const char *http_origin(http_ctx *c);

/* pool-allocated printf. */
char *http_sprintf(http_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* s with &<>"' escaped for HTML text and attributes, in pool memory. */
const char *http_html_escape(http_ctx *c, const char *s);

/* ---- authorization ---------------------------------------------------- */

/* True when the caller may do action on any of res[0..n). Secret keys may do
 * anything; JWTs need a granting scope. On refusal replies 403. */
bool http_authorize(http_ctx *c, const char *action, const scope_res *res, size_t n);

/* ---- reply ------------------------------------------------------------ */

void http_add_header(http_ctx *c, const char *name, const char *value);

/* Replies with a JSON body (stolen: the reference is consumed). */
void http_reply_json(http_ctx *c, int status, json_t *body);

/* Replies with the JSON text written in w (emptied; 500 when it failed,
 * as http_reply_json does for a NULL body). */
struct jsonw;
void http_reply_jsonw(http_ctx *c, int status, struct jsonw *w);

/* A value of the next http_reply_json of c written as the JSON text
 * t[0..n) itself, for values jansson cannot hold (deeper than it parses):
 * returns a placeholder string to put in the reply's tree (new reference),
 * which the reply replaces by the text. t must be valid JSON
 * (jsontext_valid); it is copied to the request's pool. */
json_t *http_raw_json(http_ctx *c, const char *t, size_t n);

/* Replies {"error": msg}. */
void http_reply_error(http_ctx *c, int status, const char *msg);

/* Replies from an engine error: ERR_* mapped to its status, {"error": msg}. */
void http_reply_err(http_ctx *c, const err_t *e);

/* Status for an ERR_* code. */
int http_status_of(int code);

/* Replies with raw bytes and a content type. */
void http_reply_raw(http_ctx *c, int status, const char *content_type, const char *body,
                    size_t len);

/* ---- held requests and streams (long-polls, SSE) ----------------------- */

/* Holds the request open: the handler replies later with any http_reply_*
 * (after http_unpark), or never if the client goes away first, in which
 * case gone(ud) is called and c is invalid from then on. */
void http_park(http_ctx *c, void (*gone)(void *ud), void *ud);
/* Drops the gone callback; call before replying to a parked request. */
void http_unpark(http_ctx *c);

/* Starts a streaming response (e.g. text/event-stream); add headers before.
 * Data written goes out in order as the client takes it; the head goes out
 * after the turn's commit like any reply. closed(ud) is called once, when
 * the client went away or the stream ended and was sent; the stream is
 * invalid after it. */
http_stream *http_stream_start(http_ctx *c, int status, const char *content_type,
                               void (*closed)(void *ud), void *ud);
/* Queues data; returns -1 (and queues nothing) when the stream already
 * holds more than HTTP_STREAM_MAX_BUFFERED unsent bytes: a slow reader. */
int http_stream_write(http_stream *s, const char *data, size_t len);
/* Ends the stream once what is queued is sent. */
void http_stream_end(http_stream *s);
/* Ends the stream as broken (no clean end of body), once what is queued
 * is sent: a client that takes a clean end as "done" reconnects instead. */
void http_stream_abort(http_stream *s);
/* Unsent bytes the stream holds. */
size_t http_stream_buffered(const http_stream *s);

#define HTTP_STREAM_MAX_BUFFERED (4u * 1024 * 1024)

#endif
