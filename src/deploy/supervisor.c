/*
 * deploy/supervisor.c - keeps worker processes warm for every promoted
 * deployment: `node <bundle>/managed-run-controller.mjs` in the build's
 * output dir, configured as the platform's supervisor configures it in a
 * container (TRIGGER_* env, see docs/deploy.md), pointed back at triggerd
 * for the workload API and warm starts (api/deploy.c). Each process
 * presents a random secret as its runner and controller id; that secret is
 * the only credential of the workload routes. A process that exits is
 * started again (with backoff when it keeps crashing); a pool whose
 * deployment is no longer promoted lingers while runs locked to its
 * version are open (their retries, resumptions and triggerAndWait children
 * run on it), then drains: SIGTERM makes the controller finish its run and
 * not take another, and it is not restarted.
 */
#include "deploy/internal.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "store/store.h"
#include "engine/deploy.h"
#include "util/id.h"
#include "util/jsontext.h"
#include "util/timefmt.h"

#define POOL_MAX 16
#define RESTART_MIN_MS 200
#define RESTART_MAX_MS 10000
#define HEALTHY_MS 30000

typedef struct wproc {
    pool *p;
    uv_process_t proc;
    uv_timer_t restart;
    bool alive;
    bool idle;    /* its warm start is waiting for a run */
    bool retired; /* an extra process sent away when the pool shrank: not restarted */
    int fails;
    int64_t started_at;
    char secret[48];
    char cgroup[128]; /* its slot's cgroup under the limits tree, once made */
} wproc;

struct pool {
    deployer *d;
    char env_id[32];
    char fid[64];
    char worker_id[64];
    char version[32];
    char content_hash[160];
    char run_controller[1200];
    char out_dir[1200];
    char machine[32]; /* the preset its processes are sized for */
    double cpu, memory_gb;
    machine_filter mf; /* the runs' presets it takes */
    bool draining;  /* SIGTERM sent: processes finish their run and end */
    bool lingering; /* no longer promoted; kept while runs locked to it are open */
    int cap_logged; /* said once that it is at POOL_MAX */
    uv_timer_t linger;
    size_t n;    /* slots in use (processes, alive or being restarted) */
    size_t base; /* the warm size; extra slots come and go with load */
    int open_handles;
    wproc w[POOL_MAX];
    pool *next;
};

static void proc_start(wproc *w);

/* The machine presets (machines.mdx): vCPU and GB of memory. */
static const struct {
    const char *name;
    double cpu, memory;
} presets[] = {
    {"micro", 0.25, 0.25}, {"small-1x", 0.5, 0.5}, {"small-2x", 1, 1},  {"medium-1x", 1, 2},
    {"medium-2x", 2, 4},   {"large-1x", 4, 8},     {"large-2x", 8, 16},
};

#define DEFAULT_PRESET "small-1x"

static bool preset_of(const char *name, double *cpu, double *mem)
{
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (strcmp(presets[i].name, name) == 0) {
            *cpu = presets[i].cpu;
            *mem = presets[i].memory;
            return true;
        }
    return false;
}

static void pool_unlink_free(pool *p)
{
    deployer *d = p->d;
    for (pool **pp = &d->pools; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p);
}

static void on_pool_handle_closed(uv_handle_t *h)
{
    pool *p = h->data;
    if (--p->open_handles == 0) {
        deployer *d = p->d;
        pool_unlink_free(p);
        if (d->stopping && --d->closing == 0)
            free(d);
    }
}

/* Closes a drained pool's handles once no process of it runs. */
static void pool_maybe_close(pool *p)
{
    if (!p->draining || p->open_handles)
        return;
    for (size_t i = 0; i < p->n; i++)
        if (p->w[i].alive)
            return;
    p->open_handles = (int)p->n + 1;
    for (size_t i = 0; i < p->n; i++) {
        if (p->w[i].cgroup[0])
            deploy__limits_release(p->d, p->w[i].cgroup);
        p->w[i].restart.data = p;
        uv_close((uv_handle_t *)&p->w[i].restart, on_pool_handle_closed);
    }
    p->linger.data = p;
    uv_close((uv_handle_t *)&p->linger, on_pool_handle_closed);
}

