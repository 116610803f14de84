/*
 * http/server.c - libh2o glue, dispatch and group commit.
 *
 * Group commit: handlers run inside the poll phase of a loop turn and their
 * writes join one open store transaction. A uv_check handle, which runs
 * right after the poll phase, commits that transaction (one fsync for the
 * whole turn) and only then sends the queued responses. A failed commit
 * turns every queued response of the turn into a 500, so no client is told
 * a write succeeded that is not on disk.
 */
#include "http/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "http/ws.h"
#include "util/timefmt.h"

/* A request's context plus its place in the pending queue. */
typedef struct reqctx {
    http_ctx c;
    struct reqctx *next, **pprev; /* pending queue links; pprev NULL if not queued */
    const char *body;
    size_t len;
    http_stream *stream; /* a streaming reply: its head goes out when sent */
    void (*gone)(void *ud); /* a parked request's owner, told when it ends unanswered */
    void *gone_ud;
    http_server *hs;
} reqctx;

/* Disk flushes that may run at once: a commit starts its own flush at once
 * instead of waiting for the running one to end and then another; each
 * flush covers every commit made before it started. */
#define FLUSH_MAX 3

typedef struct flush_slot {
    uv_work_t work;
    struct http_server *hs;
    reqctx *reqs;  /* committed, answered when this flush (or a later one) ends */
    uint64_t gen;  /* the generation this flush makes durable */
    bool running;
    int rc;
} flush_slot;

struct http_server {
    app *app;
    const http_route *routes;
    size_t n_routes;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    bool listening;
    uv_check_t check;
    uv_prepare_t prepare;
    uv_idle_t idle;     /* keeps the loop from blocking while a commit is due */
    uint64_t commit_gen;  /* transactions committed so far */
    uint64_t durable_gen; /* transactions known to be on disk */
    reqctx *pending;      /* answered by handlers, waiting for the turn's commit */
    reqctx *committed;    /* committed, waiting for a disk flush to start */
    flush_slot flushes[FLUSH_MAX];
    int flush_running; /* flushes on the thread pool */
    int64_t active; /* requests not yet disposed */
    uv_timer_t stop_timer;
    int64_t stop_deadline;
    void (*stop_done)(void *);
    void *stop_ud;
    char origin[256];
    h2c_dispatch h2c_fn; /* cleartext HTTP/2 requests (S2 append sessions) */
    void *h2c_ctx;
    const char *ws_prefix; /* WebSocket upgrades under this path go to ws_ops */
    const http_ws_ops *ws_ops;
    void *ws_ud;
};

void http_ws_set_handler(http_server *hs, const char *prefix, const http_ws_ops *ops, void *ud)
{
    hs->ws_prefix = prefix;
    hs->ws_ops = ops;
    hs->ws_ud = ud;
}

/* ---- pending queue and commit ----------------------------------------- */

static void unlink_pending(reqctx *rc)
{
    if (!rc->pprev)
        return;
    *rc->pprev = rc->next;
    if (rc->next)
        rc->next->pprev = rc->pprev;
    rc->next = NULL;
    rc->pprev = NULL;
}

void http__enqueue_stream(http_ctx *c, http_stream *s)
{
    http__enqueue(c, NULL, 0);
    ((reqctx *)c)->stream = s;
}

void http_park(http_ctx *c, void (*gone)(void *ud), void *ud)
{
    reqctx *rc = (reqctx *)c;
    c->replied = true;
    rc->gone = gone;
    rc->gone_ud = ud;
}

void http_unpark(http_ctx *c)
{
    reqctx *rc = (reqctx *)c;
    c->replied = false;
    rc->gone = NULL;
    rc->gone_ud = NULL;
}

void http__enqueue(http_ctx *c, const char *body, size_t len)
{
    reqctx *rc = (reqctx *)c;
    rc->body = body;
    rc->len = len;
    rc->stream = NULL;
    http_server *hs = rc->hs;
    rc->next = hs->pending;
    if (hs->pending)
        hs->pending->pprev = &rc->next;
    rc->pprev = &hs->pending;
    hs->pending = rc;
}

