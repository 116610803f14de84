/*
 * auth/jwt.c - HS256 compact JWS for public access tokens (spec/api.md 2.3).
 *
 * Written on OpenSSL HMAC + jansson rather than libjwt so that the header is
 * exactly {"alg":"HS256"} (what jose's SignJWT emits) and verification
 * follows jose's jwtVerify rules: signature first, then iss, aud, iat, nbf
 * and exp, with exp failing once now >= exp.
 */
#include "auth/jwt.h"

#include "util/crypto.h"
#include "util/err.h"
#include "util/jsonw.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* base64url('{"alg":"HS256"}'), the only header we sign with. */
#define JWT_HEADER_B64 "eyJhbGciOiJIUzI1NiJ9"

/* Byte ranges of the three segments of a compact token. */
typedef struct jwt_parts {
    const char *seg[3];
    size_t len[3];
} jwt_parts;

/* Splits into exactly three '.'-separated segments (JWE's five and
 * anything else are refused). Padding is not part of JWS base64url. */
static bool split(const char *token, jwt_parts *p)
{
    if (!token)
        return false;
    const char *s = token;
    for (int i = 0; i < 3; i++) {
        const char *end = i < 2 ? strchr(s, '.') : s + strlen(s);
        if (!end)
            return false;
        p->seg[i] = s;
        p->len[i] = (size_t)(end - s);
        if (memchr(s, '=', p->len[i]))
            return false;
        s = end + 1;
    }
    return memchr(p->seg[2], '.', p->len[2]) == NULL;
}

/* Decodes one segment as a JSON object. Returns a new reference or NULL. */
static json_t *decode_object(const char *seg, size_t len)
{
    size_t n;
    unsigned char *raw = crypto_b64url_decode(seg, len, &n);
    if (!raw)
        return NULL;
    json_t *obj = json_loadb((const char *)raw, n, 0, NULL);
    free(raw);
    if (obj && !json_is_object(obj)) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

json_t *jwt_peek_payload(const char *token)
{
    jwt_parts p;
    if (!split(token, &p) || p.len[1] == 0)
        return NULL;
    return decode_object(p.seg[1], p.len[1]);
}

/* The protected header must say HS256 and carry no "crit" extensions: we
 * understand none, and RFC 7515 4.1.11 says to reject what we don't. */
static bool header_ok(const jwt_parts *p)
{
    json_t *h = decode_object(p->seg[0], p->len[0]);
    if (!h)
        return false;
    const char *alg = json_string_value(json_object_get(h, "alg"));
    bool ok = alg && strcmp(alg, "HS256") == 0 && !json_object_get(h, "crit");
    json_decref(h);
    return ok;
}

static bool signature_ok(const jwt_parts *p, const char *key)
{
    size_t n;
    unsigned char *sig = crypto_b64url_decode(p->seg[2], p->len[2], &n);
    if (!sig)
        return false;
    unsigned char mac[32];
    /* the signing input is the ASCII of "header.payload" as received */
    size_t signed_len = p->len[0] + 1 + p->len[1];
    crypto_hmac_sha256(key, strlen(key), p->seg[0], signed_len, mac);
    bool ok = n == sizeof mac && crypto_equal(sig, mac, sizeof mac);
    free(sig);
    return ok;
}

static bool aud_ok(json_t *aud)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), JWT_AUDIENCE) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), JWT_AUDIENCE) == 0)
            return true;
    }
    return false;
}

/* Checks the registered claims of a verified payload, in jose's order. */
static int claims_ok(json_t *c, int64_t now_s)
{
    const char *iss = json_string_value(json_object_get(c, "iss"));
    if (!iss || strcmp(iss, JWT_ISSUER) != 0)
        return ERR_UNAUTHORIZED;
    if (!aud_ok(json_object_get(c, "aud")))
        return ERR_UNAUTHORIZED;
    json_t *iat = json_object_get(c, "iat");
    if (iat && !json_is_number(iat))
        return ERR_UNAUTHORIZED;
    json_t *nbf = json_object_get(c, "nbf");
    if (nbf && (!json_is_number(nbf) || json_number_value(nbf) > (double)now_s))
        return ERR_UNAUTHORIZED;
    json_t *exp = json_object_get(c, "exp");
    if (exp && !json_is_number(exp))
        return ERR_UNAUTHORIZED;
    if (exp && json_number_value(exp) <= (double)now_s)
        return ERR_EXPIRED;
    return 0;
}

int jwt_verify(const char *token, const char *key, int64_t now_s, json_t **claims)
{
    jwt_parts p;
    json_t *c = NULL;
    int rc = ERR_UNAUTHORIZED;
    *claims = NULL;
    if (!key || !split(token, &p) || !header_ok(&p) || !signature_ok(&p, key))
        goto out;
    c = decode_object(p.seg[1], p.len[1]);
    if (!c)
        goto out;
    rc = claims_ok(c, now_s);
    if (rc)
        goto out;
    *claims = c;
    c = NULL;
out:
    json_decref(c);
    return rc;
}

char *jwt_sign_text(const char *payload, size_t len, const char *key)
{
    if (!payload || !key)
        return NULL;
    size_t hlen = strlen(JWT_HEADER_B64), plen = crypto_b64url_len(len);
    /* header.payload.signature, signature = 43 chars for 32 bytes */
    char *token = malloc(hlen + 1 + plen + 1 + 43 + 1);
    if (!token)
        return NULL;
    memcpy(token, JWT_HEADER_B64, hlen);
    token[hlen] = '.';
    crypto_b64url_encode_to(payload, len, token + hlen + 1);
    unsigned char mac[32];
    crypto_hmac_sha256(key, strlen(key), token, hlen + 1 + plen, mac);
    token[hlen + 1 + plen] = '.';
    crypto_b64url_encode_to(mac, sizeof mac, token + hlen + 1 + plen + 1); /* 43 chars + NUL */
    return token;
}

char *jwt_sign(json_t *claims, const char *key)
{
    if (!json_is_object(claims) || !key)
        return NULL;
    size_t len;
    jsonw w = {0};
    jsonw_value(&w, claims);
    char *payload = jsonw_finish(&w, &len);
    char *token = jwt_sign_text(payload, len, key);
    free(payload);
    return token;
}
