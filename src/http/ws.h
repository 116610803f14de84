/*
 * http/ws.h - WebSocket connections on the HTTP port (libh2o's
 * h2o/websocket.h over wslay): one owner takes every upgrade under a path
 * prefix and exchanges text frames with it. HTTP/1.1 only, as the
 * upgrade is; no extensions (permessage-deflate offers are declined).
 */
#ifndef TD_HTTP_WS_H
#define TD_HTTP_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"

typedef struct http_ws http_ws;

typedef struct http_ws_ops {
    /* A client upgrades at path (the query is after '?'); authorization is
     * the raw Authorization header or NULL (borrowed for the call).
     * Returns the connection's owner data (not NULL); the 101 is already
     * on its way, so an owner refuses by answering in its protocol and
     * closing later (never from inside open). */
    void *(*open)(void *ud, http_ws *ws, const char *path, const char *authorization);
    /* A text frame (borrowed for the call). */
    void (*message)(void *conn, const char *data, size_t len);
    /* The connection is gone (peer closed, error, http_ws_close done);
     * ws is invalid after. Called once per opened connection. */
    void (*closed)(void *conn);
} http_ws_ops;

/* Routes every WebSocket upgrade whose path starts with prefix to ops
 * (borrowed, as is prefix; they outlive the server). */
void http_ws_set_handler(http_server *hs, const char *prefix, const http_ws_ops *ops, void *ud);

/* Queues a text frame (copied). Returns -1 when the peer is not reading
 * (HTTP_WS_MAX_QUEUED frames queued) or the connection is closing. */
int http_ws_send(http_ws *ws, const char *data, size_t len);

/* Starts a close handshake; a peer that does not answer within a second
 * is cut off. closed() follows either way, never from inside this call. */
void http_ws_close(http_ws *ws);

#define HTTP_WS_MAX_QUEUED 1024

#endif
