/*
 * http/server.h - the HTTP/1.1 and HTTP/2 listener (libh2o on libuv), the
 * request dispatcher (routing, body limits, auth, rate limits, CORS), and
 * the group commit: responses wait in a queue until the store's
 * transaction for the loop turn is durable.
 */
#ifndef TD_HTTP_SERVER_H
#define TD_HTTP_SERVER_H

#include "app.h"
#include "http/http.h"

/* Starts listening on a->cfg.listen_host:listen_port with routes[0..n).
 * Returns NULL on failure (message on stderr). */
http_server *http_server_start(app *a, const http_route *routes, size_t n);

/* Stops accepting, lets in-flight requests finish (at most grace_ms), then
 * commits and calls done. */
void http_server_stop(http_server *hs, int64_t grace_ms, void (*done)(void *), void *ud);

void http_server_free(http_server *hs);

/* Serves cleartext HTTP/2 (prior knowledge) connections on the same port
 * with fn (http/h2c.h); without it they are closed. */
#include "http/h2c.h"
void http_server_h2c(http_server *hs, h2c_dispatch fn, void *ctx);

#endif
