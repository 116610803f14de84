/*
 * engine/deploy.c - the deployment state machine (engine/deploy.h). The
 * build itself (unpack, install, bundle, index) runs outside the engine, in
 * a child process deploy/build.c supervises; it reports back through these
 * functions. Versions are numbered as the platform does: YYYYMMDD.N, N
 * counting the environment's deployments of that UTC day.
 */
#include "engine/deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/internal.h"
#include "engine/status.h"
#include "util/id.h"
#include "util/jsontext.h"

static bool final_status(const char *s)
{
    return strcmp(s, "DEPLOYED") == 0 || strcmp(s, "FAILED") == 0 || strcmp(s, "CANCELED") == 0 ||
           strcmp(s, "TIMED_OUT") == 0;
}

static void set_str(char **f, const char *v)
{
    free(*f);
    *f = engine_strdup(v);
}

int engine_deploy_create(engine *en, const store_env *env, const deploy_opts *o, int64_t now,
                         store_deployment *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    char cuid[ID_CUID_LEN + 1], nid[32], fid[64], code[16], version[32];
    id_cuid(cuid);
    id_nanoid(nid, 21);
    id_friendly(fid, sizeof fid, "deployment_", nid);
    id_nanoid(code, 8);
    for (char *p = code; *p; p++) /* short codes are lower-case, as the platform's */
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    int rc = engine_day_version(en, env, now, store_deployment_count_version_prefix, version);
    if (rc)
        return err_set(e, rc, "Something went wrong");
    out->id = engine_strdup(cuid);
    out->friendly_id = engine_strdup(fid);
    out->env_id = engine_strdup(env->id);
    out->short_code = engine_strdup(code);
    out->version = engine_strdup(version);
    out->status = engine_strdup("PENDING");
    out->content_hash = engine_strdup(o->content_hash ? o->content_hash : "-");
    out->artifact_key = engine_strdup(o->artifact_key);
    out->config_path = engine_strdup(o->config_path);
    out->git = engine_strdup(o->git);
    out->runtime = engine_strdup(o->runtime ? o->runtime : "node");
    out->triggered_via = engine_strdup(o->triggered_via);
    out->skip_promotion = o->skip_promotion;
    out->created_at = out->updated_at = now;
    if ((rc = store_deployment_insert(en->st, out))) {
        store_deployment_clear(out);
        return err_set(e, rc, "Something went wrong");
    }
    return 0;
}

int engine_deploy_get(engine *en, const store_env *env, const char *key, store_deployment *out,
                      err_t *e)
{
    memset(out, 0, sizeof *out);
    int rc = strncmp(key, "deployment_", 11) == 0
                 ? store_deployment_get(en->st, env->id, key, out)
                 : store_deployment_by_version(en->st, env->id, key, out);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, rc, "Deployment not found");
    if (rc)
        return err_set(e, rc, "Something went wrong");
    return 0;
}

int engine_deploy_advance(engine *en, const char *fid, const char *status, int64_t now)
{
    store_deployment d = {0};
    int rc = store_deployment_by_fid(en->st, fid, &d);
    if (rc == 0 && !final_status(d.status)) {
        set_str(&d.status, status);
        d.updated_at = now;
        if (strcmp(status, "DEPLOYING") == 0)
            d.built_at = now;
        rc = store_deployment_update(en->st, &d);
    }
    store_deployment_clear(&d);
    return rc;
}

int engine_deploy_fail(engine *en, const store_env *env, const char *fid, json_t *error,
                       int64_t now, err_t *e)
{
    return engine_deploy_end(en, env, fid, "FAILED", error, now, e);
}

int engine_deploy_end(engine *en, const store_env *env, const char *fid, const char *status,
                      json_t *error, int64_t now, err_t *e)
{
    store_deployment d = {0};
    int rc = env ? store_deployment_get(en->st, env->id, fid, &d)
                 : store_deployment_by_fid(en->st, fid, &d);
    if (rc) {
        store_deployment_clear(&d);
        return err_set(e, rc, rc == ERR_NOT_FOUND ? "Deployment not found" : "Something went wrong");
    }
    if (final_status(d.status)) {
        store_deployment_clear(&d);
        return err_set(e, ERR_CONFLICT, "Deployment is already final");
    }
    set_str(&d.status, status);
    free(d.error);
    d.error = error ? jsontext_dumps(error, JSON_COMPACT) : NULL;
    d.updated_at = now;
    rc = store_deployment_update(en->st, &d);
    store_deployment_clear(&d);
    return rc ? err_set(e, rc, "Something went wrong") : 0;
}

