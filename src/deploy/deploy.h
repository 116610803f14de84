/*
 * deploy/deploy.h - what triggerd does for deployments outside the engine:
 * builds (deploy/build.c: a child process per deployment, one at a time,
 * that unpacks the uploaded archive under <data>/deployments/, installs and
 * builds it with the project's own trigger.dev CLI code and indexes it) and
 * the supervisor of deployed versions (deploy/supervisor.c: warm pools of
 * the bundle's managed run controller, which speaks the workload protocol
 * back to triggerd, api/deploy.c). docs/deploy.md has the whole picture.
 */
#ifndef TD_DEPLOY_DEPLOY_H
#define TD_DEPLOY_DEPLOY_H

#include "app.h"
#include "engine/engine.h"
#include "store/deployments.h"

typedef struct deployer deployer;

/* Starts the module: builds a restart cut short end FAILED, and the pools of
 * every promoted deployment start. Sets a->deploy. */
int deploy_new(app *a);
/* Stops the builds and worker processes (SIGTERM, then SIGKILL). */
void deploy_free(app *a);

/* Queues the build of d (PENDING; its archive uploaded). */
int deploy_build_start(app *a, const store_deployment *d);

/* The deployment fid was canceled (engine_deploy_end): its build leaves the
 * queue, or is killed when it runs. */
int deploy_build_cancel(app *a, const char *fid);

/* The promoted deployment of env changed: its pool starts, the old one drains. */
void deploy_promoted(app *a, const char *env_id);

/* A worker process of a pool, found by the secret it presents (its runner
 * or controller id). Borrowed; valid until the next loop turn. */
typedef struct deploy_runner {
    const store_env *env;
    char deployment_id[64]; /* friendly */
    char worker_id[64];     /* the deployment's background worker (friendly) */
    char version[32];
    machine_filter machines; /* the presets its pool runs */
} deploy_runner;

const deploy_runner *deploy_runner_find(app *a, const char *secret);
/* The process with secret started a run (busy) or waits for one. A pool
 * whose processes are all busy grows by one (up to 16), so a run waiting
 * on another (triggerAndWait keeps its process: no checkpoints) does not
 * starve the pool; extra processes go away again when idle. False when
 * the process is being sent away (its warm start must get no run). */
bool deploy_runner_busy(app *a, const char *secret, bool busy);


/* Per-pool size (worker processes per promoted deployment); 0 = the default. */
#define DEPLOY_DEFAULT_POOL 2

#endif