/* Moves every entry of *from, in its order, to the end of *to. */
static void move_all(reqctx **from, reqctx **to)
{
    reqctx **tail = to;
    while (*tail)
        tail = &(*tail)->next;
    while (*from) {
        reqctx *r = *from;
        unlink_pending(r);
        r->pprev = tail;
        *tail = r;
        tail = &r->next;
    }
}

/* Sends r's response (r is unlinked); ok=false turns it into a 500. */
static void send_one(reqctx *r, bool ok)
{
    unlink_pending(r);
    h2o_req_t *req = r->c.req;
    if (ok && r->stream) {
        http__stream_begin(r->stream);
        return;
    }
    if (!ok) {
        static const char msg[] = "{\"error\":\"Internal Server Error\"}";
        req->res.status = 500;
        req->res.headers = (h2o_headers_t){NULL, 0, 0};
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json"));
        r->body = msg;
        r->len = sizeof msg - 1;
    }
    req->res.content_length = r->len;
    h2o_send_inline(req, r->body, r->len);
}

/* Sends every response of list, in its order; ok=false turns them into 500s. */
static void send_all(reqctx **list, bool ok)
{
    while (*list)
        send_one(*list, ok);
}

/* Sends the responses of list whose route does not wait for the fsync. */
static void send_lazy(reqctx **list)
{
    for (reqctx **pp = list; *pp;) {
        reqctx *r = *pp;
        if (!r->stream &&
            (r->c.lazy_durable || (r->c.route && (r->c.route->flags & ROUTE_LAZY_DURABLE))))
            send_one(r, true);
        else
            pp = &r->next;
    }
}

static void start_flush(http_server *hs);

static void flush_work(uv_work_t *w)
{
    flush_slot *f = w->data;
    f->rc = store_sync(f->hs->app->st);
}

static void flush_done(uv_work_t *w, int status)
{
    flush_slot *f = w->data;
    http_server *hs = f->hs;
    f->running = false;
    hs->flush_running--;
    bool ok = status == 0 && f->rc == 0;
    if (ok) {
        /* every flush that started no later made no more durable than this */
        for (int i = 0; i < FLUSH_MAX; i++)
            if (hs->flushes[i].running && hs->flushes[i].gen <= f->gen)
                move_all(&hs->flushes[i].reqs, &f->reqs);
    }
    send_all(&f->reqs, ok);
    if (ok && f->gen > hs->durable_gen) {
        hs->durable_gen = f->gen;
        if (hs->app->on_durable)
            hs->app->on_durable(hs->app, f->gen);
    }
    if (hs->committed)
        start_flush(hs);
}

/* Starts a flush on the thread pool for every commit so far (their
 * responses wait in hs->committed); with FLUSH_MAX running, the next one
 * to end starts it. */
static void start_flush(http_server *hs)
{
    flush_slot *f = NULL;
    for (int i = 0; i < FLUSH_MAX && !f; i++)
        if (!hs->flushes[i].running)
            f = &hs->flushes[i];
    if (!f)
        return;
    f->running = true;
    hs->flush_running++;
    f->hs = hs;
    f->gen = hs->commit_gen;
    f->rc = 0;
    move_all(&hs->committed, &f->reqs);
    f->work.data = f;
    uv_queue_work(hs->app->loop, &f->work, flush_work, flush_done);
}

static void on_check(uv_check_t *h)
{
    http_server *hs = h->data;
    uv_idle_stop(&hs->idle);
    bool dirty = store_dirty(hs->app->st);
    if (!hs->pending && !dirty)
        return;
    int rc = store_commit(hs->app->st);
    uint64_t gen = dirty ? ++hs->commit_gen : hs->commit_gen;
    if (dirty && hs->app->on_commit)
        hs->app->on_commit(hs->app, gen, rc == 0);
    if (rc != 0) {
        send_all(&hs->pending, false); /* rolled back: nothing of this turn is stored */
        return;
    }
    /* without a flush to wait for (nothing written, nothing committed that
     * is not on disk yet), answer now */
    if (!store_defers_sync(hs->app->st) ||
        (!dirty && hs->durable_gen == hs->commit_gen && !hs->committed)) {
        send_all(&hs->pending, true);
        if (dirty)
            hs->durable_gen = gen;
        if (dirty && hs->app->on_durable)
            hs->app->on_durable(hs->app, gen);
        return;
    }
    /* responses of this turn wait for a flush that starts after the commit;
     * reads answered alongside wait too, so nobody sees data before it is
     * safe, but for routes whose lost writes can only re-deliver a run */
    send_lazy(&hs->pending);
    if (!dirty) { /* only reads: a running flush of everything committed covers them */
        for (int i = 0; i < FLUSH_MAX; i++)
            if (hs->flushes[i].running && hs->flushes[i].gen == hs->commit_gen) {
                move_all(&hs->pending, &hs->flushes[i].reqs);
                return;
            }
    }
    move_all(&hs->pending, &hs->committed);
    start_flush(hs);
}

