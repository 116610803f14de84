/*
 * auth/login.h - the authorization-code flow `trigger.dev login` speaks
 * (cli-v3 commands/login.ts): the CLI creates a code, the user approves it on
 * triggerd's page with a personal access token or a one-time login link
 * (`triggerd login-link`), and the CLI's token poll then receives that token.
 */
#ifndef TD_AUTH_LOGIN_H
#define TD_AUTH_LOGIN_H

#include <stdint.h>

#include "auth/auth.h"
#include "store/store.h"
#include "util/err.h"

/* The CLI treats a code as good for ten minutes (AUTHORIZATION_CODE_TTL_MS). */
#define LOGIN_CODE_TTL_MS (10LL * 60 * 1000)
#define LOGIN_LINK_TTL_MS (15LL * 60 * 1000)
#define LOGIN_CODE_LEN 40
#define LOGIN_LINK_LEN 32
#define LOGIN_LINK_PATH "/account/login-link/"

/* Creates a pending authorization code into code (LOGIN_CODE_LEN + 1). */
int login_code_new(store *st, int64_t now, char *code);

/* The token poll: ERR_NOT_FOUND for an unknown or expired code (the CLI stops
 * polling), 0 with *token NULL while pending, or 0 with *token the approved
 * token (malloc'd, caller frees). A code hands out its token once. */
int login_code_poll(store *st, const char *code, int64_t now, char **token);

/* True when code is pending or approved and unexpired; *approved says which. */
bool login_code_live(store *st, const char *code, int64_t now, bool *approved);

/* Approves code with credential: a personal access token the keyring knows,
 * or an unused one-time login link (the whole URL or its last segment), which
 * approves with the first access token. ERR_UNAUTHORIZED with a message for
 * the page when the credential is wrong, ERR_NOT_FOUND when the code is gone. */
int login_approve(store *st, auth *au, const char *code, const char *credential, int64_t now,
                  err_t *e);

/* Creates a one-time login link secret into secret (LOGIN_LINK_LEN + 1). */
int login_link_new(store *st, int64_t now, char *secret);

/* "tr_pat_abcd…wxyz": enough of a token to recognise it (out holds 32). */
void login_obfuscate(const char *token, char out[32]);

#endif
