/*
 * store/objstore.h - the built-in object store: a folder under the data dir
 * that holds offloaded payloads and outputs ("packets"), reached by clients
 * through expiring signed URLs that triggerd itself serves (/objects/...).
 */
#ifndef TD_STORE_OBJSTORE_H
#define TD_STORE_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct objstore objstore;

/* Opens the store rooted at dir (created if missing); secret signs URLs.
 * Both strings are copied. Caller frees with objstore_close. */
objstore *objstore_open(const char *dir, const char *secret);
void objstore_close(objstore *os);

/* True if key is a safe relative path: [A-Za-z0-9._=%-] segments separated by
 * '/', no empty, "." or ".." segment, at most 1024 bytes. */
int objstore_key_valid(const char *key);

/* Returns a malloc'd URL path+query "/objects/<key>?method=PUT&expires=<ms>&sig=<hex>"
 * (caller prepends the origin and frees). */
char *objstore_sign(objstore *os, const char *method, const char *key, int64_t expires_ms);

/* Checks a signature from a URL. Returns 0, ERR_FORBIDDEN or ERR_EXPIRED. */
int objstore_verify(objstore *os, const char *method, const char *key, int64_t expires_ms,
                    const char *sig, int64_t now_ms);

/* Writes an object durably (temp file, fsync, rename). content_type may be NULL. */
int objstore_put(objstore *os, const char *key, const void *data, size_t len,
                 const char *content_type);

/* Reads an object. *data (malloc'd, NUL-terminated) and *content_type
 * (malloc'd or NULL) are the caller's to free. ERR_NOT_FOUND if absent. */
int objstore_get(objstore *os, const char *key, char **data, size_t *len, char **content_type);

#endif
