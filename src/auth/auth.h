/*
 * auth/auth.h - resolving a Bearer credential to an environment
 * (spec/api.md section 2.2): root secret keys (and rotated ones within their
 * 24 h grace), public access tokens (JWTs signed with the env's key), and
 * personal access tokens. Also key rotation and server-side token minting.
 */
#ifndef TD_AUTH_H
#define TD_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

#define AUTH_KEY_GRACE_MS (24LL * 3600 * 1000)

typedef struct auth auth;

typedef enum auth_kind { AUTH_NONE, AUTH_SECRET, AUTH_JWT, AUTH_PAT } auth_kind;

/* The result of authenticating one request. */
typedef struct auth_result {
    auth_kind kind;
    const store_env *env; /* borrowed from the keyring; NULL for a PAT */
    json_t *claims;       /* JWT claims (owned; auth_result_clear drops it) */
    json_t *scopes;       /* borrowed from claims */
    bool one_time;        /* JWT with otu:true */
    char token_hash[65];  /* sha256 hex of the raw JWT, for one-time use */
} auth_result;

void auth_result_clear(auth_result *r);

/* Loads the environments and PATs from st. Caller frees with auth_free. */
auth *auth_new(store *st);
void auth_free(auth *a);

/* Resolves a raw Bearer token. allow_jwt: whether public tokens are
 * accepted here. Errors carry the real API's messages. */
int auth_resolve(auth *a, const char *token, bool allow_jwt, int64_t now_ms, auth_result *out,
                 err_t *e);

/* From the first call on, the keyring follows other processes' changes
 * (rotations) by checking the store once per event-loop turn, on the first
 * resolve after this call, and again when a credential is refused, instead
 * of on every resolve. The server calls it at the start of every turn. */
void auth_turn(auth *a);

/* Resolves a personal access token. */
int auth_resolve_pat(auth *a, const char *token, err_t *e);

/* The environment with slug ("dev", "stg" or "staging", "prod"), or NULL. */
const store_env *auth_env_by_slug(auth *a, const char *slug);
const store_env *auth_env_by_id(auth *a, const char *id);

/* Replaces env's root key with a new random one; the old key, and tokens
 * signed with it, keep working for grace_ms (AUTH_KEY_GRACE_MS by default).
 * Writes the new key into new_key. */
int auth_rotate(auth *a, const char *env_id, int64_t now_ms, int64_t grace_ms, char new_key[64]);

/* Mints a JWT for env: {sub, pub:true, scopes, iat, exp, iss, aud} plus
 * extra members (borrowed, may be NULL). Returns a malloc'd token. */
char *auth_mint(const store_env *env, json_t *scopes, json_t *extra, int64_t now_ms, int64_t ttl_s);

/* The rotated keys of env_id still in their grace window, into *keys
 * (malloc'd, caller frees; *n of them). */
int auth_env_grace_keys(auth *a, const char *env_id, int64_t now_ms, char (**keys)[64], size_t *n);

/* The token's key for an env, ie the env's root key. */
const char *auth_env_key(const store_env *env);

#endif
