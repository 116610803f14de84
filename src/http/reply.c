/*
 * http/reply.c - request accessors and reply helpers for API handlers.
 * Error bodies follow spec/api.md section 5: {"error": "..."} with the
 * class carried by the status code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http/internal.h"
#include "http/router.h"
#include "util/id.h"
#include "util/jsontext.h"
#include "util/jsonw.h"

const char *http_param(http_ctx *c, size_t i)
{
    return i < c->n_params ? c->params[i] : NULL;
}

const char *http_header(http_ctx *c, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&c->req->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = c->req->headers.entries[i].value;
    char *s = h2o_mem_alloc_pool(&c->req->pool, v.len + 1);
    memcpy(s, v.base, v.len);
    s[v.len] = 0;
    return s;
}

void http_query_each(http_ctx *c, void (*fn)(void *ud, const char *k, const char *v), void *ud)
{
    h2o_req_t *r = c->req;
    if (r->query_at == SIZE_MAX)
        return;
    const char *q = r->path.base + r->query_at + 1, *end = r->path.base + r->path.len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        if (!amp)
            amp = end;
        const char *eq = memchr(q, '=', (size_t)(amp - q));
        const char *kend = eq ? eq : amp;
        /* '+' means space in query strings */
        char *k = router_decode(&r->pool, q, (size_t)(kend - q));
        char *v = eq ? router_decode(&r->pool, eq + 1, (size_t)(amp - eq - 1)) : "";
        if (k && v) {
            for (char *p = k; *p; p++)
                if (*p == '+')
                    *p = ' ';
            if (eq)
                for (char *p = v; *p; p++)
                    if (*p == '+')
                        *p = ' ';
            fn(ud, k, v);
        }
        q = amp + 1;
    }
}

typedef struct {
    const char *name;
    const char *found;
} query_find;

static void find_cb(void *ud, const char *k, const char *v)
{
    query_find *f = ud;
    if (!f->found && strcmp(k, f->name) == 0)
        f->found = v;
}

const char *http_query(http_ctx *c, const char *name)
{
    query_find f = {name, NULL};
    http_query_each(c, find_cb, &f);
    return f.found;
}

h2o_iovec_t http_body(http_ctx *c)
{
    h2o_iovec_t b = c->req->entity;
    if (!b.base)
        b.len = 0;
    return b;
}

json_t *http_json(http_ctx *c)
{
    if (c->body)
        return c->body;
    h2o_iovec_t b = http_body(c);
    if (b.len == 0) {
        http_reply_error(c, 400, "Request body is empty");
        return NULL;
    }
    json_error_t je;
    json_t *j = jsontext_loadb(b.base, b.len, JSON_DECODE_ANY, &je);
    if (!j) {
        http_reply_error(c, 400, "Invalid JSON");
        return NULL;
    }
    c->body = j;
    return j;
}

char *http_sprintf(http_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = h2o_mem_alloc_pool(&c->req->pool, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

const char *http_html_escape(http_ctx *c, const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += strchr("&<>\"'", *p) ? 6 : 1;
    char *out = h2o_mem_alloc_pool(&c->req->pool, n + 1);
    char *o = out;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            o += sprintf(o, "&amp;");
            break;
        case '<':
            o += sprintf(o, "&lt;");
            break;
        case '>':
            o += sprintf(o, "&gt;");
            break;
        case '"':
            o += sprintf(o, "&quot;");
            break;
        case '\'':
            o += sprintf(o, "&#39;");
            break;
        default:
            *o++ = *p;
        }
    }
    *o = 0;
    return out;
}

bool http_authorize(http_ctx *c, const char *action, const scope_res *res, size_t n)
{
    if (c->auth.kind == AUTH_SECRET)
        return true;
    if (c->auth.kind == AUTH_JWT && scopes_grant_any(c->auth.scopes, action, res, n))
        return true;
    json_t *body = json_pack("{s:s,s:s,s:s,s:s}", "error", "Unauthorized", "code", "unauthorized",
                             "param", "access_token", "type", "authorization");
    http_reply_json(c, 403, body);
    return false;
}

