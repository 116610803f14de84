/*
 * util/id.h - identifiers in the formats the real platform uses
 * (spec/api.md section 3): cuids for internal ids, nanoid-alphabet ids for
 * schedules and queues, project refs and secret keys.
 */
#ifndef TD_UTIL_ID_H
#define TD_UTIL_ID_H

#include <stddef.h>

#define ID_CUID_LEN 25

/* Writes a cuid v1-shaped id: 'c' followed by 24 chars of [0-9a-z], the
 * first 8 of which encode the millisecond clock so ids sort roughly by
 * creation time. out must hold ID_CUID_LEN + 1 bytes. */
void id_cuid(char *out);

/* Writes n random chars from the nanoid alphabet
 * "123456789abcdefghijkmnopqrstuvwxyz" and a NUL (out holds n + 1). */
void id_nanoid(char *out, size_t n);

/* Writes n random chars of [a-z] and a NUL. */
void id_lower(char *out, size_t n);

/* Writes n random chars of [0-9A-Za-z] and a NUL. */
void id_alnum(char *out, size_t n);

/* Writes prefix + body into out (size cap); e.g. id_friendly(buf, sizeof buf, "run_", cuid).
 * Returns 0, or ERR_INVALID when it does not fit. */
int id_friendly(char *out, size_t cap, const char *prefix, const char *body);

/* If s starts with prefix, returns a pointer to the rest, else NULL. */
const char *id_strip(const char *s, const char *prefix);

/* Fills buf with n cryptographically random bytes (aborts if the OS cannot). */
void id_random_bytes(void *buf, size_t n);

#endif
