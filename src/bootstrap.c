/*
 * bootstrap.c - see bootstrap.h.
 */
#include "bootstrap.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/id.h"
#include "util/jsontext.h"
#include "util/timefmt.h"

static const struct {
    const char *slug, *type, *env;
} env_defs[] = {
    {"dev", "DEVELOPMENT", "TRIGGERD_DEV_SECRET_KEY"},
    {"stg", "STAGING", "TRIGGERD_STG_SECRET_KEY"},
    {"prod", "PRODUCTION", "TRIGGERD_PROD_SECRET_KEY"},
};

static const char *env_or(const char *name, char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int bootstrap_ensure(store *st, bool *created)
{
    *created = false;
    int64_t n = 0;
    int rc = store_env_count(st, &n);
    if (rc || n > 0)
        return rc;
    store_project p = {0};
    id_cuid(p.org_id);
    id_cuid(p.id);
    char ref[21];
    id_lower(ref, 20);
    snprintf(p.ref, sizeof p.ref, "%s", env_or("TRIGGERD_PROJECT_REF", ""));
    if (!p.ref[0])
        snprintf(p.ref, sizeof p.ref, "proj_%s", ref);
    snprintf(p.name, sizeof p.name, "triggerd");
    snprintf(p.slug, sizeof p.slug, "triggerd");
    snprintf(p.org_slug, sizeof p.org_slug, "local");
    snprintf(p.org_title, sizeof p.org_title, "Local");
    if ((rc = store_project_insert(st, &p)))
        goto fail;
    for (size_t i = 0; i < sizeof env_defs / sizeof *env_defs; i++) {
        store_env e = {0};
        id_cuid(e.id);
        snprintf(e.project_id, sizeof e.project_id, "%s", p.id);
        snprintf(e.slug, sizeof e.slug, "%s", env_defs[i].slug);
        snprintf(e.type, sizeof e.type, "%s", env_defs[i].type);
        char body[21];
        id_alnum(body, 20);
        char key[64];
        snprintf(key, sizeof key, "tr_%s_%s", env_defs[i].slug, body);
        snprintf(e.api_key, sizeof e.api_key, "%s", env_or(env_defs[i].env, key));
        if ((rc = store_env_insert(st, &e)))
            goto fail;
    }
    char pat_body[41], pat[64];
    id_nanoid(pat_body, 40);
    snprintf(pat, sizeof pat, "tr_pat_%s", pat_body);
    if ((rc = store_pat_insert(st, env_or("TRIGGERD_ACCESS_TOKEN", pat), time_now_ms())))
        goto fail;
    char secret[49];
    id_alnum(secret, 48);
    if ((rc = store_setting_set(st, "url_secret", secret)))
        goto fail;
    if ((rc = store_commit(st)))
        return rc;
    *created = true;
    return 0;
fail:
    store_rollback(st);
    return rc;
}

int bootstrap_print(store *st, FILE *out, bool json)
{
    store_project p = {0};
    store_env *envs = NULL;
    size_t n = 0;
    char(*pats)[64] = NULL;
    size_t np = 0;
    int rc = store_project_get(st, &p);
    if (rc == 0)
        rc = store_env_list(st, &envs, &n);
    if (rc == 0)
        rc = store_pat_list(st, &pats, &np);
    if (rc)
        goto out;
    if (json) {
        json_t *o = json_pack("{s:s,s:{}}", "projectRef", p.ref, "secretKeys");
        json_t *keys = json_object_get(o, "secretKeys");
        for (size_t i = 0; i < n; i++)
            json_object_set_new(keys, envs[i].slug, json_string(envs[i].api_key));
        if (np)
            json_object_set_new(o, "accessToken", json_string(pats[0]));
        char *s = jsontext_dumps(o, JSON_INDENT(2));
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(o);
    } else {
        fprintf(out, "project ref:   %s\n", p.ref);
        for (size_t i = 0; i < n; i++)
            fprintf(out, "%-4s secret:   %s\n", envs[i].slug, envs[i].api_key);
        if (np)
            fprintf(out, "access token:  %s\n", pats[0]);
    }
out:
    free(envs);
    free(pats);
    return rc;
}

int bootstrap_secret(store *st, char **secret)
{
    return store_setting_get(st, "url_secret", secret);
}