static void on_proc_closed(uv_handle_t *h)
{
    wproc *w = h->data;
    w->alive = false;
    pool *p = w->p;
    w->idle = false;
    if (p->draining) {
        pool_maybe_close(p);
        return;
    }
    if (w->retired)
        return;
    int64_t ran = time_now_ms() - w->started_at;
    if (ran > HEALTHY_MS)
        w->fails = 0;
    int64_t delay = RESTART_MIN_MS;
    for (int i = 0; i < w->fails && delay < RESTART_MAX_MS; i++)
        delay *= 2;
    if (delay > RESTART_MAX_MS)
        delay = RESTART_MAX_MS;
    w->fails++;
    uv_timer_start(&w->restart, (uv_timer_cb)proc_start, (uint64_t)delay, 0);
}

static void on_proc_exit(uv_process_t *proc, int64_t status, int sig)
{
    wproc *w = proc->data;
    /* what the controller left behind in its process group (a task process
     * it had forked ahead for the next run) goes with it */
    uv_kill(-proc->pid, SIGKILL);
    if (!w->p->draining && (status != 0 || sig != 0)) {
        w->p->d->crashed++;
        fprintf(stderr, "triggerd: worker %.8s of %s exited (status %lld, signal %d)\n",
                w->secret, w->p->fid, (long long)status, sig);
    }
    uv_close((uv_handle_t *)proc, on_proc_closed);
}

static void proc_start(wproc *w)
{
    /* a uv_timer callback with the timer as argument: find the wproc */
    w = (wproc *)((char *)w - offsetof(wproc, restart));
    pool *p = w->p;
    deployer *d = p->d;
    if (p->draining || d->stopping || w->alive)
        return;
    const store_env *env = auth_env_by_id(d->a->au, p->env_id);
    if (!env)
        return;
    unsigned char raw[20];
    id_random_bytes(raw, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(w->secret + 2 * i, 3, "%02x", raw[i]);
    char origin[600], port[16];
    deploy__local_origin(d, origin, sizeof origin);
    snprintf(port, sizeof port, "%d", d->a->cfg.listen_port);
    int64_t now = time_now_ms();
    char v[24][1400];
    int k = 0;
#define SETV(...) snprintf(v[k++], sizeof v[0], __VA_ARGS__)
    SETV("TRIGGER_CONTENT_HASH=%s", p->content_hash);
    SETV("TRIGGER_PROJECT_ID=%s", env->project_id);
    SETV("TRIGGER_PROJECT_REF=%s", env->project_ref);
    SETV("TRIGGER_DEPLOYMENT_ID=%s", p->fid);
    SETV("TRIGGER_DEPLOYMENT_VERSION=%s", p->version);
    SETV("TRIGGER_ENV_ID=%s", env->id);
    SETV("OTEL_EXPORTER_OTLP_ENDPOINT=%s/otel", origin);
    SETV("TRIGGER_WARM_START_URL=%s", origin);
    SETV("TRIGGER_MACHINE_CPU=%g", p->cpu);
    SETV("TRIGGER_MACHINE_MEMORY=%g", p->memory_gb);
    SETV("TRIGGER_RUNNER_ID=%s", w->secret);
    SETV("TRIGGER_WORKLOAD_CONTROLLER_ID=%s", w->secret);
    SETV("TRIGGER_POD_SCHEDULED_AT_MS=%lld", (long long)now);
    SETV("TRIGGER_DEQUEUED_AT_MS=%lld", (long long)now);
    SETV("TRIGGER_SUPERVISOR_API_PROTOCOL=http");
    SETV("TRIGGER_SUPERVISOR_API_DOMAIN=127.0.0.1");
    SETV("TRIGGER_SUPERVISOR_API_PORT=%s", port);
    SETV("TRIGGER_WORKER_INSTANCE_NAME=triggerd-%s", p->version);
    /* run:notify on /workload tells of changes at once; the poll is the fallback */
    SETV("TRIGGER_SNAPSHOT_POLL_INTERVAL_SECONDS=2");
    /* three heartbeats per stall deadline, as the default 20 s to 60 s */
    int64_t hb = d->a->cfg.heartbeat_timeout_ms > 0 ? d->a->cfg.heartbeat_timeout_ms / 3000 : 20;
    SETV("TRIGGER_HEARTBEAT_INTERVAL_SECONDS=%lld", (long long)(hb > 0 ? hb : 1));
#undef SETV
    char *extra[25];
    for (int i = 0; i < k; i++)
        extra[i] = v[i];
    extra[k] = NULL;
    char **envp = deploy__env(extra);
    char log_path[1300];
    snprintf(log_path, sizeof log_path, "%s/../workers.log", p->out_dir);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    /* The preset's limits (limits.c): the slot's cgroup, which the shell
     * joins before it execs node, so the controller and the task process
     * it forks are in it from their start. Else (or when joining fails) a
     * data limit (RLIMIT_DATA: private writable memory, heap and buffers)
     * on both, with half a GB over the preset for the two Node runtimes
     * themselves. Either way the task's JS heap is capped tighter by the
     * controller (--max-old-space-size from TRIGGER_MACHINE_MEMORY). Not
     * RLIMIT_AS: Node's WebAssembly (fetch's HTTP parser) reserves
     * gigabytes of address space it never uses. */
    char limit_kb[32], cg_dir[1300];
    snprintf(limit_kb, sizeof limit_kb, "%lld", (long long)((0.5 + p->memory_gb) * 1048576));
    if (!w->cgroup[0])
        snprintf(w->cgroup, sizeof w->cgroup, "%s-%s-%d", p->fid, p->machine,
                 (int)(w - p->w));
    bool cg = deploy__limits_slot(d, w->cgroup, p->cpu, p->memory_gb, cg_dir, sizeof cg_dir) == 0;
    char *args[] = {"/bin/sh",
                    "-c",
                    cg ? "{ echo $$ >\"$3/cgroup.procs\"; } 2>/dev/null || ulimit -d \"$1\";"
                         " exec node \"$2\""
                       : "ulimit -d \"$1\" && exec node \"$2\"",
                    "sh",
                    limit_kb,
                    p->run_controller,
                    cg ? cg_dir : NULL,
                    NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = fd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = fd},
        {.flags = fd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = fd},
    };
    uv_process_options_t o = {
        .exit_cb = on_proc_exit,
        .file = args[0],
        .args = args,
        .env = envp,
        .cwd = p->out_dir,
        .stdio_count = 3,
        .stdio = stdio,
        .flags = UV_PROCESS_DETACHED, /* its own group: the task processes go with it */
    };
    w->proc.data = w;
    int rc = uv_spawn(d->a->loop, &w->proc, &o);
    if (fd >= 0)
        close(fd);
    deploy__env_free(envp);
    if (rc != 0) {
        fprintf(stderr, "triggerd: cannot start a worker of %s: %s\n", p->fid, uv_strerror(rc));
        w->fails++;
        uv_timer_start(&w->restart, (uv_timer_cb)proc_start, RESTART_MAX_MS, 0);
        return;
    }
    w->alive = true;
    w->started_at = now;
    d->started++;
}

