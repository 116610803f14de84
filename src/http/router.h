/*
 * http/router.h - matching a method and path against the route table.
 */
#ifndef TD_HTTP_ROUTER_H
#define TD_HTTP_ROUTER_H

#include <stddef.h>

#include "http/http.h"

typedef enum {
    ROUTER_MATCH,
    ROUTER_NO_PATH,   /* 404 */
    ROUTER_NO_METHOD, /* 405: the path exists with another method */
} router_result;

/* Finds the route for method+path (path without query) in routes[0..n).
 * Captured params are percent-decoded into pool memory. allow (if not NULL)
 * receives the methods the path has, comma-separated, for a 405. */
router_result router_match(const http_route *routes, size_t n, h2o_mem_pool_t *pool,
                           const char *method, size_t mlen, const char *path, size_t plen,
                           const http_route **out, const char **params, size_t *n_params,
                           char *allow, size_t allow_cap);

/* Percent-decodes s[0..len) into pool memory ("+" stays "+"). NULL if malformed
 * or if it holds %00 (C would read the value cut short there). */
char *router_decode(h2o_mem_pool_t *pool, const char *s, size_t len);

#endif