/* ---- dispatch --------------------------------------------------------- */

/* Writes made outside the poll phase (timers) or replies queued there
 * must not wait for the next I/O: an active idle handle makes the coming
 * poll return at once, so the check after it commits and answers. */
static void on_idle(uv_idle_t *h)
{
    uv_idle_stop(h);
}

static void on_prepare(uv_prepare_t *h)
{
    http_server *hs = h->data;
    /* the requests of the coming poll see rotations made before it */
    if (hs->app->au)
        auth_turn(hs->app->au);
    if (hs->pending || store_dirty(hs->app->st))
        uv_idle_start(&hs->idle, on_idle);
}

static void on_dispose(void *p)
{
    reqctx *rc = p;
    if (rc->gone) {
        void (*gone)(void *) = rc->gone;
        rc->gone = NULL;
        gone(rc->gone_ud);
    }
    unlink_pending(rc);
    json_decref(rc->c.body);
    auth_result_clear(&rc->c.auth);
    rc->hs->active--;
}

void http__cors_headers(http_ctx *c)
{
    if (!c->route || !(c->route->flags & ROUTE_CORS))
        return;
    http_add_header(c, "access-control-allow-origin", "*");
    http_add_header(c, "access-control-expose-headers", "x-trigger-jwt, x-trigger-jwt-claims");
}

