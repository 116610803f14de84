/*
 * Unit tests for engine/deploy.c and store/deployments.c: versions numbered
 * YYYYMMDD.N per environment and day, the status rules (final is final,
 * only DEPLOYED promotes, no worker means FAILED), promotion and the
 * version new runs lock to; engine/retry.c's out-of-memory retry (which
 * errors are OOM, when a run goes again on a larger machine).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/deploy.h"
#include "engine/retry.h"
#include "store/store.h"

static char dir[64];
static store *st;
static engine *en;
static uv_loop_t loop;
static const store_env prod = {.id = "env_prod", .project_id = "p", .project_ref = "proj_x",
                               .slug = "prod", .type = "PRODUCTION", .api_key = "tr_prod_x"};
static const store_env stg = {.id = "env_stg", .project_id = "p", .project_ref = "proj_x",
                              .slug = "stg", .type = "STAGING", .api_key = "tr_stg_x"};
static const store_env dev = {.id = "env_dev", .project_id = "p", .project_ref = "proj_x",
                              .slug = "dev", .type = "DEVELOPMENT", .api_key = "tr_dev_x"};

/* 2025-11-25T12:00:00Z */
#define NOW 1764072000000LL

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/td-unit-deploy-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/db", dir);
    store_options o = {.path = path, .sync_full = false};
    st = store_open(&o);
    cr_assert_not_null(st);
    uv_loop_init(&loop);
    en = engine_new(st, &loop);
    cr_assert_not_null(en);
}