/* Reads the run controller's path from <work>/entry.json. */
static int read_entry(deployer *d, pool *p)
{
    char work[1100], path[1200];
    deploy__work_dir(d, p->fid, work, sizeof work);
    snprintf(path, sizeof path, "%s/entry.json", work);
    json_error_t je;
    json_t *e = json_load_file(path, 0, &je);
    const char *rc = json_string_value(json_object_get(e, "runController"));
    if (!rc) {
        json_decref(e);
        return -1;
    }
    snprintf(p->run_controller, sizeof p->run_controller, "%s", rc);
    snprintf(p->out_dir, sizeof p->out_dir, "%s/out", work);
    json_decref(e);
    return 0;
}

/* One pool of dep for machine preset machine, taking the runs mf lets through. */
static void pool_add(deployer *d, const store_deployment *dep, const char *machine,
                     const machine_filter *mf, int64_t size)
{
    pool *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->d = d;
    snprintf(p->env_id, sizeof p->env_id, "%s", dep->env_id);
    snprintf(p->fid, sizeof p->fid, "%s", dep->friendly_id);
    snprintf(p->worker_id, sizeof p->worker_id, "%s", dep->worker_id);
    snprintf(p->version, sizeof p->version, "%s", dep->version);
    snprintf(p->content_hash, sizeof p->content_hash, "%s", dep->content_hash);
    snprintf(p->machine, sizeof p->machine, "%s", machine);
    preset_of(machine, &p->cpu, &p->memory_gb);
    p->mf = *mf;
    if (read_entry(d, p) != 0) {
        fprintf(stderr, "triggerd: deployment %s has no built bundle; not started\n", p->fid);
        free(p);
        return;
    }
    p->n = p->base = (size_t)size;
    p->next = d->pools;
    d->pools = p;
    uv_timer_init(d->a->loop, &p->linger);
    p->linger.data = p;
    for (size_t i = 0; i < p->n; i++) {
        p->w[i].p = p;
        uv_timer_init(d->a->loop, &p->w[i].restart);
        proc_start((wproc *)&p->w[i].restart);
    }
}