static void problem(http_ctx *c, int status, json_t *body)
{
    h2o_req_t *r = c->req;
    char *text = jsontext_dumps(body, JSON_COMPACT);
    json_decref(body);
    c->replied = true;
    r->res.status = status;
    r->res.reason = "";
    h2o_add_header(&r->pool, &r->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/problem+json"));
    h2o_iovec_t b = h2o_strdup(&r->pool, text, strlen(text));
    free(text);
    http__enqueue(c, b.base, b.len);
}

static void preflight(http_ctx *c)
{
    c->replied = true;
    h2o_req_t *r = c->req;
    r->res.status = 204;
    r->res.reason = "No Content";
    http_add_header(c, "access-control-allow-origin", "*");
    http_add_header(c, "access-control-allow-methods", "GET, HEAD, PUT, PATCH, POST, DELETE");
    const char *want = http_header(c, "access-control-request-headers");
    http_add_header(c, "access-control-allow-headers", want ? want : "*");
    http_add_header(c, "access-control-max-age", "300");
    http_add_header(c, "access-control-expose-headers", "x-trigger-jwt, x-trigger-jwt-claims");
    http__enqueue(c, "", 0);
}

static bool is_api_path(h2o_req_t *r)
{
    return r->path.len >= 5 && memcmp(r->path.base, "/api/", 5) == 0;
}

/* Checks the body against the route's limit; 413 as spec/api.md section 5.
 * libh2o hides the request framing (it strips Content-Length and
 * Transfer-Encoding after decoding), so a chunked body is measured like any
 * other instead of being refused for its missing Content-Length. */
static bool body_ok(http_ctx *c)
{
    const http_route *rt = c->route;
    if (rt->max_body && http_body(c).len > rt->max_body) {
        http_reply_error(c, 413, "Request body too large");
        return false;
    }
    return true;
}

static const char *bearer(http_ctx *c)
{
    const char *h = http_header(c, "authorization");
    if (!h)
        return NULL;
    if (strncasecmp(h, "Bearer ", 7) == 0)
        h += 7;
    while (*h == ' ')
        h++;
    return h;
}

static bool authenticate(http_ctx *c)
{
    unsigned f = c->route->flags;
    if (f & ROUTE_NOAUTH)
        return true;
    const char *tok = bearer(c);
    if (!tok || !*tok) {
        if (is_api_path(c->req) && !(f & ROUTE_RL_EXEMPT)) {
            const char *msg = "No authorization header provided";
            problem(c, 401,
                    json_pack("{s:s,s:i,s:s,s:s,s:s}", "title", "Unauthorized", "status", 401,
                              "type", "https://httpstatuses.com/401", "detail", msg, "error", msg));
        } else {
            http_reply_error(c, 401, "Invalid or Missing API Key");
        }
        return false;
    }
    err_t e = {0};
    if ((f & ROUTE_PAT) && strncmp(tok, "tr_pat_", 7) == 0) {
        if (auth_resolve_pat(c->app->au, tok, &e) != 0) {
            http_reply_error(c, 401, e.msg);
            return false;
        }
        c->auth.kind = AUTH_PAT;
        return true;
    }
    if (!(f & (ROUTE_SECRET | ROUTE_JWT))) {
        http_reply_error(c, 401, "Invalid or Missing Access Token");
        return false;
    }
    if (auth_resolve(c->app->au, tok, (f & ROUTE_JWT) != 0, c->now, &c->auth, &e) != 0) {
        http_reply_error(c, 401, e.msg);
        return false;
    }
    if (c->auth.kind == AUTH_SECRET && !(f & ROUTE_SECRET)) {
        http_reply_error(c, 401, "Invalid or Missing API Key");
        return false;
    }
    return true;
}

static bool rate_limited(http_ctx *c)
{
    http_server *hs = ((reqctx *)c)->hs;
    if (!hs->app->rl || !is_api_path(c->req) || (c->route->flags & ROUTE_RL_EXEMPT))
        return false;
    /* unauthenticated routes (the CLI's login) have a bucket of their own,
     * so anonymous traffic never spends a personal access token's limit */
    const char *key = c->auth.env                ? c->auth.env->id
                      : c->auth.kind == AUTH_PAT ? "pat"
                                                 : "anon";
    ratelimit_state st;
    bool ok = ratelimit_take(hs->app->rl, key, c->now, &st);
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)st.limit);
    http_add_header(c, "x-ratelimit-limit", v);
    snprintf(v, sizeof v, "%lld", (long long)st.remaining);
    http_add_header(c, "x-ratelimit-remaining", v);
    snprintf(v, sizeof v, "%lld", (long long)st.reset_ms);
    http_add_header(c, "x-ratelimit-reset", v);
    if (ok)
        return false;
    int64_t secs = (st.reset_ms - c->now + 999) / 1000;
    problem(c, 429,
            json_pack("{s:s,s:i,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "title", "Rate Limit Exceeded",
                      "status", 429, "type", "https://httpstatuses.com/429", "detail",
                      "Rate limit exceeded. Retry after the reset time.", "reset",
                      (json_int_t)st.reset_ms, "limit", (json_int_t)st.limit, "remaining",
                      (json_int_t)st.remaining, "secondsUntilReset", (json_int_t)secs, "error",
                      "Rate limit exceeded"));
    return true;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http_server *hs = *(http_server **)(self + 1);
    if (hs->ws_prefix && req->upgrade.base && hs->listening &&
        req->path.len >= strlen(hs->ws_prefix) &&
        memcmp(req->path.base, hs->ws_prefix, strlen(hs->ws_prefix)) == 0 &&
        http__ws_upgrade(req, hs->app->loop, hs->ws_ops, hs->ws_ud) == 0)
        return 0;
    reqctx *rc = h2o_mem_alloc_shared(&req->pool, sizeof *rc, on_dispose);
    memset(rc, 0, sizeof *rc);
    rc->hs = hs;
    hs->active++;
    http_ctx *c = &rc->c;
    c->req = req;
    c->app = hs->app;
    c->now = time_now_ms();

    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    char allow[128];
    router_result m =
        router_match(hs->routes, hs->n_routes, &req->pool, req->method.base, req->method.len,
                     req->path.base, plen, &c->route, c->params, &c->n_params, allow, sizeof allow);
    if (m != ROUTER_MATCH && h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
        /* a preflight for any CORS route on this path */
        for (size_t i = 0; i < hs->n_routes; i++) {
            const http_route *cand = NULL;
            const char *tmp[HTTP_MAX_PARAMS];
            size_t nt;
            if ((hs->routes[i].flags & ROUTE_CORS) &&
                router_match(&hs->routes[i], 1, &req->pool, hs->routes[i].method,
                             strlen(hs->routes[i].method), req->path.base, plen, &cand, tmp, &nt,
                             NULL, 0) == ROUTER_MATCH) {
                c->route = cand;
                preflight(c);
                return 0;
            }
        }
    }
    if (m == ROUTER_NO_PATH) {
        http_reply_error(c, 404, "Not found");
        return 0;
    }
    if (m == ROUTER_NO_METHOD) {
        http_add_header(c, "allow", allow);
        http_reply_error(c, 405, "Method not allowed");
        return 0;
    }
    const char *ver = http_header(c, "x-trigger-api-version");
    c->current_api = ver && strcmp(ver, "2025-07-16") == 0;
    if (!body_ok(c) || !authenticate(c) || rate_limited(c))
        return 0;
    /* many nodes on one database: a request that may write reads inside the
     * turn's transaction, serialized with the other nodes' writes, so what
     * it writes back is not based on a row another node changed meanwhile
     * (docs/store.md, "Many nodes") */
    if (store_shared(c->app->st) && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")) &&
        store_claim_begin(c->app->st) != 0) {
        http_reply_error(c, 500, "Something went wrong");
        return 0;
    }
    c->route->fn(c);
    if (store_shared(c->app->st))
        store_claim_end(c->app->st); /* it only read: no lock held, nothing to flush */
    if (!c->replied)
        http_reply_error(c, 500, "Internal Server Error");
    return 0;
}

