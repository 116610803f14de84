/*
 * auth/scopes.h - the scope grammar of public access tokens:
 * "action:type[:id]", with "admin", "*" (action) and "all" (type) as the only
 * wildcards (spec/api.md section 2.3).
 */
#ifndef TD_AUTH_SCOPES_H
#define TD_AUTH_SCOPES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A resource a route needs: type ("runs", "tasks", ...) and optional id. */
typedef struct scope_res {
    const char *type;
    const char *id; /* NULL for collection-level */
} scope_res;

/* True when one scope string grants action on res. */
bool scope_grants(const char *scope, const char *action, const scope_res *res);

/* True when any scope in the JSON array (borrowed) grants action on res. */
bool scopes_grant(json_t *scopes, const char *action, const scope_res *res);

/* anyResource: true if any of res[0..n) is granted. */
bool scopes_grant_any(json_t *scopes, const char *action, const scope_res *res, size_t n);

/* everyResource: true if some element of alt is granted, or if all of
 * res[0..n) are granted (never for n == 0). */
bool scopes_grant_every(json_t *scopes, const char *action, const scope_res *res, size_t n,
                        const scope_res *alt, size_t nalt);

#endif