/* The pools of dep: one for the default preset, which also takes runs on
 * presets no task declares (a machine given at trigger time), and one per
 * other preset its tasks declare. */
static void pool_start(deployer *d, const store_deployment *dep)
{
    int64_t size = d->a->cfg.deploy_pool;
    if (size < 0 || !dep->worker_id)
        return;
    if (size == 0)
        size = DEPLOY_DEFAULT_POOL;
    if (size > POOL_MAX)
        size = POOL_MAX;
    machine_filter def = {0}, one = {0};
    store_worker w = {0};
    if (store_worker_get(d->a->st, dep->env_id, dep->worker_id, &w) == 0) {
        json_t *tasks = jsontext_loads(w.tasks ? w.tasks : "[]", 0, NULL);
        size_t i;
        json_t *t;
        json_array_foreach(tasks, i, t)
        {
            /* the task's machine, and the one it is retried on after running
             * out of memory (engine/retry.c) */
            const char *ms[2] = {
                json_string_value(json_object_get(json_object_get(t, "machine"), "preset")),
                json_string_value(json_object_get(
                    json_object_get(json_object_get(t, "retry"), "outOfMemory"), "machine")),
            };
            for (size_t j = 0; j < 2; j++) {
                const char *m = ms[j];
                double cpu, mem;
                if (!m || strcmp(m, DEFAULT_PRESET) == 0 || !preset_of(m, &cpu, &mem))
                    continue;
                bool seen = false;
                for (size_t k = 0; k < def.n_except; k++)
                    seen = seen || strcmp(def.except[k], m) == 0;
                if (seen || def.n_except == MACHINE_SET_MAX)
                    continue;
                snprintf(def.except[def.n_except++], sizeof def.except[0], "%s", m);
            }
        }
        json_decref(tasks);
    }
    store_worker_clear(&w);
    pool_add(d, dep, DEFAULT_PRESET, &def, size);
    for (size_t k = 0; k < def.n_except; k++) {
        memset(&one, 0, sizeof one);
        snprintf(one.only, sizeof one.only, "%s", def.except[k]);
        pool_add(d, dep, def.except[k], &one, size);
    }
}

static void pool_drain(pool *p)
{
    if (p->draining)
        return;
    p->draining = true;
    p->lingering = false;
    uv_timer_stop(&p->linger);
    for (size_t i = 0; i < p->n; i++) {
        uv_timer_stop(&p->w[i].restart);
        if (p->w[i].alive)
            uv_process_kill(&p->w[i].proc, SIGTERM);
    }
    pool_maybe_close(p);
}

#define LINGER_CHECK_MS 2000

static void on_linger(uv_timer_t *t)
{
    pool *p = t->data;
    if (!engine_deploy_version_busy(p->d->a->en, p->env_id, p->version))
        pool_drain(p);
}

/* A pool whose deployment is no longer promoted: drained once no run
 * locked to its version is open (checked every LINGER_CHECK_MS). */
static void pool_retire(pool *p)
{
    if (p->draining || p->lingering)
        return;
    if (!engine_deploy_version_busy(p->d->a->en, p->env_id, p->version)) {
        pool_drain(p);
        return;
    }
    p->lingering = true;
    uv_timer_start(&p->linger, on_linger, LINGER_CHECK_MS, LINGER_CHECK_MS);
}

