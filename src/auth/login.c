/*
 * auth/login.c - see login.h. Codes and links live in the store
 * (authorization_codes, login_links; migration 6) so a restart in the middle
 * of a login keeps it, and so `triggerd login-link` can mint a link while the
 * server runs.
 */
#include "auth/login.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/id.h"

int login_code_new(store *st, int64_t now, char *code)
{
    id_nanoid(code, LOGIN_CODE_LEN);
    return store_auth_code_insert(st, code, now, now + LOGIN_CODE_TTL_MS);
}

int login_code_poll(store *st, const char *code, int64_t now, char **token)
{
    int rc = store_auth_code_get(st, code, now, token);
    if (rc || !*token)
        return rc;
    rc = store_auth_code_delete(st, code);
    if (rc) {
        free(*token);
        *token = NULL;
    }
    return rc;
}

bool login_code_live(store *st, const char *code, int64_t now, bool *approved)
{
    char *token = NULL;
    int rc = store_auth_code_get(st, code, now, &token);
    *approved = token != NULL;
    free(token);
    return rc == 0;
}

/* The secret of a pasted login link: what follows LOGIN_LINK_PATH, or the
 * whole string; trailing slashes and spaces dropped. Into out (cap). */
static void link_secret(const char *credential, char *out, size_t cap)
{
    const char *p = strstr(credential, LOGIN_LINK_PATH);
    p = p ? p + strlen(LOGIN_LINK_PATH) : credential;
    snprintf(out, cap, "%s", p);
    size_t n = strlen(out);
    while (n && (out[n - 1] == '/' || isspace((unsigned char)out[n - 1])))
        out[--n] = 0;
}

int login_approve(store *st, auth *au, const char *code, const char *credential, int64_t now,
                  err_t *e)
{
    bool approved;
    if (!login_code_live(st, code, now, &approved) || approved)
        return err_set(e, ERR_NOT_FOUND,
                       "This login has expired or was already approved. Run trigger.dev login "
                       "again.");
    char token[64] = "";
    if (strncmp(credential, "tr_pat_", 7) == 0) {
        err_t pe = {0};
        if (strlen(credential) >= sizeof token || auth_resolve_pat(au, credential, &pe) != 0)
            return err_set(e, ERR_UNAUTHORIZED, "That personal access token is not valid here.");
        snprintf(token, sizeof token, "%s", credential);
    } else {
        char secret[128];
        link_secret(credential, secret, sizeof secret);
        int rc = secret[0] ? store_login_link_use(st, secret, now) : ERR_NOT_FOUND;
        if (rc == ERR_NOT_FOUND)
            return err_set(e, ERR_UNAUTHORIZED,
                           "That login link is not valid: links work once, for 15 minutes.");
        if (rc)
            return err_set(e, rc, "Something went wrong");
        char(*pats)[64] = NULL;
        size_t n = 0;
        rc = store_pat_list(st, &pats, &n);
        if (rc == 0 && n)
            snprintf(token, sizeof token, "%s", pats[0]);
        free(pats);
        if (!token[0])
            return err_set(e, ERR_STORE, "triggerd has no personal access token");
    }
    int rc = store_auth_code_approve(st, code, token, now);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, rc, "This login has expired. Run trigger.dev login again.");
    return rc ? err_set(e, rc, "Something went wrong") : 0;
}

int login_link_new(store *st, int64_t now, char *secret)
{
    id_alnum(secret, LOGIN_LINK_LEN);
    return store_login_link_insert(st, secret, now, now + LOGIN_LINK_TTL_MS);
}

void login_obfuscate(const char *token, char out[32])
{
    size_t n = strlen(token);
    if (n < 15) {
        snprintf(out, 32, "tr_pat_****");
        return;
    }
    snprintf(out, 32, "%.11s****%s", token, token + n - 4);
}
