/*
 * deploy/build.c - builds deployments off the event loop: one child process
 * at a time (sh: unpack the archive, npm ci / npm install, then node with
 * the embedded build.mjs: bundle with the project's own trigger.dev CLI
 * code, install externals, index, which registers the background worker).
 * Its output is the build log (<work>/build.log). When it exits the engine
 * is told: DEPLOYED (and promoted) with a worker, else FAILED with the log's
 * tail. A build that runs past DEPLOY_BUILD_TIMEOUT_MS (or
 * TRIGGERD_DEPLOY_BUILD_TIMEOUT_MS) is killed and ends TIMED_OUT; a
 * canceled one is taken off the queue, or killed, and stays CANCELED.
 */
#include "deploy/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "engine/deploy.h"
#include "util/timefmt.h"

#include "build_mjs.h"

#define DEPLOY_BUILD_TIMEOUT_MS (20LL * 60 * 1000)

static int64_t build_timeout_ms(deployer *d)
{
    int64_t t = d->a->cfg.deploy_build_timeout_ms;
    return t > 0 ? t : DEPLOY_BUILD_TIMEOUT_MS;
}
#define LOG_TAIL 4000

extern char **environ;

/* sh's part of the build; $1 is the work dir. --prefer-offline: a warm npm
 * cache makes a redeploy fast and keeps working when the registry is slow. */
static const char BUILD_SH[] =
    "set -e\n"
    "cd \"$1\"\n"
    "rm -rf src out entry.json\n"
    "mkdir src\n"
    "echo \"Unpacking the deployment files\"\n"
    "tar -xzf archive.tar.gz -C src\n"
    "cd \"src/$TRIGGERD_CONFIG_DIR\"\n"
    "if [ -f package-lock.json ]; then\n"
    "  echo \"Installing dependencies (npm ci)\"\n"
    "  npm ci --no-audit --no-fund --prefer-offline\n"
    "else\n"
    "  echo \"Installing dependencies (npm install)\"\n"
    "  npm install --no-audit --no-fund --prefer-offline\n"
    "fi\n"
    "exec node \"$1/build.mjs\" \"$1\"\n";

void deploy__work_dir(deployer *d, const char *fid, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/deployments/%s", d->a->cfg.data_dir, fid);
}

void deploy__local_origin(deployer *d, char *buf, size_t cap)
{
    const char *h = d->a->cfg.listen_host;
    if (!h[0] || strcmp(h, "0.0.0.0") == 0)
        h = "127.0.0.1";
    if (strcmp(h, "::") == 0)
        h = "[::1]";
    snprintf(buf, cap, "http://%s:%d", h, d->a->cfg.listen_port);
}

char **deploy__env(char *const *extra)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    size_t m = 0;
    while (extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env)
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *v = environ[i];
        if (strncmp(v, "TRIGGER_", 8) == 0 || strncmp(v, "OTEL_", 5) == 0 ||
            strncmp(v, "NODE_OPTIONS=", 13) == 0 || strncmp(v, "TRIGGERD_", 9) == 0)
            continue;
        env[k++] = strdup(v);
    }
    for (size_t i = 0; i < m; i++)
        env[k++] = strdup(extra[i]);
    return env;
}

void deploy__env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

void deploy__handle_closed(uv_handle_t *h)
{
    deployer *d = h->data;
    if (d && --d->closing == 0)
        free(d);
}

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The last LOG_TAIL bytes of the build log (malloc'd, "" when none). */
static char *log_tail(const char *work)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/build.log", work);
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, LOG_TAIL + 1);
    if (!buf)
        abort();
    if (!f)
        return buf;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > LOG_TAIL ? size - LOG_TAIL : 0, SEEK_SET);
    size_t n = fread(buf, 1, LOG_TAIL, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* The last non-empty line of text (into out). */
static void last_line(const char *text, char *out, size_t cap)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    size_t s = n;
    while (s && text[s - 1] != '\n')
        s--;
    snprintf(out, cap, "%.*s", (int)(n - s), text + s);
}

static void fail_with(deployer *d, const char *fid, const char *message, const char *stderr_text)
{
    json_t *err = json_pack("{s:s,s:s}", "name", "BuildError", "message", message);
    if (stderr_text && stderr_text[0])
        json_object_set_new(err, "stderr", json_string(stderr_text));
    err_t e = {0};
    engine_deploy_fail(d->a->en, NULL, fid, err, time_now_ms(), &e);
    json_decref(err);
}

static void build_next(deployer *d);

static void on_build_closed(uv_handle_t *h)
{
    deployer *d = h->data;
    d->building = false;
    if (d->stopping) {
        deploy__handle_closed(h);
        return;
    }
    build_next(d);
}

static void on_cleanup_exit(uv_process_t *p, int64_t status, int sig)
{
    (void)status;
    (void)sig;
    uv_close((uv_handle_t *)p, (uv_close_cb)free);
}

