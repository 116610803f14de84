/*
 * http/router.c - a linear route matcher. The table is small (tens of
 * routes) and patterns are compared segment by segment, so a linear scan
 * costs less than building anything cleverer.
 */
#include "http/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *router_decode(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len)
                return NULL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return NULL; /* %00: C would read the value cut short there */
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return out;
}

/* Matches one pattern; fills params on success. */
static int match(const char *pat, h2o_mem_pool_t *pool, const char *path, size_t plen,
                 const char **params, size_t *n_params)
{
    size_t np = 0;
    const char *p = pat, *s = path, *end = path + plen;
    while (*p && s <= end) {
        if (*p == '*') { /* the rest of the path, decoded */
            if (np >= HTTP_MAX_PARAMS || s >= end)
                return 0;
            params[np] = router_decode(pool, s, (size_t)(end - s));
            if (!params[np])
                return 0;
            np++;
            s = end;
            p++;
            break;
        }
        if (*p == ':') {
            const char *pe = strchr(p, '/');
            if (!pe)
                pe = p + strlen(p);
            const char *se = memchr(s, '/', (size_t)(end - s));
            if (!se)
                se = end;
            if (se == s || np >= HTTP_MAX_PARAMS)
                return 0;
            params[np] = router_decode(pool, s, (size_t)(se - s));
            if (!params[np])
                return 0;
            np++;
            p = pe;
            s = se;
            continue;
        }
        if (s == end || *p != *s)
            return 0;
        p++;
        s++;
    }
    if (*p || s != end)
        return 0;
    *n_params = np;
    return 1;
}

router_result router_match(const http_route *routes, size_t n, h2o_mem_pool_t *pool,
                           const char *method, size_t mlen, const char *path, size_t plen,
                           const http_route **out, const char **params, size_t *n_params,
                           char *allow, size_t allow_cap)
{
    bool path_seen = false;
    if (allow && allow_cap)
        allow[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const char *tmp[HTTP_MAX_PARAMS];
        size_t nt = 0;
        if (!match(routes[i].pattern, pool, path, plen, tmp, &nt))
            continue;
        if (strlen(routes[i].method) == mlen && memcmp(routes[i].method, method, mlen) == 0) {
            *out = &routes[i];
            memcpy(params, tmp, nt * sizeof *tmp);
            *n_params = nt;
            return ROUTER_MATCH;
        }
        if (allow && !strstr(allow, routes[i].method)) {
            size_t l = strlen(allow);
            snprintf(allow + l, allow_cap - l, "%s%s", l ? ", " : "", routes[i].method);
        }
        path_seen = true;
    }
    return path_seen ? ROUTER_NO_METHOD : ROUTER_NO_PATH;
}
