/*
 * auth/jwt.h - public access tokens: HS256 JWS compact tokens signed with an
 * environment's root secret key (spec/api.md section 2.3).
 */
#ifndef TD_AUTH_JWT_H
#define TD_AUTH_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_ISSUER "https://id.trigger.dev"
#define JWT_AUDIENCE "https://api.trigger.dev"

/* Decodes the payload of a compact JWT without checking its signature.
 * Returns a new reference (caller decrefs) or NULL if it is not a JWT with a
 * JSON object payload. */
json_t *jwt_peek_payload(const char *token);

/* Verifies an HS256 token against key: signature, alg HS256, iss, aud, and
 * exp/nbf against now_s. On success returns 0 and *claims (new reference).
 * Returns ERR_UNAUTHORIZED for a bad signature or malformed token,
 * ERR_EXPIRED when exp has passed. */
int jwt_verify(const char *token, const char *key, int64_t now_s, json_t **claims);

/* Signs claims (borrowed) as HS256 with header {"alg":"HS256"}, the
 * payload being the claims' compact JSON text (jsontext_dumps: lone
 * surrogates as their escapes). Returns a malloc'd token string, or NULL
 * on failure. */
char *jwt_sign(json_t *claims, const char *key);

/* The same for a payload already written as JSON text payload[0..len)
 * (a JSON object: the caller's promise). */
char *jwt_sign_text(const char *payload, size_t len, const char *key);

#endif