/* Removes the unpacked sources (the project and its installed
 * node_modules) once the build is over: the worker processes need only
 * out/. A child process, as deleting tens of thousands of files would
 * stall the loop. */
static void remove_sources(deployer *d, const char *work)
{
    char src[1200], archive[1200];
    snprintf(src, sizeof src, "%s/src", work);
    snprintf(archive, sizeof archive, "%s/archive.tar.gz", work);
    char *args[] = {"rm", "-rf", src, archive, NULL};
    uv_process_t *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    uv_process_options_t o = {.exit_cb = on_cleanup_exit, .file = "rm", .args = args};
    if (uv_spawn(d->a->loop, p, &o) != 0)
        uv_close((uv_handle_t *)p, (uv_close_cb)free);
}

static void on_build_exit(uv_process_t *p, int64_t status, int sig)
{
    deployer *d = p->data;
    uv_timer_stop(&d->build_timer);
    uv_kill(-p->pid, SIGKILL); /* anything of the build still running in its group */
    int64_t now = time_now_ms();
    char path[1200];
    snprintf(path, sizeof path, "%s/entry.json", d->cur_work);
    bool built = status == 0 && sig == 0 && access(path, R_OK) == 0;
    bool timed_out = d->timed_out;
    d->timed_out = false;
    if (d->stopping) {
        /* the deployment stays BUILDING; the next start fails it */
    } else if (timed_out) {
        char msg[200];
        int64_t t = build_timeout_ms(d);
        snprintf(msg, sizeof msg, "The build did not finish within %lld %s",
                 (long long)(t >= 60000 ? t / 60000 : t / 1000), t >= 60000 ? "minutes" : "s");
        json_t *err = json_pack("{s:s,s:s}", "name", "TimeoutError", "message", msg);
        err_t e = {0};
        engine_deploy_end(d->a->en, NULL, d->cur_fid, "TIMED_OUT", err, now, &e);
        json_decref(err);
    } else if (built) {
        err_t e = {0};
        if (engine_deploy_finish(d->a->en, d->cur_fid, now, &e) == 0)
            deploy_promoted(d->a, d->cur_env);
        else
            fprintf(stderr, "triggerd: deployment %s: %s\n", d->cur_fid, e.msg);
    } else {
        char *tail = log_tail(d->cur_work);
        char line[600], msg[800];
        last_line(tail, line, sizeof line);
        if (sig)
            snprintf(msg, sizeof msg, "The build was killed (signal %d)%s%s", sig,
                     line[0] ? ": " : "", line);
        else
            snprintf(msg, sizeof msg, "The build failed (exit %lld)%s%s", (long long)status,
                     line[0] ? ": " : "", line);
        fail_with(d, d->cur_fid, msg, tail);
        free(tail);
    }
    if (!d->stopping)
        remove_sources(d, d->cur_work);
    uv_close((uv_handle_t *)p, on_build_closed);
}

static void on_build_timeout(uv_timer_t *t)
{
    deployer *d = t->data;
    if (d->building) {
        d->timed_out = true;
        uv_kill(-d->build_proc.pid, SIGKILL);
    }
}

int deploy_build_cancel(app *a, const char *fid)
{
    deployer *d = a->deploy;
    if (!d)
        return 0;
    for (build_job **j = &d->queue; *j; j = &(*j)->next)
        if (strcmp((*j)->fid, fid) == 0) {
            build_job *gone = *j;
            *j = gone->next;
            free(gone);
            return 0;
        }
    /* its exit finds the deployment final already: nothing else changes */
    if (d->building && strcmp(d->cur_fid, fid) == 0)
        uv_kill(-d->build_proc.pid, SIGKILL);
    return 0;
}

