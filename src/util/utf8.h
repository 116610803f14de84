/*
 * util/utf8.h - UTF-8 validation and the lossy decoding of bytes into text
 * that WHATWG's TextDecoder (and so Request.text() on the real server)
 * does: every byte that does not start a valid sequence becomes U+FFFD.
 * Used where a body is taken as text whatever it holds (S2's raw format,
 * session channel appends).
 */
#ifndef TD_UTIL_UTF8_H
#define TD_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid UTF-8 sequence at p[0..n), or 0 if there is
 * none (overlong forms, surrogates and code points past U+10FFFF are
 * invalid). n must be at least 1. */
size_t utf8_seq(const uint8_t *p, size_t n);

/* data[0..n) with each invalid byte replaced by U+FFFD, NUL-terminated;
 * *len receives the length. Caller frees. */
char *utf8_lossy(const void *data, size_t n, size_t *len);

#endif
