/*
 * main.c - flags, configuration, start and stop.
 *
 *   triggerd [--listen HOST:PORT] [--data DIR] [--sync full|normal]
 *            [--database-url postgres://...] [--object-store-url http(s)://...]
 *            [--rate-limit N] [--public-url URL] [--heartbeat-timeout MS]
 *   triggerd keys --data DIR [--json]
 *   triggerd rotate-key --data DIR --env dev|stg|prod [--key-grace MS]
 *   triggerd login-link --data DIR [--listen HOST:PORT] [--public-url URL]
 *
 *   triggerd migrate [--data DIR] [--database-url postgres://...]
 *
 * --object-store-url (or OBJECT_STORE_BASE_URL) puts packets, snapshots and
 * deployment archives in an S3 bucket instead of <data>/objects; the rest
 * of its settings come from the platform's env names: OBJECT_STORE_BUCKET,
 * OBJECT_STORE_ACCESS_KEY_ID, OBJECT_STORE_SECRET_ACCESS_KEY,
 * OBJECT_STORE_REGION, OBJECT_STORE_SERVICE (docs/store.md, "Objects").
 *
 * --key-grace (or TRIGGERD_KEY_GRACE_MS): how long the rotated-out key keeps
 * working, 24 h by default; tests use a few seconds.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "api/devpush.h"
#include "deploy/deploy.h"
#include "app.h"
#include "auth/login.h"
#include "bootstrap.h"
#include "dash/dash.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "realtime/realtime.h"
#include "realtime/streams.h"
#include "store/migrations.h"
#include "util/timefmt.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: triggerd [--listen HOST:PORT] [--data DIR] [--sync full|normal]\n"
            "                [--database-url postgres://...] [--object-store-url URL]\n"
            "                [--rate-limit N] [--public-url URL] [--heartbeat-timeout MS]\n"
            "                [--retry-warm-start MS]\n"
            "       triggerd keys --data DIR [--json]\n"
            "       triggerd rotate-key --data DIR --env dev|stg|prod [--key-grace MS]\n"
            "       triggerd login-link --data DIR [--listen HOST:PORT] [--public-url URL]\n"
            "       triggerd migrate [--data DIR] [--database-url postgres://...]\n");
}

/* A non-negative decimal integer, nothing else. */
static int parse_count(const char *v, int64_t *out)
{
    char *end;
    if (!*v || *v < '0' || *v > '9')
        return -1;
    long long n = strtoll(v, &end, 10);
    if (*end || n < 0)
        return -1;
    *out = n;
    return 0;
}

static int parse_sync(const char *v, bool *full)
{
    if (strcmp(v, "full") == 0)
        *full = true;
    else if (strcmp(v, "normal") == 0)
        *full = false;
    else
        return -1;
    return 0;
}

static int parse_listen(app_config *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon)
        return -1;
    size_t hl = (size_t)(colon - v);
    if (hl >= sizeof cfg->listen_host)
        return -1;
    memcpy(cfg->listen_host, v, hl);
    cfg->listen_host[hl] = 0;
    if (hl == 0)
        snprintf(cfg->listen_host, sizeof cfg->listen_host, "0.0.0.0");
    int64_t port;
    if (parse_count(colon + 1, &port) != 0 || port < 1 || port > 65535)
        return -1;
    cfg->listen_port = (int)port;
    return 0;
}

