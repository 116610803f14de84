/*
 * auth/scopes.c - matching public-token scopes against what a route needs.
 *
 * Mirrors the platform's buildJwtAbility/parseScope (spec/api.md 2.3): a
 * scope is "action:type[:id]" where only the first two ':' delimit, so ids
 * such as the tag "env:staging" survive intact. Empty parts count as absent:
 * "read:runs:" is collection-wide and "admin:" is the bare admin wildcard.
 */
#include "auth/scopes.h"

#include <string.h>

/* A scope split in place: pointers into the scope string with lengths. */
typedef struct parsed_scope {
    const char *action, *type, *id;
    size_t action_len, type_len, id_len; /* 0 when the part is absent */
} parsed_scope;

static void parse(const char *scope, parsed_scope *p)
{
    memset(p, 0, sizeof *p);
    p->action = scope;
    const char *c1 = strchr(scope, ':');
    if (!c1) {
        p->action_len = strlen(scope);
        return;
    }
    p->action_len = (size_t)(c1 - scope);
    p->type = c1 + 1;
    const char *c2 = strchr(p->type, ':');
    if (!c2) {
        p->type_len = strlen(p->type);
        return;
    }
    p->type_len = (size_t)(c2 - p->type);
    p->id = c2 + 1;
    p->id_len = strlen(p->id);
}

/* True when part (ptr, len) equals the NUL-terminated string s. */
static bool part_is(const char *ptr, size_t len, const char *s)
{
    return s && strlen(s) == len && memcmp(ptr, s, len) == 0;
}

bool scope_grants(const char *scope, const char *action, const scope_res *res)
{
    if (!scope || !action || !res)
        return false;
    parsed_scope p;
    parse(scope, &p);
    if (p.action_len == 0)
        return false;
    /* Only bare "admin" is universal; "admin:<type>" falls through and
     * matches the "admin" action on that type alone. */
    if (p.type_len == 0 && part_is(p.action, p.action_len, "admin"))
        return true;
    if (!part_is(p.action, p.action_len, action) && !part_is(p.action, p.action_len, "*"))
        return false;
    if (part_is(p.type, p.type_len, "all"))
        return true;
    if (p.type_len == 0 || !part_is(p.type, p.type_len, res->type))
        return false;
    if (p.id_len == 0)
        return true;
    return part_is(p.id, p.id_len, res->id);
}

bool scopes_grant(json_t *scopes, const char *action, const scope_res *res)
{
    size_t i;
    json_t *v;
    json_array_foreach(scopes, i, v)
    {
        if (scope_grants(json_string_value(v), action, res))
            return true;
    }
    return false;
}

bool scopes_grant_any(json_t *scopes, const char *action, const scope_res *res, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (scopes_grant(scopes, action, &res[i]))
            return true;
    return false;
}

bool scopes_grant_every(json_t *scopes, const char *action, const scope_res *res, size_t n,
                        const scope_res *alt, size_t nalt)
{
    if (scopes_grant_any(scopes, action, alt, nalt))
        return true;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!scopes_grant(scopes, action, &res[i]))
            return false;
    return true;
}