void http_add_header(http_ctx *c, const char *name, const char *value)
{
    h2o_req_t *r = c->req;
    size_t nl = strlen(name);
    char *n = h2o_mem_alloc_pool(&r->pool, nl);
    memcpy(n, name, nl);
    h2o_iovec_t v = h2o_strdup(&r->pool, value, strlen(value));
    h2o_add_header_by_str(&r->pool, &r->res.headers, n, nl, 0, NULL, v.base, v.len);
}

void http_reply_raw(http_ctx *c, int status, const char *content_type, const char *body, size_t len)
{
    if (c->replied)
        return;
    c->replied = true;
    h2o_req_t *r = c->req;
    r->res.status = status;
    r->res.reason = "";
    if (content_type) {
        h2o_iovec_t ct = h2o_strdup(&r->pool, content_type, strlen(content_type));
        h2o_add_header(&r->pool, &r->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct.base, ct.len);
    }
    http__cors_headers(c);
    char *copy = h2o_mem_alloc_pool(&r->pool, len + 1);
    if (len)
        memcpy(copy, body, len);
    http__enqueue(c, copy, len);
}

json_t *http_raw_json(http_ctx *c, const char *t, size_t n)
{
    /* a random placeholder: a client string cannot guess it */
    char ph[40] = "\xEF\xB7\x90raw-";
    size_t pl = strlen(ph);
    id_alnum(ph + pl, 24);
    jsontext_splice *sp = h2o_mem_alloc_pool(&c->req->pool, (c->n_splices + 1) * sizeof *sp);
    if (c->n_splices)
        memcpy(sp, c->splices, c->n_splices * sizeof *sp);
    char *copy = h2o_mem_alloc_pool(&c->req->pool, n + 1);
    memcpy(copy, t, n);
    copy[n] = 0;
    char *pcopy = h2o_mem_alloc_pool(&c->req->pool, sizeof ph);
    memcpy(pcopy, ph, sizeof ph);
    sp[c->n_splices] = (jsontext_splice){.placeholder = pcopy, .text = copy, .len = n};
    c->splices = sp;
    c->n_splices++;
    return json_string(pcopy);
}

void http_reply_json(http_ctx *c, int status, json_t *body)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    char *text = !body          ? NULL
                 : c->n_splices ? jsontext_dumps_spliced(body, flags, c->splices, c->n_splices)
                                : jsontext_dumps(body, flags);
    json_decref(body);
    if (!text) {
        http_reply_raw(c, 500, "application/json", "{\"error\":\"Internal Server Error\"}", 33);
        return;
    }
    http_reply_raw(c, status, "application/json", text, strlen(text));
    free(text);
}

void http_reply_jsonw(http_ctx *c, int status, jsonw *w)
{
    size_t len;
    char *text = jsonw_finish(w, &len);
    if (!text) {
        http_reply_raw(c, 500, "application/json", "{\"error\":\"Internal Server Error\"}", 33);
        return;
    }
    http_reply_raw(c, status, "application/json", text, len);
    free(text);
}

void http_reply_error(http_ctx *c, int status, const char *msg)
{
    http_reply_json(c, status, json_pack("{s:s}", "error", msg));
}

int http_status_of(int code)
{
    switch (code) {
    case ERR_INVALID:
        return 400;
    case ERR_UNAUTHORIZED:
    case ERR_EXPIRED:
        return 401;
    case ERR_FORBIDDEN:
        return 403;
    case ERR_NOT_FOUND:
        return 404;
    case ERR_CONFLICT:
        return 409;
    case ERR_TOO_LARGE:
        return 413;
    case ERR_UNPROCESSABLE:
        return 422;
    case ERR_UNAVAILABLE:
        return 503;
    default:
        return 500;
    }
}

void http_reply_err(http_ctx *c, const err_t *e)
{
    int status = http_status_of(e->code);
    http_reply_error(c, status, status == 500 ? "Something went wrong" : e->msg);
}