static const char *envv(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

typedef struct cli {
    const char *cmd;
    const char *env_slug;
    bool json;
} cli;

static int parse_args(int argc, char **argv, app_config *cfg, cli *c)
{
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 3030;
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", envv("TRIGGERD_DATA") ?: "./data");
    snprintf(cfg->database_url, sizeof cfg->database_url, "%s",
             envv("TRIGGERD_DATABASE_URL") ?: "");
    snprintf(cfg->object_store_url, sizeof cfg->object_store_url, "%s",
             envv("OBJECT_STORE_BASE_URL") ?: "");
    cfg->sync_full = true;
    cfg->rate_limit = 3000;
    cfg->rate_window_ms = 10000;
    cfg->retry_warm_start_ms = -1;
    cfg->key_grace_ms = AUTH_KEY_GRACE_MS;
    if (envv("TRIGGERD_LISTEN") && parse_listen(cfg, envv("TRIGGERD_LISTEN")))
        return -1;
    if (envv("TRIGGERD_SYNC") && parse_sync(envv("TRIGGERD_SYNC"), &cfg->sync_full))
        return -1;
    if (envv("TRIGGERD_RATE_LIMIT") && parse_count(envv("TRIGGERD_RATE_LIMIT"), &cfg->rate_limit))
        return -1;
    if (envv("TRIGGERD_HEARTBEAT_TIMEOUT_MS") &&
        parse_count(envv("TRIGGERD_HEARTBEAT_TIMEOUT_MS"), &cfg->heartbeat_timeout_ms))
        return -1;
    if (envv("TRIGGERD_RETRY_WARM_START_MS") &&
        parse_count(envv("TRIGGERD_RETRY_WARM_START_MS"), &cfg->retry_warm_start_ms))
        return -1;
    if (envv("TRIGGERD_KEY_GRACE_MS") &&
        parse_count(envv("TRIGGERD_KEY_GRACE_MS"), &cfg->key_grace_ms))
        return -1;
    if (envv("TRIGGERD_H2C_IDLE_MS") &&
        parse_count(envv("TRIGGERD_H2C_IDLE_MS"), &cfg->h2c_idle_ms))
        return -1;
    /* test knobs for the /dev-worker channel's Engine.IO heartbeat */
    if (envv("TRIGGERD_PUSH_PING_INTERVAL_MS") &&
        parse_count(envv("TRIGGERD_PUSH_PING_INTERVAL_MS"), &cfg->push_ping_interval_ms))
        return -1;
    if (envv("TRIGGERD_PUSH_PING_TIMEOUT_MS") &&
        parse_count(envv("TRIGGERD_PUSH_PING_TIMEOUT_MS"), &cfg->push_ping_timeout_ms))
        return -1;
    /* worker processes per deployed version (0 = none, as a negative pool) */
    if (envv("TRIGGERD_DEPLOY_POOL")) {
        if (parse_count(envv("TRIGGERD_DEPLOY_POOL"), &cfg->deploy_pool))
            return -1;
        if (cfg->deploy_pool == 0)
            cfg->deploy_pool = -1;
    }
    if (envv("TRIGGERD_DEPLOY_BUILD_TIMEOUT_MS") &&
        parse_count(envv("TRIGGERD_DEPLOY_BUILD_TIMEOUT_MS"), &cfg->deploy_build_timeout_ms))
        return -1;
    if (envv("TRIGGERD_CGROUP"))
        snprintf(cfg->cgroup, sizeof cfg->cgroup, "%s", envv("TRIGGERD_CGROUP"));
    if (envv("TRIGGERD_PUBLIC_URL"))
        snprintf(cfg->public_url, sizeof cfg->public_url, "%s", envv("TRIGGERD_PUBLIC_URL"));
    int i = 1;
    if (i < argc && argv[i][0] != '-')
        c->cmd = argv[i++];
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            c->json = true;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (strcmp(a, "--listen") == 0) {
            if (parse_listen(cfg, v))
                return -1;
        } else if (strcmp(a, "--data") == 0) {
            snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", v);
        } else if (strcmp(a, "--sync") == 0) {
            if (parse_sync(v, &cfg->sync_full))
                return -1;
        } else if (strcmp(a, "--rate-limit") == 0) {
            if (parse_count(v, &cfg->rate_limit))
                return -1;
        } else if (strcmp(a, "--heartbeat-timeout") == 0) {
            if (parse_count(v, &cfg->heartbeat_timeout_ms))
                return -1;
        } else if (strcmp(a, "--retry-warm-start") == 0) {
            if (parse_count(v, &cfg->retry_warm_start_ms))
                return -1;
        } else if (strcmp(a, "--key-grace") == 0) {
            if (parse_count(v, &cfg->key_grace_ms))
                return -1;
        } else if (strcmp(a, "--database-url") == 0) {
            snprintf(cfg->database_url, sizeof cfg->database_url, "%s", v);
        } else if (strcmp(a, "--object-store-url") == 0) {
            snprintf(cfg->object_store_url, sizeof cfg->object_store_url, "%s", v);
        } else if (strcmp(a, "--public-url") == 0) {
            snprintf(cfg->public_url, sizeof cfg->public_url, "%s", v);
        } else if (strcmp(a, "--env") == 0) {
            c->env_slug = v;
        } else {
            return -1;
        }
    }
    return 0;
}

