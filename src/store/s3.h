/*
 * store/s3.h - a small S3 client (libcurl + SigV4): put, get and presign
 * one object, for the object store (objstore.c). Calls block; the object
 * store runs them off the event loop. The client is immutable once made,
 * so calls may run on several threads at once.
 */
#ifndef TD_STORE_S3_H
#define TD_STORE_S3_H

#include <stddef.h>
#include <stdint.h>

typedef struct s3_client s3_client;

typedef struct s3_config {
    /* where objects live: "http(s)://host[:port]/bucket" (path-style) or
     * "https://bucket.s3.<region>.amazonaws.com" (virtual-host style) */
    const char *url;
    const char *bucket; /* optional: the bucket of a URL without a path (path-style) */
    const char *access_key, *secret_key;
    const char *region;  /* NULL: us-east-1 */
    const char *service; /* NULL: s3 */
    int attempts;        /* tries of an idempotent request; 0: 3 */
    int backoff_ms;      /* first retry delay, x4 each retry; 0: 100 */
} s3_config;

/* NULL (with a message in err) when cfg is not usable. Strings are copied.
 * Caller frees with s3_free. */
s3_client *s3_new(const s3_config *cfg, char *err, size_t errcap);
void s3_free(s3_client *s);

/* PUT of one object. 0, or ERR_UNAVAILABLE (network, 5xx after retries),
 * ERR_FORBIDDEN (credentials refused), ERR_STORE (any other answer). */
int s3_put(s3_client *s, const char *key, const void *data, size_t len, const char *content_type);

/* GET of one object: *data (malloc'd, NUL-terminated) and *content_type
 * (malloc'd or NULL) are the caller's. ERR_NOT_FOUND when absent, else as
 * s3_put. */
int s3_get(s3_client *s, const char *key, char **data, size_t *len, char **content_type);

/* A presigned URL (SigV4 query auth) for method on key, valid expires_s
 * seconds from now_ms. Malloc'd; caller frees. */
char *s3_presign(s3_client *s, const char *method, const char *key, int64_t now_ms,
                 int64_t expires_s);

/* "http://host:port/bucket" of the client (borrowed), for logs. */
const char *s3_base(const s3_client *s);

#endif