/* ---- listener --------------------------------------------------------- */

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define H2C_IDLE_MS 30000

/* The first bytes of a connection decide who serves it: the HTTP/2
 * connection preface (prior knowledge, what Node's http2.connect sends to
 * an http: origin, spec/s2.md 2.2) goes to h2c.c, anything else to libh2o,
 * which parses the bytes already read before reading more. */
static void on_sniff(h2o_socket_t *sock, const char *err)
{
    http_server *hs = sock->data;
    if (err) {
        h2o_socket_close(sock);
        return;
    }
    size_t n = sock->input->size;
    size_t cmp = n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN;
    bool h2 = memcmp(sock->input->bytes, H2_PREFACE, cmp) == 0;
    if (h2 && n < H2_PREFACE_LEN)
        return; /* a prefix of the preface so far: wait for the rest */
    h2o_socket_read_stop(sock);
    if (!h2) {
        sock->data = NULL;
        h2o_accept(&hs->accept_ctx, sock);
        return;
    }
    if (!hs->h2c_fn || !hs->listening) {
        h2o_socket_close(sock);
        return;
    }
    int64_t idle = hs->app->cfg.h2c_idle_ms > 0 ? hs->app->cfg.h2c_idle_ms : H2C_IDLE_MS;
    h2c_serve(sock, hs->app->loop, idle, hs->h2c_fn, hs->h2c_ctx);
}

void http_server_h2c(http_server *hs, h2c_dispatch fn, void *ctx)
{
    hs->h2c_fn = fn;
    hs->h2c_ctx = ctx;
}

static void on_accept(uv_stream_t *listener, int status)
{
    http_server *hs = listener->data;
    if (status != 0)
        return;
    uv_tcp_t *conn = malloc(sizeof *conn);
    if (!conn)
        return;
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    sock->data = hs;
    h2o_socket_read_start(sock, on_sniff);
}

