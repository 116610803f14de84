/*
 * api/authapi.c - token endpoints (spec/api.md 6.11), whoami and health.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/timefmt.h"

void api_healthz(http_ctx *c)
{
    http_reply_json(c, 200, json_pack("{s:b}", "ok", 1));
}

void api_auth_claims(http_ctx *c)
{
    http_reply_json(c, 200, json_pack("{s:s,s:b}", "sub", c->auth.env->id, "pub", 1));
}

/* POST /api/v1/auth/jwt: {claims?: {scopes}, expirationTime?} -> {token}. */
void api_auth_jwt(http_ctx *c)
{
    json_t *body = http_body(c).len ? http_json(c) : NULL;
    if (http_body(c).len && !body)
        return;
    json_t *claims = body ? json_object_get(body, "claims") : NULL;
    json_t *scopes = claims ? json_object_get(claims, "scopes") : NULL;
    int64_t ttl = 3600;
    json_t *exp = body ? json_object_get(body, "expirationTime") : NULL;
    if (json_is_integer(exp)) {
        ttl = json_integer_value(exp) - c->now / 1000;
    } else if (json_is_string(exp)) {
        int64_t ms;
        if (dur_parse(json_string_value(exp), &ms) != 0) {
            http_reply_error(c, 400, "Invalid expiration time");
            return;
        }
        ttl = ms / 1000;
    }
    json_t *sc = json_is_array(scopes) ? json_incref(scopes) : json_array();
    json_t *extra = json_is_object(claims) ? json_deep_copy(claims) : NULL;
    if (extra)
        json_object_del(extra, "scopes");
    char *tok = auth_mint(c->auth.env, sc, extra, c->now, ttl);
    json_decref(sc);
    json_decref(extra);
    if (!tok) {
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s}", "token", tok));
    free(tok);
}

/* GET /api/v2/whoami[?projectRef=]: the one local user; with our project's
 * ref also `project` {name, url, orgTitle}, which `trigger.dev whoami` prints
 * under "Project details". */
void api_whoami(http_ctx *c)
{
    store_project p = {0};
    store_project_get(c->app->st, &p);
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s}", "userId", "user_triggerd", "email", "dev@triggerd.local",
                  "dashboardUrl", http_origin(c), "projectRef", p.ref);
    const char *ref = http_query(c, "projectRef");
    if (ref && p.ref[0] && strcmp(ref, p.ref) == 0)
        json_object_set_new(o, "project",
                            json_pack("{s:s,s:s,s:s}", "name", p.name, "url",
                                      http_sprintf(c, "%s/projects/v3/%s", http_origin(c), p.ref),
                                      "orgTitle", p.org_title));
    http_reply_json(c, 200, o);
}
