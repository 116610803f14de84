/*
 * auth/auth.c - credential resolution against an in-memory keyring that
 * mirrors the envs table (a handful of rows). Rotated keys are looked up in
 * the store, where their grace windows live, so a key past its window stops
 * working by time alone. The keyring follows rotations made by another
 * process (`triggerd rotate-key`) through the store's data version: checked
 * on every resolve, or, once the server calls auth_turn, on the first resolve
 * of each event-loop turn and again whenever a credential is refused (a key
 * another process just made is then found at once).
 */
#include "auth/auth.h"

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "util/crypto.h"
#include "util/id.h"
#include "util/jsonw.h"

struct auth {
    store *st;
    int64_t data_version; /* the store's, when the keyring was loaded */
    bool by_turn;         /* auth_turn was called: one version check a turn */
    bool checked;         /* the version was checked this turn */
    store_env *envs;
    size_t n_envs;
    char (*pats)[64];
    size_t n_pats;
};

void auth_result_clear(auth_result *r)
{
    json_decref(r->claims);
    memset(r, 0, sizeof *r);
}

/* True when envs holds the same environments, in the same order, as the
 * keyring. */
static bool same_envs(const auth *a, const store_env *envs, size_t n)
{
    if (!a->envs || n != a->n_envs)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(envs[i].id, a->envs[i].id) != 0)
            return false;
    return true;
}

/* Loads the keyring from the store. The environments are updated in place
 * when the set is unchanged (the usual case: a rotated key), so an env
 * pointer a request borrowed from the keyring stays valid. */
static int reload(auth *a)
{
    int64_t version = 0;
    store_env *envs = NULL;
    size_t n = 0;
    char(*pats)[64] = NULL;
    size_t n_pats = 0;
    if (store_data_version(a->st, &version) || store_env_list(a->st, &envs, &n) ||
        store_pat_list(a->st, &pats, &n_pats)) {
        free(envs);
        return ERR_STORE;
    }
    if (same_envs(a, envs, n)) {
        memcpy(a->envs, envs, n * sizeof *envs);
        free(envs);
    } else {
        free(a->envs);
        a->envs = envs;
        a->n_envs = n;
    }
    free(a->pats);
    a->pats = pats;
    a->n_pats = n_pats;
    a->data_version = version;
    return 0;
}

/* Reloads the keyring when another process committed to the store since it
 * was loaded. On a store error the keyring in memory stays in use. Returns
 * whether it was reloaded. */
static bool recheck(auth *a)
{
    int64_t version;
    a->checked = true;
    return store_data_version(a->st, &version) == 0 && version != a->data_version && reload(a) == 0;
}

static void refresh(auth *a)
{
    if (!a->by_turn || !a->checked)
        recheck(a);
}

void auth_turn(auth *a)
{
    a->by_turn = true;
    a->checked = false;
}

auth *auth_new(store *st)
{
    auth *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->st = st;
    if (reload(a)) {
        auth_free(a);
        return NULL;
    }
    return a;
}

void auth_free(auth *a)
{
    if (!a)
        return;
    free(a->envs);
    free(a->pats);
    free(a);
}

const store_env *auth_env_by_slug(auth *a, const char *slug)
{
    if (strcmp(slug, "staging") == 0)
        slug = "stg";
    for (size_t i = 0; i < a->n_envs; i++)
        if (strcmp(a->envs[i].slug, slug) == 0)
            return &a->envs[i];
    return NULL;
}

const store_env *auth_env_by_id(auth *a, const char *id)
{
    for (size_t i = 0; i < a->n_envs; i++)
        if (strcmp(a->envs[i].id, id) == 0)
            return &a->envs[i];
    return NULL;
}

int auth_env_grace_keys(auth *a, const char *env_id, int64_t now_ms, char (**keys)[64], size_t *n)
{
    *keys = NULL;
    *n = 0;
    return store_revoked_keys_of(a->st, env_id, now_ms, keys, n);
}

const char *auth_env_key(const store_env *env)
{
    return env->api_key;
}

static int resolve_jwt(auth *a, const char *token, json_t *peek, int64_t now_ms, auth_result *out,
                       err_t *e)
{
    const char *sub = json_string_value(json_object_get(peek, "sub"));
    const store_env *env = sub ? auth_env_by_id(a, sub) : NULL;
    if (!env)
        return err_set(e, ERR_UNAUTHORIZED, "Invalid Public Access Token");
    json_t *claims = NULL;
    int rc = jwt_verify(token, env->api_key, now_ms / 1000, &claims);
    if (rc == ERR_UNAUTHORIZED) {
        /* tokens signed with a rotated key verify during its grace window */
        char(*old)[64] = NULL;
        size_t n = 0;
        if (store_revoked_keys_of(a->st, env->id, now_ms, &old, &n) == 0)
            for (size_t i = 0; i < n && rc == ERR_UNAUTHORIZED; i++)
                rc = jwt_verify(token, old[i], now_ms / 1000, &claims);
        free(old);
    }
    if (rc == ERR_EXPIRED)
        return err_set(e, ERR_UNAUTHORIZED, "Public Access Token has expired");
    if (rc)
        return err_set(e, ERR_UNAUTHORIZED, "Public Access Token is invalid");
    out->kind = AUTH_JWT;
    out->env = env;
    out->claims = claims;
    out->scopes = json_object_get(claims, "scopes");
    out->one_time = json_is_true(json_object_get(claims, "otu"));
    crypto_sha256_hex(token, strlen(token), out->token_hash);
    return 0;
}

/* Compares a secret in time that depends only on the lengths, so a client
 * timing refusals learns nothing of how much of a guess was right. */
