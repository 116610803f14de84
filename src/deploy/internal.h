/*
 * deploy/internal.h - the deployer's state, shared by build.c (the build
 * queue) and supervisor.c (the worker pools). Nothing outside deploy/.
 */
#ifndef TD_DEPLOY_INTERNAL_H
#define TD_DEPLOY_INTERNAL_H

#include <stdbool.h>
#include <uv.h>

#include "deploy/deploy.h"

typedef struct build_job {
    char fid[64];
    struct build_job *next;
} build_job;

typedef struct pool pool;

struct deployer {
    app *a;
    build_job *queue;
    bool building;
    bool timed_out; /* the running build was killed for its time limit */
    uv_process_t build_proc;
    uv_timer_t build_timer; /* the build's time limit */
    char cur_fid[64];
    char cur_env[32];
    char cur_work[1100];
    pool *pools;
    deploy_runner found; /* deploy_runner_find's answer */
    int64_t started, crashed;
    int closing; /* handles still closing after deploy_free */
    char cg_root[1024]; /* the cgroup v2 tree worker slots get cgroups in; "" = none */
    bool stopping;
};

/* <data>/deployments/<fid> into buf. */
void deploy__work_dir(deployer *d, const char *fid, char *buf, size_t cap);
/* The origin worker and build processes reach triggerd on. */
void deploy__local_origin(deployer *d, char *buf, size_t cap);
/* A child's environment: the server's own minus TRIGGER_*, OTEL_* and
 * NODE_OPTIONS, plus extra ("K=V" strings, NULL-terminated). Caller frees
 * with deploy__env_free. */
char **deploy__env(char *const *extra);
void deploy__env_free(char **env);

/* Machine limits (limits.c). init picks the cgroup v2 tree (or none); slot
 * makes or updates the cgroup `name` under it with a preset's memory and
 * vCPUs, its path into dir, -1 when there is no tree (the caller falls back
 * to RLIMIT_DATA); release removes it once its processes are gone. */
void deploy__limits_init(deployer *d);
int deploy__limits_slot(deployer *d, const char *name, double cpu, double memory_gb, char *dir,
                        size_t cap);
void deploy__limits_release(deployer *d, const char *name);

void deploy__pools_start(deployer *d);
void deploy__pools_stop(deployer *d);
void deploy__handle_closed(uv_handle_t *h);

#endif
