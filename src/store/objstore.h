/*
 * store/objstore.h - the object store: offloaded payloads and outputs
 * ("packets"), session snapshots and deployment archives. Either a folder
 * under the data dir (the default), reached by clients through expiring
 * signed URLs that triggerd itself serves (/objects/...), or an S3 bucket
 * (--object-store-url), reached through SigV4-presigned URLs, so that
 * several nodes share the objects.
 */
#ifndef TD_STORE_OBJSTORE_H
#define TD_STORE_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store/s3.h"

typedef struct objstore objstore;

/* Opens the store rooted at dir (created if missing); secret signs URLs.
 * Both strings are copied. Caller frees with objstore_close. */
objstore *objstore_open(const char *dir, const char *secret);
/* The store in an S3 bucket (s3.h); secret still signs the URLs of
 * triggerd's own /objects/ routes (deployment uploads go through them).
 * NULL, with a message in err, when cfg is unusable. */
objstore *objstore_open_s3(const s3_config *cfg, const char *secret, char *err, size_t errcap);
/* Frees os; with requests still running off the loop it is left to the
 * process exit (their threads use it). */
void objstore_close(objstore *os);

/* "folder <dir>" or "s3 <base URL>" (borrowed), for the start line. */
const char *objstore_describe(const objstore *os);

/* True if key is a safe relative path: [A-Za-z0-9._=%-] segments separated by
 * '/', no empty, "." or ".." segment, at most 1024 bytes. */
int objstore_key_valid(const char *key);

/* Returns a malloc'd URL path+query "/objects/<key>?method=PUT&expires=<ms>&sig=<hex>"
 * (caller prepends the origin and frees). */
char *objstore_sign(objstore *os, const char *method, const char *key, int64_t expires_ms);

/* The absolute URL a client uses to method ("GET", "PUT", "POST") key
 * until expires_ms: on S3 a presigned URL for GET and PUT; else (and for
 * the deployment upload's form POST) origin + objstore_sign(). Malloc'd. */
char *objstore_url(objstore *os, const char *origin, const char *method, const char *key,
                   int64_t now_ms, int64_t expires_ms);

/* Checks a signature from a URL. Returns 0, ERR_FORBIDDEN or ERR_EXPIRED. */
int objstore_verify(objstore *os, const char *method, const char *key, int64_t expires_ms,
                    const char *sig, int64_t now_ms);

/* Writes an object durably (folder: temp file, fsync, rename; S3: a PUT
 * answered 200). content_type may be NULL. Blocks: on the loop use
 * objstore_put_async. Errors: ERR_INVALID (key), ERR_IO, ERR_UNAVAILABLE
 * (S3 unreachable or failing), ERR_FORBIDDEN, ERR_STORE. */
int objstore_put(objstore *os, const char *key, const void *data, size_t len,
                 const char *content_type);

/* Reads an object. *data (malloc'd, NUL-terminated) and *content_type
 * (malloc'd or NULL) are the caller's to free. ERR_NOT_FOUND if absent. */
int objstore_get(objstore *os, const char *key, char **data, size_t *len, char **content_type);

/* Completion of an async call, on the loop thread: rc as the blocking call;
 * for a get, data (NUL-terminated) and content_type (or NULL) become the
 * callee's to free. */
typedef void (*objstore_done)(void *ud, int rc, char *data, size_t len, char *content_type);

/* objstore_put / objstore_get on the libuv thread pool (at most
 * OBJSTORE_MAX_RUNNING at once, so the store's disk flushes keep their
 * threads; the rest wait their turn). data is copied. done is always
 * called, on a later turn. */
void objstore_put_async(objstore *os, uv_loop_t *loop, const char *key, const void *data,
                        size_t len, const char *content_type, objstore_done done, void *ud);
void objstore_get_async(objstore *os, uv_loop_t *loop, const char *key, objstore_done done,
                        void *ud);

#define OBJSTORE_MAX_RUNNING 2

#endif