static bool same_secret(const char *known, const char *given)
{
    size_t n = strlen(known);
    return strlen(given) == n && crypto_equal(known, given, n);
}

static bool find_key(auth *a, const char *token, auth_result *out)
{
    for (size_t i = 0; i < a->n_envs; i++)
        if (same_secret(a->envs[i].api_key, token)) {
            out->kind = AUTH_SECRET;
            out->env = &a->envs[i];
            return true;
        }
    return false;
}

static int resolve(auth *a, const char *token, bool allow_jwt, int64_t now_ms, auth_result *out,
                   err_t *e)
{
    memset(out, 0, sizeof *out);
    json_t *peek = jwt_peek_payload(token);
    if (peek && json_is_true(json_object_get(peek, "pub"))) {
        int rc = allow_jwt ? resolve_jwt(a, token, peek, now_ms, out, e)
                           : err_set(e, ERR_UNAUTHORIZED, "Invalid or Missing API Key");
        json_decref(peek);
        return rc;
    }
    json_decref(peek);
    if (find_key(a, token, out))
        return 0;
    char env_id[32];
    if (strncmp(token, "tr_", 3) == 0 && store_revoked_key_env(a->st, token, now_ms, env_id) == 0) {
        out->env = auth_env_by_id(a, env_id);
        if (out->env) {
            out->kind = AUTH_SECRET;
            return 0;
        }
    }
    return err_set(e, ERR_UNAUTHORIZED, "Invalid or Missing API Key");
}

int auth_resolve(auth *a, const char *token, bool allow_jwt, int64_t now_ms, auth_result *out,
                 err_t *e)
{
    memset(out, 0, sizeof *out);
    if (!token || !token[0])
        return err_set(e, ERR_UNAUTHORIZED, "Invalid or Missing API Key");
    bool fresh = !a->by_turn || !a->checked;
    refresh(a);
    int rc = resolve(a, token, allow_jwt, now_ms, out, e);
    /* refused with a keyring checked earlier in the turn: a rotation since
     * then may have made the credential */
    if (rc == ERR_UNAUTHORIZED && !fresh && recheck(a))
        rc = resolve(a, token, allow_jwt, now_ms, out, e);
    return rc;
}

static bool known_pat(const auth *a, const char *token)
{
    if (token && strncmp(token, "tr_pat_", 7) == 0)
        for (size_t i = 0; i < a->n_pats; i++)
            if (same_secret(a->pats[i], token))
                return true;
    return false;
}

int auth_resolve_pat(auth *a, const char *token, err_t *e)
{
    bool fresh = !a->by_turn || !a->checked;
    refresh(a);
    if (known_pat(a, token) || (!fresh && recheck(a) && known_pat(a, token)))
        return 0;
    return err_set(e, ERR_UNAUTHORIZED, "Invalid or Missing Access Token");
}

int auth_rotate(auth *a, const char *env_id, int64_t now_ms, int64_t grace_ms, char new_key[64])
{
    const store_env *env = auth_env_by_id(a, env_id);
    if (!env)
        return ERR_NOT_FOUND;
    char body[21];
    id_alnum(body, 20);
    snprintf(new_key, 64, "tr_%s_%s", env->slug, body);
    int rc = store_env_set_key(a->st, env_id, new_key, env->api_key, now_ms + grace_ms);
    if (rc)
        return rc;
    rc = store_commit(a->st);
    if (rc)
        return rc;
    return reload(a);
}

/* Whether extra has none of the registered claims auth_mint writes: its
 * members then simply follow them (json_object_update would append them). */
static bool extra_is_new(json_t *extra)
{
    static const char *const own[] = {"sub", "pub", "scopes", "iat", "exp", "iss", "aud"};
    const char *k;
    json_t *v;
    json_object_foreach(extra, k, v)
    {
        for (size_t i = 0; i < sizeof own / sizeof *own; i++)
            if (strcmp(k, own[i]) == 0)
                return false;
    }
    return true;
}

char *auth_mint(const store_env *env, json_t *scopes, json_t *extra, int64_t now_ms, int64_t ttl_s)
{
    if (!scopes)
        return NULL;
    if (!json_is_object(extra)) /* json_object_update would ignore it */
        extra = NULL;
    if (extra && !extra_is_new(extra)) { /* extra overrides a registered claim in place */
        json_t *claims =
            json_pack("{s:s,s:b,s:O,s:I,s:I,s:s,s:s}", "sub", env->id, "pub", 1, "scopes", scopes,
                      "iat", (json_int_t)(now_ms / 1000), "exp",
                      (json_int_t)(now_ms / 1000 + ttl_s), "iss", JWT_ISSUER, "aud", JWT_AUDIENCE);
        if (!claims)
            return NULL;
        json_object_update(claims, extra);
        char *tok = jwt_sign(claims, env->api_key);
        json_decref(claims);
        return tok;
    }
    /* the claims written straight as text, in the order the tree had */
    jsonw w = {0};
    jsonw_obj(&w);
    jsonw_kstr(&w, "sub", env->id);
    jsonw_kbool(&w, "pub", true);
    jsonw_kvalue(&w, "scopes", scopes);
    jsonw_kint(&w, "iat", now_ms / 1000);
    jsonw_kint(&w, "exp", now_ms / 1000 + ttl_s);
    jsonw_kstr(&w, "iss", JWT_ISSUER);
    jsonw_kstr(&w, "aud", JWT_AUDIENCE);
    const char *k;
    json_t *v;
    json_object_foreach(extra, k, v) jsonw_kvalue(&w, k, v);
    jsonw_obj_end(&w);
    size_t len;
    char *payload = jsonw_finish(&w, &len);
    char *tok = jwt_sign_text(payload, len, env->api_key);
    free(payload);
    return tok;
}
