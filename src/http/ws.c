/*
 * http/ws.c - WebSocket connections over libh2o's websocket.h (see ws.h).
 *
 * libh2o drives wslay from h2o_websocket_proceed(); its message callback
 * runs inside that loop, so nothing here frees the connection or proceeds
 * again from inside a callback; sends and closes are carried out from a
 * 0 ms timer, never on the caller's stack (the owner may be iterating its
 * connections, and a proceed can end in the connection being freed).
 * Before the 101 is written out the connection has no socket yet (libh2o
 * sets it when the upgrade completes); frames queued meanwhile go out then.
 */
#include "http/ws.h"

#include <h2o/websocket.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "util/timefmt.h"

#define CLOSE_GRACE_MS 1000

struct http_ws {
    h2o_websocket_conn_t *conn;
    const http_ws_ops *ops;
    void *ud;         /* the owner's connection data */
    uv_timer_t timer; /* deferred proceed, and the close deadline */
    bool closing;     /* a close frame is queued */
    int64_t close_deadline;
    bool gone;        /* closed() was called */
};

static void ws_free(uv_handle_t *h)
{
    free(h->data);
}

/* Tells the owner, frees libh2o's side, and frees ws once its timer closed. */
static void finish(http_ws *ws)
{
    if (ws->gone)
        return;
    ws->gone = true;
    ws->ops->closed(ws->ud);
    h2o_websocket_close(ws->conn);
    ws->conn = NULL;
    uv_timer_stop(&ws->timer);
    uv_close((uv_handle_t *)&ws->timer, ws_free);
}

static void on_msg(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg)
{
    http_ws *ws = conn->data;
    if (!arg) { /* closed: libh2o returns right after this callback */
        finish(ws);
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME || ws->closing)
        return;
    ws->ops->message(ws->ud, (const char *)arg->msg, arg->msg_length);
}

/* Moves queued frames, and runs a requested close to its deadline. */
static void on_timer(uv_timer_t *t)
{
    http_ws *ws = t->data;
    if (ws->closing && time_now_ms() >= ws->close_deadline) {
        if (!ws->conn->sock) { /* the 101 is still going out: libh2o reports its end */
            uv_timer_start(&ws->timer, on_timer, 100, 0);
            return;
        }
        finish(ws); /* the peer did not answer the close in time */
        return;
    }
    if (ws->conn->sock)
        h2o_websocket_proceed(ws->conn); /* may end in on_msg(NULL): finish() */
    if (!ws->gone && ws->closing)
        uv_timer_start(&ws->timer, on_timer, (uint64_t)(ws->close_deadline - time_now_ms()), 0);
}

/* Gets queued frames moving on the next loop iteration (a 0 ms timer):
 * never from the caller's stack, where a connection closing under the
 * caller (libh2o may find the peer gone) would free what it iterates. */
static void kick(http_ws *ws)
{
    if (!ws->gone && !uv_is_active((uv_handle_t *)&ws->timer))
        uv_timer_start(&ws->timer, on_timer, 0, 0);
}

int http_ws_send(http_ws *ws, const char *data, size_t len)
{
    if (ws->gone || ws->closing ||
        wslay_event_get_queued_msg_count(ws->conn->ws_ctx) >= HTTP_WS_MAX_QUEUED)
        return -1;
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)data, len};
    if (wslay_event_queue_msg(ws->conn->ws_ctx, &m) != 0)
        return -1;
    kick(ws);
    return 0;
}

void http_ws_close(http_ws *ws)
{
    if (ws->gone || ws->closing)
        return;
    wslay_event_queue_close(ws->conn->ws_ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
    ws->closing = true;
    ws->close_deadline = time_now_ms() + CLOSE_GRACE_MS;
    uv_timer_start(&ws->timer, on_timer, 0, 0);
}

int http__ws_upgrade(h2o_req_t *req, uv_loop_t *loop, const struct http_ws_ops *ops, void *ud)
{
    const char *key = NULL;
    if (req->version >= 0x200 || h2o_is_websocket_handshake(req, &key) != 0 || !key)
        return -1;
    http_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        abort();
    ws->ops = ops;
    uv_timer_init(loop, &ws->timer);
    ws->timer.data = ws;
    char *path = h2o_mem_alloc_pool(&req->pool, req->path.len + 1);
    memcpy(path, req->path.base, req->path.len);
    path[req->path.len] = '\0';
    const char *authz = NULL;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i != -1) {
        h2o_iovec_t v = req->headers.entries[i].value;
        char *s = h2o_mem_alloc_pool(&req->pool, v.len + 1);
        memcpy(s, v.base, v.len);
        s[v.len] = '\0';
        authz = s;
    } else if ((i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-trigger-workload-runner-id"),
                                           -1)) != -1) {
        /* a deployed worker process authenticates with its runner id
         * (api/devpush.c, /workload), passed on as "Workload <id>" */
        h2o_iovec_t v = req->headers.entries[i].value;
        char *s = h2o_mem_alloc_pool(&req->pool, v.len + 10);
        memcpy(s, "Workload ", 9);
        memcpy(s + 9, v.base, v.len);
        s[v.len + 9] = '\0';
        authz = s;
    }
    /* the connection exists before open() so the owner may queue frames */
    ws->conn = h2o_upgrade_to_websocket(req, key, ws, on_msg);
    ws->ud = ops->open(ud, ws, path, authz);
    return 0;
}
