/*
 * engine/envvars.c - environment variables of an environment, handed to
 * task processes by the dev CLI and managed with the SDK's envvars API.
 */
#include "engine/internal.h"

#include <string.h>

static bool valid_name(const char *n)
{
    if (!n || !((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || *n == '_'))
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return strlen(n) <= 256;
}

int engine_env_var_set(engine *en, const store_env *env, const char *name, const char *value,
                       bool is_secret, bool only_new, err_t *e)
{
    if (!valid_name(name))
        return err_set(e, ERR_INVALID, "Invalid environment variable name: %s", name ? name : "");
    if (strncmp(name, "TRIGGER_", 8) == 0)
        return err_set(e, ERR_INVALID, "Environment variables starting with TRIGGER_ are reserved");
    store_env_var v = {name, value ? value : "", is_secret};
    int rc = store_env_var_set(en->st, env->id, &v, only_new);
    return rc ? err_set(e, rc, "Something went wrong") : 0;
}

int engine_env_var_delete(engine *en, const store_env *env, const char *name, err_t *e)
{
    int rc = store_env_var_delete(en->st, env->id, name);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, rc, "Environment variable not found");
    return rc ? err_set(e, rc, "Something went wrong") : 0;
}

int engine_env_var_each(engine *en, const store_env *env,
                        void (*fn)(void *ud, const store_env_var *v), void *ud)
{
    return store_env_var_each(en->st, env->id, fn, ud);
}

const char *engine_env_var_run_name(const char *name)
{
    return strcmp(name, "OTEL_RESOURCE_ATTRIBUTES") == 0 ? "CUSTOM_OTEL_RESOURCE_ATTRIBUTES" : name;
}