http_server *http_server_start(app *a, const http_route *routes, size_t n)
{
    http_server *hs = calloc(1, sizeof *hs);
    if (!hs)
        return NULL;
    hs->app = a;
    hs->routes = routes;
    hs->n_routes = n;
    h2o_config_init(&hs->config);
    /* libh2o drops a body over this before any route sees it: the largest
     * route limit (the deployment archive's form upload), 128 MB at least */
    size_t max_entity = 128 * 1024 * 1024;
    for (size_t i = 0; i < n; i++)
        if (routes[i].max_body > max_entity)
            max_entity = routes[i].max_body;
    hs->config.max_request_entity_size = max_entity;
    /* a realtime stream's v1 writer sends one NDJSON body for as long as the
     * task pipes (its own timeout is 15 min); libh2o's default 10 s request
     * timeout would cut it, and the writer would resend it from chunk 0 */
    hs->config.http1.req_timeout = 15 * 60 * 1000;
    hs->config.server_name = h2o_iovec_init(H2O_STRLIT("triggerd"));
    h2o_hostconf_t *host =
        h2o_config_register_host(&hs->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(path, sizeof *h + sizeof(http_server *));
    h->on_req = on_req;
    *(http_server **)(h + 1) = hs;
    h2o_context_init(&hs->ctx, a->loop, &hs->config);
    hs->accept_ctx.ctx = &hs->ctx;
    hs->accept_ctx.hosts = hs->config.hosts;

    struct sockaddr_storage addr;
    if (uv_ip4_addr(a->cfg.listen_host, a->cfg.listen_port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(a->cfg.listen_host, a->cfg.listen_port, (struct sockaddr_in6 *)&addr) != 0) {
        fprintf(stderr, "triggerd: bad listen address %s\n", a->cfg.listen_host);
        goto fail;
    }
    uv_tcp_init(a->loop, &hs->listener);
    hs->listener.data = hs;
    int rc = uv_tcp_bind(&hs->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&hs->listener, 1024, on_accept);
    if (rc != 0) {
        fprintf(stderr, "triggerd: cannot listen on %s:%d: %s\n", a->cfg.listen_host,
                a->cfg.listen_port, uv_strerror(rc));
        uv_close((uv_handle_t *)&hs->listener, NULL);
        goto fail;
    }
    hs->listening = true;
    uv_check_init(a->loop, &hs->check);
    hs->check.data = hs;
    uv_check_start(&hs->check, on_check);
    uv_prepare_init(a->loop, &hs->prepare);
    hs->prepare.data = hs;
    uv_prepare_start(&hs->prepare, on_prepare);
    uv_idle_init(a->loop, &hs->idle);
    snprintf(hs->origin, sizeof hs->origin, "http://%s:%d", a->cfg.listen_host, a->cfg.listen_port);
    return hs;
fail:
    h2o_context_dispose(&hs->ctx);
    h2o_config_dispose(&hs->config);
    free(hs);
    return NULL;
}

const char *http_origin(http_ctx *c)
{
    if (c->app->cfg.public_url[0])
        return c->app->cfg.public_url;
    if (c->req->authority.len)
        return http_sprintf(c, "http://%.*s", (int)c->req->authority.len, c->req->authority.base);
    return ((reqctx *)c)->hs->origin;
}

/* ---- shutdown --------------------------------------------------------- */

static void on_stop_tick(uv_timer_t *t)
{
    http_server *hs = t->data;
    if ((hs->active > 0 || hs->flush_running > 0) && time_now_ms() < hs->stop_deadline)
        return;
    uv_timer_stop(t);
    store_commit(hs->app->st);
    store_sync(hs->app->st);
    if (hs->stop_done)
        hs->stop_done(hs->stop_ud);
}

void http_server_stop(http_server *hs, int64_t grace_ms, void (*done)(void *), void *ud)
{
    if (hs->listening) {
        uv_close((uv_handle_t *)&hs->listener, NULL);
        hs->listening = false;
    }
    h2o_context_request_shutdown(&hs->ctx);
    hs->stop_done = done;
    hs->stop_ud = ud;
    hs->stop_deadline = time_now_ms() + grace_ms;
    uv_timer_init(hs->app->loop, &hs->stop_timer);
    hs->stop_timer.data = hs;
    uv_timer_start(&hs->stop_timer, on_stop_tick, 0, 20);
}

void http_server_free(http_server *hs)
{
    if (!hs)
        return;
    uv_check_stop(&hs->check);
    uv_close((uv_handle_t *)&hs->check, NULL);
    uv_prepare_stop(&hs->prepare);
    uv_close((uv_handle_t *)&hs->prepare, NULL);
    uv_idle_stop(&hs->idle);
    uv_close((uv_handle_t *)&hs->idle, NULL);
    uv_close((uv_handle_t *)&hs->stop_timer, NULL);
    free(hs);
}
