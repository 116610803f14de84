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

/* Adds the CORS response headers when the route has them. */
void http__cors_headers(http_ctx *c);

#endif
