/*
 * util/crypto.h - hashes and MACs (OpenSSL) in the hex forms the API uses.
 */
#ifndef TD_UTIL_CRYPTO_H
#define TD_UTIL_CRYPTO_H

#include <stddef.h>

/* hex(sha256(data)) into out (65 bytes). */
void crypto_sha256_hex(const void *data, size_t len, char out[65]);

/* hex(HMAC-SHA256(key, msg)) into out (65 bytes). */
void crypto_hmac_sha256_hex(const char *key, const void *msg, size_t len, char out[65]);

/* Raw HMAC-SHA256 into out (32 bytes). */
void crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t len,
                        unsigned char out[32]);

/* base64url without padding. Returns a malloc'd NUL-terminated string. */
char *crypto_b64url_encode(const void *data, size_t len);

/* The same into out, which has room for crypto_b64url_len(len) + 1 bytes. */
void crypto_b64url_encode_to(const void *data, size_t len, char *out);
size_t crypto_b64url_len(size_t len);

/* Decodes base64url (padding optional). Returns malloc'd bytes (NUL-terminated
 * for convenience) and *out_len, or NULL if malformed. */
unsigned char *crypto_b64url_decode(const char *s, size_t len, size_t *out_len);

/* Constant-time comparison of two equal-length buffers; 1 if equal. */
int crypto_equal(const void *a, const void *b, size_t len);

#endif
