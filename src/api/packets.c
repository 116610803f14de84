/*
 * api/packets.c - payload offload (spec/api.md 6.3): presigned URLs to the
 * built-in object store, and the /objects/ routes those URLs point at.
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

void api_objects_put(http_ctx *c)
{
    if (!signed_ok(c, "PUT"))
        return;
    h2o_iovec_t b = http_body(c);
    const char *ct = http_header(c, "content-type");
    if (objstore_put(c->app->os, http_param(c, 0), b.base ? b.base : "", b.len, ct) != 0) {
        http_reply_error(c, 500, "Could not store the object");
        return;
    }
    http_reply_raw(c, 200, NULL, "", 0);
}

void api_objects_get(http_ctx *c)
{
    if (!signed_ok(c, "GET"))
        return;
    char *data = NULL, *ct = NULL;
    size_t len = 0;
    int rc = objstore_get(c->app->os, http_param(c, 0), &data, &len, &ct);
    if (rc) {
        http_reply_error(c, rc == ERR_NOT_FOUND ? 404 : 500,
                         rc == ERR_NOT_FOUND ? "Not found" : "Could not read the object");
        return;
    }
    http_reply_raw(c, 200, ct ? ct : "application/octet-stream", data, len);
    free(data);
    free(ct);
}