static store *open_store(const app_config *cfg, bool deferred_sync)
{
    if (mkdir(cfg->data_dir, 0755) != 0) {
        struct stat sb;
        if (stat(cfg->data_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "triggerd: cannot create data dir %s\n", cfg->data_dir);
            return NULL;
        }
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/triggerd.db", cfg->data_dir);
    store_options so = {.path = path, .sync_full = cfg->sync_full, .deferred_sync = deferred_sync,
                       .database_url = cfg->database_url};
    return store_open(&so);
}

static void on_stopped(void *ud)
{
    app *a = ud;
    uv_stop(a->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app *a = h->data;
    fprintf(stderr, "triggerd: signal %d, shutting down\n", signum);
    uv_signal_stop(h);
    deploy_free(a);        /* stops builds and worker processes */
    devpush_free(a->push); /* closes the CLIs' sockets (they reconnect to the next start) */
    api_devhold_free(a);   /* answers held dequeues empty */
    realtime_free(a->rt);    /* answers the parked feeds, so they do not hold the stop up */
    api_streams_shutdown(a); /* ends the SSE stream readers (they resume on reconnect) */
    http_server_stop(a->http, 10000, on_stopped, a);
}

/* Frees the long-lived modules (the store is closed by main). The h2o
 * context is left to process exit: connections may still reference it. */
static void app_free(app *a)
{
    deploy_free(a);
    streams_free(a->streams);
    devpush_free(a->push);
    api_devhold_free(a);
    dash_free(a);
    realtime_free(a->rt);
    engine_free(a->en);
    auth_free(a->au);
    ratelimit_free(a->rl);
    objstore_close(a->os);
    a->en = NULL;
    a->au = NULL;
    a->rl = NULL;
    a->os = NULL;
}

/* The object store: the S3 bucket of --object-store-url, else <data>/objects. */
static objstore *open_objects(const app_config *cfg, const char *secret)
{
    if (!cfg->object_store_url[0]) {
        char objdir[1100];
        snprintf(objdir, sizeof objdir, "%s/objects", cfg->data_dir);
        objstore *os = objstore_open(objdir, secret);
        if (!os)
            fprintf(stderr, "triggerd: cannot open the object store folder %s\n", objdir);
        return os;
    }
    int64_t attempts = 0, backoff = 0;
    if (envv("TRIGGERD_OBJECT_STORE_ATTEMPTS"))
        parse_count(envv("TRIGGERD_OBJECT_STORE_ATTEMPTS"), &attempts);
    if (envv("TRIGGERD_OBJECT_STORE_BACKOFF_MS"))
        parse_count(envv("TRIGGERD_OBJECT_STORE_BACKOFF_MS"), &backoff);
    s3_config sc = {
        .url = cfg->object_store_url,
        .bucket = envv("OBJECT_STORE_BUCKET"),
        .access_key = envv("OBJECT_STORE_ACCESS_KEY_ID"),
        .secret_key = envv("OBJECT_STORE_SECRET_ACCESS_KEY"),
        .region = envv("OBJECT_STORE_REGION"),
        .service = envv("OBJECT_STORE_SERVICE"),
        .attempts = (int)attempts,
        .backoff_ms = (int)backoff,
    };
    char err[256] = "";
    objstore *os = objstore_open_s3(&sc, secret, err, sizeof err);
    if (!os)
        fprintf(stderr, "triggerd: object store: %s\n", err);
    return os;
}

static int serve(app *a)
{
    bool created = false;
    if (bootstrap_ensure(a->st, &created) != 0) {
        fprintf(stderr, "triggerd: bootstrap failed\n");
        return 1;
    }
    if (created) {
        printf("triggerd: created a new project in %s\n", a->cfg.data_dir);
        bootstrap_print(a->st, stdout, false);
    }
    char *secret = NULL;
    if (bootstrap_secret(a->st, &secret) != 0)
        return 1;
    a->os = open_objects(&a->cfg, secret);
    free(secret);
    a->au = auth_new(a->st);
    a->en = engine_new(a->st, a->loop);
    if (a->en) {
        /* 0 given: every retry queued; not given: the engine's default */
        int64_t warm = a->cfg.retry_warm_start_ms;
        engine_limits lim = {.heartbeat_timeout_ms = a->cfg.heartbeat_timeout_ms,
                             .retry_warm_start_ms = warm == 0 ? -1 : warm < 0 ? 0 : warm};
        engine_set_limits(a->en, &lim);
    }
    if (a->cfg.rate_limit > 0)
        a->rl = ratelimit_new(a->cfg.rate_limit, a->cfg.rate_window_ms);
    http_route *routes = NULL;
    if (!a->os || !a->au || !a->en)
        goto fail;
    /* one table: the API's routes, then the dashboard's (dash/routes.c) */
    size_t n_routes = api_routes_count + dash_routes_count;
    routes = malloc(n_routes * sizeof *routes);
    if (!routes)
        abort();
    memcpy(routes, api_routes, api_routes_count * sizeof *routes);
    memcpy(routes + api_routes_count, dash_routes, dash_routes_count * sizeof *routes);
    a->http = http_server_start(a, routes, n_routes);
    if (!a->http || dash_new(a) != 0 || !api_realtime_new(a) || !streams_new(a) || !devpush_new(a) ||
        api_devhold_new(a) != 0)
        goto fail;
    http_server_h2c(a->http, api_s2_h2c, a);
    if (engine_start(a->en) != 0 || deploy_new(a) != 0 || store_commit(a->st) != 0) {
        fprintf(stderr, "triggerd: engine start failed\n");
        goto fail;
    }
    uv_signal_t sigterm, sigint;
    uv_signal_init(a->loop, &sigterm);
    uv_signal_init(a->loop, &sigint);
    sigterm.data = sigint.data = a;
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    printf("triggerd: listening on http://%s:%d (data %s, synchronous=%s, objects in %s)\n",
           a->cfg.listen_host, a->cfg.listen_port, a->cfg.data_dir,
           a->cfg.sync_full ? "FULL" : "NORMAL", objstore_describe(a->os));
    fflush(stdout);
    uv_run(a->loop, UV_RUN_DEFAULT);
    store_commit(a->st);
    store_sync(a->st);
    app_free(a);
    free(routes);
    return 0;
fail:
    app_free(a);
    free(routes);
    return 1;
}

static int rotate(app *a, const char *slug)
{
    auth *au = auth_new(a->st);
    const store_env *env = au && slug ? auth_env_by_slug(au, slug) : NULL;
    if (!env) {
        fprintf(stderr, "triggerd: unknown environment %s\n", slug ? slug : "(none)");
        auth_free(au);
        return 1;
    }
    char key[64];
    int rc = auth_rotate(au, env->id, time_now_ms(), a->cfg.key_grace_ms, key);
    auth_free(au);
    if (rc) {
        fprintf(stderr, "triggerd: rotation failed\n");
        return 1;
    }
    printf("%s\n", key);
    return 0;
}

/* Prints a one-time link that approves one `trigger.dev login` on the page
 * the CLI opens. The origin is --public-url, else the --listen address the
 * server is assumed to use (the same flags and env vars as serving). */
static int login_link(app *a)
{
    bool created;
    char secret[LOGIN_LINK_LEN + 1];
    if (bootstrap_ensure(a->st, &created) != 0 || login_link_new(a->st, time_now_ms(), secret) ||
        store_commit(a->st) != 0) {
        fprintf(stderr, "triggerd: could not create a login link\n");
        return 1;
    }
    const char *host = a->cfg.listen_host;
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
        host = "127.0.0.1";
    char origin[600];
    if (a->cfg.public_url[0])
        snprintf(origin, sizeof origin, "%s", a->cfg.public_url);
    else
        snprintf(origin, sizeof origin, "http://%s:%d", host, a->cfg.listen_port);
    size_t n = strlen(origin);
    if (n && origin[n - 1] == '/')
        origin[n - 1] = 0;
    printf("%s%s%s\n", origin, LOGIN_LINK_PATH, secret);
    fprintf(stderr,
            "Paste it into the page `trigger.dev login` opens; it works once, for %lld "
            "minutes.\n",
            LOGIN_LINK_TTL_MS / 60000);
    return 0;
}

/* A database migrated by a newer triggerd has tables and columns this one
 * does not know: refuse it rather than write rows the newer nodes would
 * misread (docs/store.md, "Upgrades"). */
static int check_schema(store *st)
{
    int64_t have = 0;
    if (store_schema_version(st, &have) != 0) {
        fprintf(stderr, "triggerd: cannot read the schema version\n");
        return -1;
    }
    if (have > (int64_t)store_migrations_count) {
        fprintf(stderr,
                "triggerd: the database schema is version %lld, newer than this triggerd knows "
                "(%zu): it was migrated by a newer triggerd. Upgrade this node's binary; "
                "refusing to start.\n",
                (long long)have, store_migrations_count);
        return -1;
    }
    return 0;
}

/* `triggerd migrate`: the store's open applied what was missing. */
static int migrate(app *a)
{
    int64_t have = 0;
    if (store_schema_version(a->st, &have) != 0 || store_commit(a->st) != 0) {
        fprintf(stderr, "triggerd: migration failed\n");
        return 1;
    }
    printf("triggerd: schema at version %lld (%s)\n", (long long)have,
           a->cfg.database_url[0] ? "PostgreSQL" : a->cfg.data_dir);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    app a = {0};
    cli c = {0};
    if (parse_args(argc, argv, &a.cfg, &c) != 0) {
        usage();
        return 2;
    }
    /* the server flushes commits off the loop thread; one-shot commands
     * just commit with synchronous=FULL */
    bool serving = !c.cmd || strcmp(c.cmd, "serve") == 0;
    a.st = open_store(&a.cfg, serving);
    if (!a.st)
        return 1;
    int rc;
    if (check_schema(a.st) != 0) {
        store_close(a.st);
        return 1;
    }
    if (!c.cmd || strcmp(c.cmd, "serve") == 0) {
        a.loop = uv_default_loop();
        rc = serve(&a);
    } else if (strcmp(c.cmd, "keys") == 0) {
        bool created;
        rc = bootstrap_ensure(a.st, &created) || bootstrap_print(a.st, stdout, c.json) ? 1 : 0;
    } else if (strcmp(c.cmd, "rotate-key") == 0) {
        rc = rotate(&a, c.env_slug);
    } else if (strcmp(c.cmd, "login-link") == 0) {
        rc = login_link(&a);
    } else if (strcmp(c.cmd, "migrate") == 0) {
        rc = migrate(&a);
    } else {
        usage();
        rc = 2;
    }
    store_close(a.st);
    return rc;
}
