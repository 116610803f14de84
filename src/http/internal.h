/*
 * http/internal.h - what the http module's files share.
 */
#ifndef TD_HTTP_INTERNAL_H
#define TD_HTTP_INTERNAL_H

#include "http/http.h"
#include "util/jsontext.h"

/* Queues the response of c (status and headers already on c->req->res) to
 * be sent after the turn's commit. body must live in the request pool. */
void http__enqueue(http_ctx *c, const char *body, size_t len);

/* Queues the start of a streaming response (headers on c->req->res) to go
 * out after the turn's commit, like any reply. */
void http__enqueue_stream(http_ctx *c, http_stream *s);

/* Sends the response head of a stream and anything it holds (server.c
 * calls it when the stream's turn is durable). */
void http__stream_begin(http_stream *s);

/* Adds the CORS response headers when the route has them. */
void http__cors_headers(http_ctx *c);

/* Upgrades req (a WebSocket handshake, HTTP/1.1) and hands it to ops.
 * Returns 0 when it answered the request (101, or 400 when refused). */
struct http_ws_ops;
int http__ws_upgrade(h2o_req_t *req, uv_loop_t *loop, const struct http_ws_ops *ops, void *ud);

#endif