void deploy__pools_start(deployer *d)
{
    store_deployment *v = NULL;
    size_t n = 0;
    if (store_deployment_promoted_all(d->a->st, &v, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        pool_start(d, &v[i]);
        store_deployment_clear(&v[i]);
    }
    free(v);
    /* older versions with runs still locked to them linger as before the restart */
    v = NULL;
    n = 0;
    if (store_deployment_unpromoted(d->a->st, &v, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (engine_deploy_version_busy(d->a->en, v[i].env_id, v[i].version)) {
            pool_start(d, &v[i]);
            for (pool *p = d->pools; p; p = p->next)
                if (strcmp(p->fid, v[i].friendly_id) == 0)
                    pool_retire(p);
        }
        store_deployment_clear(&v[i]);
    }
    free(v);
}

void deploy__pools_stop(deployer *d)
{
    for (pool *p = d->pools, *next; p; p = next) {
        next = p->next;
        d->closing++;
        for (size_t i = 0; i < p->n; i++)
            if (p->w[i].alive)
                uv_kill(-p->w[i].proc.pid, SIGKILL);
        pool_drain(p); /* may free p */
    }
}

void deploy_promoted(app *a, const char *env_id)
{
    deployer *d = a->deploy;
    if (!d)
        return;
    const store_env *env = auth_env_by_id(a->au, env_id);
    if (!env)
        return;
    store_deployment cur = {0};
    err_t e = {0};
    if (engine_deploy_current(a->en, env, &cur, &e) != 0) {
        store_deployment_clear(&cur);
        return;
    }
    bool have = false;
    for (pool *p = d->pools, *next; p; p = next) {
        next = p->next;
        if (strcmp(p->env_id, env_id) != 0 || p->draining)
            continue;
        if (strcmp(p->fid, cur.friendly_id) == 0) {
            have = true;
            p->lingering = false; /* promoted again */
            uv_timer_stop(&p->linger);
        } else {
            pool_retire(p);
        }
    }
    if (!have)
        pool_start(d, &cur);
    store_deployment_clear(&cur);
}

/* Starts one more process in p (a retired slot again, or a new one). */
static void pool_grow(pool *p)
{
    wproc *w = NULL;
    for (size_t i = p->base; i < p->n && !w; i++)
        if (p->w[i].retired && !p->w[i].alive)
            w = &p->w[i];
    if (!w && p->n < POOL_MAX) {
        w = &p->w[p->n++];
        w->p = p;
        uv_timer_init(p->d->a->loop, &w->restart);
    }
    if (!w) {
        /* no checkpoints: every process holds its run through its waits,
         * so further runs of this version and preset wait in the queue */
        if (!p->cap_logged++)
            fprintf(stderr, "triggerd: %s's %s pool is at its %d processes; more runs wait\n",
                p->fid, p->machine, POOL_MAX);
        return;
    }
    w->retired = false;
    w->fails = 0;
    proc_start((wproc *)&w->restart);
}

bool deploy_runner_busy(app *a, const char *secret, bool busy)
{
    deployer *d = a->deploy;
    if (!d || !secret)
        return false;
    for (pool *p = d->pools; p; p = p->next)
        for (size_t i = 0; i < p->n; i++) {
            wproc *w = &p->w[i];
            if (!w->alive || strcmp(w->secret, secret) != 0)
                continue;
            w->idle = !busy;
            size_t idle = 0;
            for (size_t k = 0; k < p->n; k++)
                idle += p->w[k].alive && p->w[k].idle && !p->w[k].retired;
            if (p->draining)
                return true;
            if (busy && idle == 0) {
                pool_grow(p); /* the next run finds a warm process */
            } else if (!busy && i >= p->base && idle > 1) {
                w->retired = true; /* back towards the warm size */
                w->idle = false;
                uv_process_kill(&w->proc, SIGTERM);
                return false;
            }
            return true;
        }
    return false;
}

const deploy_runner *deploy_runner_find(app *a, const char *secret)
{
    deployer *d = a->deploy;
    if (!d || !secret || strlen(secret) != 40)
        return NULL;
    for (pool *p = d->pools; p; p = p->next)
        for (size_t i = 0; i < p->n; i++)
            if (p->w[i].alive && strcmp(p->w[i].secret, secret) == 0) {
                d->found.env = auth_env_by_id(a->au, p->env_id);
                if (!d->found.env)
                    return NULL;
                snprintf(d->found.deployment_id, sizeof d->found.deployment_id, "%s", p->fid);
                snprintf(d->found.worker_id, sizeof d->found.worker_id, "%s", p->worker_id);
                snprintf(d->found.version, sizeof d->found.version, "%s", p->version);
                d->found.machines = p->mf;
                return &d->found;
            }
    return NULL;
}
