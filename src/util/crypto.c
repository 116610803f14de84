/*
 * util/crypto.c - SHA-256, HMAC-SHA256 and base64url on top of OpenSSL.
 *
 * The hashing functions cannot fail on valid input; if OpenSSL itself fails
 * (out of memory inside libcrypto) we abort, since every caller would
 * otherwise act on an uninitialised digest (a forged token check passing).
 */
#include "util/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void die(const char *what)
{
    fprintf(stderr, "triggerd: OpenSSL %s failed\n", what);
    abort();
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The SHA-256 implementation, fetched once: OpenSSL 3 otherwise looks the
 * algorithm up on every call, which cost more than the hashing itself on
 * the trigger path (a JWT is minted per trigger). Immutable once fetched. */
static EVP_MD *sha256(void)
{
    static EVP_MD *md;
    if (!md && !(md = EVP_MD_fetch(NULL, "SHA256", NULL)))
        die("EVP_MD_fetch");
    return md;
}

static void digest(const void *a, size_t alen, const void *b, size_t blen, unsigned char out[32])
{
    static EVP_MD_CTX *ctx;
    unsigned int mdlen = 0;
    if (!ctx && !(ctx = EVP_MD_CTX_new()))
        die("EVP_MD_CTX_new");
    if (!EVP_DigestInit_ex2(ctx, sha256(), NULL) || !EVP_DigestUpdate(ctx, a, alen) ||
        (blen && !EVP_DigestUpdate(ctx, b, blen)) || !EVP_DigestFinal_ex(ctx, out, &mdlen) ||
        mdlen != 32)
        die("EVP_Digest");
}

void crypto_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    digest(data, len, NULL, 0, md);
    to_hex(md, sizeof md, out);
}

/* HMAC (RFC 2104) over the cached digest: H((K^opad) || H((K^ipad) || m)).
 * The digest states after the two padded key blocks are kept for the last
 * key used (the environment's key, the same for every token minted and
 * checked), so a MAC with that key hashes only the message and the inner
 * hash: two compression blocks fewer. */
static struct {
    unsigned char key[64]; /* the padded key (a long key: its digest) */
    bool set;
    EVP_MD_CTX *inner, *outer, *work;
} hmac_cache;

static void hmac_keyed(const unsigned char k[64])
{
    unsigned char pad[64];
    if (!hmac_cache.inner && (!(hmac_cache.inner = EVP_MD_CTX_new()) ||
                              !(hmac_cache.outer = EVP_MD_CTX_new()) ||
                              !(hmac_cache.work = EVP_MD_CTX_new())))
        die("EVP_MD_CTX_new");
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x36;
    if (!EVP_DigestInit_ex2(hmac_cache.inner, sha256(), NULL) ||
        !EVP_DigestUpdate(hmac_cache.inner, pad, sizeof pad))
        die("EVP_Digest");
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x5c;
    if (!EVP_DigestInit_ex2(hmac_cache.outer, sha256(), NULL) ||
        !EVP_DigestUpdate(hmac_cache.outer, pad, sizeof pad))
        die("EVP_Digest");
    OPENSSL_cleanse(pad, sizeof pad);
}

void crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t len,
                        unsigned char out[32])
{
    unsigned char k[64] = {0}, inner[32];
    unsigned int mdlen = 0;
    if (klen > sizeof k)
        digest(key, klen, NULL, 0, k);
    else if (klen)
        memcpy(k, key, klen);
    if (!hmac_cache.set || memcmp(hmac_cache.key, k, sizeof k) != 0) {
        hmac_keyed(k);
        memcpy(hmac_cache.key, k, sizeof k);
        hmac_cache.set = true;
    }
    OPENSSL_cleanse(k, sizeof k);
    EVP_MD_CTX *w = hmac_cache.work;
    if (!EVP_MD_CTX_copy_ex(w, hmac_cache.inner) || !EVP_DigestUpdate(w, msg, len) ||
        !EVP_DigestFinal_ex(w, inner, &mdlen) || mdlen != 32 ||
        !EVP_MD_CTX_copy_ex(w, hmac_cache.outer) || !EVP_DigestUpdate(w, inner, sizeof inner) ||
        !EVP_DigestFinal_ex(w, out, &mdlen) || mdlen != 32)
        die("EVP_Digest");
}

void crypto_hmac_sha256_hex(const char *key, const void *msg, size_t len, char out[65])
{
    unsigned char mac[32];
    crypto_hmac_sha256(key, key ? strlen(key) : 0, msg, len, mac);
    to_hex(mac, sizeof mac, out);
}

size_t crypto_b64url_len(size_t len)
{
    return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

void crypto_b64url_encode_to(const void *data, size_t len, char *out)
{
    const unsigned char *in = data;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = B64URL[v >> 18];
        *o++ = B64URL[v >> 12 & 63];
        *o++ = B64URL[v >> 6 & 63];
        *o++ = B64URL[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *o++ = B64URL[v >> 18];
        *o++ = B64URL[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *o++ = B64URL[v >> 18];
        *o++ = B64URL[v >> 12 & 63];
        *o++ = B64URL[v >> 6 & 63];
    }
    *o = '\0';
}

char *crypto_b64url_encode(const void *data, size_t len)
{
    char *out = malloc(crypto_b64url_len(len) + 1);
    if (out)
        crypto_b64url_encode_to(data, len, out);
    return out;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/*
 * Strict on purpose: only the url-safe alphabet, '=' only as correct
 * trailing padding, and the unused low bits of the last char must be zero.
 * That gives every byte string exactly one accepted encoding, so a token
 * signature cannot be re-spelled into a different but "equal" string.
 */
unsigned char *crypto_b64url_decode(const char *s, size_t len, size_t *out_len)
{
    if (!s)
        return NULL;
    if (len % 4 == 0 && len > 0 && s[len - 1] == '=') {
        len--;
        if (s[len - 1] == '=')
            len--;
    }
    if (len % 4 == 1)
        return NULL;
    unsigned char *out = malloc(len / 4 * 3 + 3 + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(s[i]);
        if (v < 0)
            goto fail;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical: leftover bits must be zero */
        goto fail;
    out[n] = '\0';
    if (out_len)
        *out_len = n;
    return out;
fail:
    free(out);
    return NULL;
}

int crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