int engine_deploy_register(engine *en, const store_env *env, const char *fid, json_t *metadata,
                           const char *origin, int64_t now, worker_info *out, err_t *e)
{
    store_deployment d = {0};
    int rc = store_deployment_get(en->st, env->id, fid, &d);
    if (rc) {
        store_deployment_clear(&d);
        return err_set(e, rc, rc == ERR_NOT_FOUND ? "Deployment not found" : "Something went wrong");
    }
    if (final_status(d.status) || d.worker_id) {
        store_deployment_clear(&d);
        return err_set(e, ERR_CONFLICT, "Deployment already has a worker or is final");
    }
    if ((rc = engine_worker_register_as(en, env, metadata, origin, d.version, now, out, e))) {
        store_deployment_clear(&d);
        return rc;
    }
    set_str(&d.worker_id, out->id);
    set_str(&d.content_hash, out->content_hash);
    set_str(&d.status, "DEPLOYING");
    d.built_at = d.updated_at = now;
    rc = store_deployment_update(en->st, &d);
    store_deployment_clear(&d);
    return rc ? err_set(e, rc, "Something went wrong") : 0;
}

static int promote(engine *en, store_deployment *d, int64_t now)
{
    return store_promotion_set(en->st, d->env_id, d->friendly_id, now);
}

int engine_deploy_finish(engine *en, const char *fid, int64_t now, err_t *e)
{
    store_deployment d = {0};
    int rc = store_deployment_by_fid(en->st, fid, &d);
    if (rc) {
        store_deployment_clear(&d);
        return err_set(e, rc, "Deployment not found");
    }
    if (final_status(d.status)) {
        store_deployment_clear(&d);
        return err_set(e, ERR_CONFLICT, "Deployment is already final");
    }
    if (!d.worker_id) {
        store_deployment_clear(&d);
        json_t *err = json_pack("{s:s,s:s}", "name", "IndexingError", "message",
                                "The build registered no background worker");
        rc = engine_deploy_fail(en, NULL, fid, err, now, e);
        json_decref(err);
        return rc ? rc : err_set(e, ERR_UNPROCESSABLE, "The build registered no worker");
    }
    set_str(&d.status, "DEPLOYED");
    d.deployed_at = d.updated_at = now;
    rc = store_deployment_update(en->st, &d);
    if (rc == 0 && !d.skip_promotion)
        rc = promote(en, &d, now);
    store_deployment_clear(&d);
    return rc ? err_set(e, rc, "Something went wrong") : 0;
}

int engine_deploy_promote(engine *en, const store_env *env, const char *key, int64_t now,
                          store_deployment *out, err_t *e)
{
    int rc = engine_deploy_get(en, env, key, out, e);
    if (rc)
        return rc;
    if (strcmp(out->status, "DEPLOYED") != 0) {
        store_deployment_clear(out);
        return err_set(e, ERR_INVALID, "Deployment must be in the DEPLOYED state to be promoted");
    }
    if ((rc = promote(en, out, now))) {
        store_deployment_clear(out);
        return err_set(e, rc, "Something went wrong");
    }
    return 0;
}

int engine_deploy_current(engine *en, const store_env *env, store_deployment *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    char fid[64];
    int rc = store_promotion_get(en->st, env->id, fid, sizeof fid);
    if (rc)
        return err_set(e, rc, "Something went wrong");
    if (!fid[0])
        return err_set(e, ERR_NOT_FOUND, "No current deployment found");
    rc = store_deployment_get(en->st, env->id, fid, out);
    return rc ? err_set(e, rc, "No current deployment found") : 0;
}

void engine_deploy_lock_version(engine *en, const store_env *env, char out[32])
{
    out[0] = 0;
    if (strcmp(env->type, "DEVELOPMENT") == 0)
        return;
    store_deployment d = {0};
    err_t e = {0};
    if (engine_deploy_current(en, env, &d, &e) == 0)
        snprintf(out, 32, "%s", d.version);
    store_deployment_clear(&d);
}

bool engine_deploy_version_busy(engine *en, const char *env_id, const char *version)
{
    bool any = false;
    if (store_runs_locked_open(en->st, env_id, version, RUN_CANCELED, &any) != 0)
        return true; /* when in doubt, keep the processes */
    return any;
}