static void teardown(void)
{
    engine_free(en);
    uv_loop_close(&loop);
    store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void create(const store_env *env, bool skip, int64_t now, store_deployment *d)
{
    deploy_opts o = {.content_hash = "-", .artifact_key = "artifacts/e/a.tar.gz",
                     .skip_promotion = skip};
    err_t e = {0};
    cr_assert_eq(engine_deploy_create(en, env, &o, now, d, &e), 0, "%s", e.msg);
}

static void register_worker(const store_env *env, const store_deployment *d)
{
    json_t *md = json_pack("{s:s,s:s,s:[{s:s,s:s}],s:[]}", "contentHash", "h1", "packageVersion",
                           "4.5.0", "tasks", "id", "t", "filePath", "src/t.ts", "queues");
    worker_info wi;
    err_t e = {0};
    cr_assert_eq(engine_deploy_register(en, env, d->friendly_id, md, NULL, NOW, &wi, &e), 0, "%s",
                 e.msg);
    cr_assert_str_eq(wi.version, d->version);
    json_decref(md);
}

TestSuite(deploy, .init = setup, .fini = teardown);

Test(deploy, versions_count_per_environment_and_day)
{
    store_deployment a = {0}, b = {0}, c = {0}, n = {0};
    create(&prod, false, NOW, &a);
    create(&prod, false, NOW + 1000, &b);
    create(&stg, false, NOW, &c);
    create(&prod, false, NOW + 24 * 3600 * 1000LL, &n);
    cr_assert_str_eq(a.version, "20251125.1");
    cr_assert_str_eq(b.version, "20251125.2");
    cr_assert_str_eq(c.version, "20251125.1");
    cr_assert_str_eq(n.version, "20251126.1");
    cr_assert_str_eq(a.status, "PENDING");
    cr_assert(strncmp(a.friendly_id, "deployment_", 11) == 0);
    store_deployment g = {0};
    err_t e = {0};
    cr_assert_eq(engine_deploy_get(en, &prod, "20251125.2", &g, &e), 0);
    cr_assert_str_eq(g.friendly_id, b.friendly_id);
    store_deployment_clear(&g);
    cr_assert_eq(engine_deploy_get(en, &stg, b.friendly_id, &g, &e), ERR_NOT_FOUND,
                 "another environment's deployment is not found");
    store_deployment_clear(&a);
    store_deployment_clear(&b);
    store_deployment_clear(&c);
    store_deployment_clear(&n);
}

Test(deploy, a_final_deployment_stays_final)
{
    store_deployment d = {0}, g = {0};
    create(&prod, false, NOW, &d);
    json_t *err = json_pack("{s:s,s:s}", "name", "BuildError", "message", "boom");
    err_t e = {0};
    cr_assert_eq(engine_deploy_fail(en, &prod, d.friendly_id, err, NOW, &e), 0);
    cr_assert_eq(engine_deploy_fail(en, &prod, d.friendly_id, err, NOW, &e), ERR_CONFLICT);
    cr_assert_eq(engine_deploy_advance(en, d.friendly_id, "BUILDING", NOW), 0);
    cr_assert_eq(engine_deploy_get(en, &prod, d.friendly_id, &g, &e), 0);
    cr_assert_str_eq(g.status, "FAILED");
    cr_assert(strstr(g.error, "boom"));
    store_deployment_clear(&g);
    cr_assert_eq(engine_deploy_finish(en, d.friendly_id, NOW, &e), ERR_CONFLICT);
    cr_assert_eq(engine_deploy_promote(en, &prod, d.version, NOW, &g, &e), ERR_INVALID);
    json_decref(err);
    store_deployment_clear(&d);
}

Test(deploy, finishing_without_a_worker_fails_the_deployment)
{
    store_deployment d = {0}, g = {0};
    create(&prod, false, NOW, &d);
    err_t e = {0};
    cr_assert_neq(engine_deploy_finish(en, d.friendly_id, NOW, &e), 0);
    cr_assert_eq(engine_deploy_get(en, &prod, d.friendly_id, &g, &e), 0);
    cr_assert_str_eq(g.status, "FAILED");
    store_deployment_clear(&g);
    store_deployment_clear(&d);
}

Test(deploy, deployed_is_promoted_and_new_runs_lock_to_it)
{
    store_deployment d = {0}, g = {0};
    char lock[32];
    engine_deploy_lock_version(en, &prod, lock);
    cr_assert_str_eq(lock, "", "never deployed: no lock");
    create(&prod, false, NOW, &d);
    register_worker(&prod, &d);
    err_t e = {0};
    cr_assert_eq(engine_deploy_get(en, &prod, d.friendly_id, &g, &e), 0);
    cr_assert_str_eq(g.status, "DEPLOYING");
    cr_assert_not_null(g.worker_id);
    store_deployment_clear(&g);
    json_t *md = json_pack("{s:s,s:[]}", "contentHash", "h2", "tasks");
    worker_info wi;
    cr_assert_eq(engine_deploy_register(en, &prod, d.friendly_id, md, NULL, NOW, &wi, &e),
                 ERR_CONFLICT, "one worker per deployment");
    json_decref(md);
    cr_assert_eq(engine_deploy_finish(en, d.friendly_id, NOW, &e), 0);
    cr_assert_eq(engine_deploy_current(en, &prod, &g, &e), 0);
    cr_assert_str_eq(g.friendly_id, d.friendly_id);
    cr_assert_str_eq(g.status, "DEPLOYED");
    store_deployment_clear(&g);
    engine_deploy_lock_version(en, &prod, lock);
    cr_assert_str_eq(lock, d.version);
    engine_deploy_lock_version(en, &dev, lock);
    cr_assert_str_eq(lock, "", "dev runs never lock to a deployment");
    cr_assert_not(engine_deploy_version_busy(en, prod.id, d.version));
    store_deployment_clear(&d);
}

Test(deploy, skip_promotion_keeps_the_current_version_until_promoted)
{
    store_deployment a = {0}, b = {0}, g = {0};
    err_t e = {0};
    create(&prod, false, NOW, &a);
    register_worker(&prod, &a);
    cr_assert_eq(engine_deploy_finish(en, a.friendly_id, NOW, &e), 0);
    create(&prod, true, NOW + 1, &b);
    register_worker(&prod, &b);
    cr_assert_eq(engine_deploy_finish(en, b.friendly_id, NOW + 1, &e), 0);
    cr_assert_eq(engine_deploy_current(en, &prod, &g, &e), 0);
    cr_assert_str_eq(g.version, a.version);
    store_deployment_clear(&g);
    cr_assert_eq(engine_deploy_promote(en, &prod, b.version, NOW + 2, &g, &e), 0);
    store_deployment_clear(&g);
    cr_assert_eq(engine_deploy_current(en, &prod, &g, &e), 0);
    cr_assert_str_eq(g.version, b.version);
    store_deployment_clear(&g);
    cr_assert_eq(engine_deploy_promote(en, &prod, a.version, NOW + 3, &g, &e), 0,
                 "an older DEPLOYED version can be promoted back");
    store_deployment_clear(&g);
    store_deployment_clear(&a);
    store_deployment_clear(&b);
}

static bool oom(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    cr_assert_not_null(j, "%s", json);
    bool r = engine_error_is_oom(j);
    json_decref(j);
    return r;
}

Test(oom, errors_the_platform_counts_as_out_of_memory)
{
    cr_assert(oom("{\"type\":\"INTERNAL_ERROR\",\"code\":\"TASK_PROCESS_OOM_KILLED\"}"));
    cr_assert(oom("{\"type\":\"INTERNAL_ERROR\",\"code\":\"TASK_PROCESS_MAYBE_OOM_KILLED\"}"));
    /* the kernel's OOM killer (a cgroup's memory.max) */
    cr_assert(oom("{\"type\":\"INTERNAL_ERROR\",\"code\":\"TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE\","
                  "\"message\":\"Process exited with code -1 after signal SIGKILL.\"}"));
    /* V8 at its heap limit (--max-old-space-size from the preset) */
    cr_assert(oom("{\"type\":\"INTERNAL_ERROR\",\"code\":\"TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE\","
                  "\"message\":\"Process exited with code -1 after signal SIGABRT.\","
                  "\"stackTrace\":\"FATAL ERROR: Reached heap limit Allocation failed\"}"));
    cr_assert(oom("{\"type\":\"BUILT_IN_ERROR\",\"name\":\"OutOfMemoryError\","
                  "\"message\":\"MANUAL_OOM_KILL_ERROR\"}"));
    cr_assert_not(oom("{\"type\":\"INTERNAL_ERROR\",\"code\":\"TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE\","
                      "\"message\":\"Process exited with code -1 after signal SIGABRT.\"}"),
                  "an abort that is not the heap limit");
    cr_assert_not(oom("{\"type\":\"INTERNAL_ERROR\",\"code\":\"TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE\","
                      "\"message\":\"Process exited with code 1 after signal null.\"}"));
    cr_assert_not(oom("{\"type\":\"BUILT_IN_ERROR\",\"name\":\"Error\",\"message\":\"boom\"}"));
    cr_assert_not(oom("{\"type\":\"INTERNAL_ERROR\"}"));
    cr_assert_not(oom("{}"));
}

Test(oom, retried_once_on_the_machine_the_task_names)
{
    json_t *retry = json_loads("{\"maxAttempts\":3,\"minTimeoutInMs\":100,\"factor\":2,"
                               "\"randomize\":false,\"outOfMemory\":{\"machine\":\"large-1x\"}}",
                               0, NULL);
    const char *m = NULL;
    cr_assert_eq(engine_oom_retry(retry, "micro", 1, 0.5, &m), 100);
    cr_assert_str_eq(m, "large-1x");
    cr_assert_eq(engine_oom_retry(retry, "small-1x", 2, 0.5, &m), 200);
    cr_assert_eq(engine_oom_retry(retry, "large-1x", 1, 0.5, &m), -1,
                 "already on that machine: fails");
    cr_assert_null(m);
    cr_assert_eq(engine_oom_retry(retry, "micro", 3, 0.5, &m), -1, "no attempts left");
    json_decref(retry);
    retry = json_loads("{\"outOfMemory\":{\"machine\":\"small-2x\"}}", 0, NULL);
    int64_t d = engine_oom_retry(retry, "small-1x", 1, 0.5, &m);
    cr_assert_eq(d, 1500, "the SDK's defaults (1 s, randomized), got %lld", (long long)d);
    json_decref(retry);
    retry = json_loads("{\"maxAttempts\":5}", 0, NULL);
    cr_assert_eq(engine_oom_retry(retry, "small-1x", 1, 0.5, &m), -1, "no outOfMemory machine");
    json_decref(retry);
    cr_assert_eq(engine_oom_retry(NULL, "small-1x", 1, 0.5, &m), -1, "no retry settings");
}
