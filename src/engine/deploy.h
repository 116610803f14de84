/*
 * engine/deploy.h - deployments: a version of an environment's code built by
 * triggerd from an uploaded archive (docs/deploy.md). Statuses move
 * PENDING -> BUILDING -> DEPLOYING -> DEPLOYED, or to FAILED / CANCELED /
 * TIMED_OUT; a DEPLOYED deployment can be promoted, and new runs of the
 * environment lock to the promoted deployment's version.
 */
#ifndef TD_ENGINE_DEPLOY_H
#define TD_ENGINE_DEPLOY_H

#include <jansson.h>

#include "engine/engine.h"
#include "store/deployments.h"

typedef struct deploy_opts {
    const char *content_hash; /* "-" for a native build: the build computes it */
    const char *artifact_key; /* required: the uploaded archive */
    const char *config_path;  /* may be NULL */
    const char *git;          /* JSON text or NULL */
    const char *runtime;      /* may be NULL */
    const char *triggered_via;
    bool skip_promotion;
} deploy_opts;

/* Creates a PENDING deployment of env with the next YYYYMMDD.N version. */
int engine_deploy_create(engine *en, const store_env *env, const deploy_opts *o, int64_t now,
                         store_deployment *out, err_t *e);
/* The deployment of env named by its friendly id, or by version when the
 * argument does not start with "deployment_". */
int engine_deploy_get(engine *en, const store_env *env, const char *key, store_deployment *out,
                      err_t *e);
/* Moves d (by friendly id) to status: BUILDING or DEPLOYING; nothing once final. */
int engine_deploy_advance(engine *en, const char *fid, const char *status, int64_t now);
/* Ends d FAILED with error (JSON {name, message, stack?, stderr?}, borrowed).
 * A deployment already final stays as it is (ERR_CONFLICT). */
int engine_deploy_fail(engine *en, const store_env *env, const char *fid, json_t *error,
                       int64_t now, err_t *e);
/* Ends d in a final status other than DEPLOYED: FAILED, CANCELED (by the
 * API; error NULL) or TIMED_OUT (its build ran too long), as fail does. */
int engine_deploy_end(engine *en, const store_env *env, const char *fid, const char *status,
                      json_t *error, int64_t now, err_t *e);
/* Registers the deployment's background worker (BackgroundWorkerMetadata,
 * borrowed) with the deployment's version; the deployment records it. */
int engine_deploy_register(engine *en, const store_env *env, const char *fid, json_t *metadata,
                           const char *origin, int64_t now, worker_info *out, err_t *e);
/* Ends the deployment DEPLOYED (it needs a worker, else FAILED) and
 * promotes it unless it was deployed with skip_promotion. */
int engine_deploy_finish(engine *en, const char *fid, int64_t now, err_t *e);
/* Promotes a DEPLOYED deployment of env (key as engine_deploy_get). */
int engine_deploy_promote(engine *en, const store_env *env, const char *key, int64_t now,
                          store_deployment *out, err_t *e);
/* The env's promoted deployment; ERR_NOT_FOUND when none. */
int engine_deploy_current(engine *en, const store_env *env, store_deployment *out, err_t *e);
/* The version new runs of env lock to: the promoted deployment's, into
 * out ("" for dev environments and environments never deployed). */
void engine_deploy_lock_version(engine *en, const store_env *env, char out[32]);

/* Whether runs of env locked to version are still to finish: its worker
 * processes are kept until they have (a drained version's triggerAndWait
 * children, retries and resumptions run on it). */
bool engine_deploy_version_busy(engine *en, const char *env_id, const char *version);

#endif