/* Sets up the work dir of job fid and spawns its build. */
static int build_spawn(deployer *d, const char *fid)
{
    app *a = d->a;
    store_deployment dep = {0};
    int rc = store_deployment_by_fid(a->st, fid, &dep);
    if (rc) {
        store_deployment_clear(&dep);
        return rc;
    }
    const store_env *env = auth_env_by_id(a->au, dep.env_id);
    char base[1100], log_path[1200], archive[1200], mjs[1200];
    snprintf(base, sizeof base, "%s/deployments", a->cfg.data_dir);
    mkdir(base, 0755);
    deploy__work_dir(d, fid, d->cur_work, sizeof d->cur_work);
    mkdir(d->cur_work, 0755);
    snprintf(log_path, sizeof log_path, "%s/build.log", d->cur_work);
    snprintf(archive, sizeof archive, "%s/archive.tar.gz", d->cur_work);
    snprintf(mjs, sizeof mjs, "%s/build.mjs", d->cur_work);
    char *data = NULL, *ct = NULL;
    size_t len = 0;
    const char *why = NULL;
    if (!env)
        why = "The deployment's environment is gone";
    else if (!dep.artifact_key || objstore_get(a->os, dep.artifact_key, &data, &len, &ct) != 0)
        why = "The deployment files were not uploaded";
    else if (write_file(archive, data, len) != 0 ||
             write_file(mjs, DEPLOY_BUILD_MJS, strlen(DEPLOY_BUILD_MJS)) != 0)
        why = "Could not write the deployment files";
    free(data);
    free(ct);
    int log_fd = why ? -1 : open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!why && log_fd < 0)
        why = "Could not open the build log";
    if (why) {
        fail_with(d, fid, why, NULL);
        store_deployment_clear(&dep);
        return -1;
    }
    char origin[600], config_dir[600] = "";
    deploy__local_origin(d, origin, sizeof origin);
    if (dep.config_path && strchr(dep.config_path, '/')) {
        snprintf(config_dir, sizeof config_dir, "%s", dep.config_path);
        *strrchr(config_dir, '/') = 0;
    }
    const char *slug = strcmp(env->slug, "stg") == 0 ? "staging" : env->slug;
    char v_url[700], v_key[120], v_ref[80], v_dep[100], v_slug[40], v_cfg[700], v_dir[700];
    snprintf(v_url, sizeof v_url, "TRIGGER_API_URL=%s", origin);
    snprintf(v_key, sizeof v_key, "TRIGGER_SECRET_KEY=%s", auth_env_key(env));
    snprintf(v_ref, sizeof v_ref, "TRIGGER_PROJECT_REF=%s", env->project_ref);
    snprintf(v_dep, sizeof v_dep, "TRIGGER_DEPLOYMENT_ID=%s", fid);
    snprintf(v_slug, sizeof v_slug, "TRIGGERD_ENV_SLUG=%s", slug);
    snprintf(v_cfg, sizeof v_cfg, "TRIGGERD_CONFIG_FILE=%s", dep.config_path ? dep.config_path : "");
    snprintf(v_dir, sizeof v_dir, "TRIGGERD_CONFIG_DIR=%s", config_dir);
    char *extra[] = {v_url, v_key, v_ref, v_dep, v_slug, v_cfg, v_dir, "CI=1", NULL};
    char **envp = deploy__env(extra);
    char *args[] = {"/bin/sh", "-c", (char *)BUILD_SH, "sh", d->cur_work, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = log_fd},
        {.flags = UV_INHERIT_FD, .data.fd = log_fd},
    };
    uv_process_options_t o = {
        .exit_cb = on_build_exit,
        .file = args[0],
        .args = args,
        .env = envp,
        .cwd = d->cur_work,
        .stdio_count = 3,
        .stdio = stdio,
        .flags = UV_PROCESS_DETACHED, /* its own process group: a kill takes npm and node too */
    };
    d->build_proc.data = d;
    rc = uv_spawn(a->loop, &d->build_proc, &o);
    close(log_fd);
    deploy__env_free(envp);
    if (rc != 0) {
        fail_with(d, fid, "Could not start the build", uv_strerror(rc));
        store_deployment_clear(&dep);
        return -1;
    }
    snprintf(d->cur_fid, sizeof d->cur_fid, "%s", fid);
    snprintf(d->cur_env, sizeof d->cur_env, "%s", dep.env_id);
    d->building = true;
    engine_deploy_advance(a->en, fid, "BUILDING", time_now_ms());
    uv_timer_start(&d->build_timer, on_build_timeout, (uint64_t)build_timeout_ms(d), 0);
    store_deployment_clear(&dep);
    return 0;
}

static void build_next(deployer *d)
{
    while (!d->building && d->queue && !d->stopping) {
        build_job *j = d->queue;
        d->queue = j->next;
        build_spawn(d, j->fid);
        free(j);
    }
}

int deploy_build_start(app *a, const store_deployment *dep)
{
    deployer *d = a->deploy;
    if (!d)
        return -1;
    build_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    snprintf(j->fid, sizeof j->fid, "%s", dep->friendly_id);
    build_job **tail = &d->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;
    build_next(d);
    return 0;
}

int deploy_new(app *a)
{
    deployer *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->a = a;
    uv_timer_init(a->loop, &d->build_timer);
    d->build_timer.data = d;
    a->deploy = d;
    /* a build a restart cut short has no process to finish it */
    store_deployment *v = NULL;
    size_t n = 0;
    if (store_deployment_unfinished(a->st, &v, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            fail_with(d, v[i].friendly_id, "triggerd restarted during the build; deploy again",
                      NULL);
            store_deployment_clear(&v[i]);
        }
        free(v);
    }
    deploy__limits_init(d);
    deploy__pools_start(d);
    return 0;
}

void deploy_free(app *a)
{
    deployer *d = a->deploy;
    if (!d)
        return;
    a->deploy = NULL;
    d->stopping = true;
    for (build_job *j = d->queue, *next; j; j = next) {
        next = j->next;
        free(j);
    }
    d->queue = NULL;
    deploy__pools_stop(d);
    d->closing++; /* the timer */
    if (d->building) {
        d->closing++;
        uv_kill(-d->build_proc.pid, SIGKILL);
    }
    uv_close((uv_handle_t *)&d->build_timer, deploy__handle_closed);
}
