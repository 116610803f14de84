/*
 * api/packets.c - payload offload (spec/api.md 6.3): presigned URLs to the
 * object store (the built-in folder's /objects/ routes, or the S3 bucket's
 * own URLs), the /objects/ routes, and the parked object store calls of
 * the routes that read or write objects themselves.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/timefmt.h"

#define PRESIGN_TTL_MS (3600LL * 1000)

void api_packets_put(http_ctx *c)
{
    const char *filename = http_param(c, 0);
    if (!objstore_key_valid(filename)) {
        http_reply_error(c, 400, "Invalid packet filename");
        return;
    }
    const char *key = api_packet_key(c, c->auth.env, filename);
    http_reply_json(c, 200,
                    json_pack("{s:s,s:s}", "presignedUrl",
                              api_object_url(c, "PUT", key, PRESIGN_TTL_MS), "storagePath",
                              filename));
}

void api_packets_get(http_ctx *c)
{
    const char *filename = http_param(c, 0);
    if (!objstore_key_valid(filename)) {
        http_reply_error(c, 400, "Invalid packet filename");
        return;
    }
    const char *key = api_packet_key(c, c->auth.env, filename);
    http_reply_json(
        c, 200, json_pack("{s:s}", "presignedUrl", api_object_url(c, "GET", key, PRESIGN_TTL_MS)));
}

/* Checks the signature query of an /objects/ URL for method. */
static bool signed_ok(http_ctx *c, const char *method)
{
    const char *m = http_query(c, "method"), *exp = http_query(c, "expires"),
               *sig = http_query(c, "sig");
    if (!m || !exp || !sig || strcmp(m, method) != 0) {
        http_reply_error(c, 403, "Invalid signature");
        return false;
    }
    int rc =
        objstore_verify(c->app->os, method, http_param(c, 0), strtoll(exp, NULL, 10), sig, c->now);
    if (rc == ERR_EXPIRED) {
        http_reply_error(c, 403, "Request has expired");
        return false;
    }
    if (rc) {
        http_reply_error(c, 403, "Invalid signature");
        return false;
    }
    return true;
}

/* ---- parked object store calls ------------------------------------------ */

typedef struct objreq {
    http_ctx *c; /* NULL once the client went away */
    api_object_reply fn;
} objreq;

static void objreq_gone(void *ud)
{
    ((objreq *)ud)->c = NULL;
}

static void objreq_done(void *ud, int rc, char *data, size_t len, char *ct)
{
    objreq *r = ud;
    if (r->c) {
        http_unpark(r->c);
        r->fn(r->c, rc, data, len, ct);
    }
    free(data);
    free(ct);
    free(r);
}

static objreq *objreq_new(http_ctx *c, api_object_reply fn)
{
    objreq *r = malloc(sizeof *r);
    if (!r)
        abort();
    *r = (objreq){c, fn};
    http_park(c, objreq_gone, r);
    return r;
}

void api_object_get(http_ctx *c, const char *key, api_object_reply fn)
{
    objstore_get_async(c->app->os, c->app->loop, key, objreq_done, objreq_new(c, fn));
}

void api_object_put(http_ctx *c, const char *key, const void *data, size_t len,
                    const char *content_type, api_object_reply fn)
{
    objstore_put_async(c->app->os, c->app->loop, key, data, len, content_type, objreq_done,
                       objreq_new(c, fn));
}

void api_object_error(http_ctx *c, int rc)
{
    if (rc == ERR_NOT_FOUND)
        http_reply_error(c, 404, "Not found");
    else if (rc == ERR_UNAVAILABLE)
        http_reply_error(c, 503, "The object store is unavailable");
    else
        http_reply_error(c, 500, "Object store error");
}

/* ---- /objects/ ---------------------------------------------------------- */

static void put_done(http_ctx *c, int rc, const char *data, size_t len, const char *ct)
{
    (void)data, (void)len, (void)ct;
    if (rc) {
        api_object_error(c, rc);
        return;
    }
    http_reply_raw(c, 200, NULL, "", 0);
}

void api_objects_put(http_ctx *c)
{
    if (!signed_ok(c, "PUT"))
        return;
    h2o_iovec_t b = http_body(c);
    api_object_put(c, http_param(c, 0), b.base ? b.base : "", b.len,
                   http_header(c, "content-type"), put_done);
}

static void get_done(http_ctx *c, int rc, const char *data, size_t len, const char *ct)
{
    if (rc) {
        api_object_error(c, rc);
        return;
    }
    http_reply_raw(c, 200, ct ? ct : "application/octet-stream", data, len);
}

void api_objects_get(http_ctx *c)
{
    if (!signed_ok(c, "GET"))
        return;
    api_object_get(c, http_param(c, 0), get_done);
}
