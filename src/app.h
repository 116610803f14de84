/*
 * app.h - the one server context: configuration and the long-lived modules,
 * created by main.c and passed to whoever needs it (no other global state).
 */
#ifndef TD_APP_H
#define TD_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "auth/auth.h"
#include "engine/engine.h"
#include "store/objstore.h"
#include "store/store.h"

typedef struct http_server http_server;
typedef struct ratelimit ratelimit;
typedef struct realtime realtime;
typedef struct streams streams;
typedef struct devpush devpush;
typedef struct devhold devhold;
typedef struct dash dash;
typedef struct deployer deployer;

typedef struct app_config {
    char listen_host[128];
    int listen_port;
    char data_dir[1024];
    char database_url[1024]; /* postgres://...: the store on PostgreSQL; "" SQLite */
    char public_url[512]; /* origin used in URLs we hand out */
    char object_store_url[1024]; /* http(s)://...: the object store in S3; "" the data dir */
    bool sync_full;       /* synchronous=FULL */
    int64_t rate_limit;   /* requests per rate window per environment; 0 = off */
    int64_t rate_window_ms;
    int64_t heartbeat_timeout_ms; /* 0 = the engine's default (60 s) */
    int64_t retry_warm_start_ms;  /* -1 = the engine's default (30 s), 0 = every retry queued */
    int64_t key_grace_ms;         /* rotate-key: how long the old key keeps working */
    int64_t h2c_idle_ms;          /* an HTTP/2 connection without streams gets GOAWAY; 0 = 30 s */
    int64_t push_ping_interval_ms; /* /dev-worker Engine.IO pings; 0 = 25 s */
    int64_t push_ping_timeout_ms;  /* unanswered ping cut-off; 0 = 20 s */
    int64_t deploy_pool;           /* worker processes per deployed version; 0 = 2, -1 = none */
    int64_t deploy_build_timeout_ms; /* a build's time limit; 0 = 20 min */
    char cgroup[1024]; /* TRIGGERD_CGROUP: the cgroup v2 tree of worker limits; "" = auto, "off" */
} app_config;

typedef struct app {
    app_config cfg;
    uv_loop_t *loop;
    store *st;
    objstore *os;
    engine *en;
    auth *au;
    ratelimit *rl;
    http_server *http;
    realtime *rt;
    streams *streams; /* realtime stream records (realtime/streams.h) */
    devpush *push;    /* the dev CLI's /dev-worker channel (api/devpush.h) */
    devhold *holds;   /* dev dequeues held open until a run is ready (api/dev.c) */
    dash *dash;       /* the dashboard's sessions (dash/dash.h) */
    deployer *deploy; /* builds and the worker pools of deployed versions (deploy/deploy.h) */
    /* commit pipeline hooks (http/server.c calls them; realtime sets them):
     * the turn's transaction `gen` committed (ok) or rolled back, and every
     * commit up to `gen` is on disk */
    void (*on_commit)(struct app *a, uint64_t gen, bool ok);
    void (*on_durable)(struct app *a, uint64_t gen);
} app;

#endif
