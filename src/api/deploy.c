/*
 * api/deploy.c - deployments (docs/deploy.md): the routes `trigger.dev
 * deploy --native-build-server` calls (artifact, upload, initialize, get,
 * background worker, fail, promote), the SDK's deployments list and current
 * (spec/api.md [50], [51]), and the workload API the deployed worker
 * processes speak (warm starts, attempts, heartbeats, snapshots). The
 * workload routes authenticate by the per-process secret deploy/supervisor.c
 * hands its processes, then run the dev protocol's handlers (api/dev.c) for
 * that process's environment: the engine calls are the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "deploy/deploy.h"
#include "engine/deploy.h"
#include "realtime/realtime.h"
#include "util/id.h"
#include "util/jsontext.h"
#include "util/timefmt.h"

#define ARTIFACT_MAX (200LL * 1024 * 1024)
#define ARTIFACT_TTL_MS (60LL * 60 * 1000)

static void set_iso(json_t *o, const char *k, int64_t ms)
{
    char buf[32];
    time_format_iso(ms, buf);
    json_object_set_new(o, k, json_string(buf));
}

/* Deployments belong to deployed environments. */
static bool deployable(http_ctx *c)
{
    if (strcmp(c->auth.env->type, "DEVELOPMENT") == 0) {
        http_reply_error(c, 400, "Deployments are for the staging and prod environments, not dev");
        return false;
    }
    return true;
}

static bool load(http_ctx *c, const char *key, store_deployment *d)
{
    err_t e = {0};
    if (engine_deploy_get(c->app->en, c->auth.env, key, d, &e) != 0) {
        http_reply_err(c, &e);
        return false;
    }
    return true;
}

/* GET /api/v1/projects/{ref}/{env}/deploy-settings (CLI 4.8): which build
 * path a plain `trigger.dev deploy` takes. triggerd has only one: it builds
 * the uploaded archive itself ("native"), so no flag is needed. */
void api_deploy_settings(http_ctx *c)
{
    store_project p = {0};
    if (store_project_get(c->app->st, &p) != 0 || strcmp(p.ref, http_param(c, 0)) != 0) {
        http_reply_error(c, 404, "Project not found");
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s}", "build_path", "native"));
}

/* ---- artifacts ---------------------------------------------------------- */

/* POST /api/v1/artifacts: where to upload the deployment archive. */
void api_artifacts_create(http_ctx *c)
{
    if (!deployable(c))
        return;
    json_t *body = http_json(c);
    if (!body)
        return;
    const char *type = json_string_value(json_object_get(body, "type"));
    json_t *len = json_object_get(body, "contentLength");
    if (!type || strcmp(type, "deployment_context") != 0) {
        http_reply_error(c, 400, "Invalid artifact type");
        return;
    }
    /* a JSON real (1e12 with a fraction) is a length too: check any number */
    if (len && (!json_is_number(len) || json_number_value(len) < 0)) {
        http_reply_error(c, 400, "Invalid contentLength");
        return;
    }
    if (len && json_number_value(len) > (double)ARTIFACT_MAX) {
        http_reply_error(c, 400, "Artifact too large (the limit is 200 MB)");
        return;
    }
    char nid[32];
    id_nanoid(nid, 21);
    const char *key = http_sprintf(c, "artifacts/%s/%s.tar.gz", c->auth.env->id, nid);
    json_t *r = json_pack("{s:s,s:s,s:{}}", "artifactKey", key, "uploadUrl",
                          api_object_url(c, "POST", key, ARTIFACT_TTL_MS), "uploadFields");
    set_iso(r, "expiresAt", c->now + ARTIFACT_TTL_MS);
    http_reply_json(c, 200, r);
}

/* The body of the multipart part named name. */
static bool multipart_part(http_ctx *c, const char *name, const char **data, size_t *len)
{
    const char *ct = http_header(c, "content-type");
    const char *b = ct ? strstr(ct, "boundary=") : NULL;
    if (!b)
        return false;
    b += 9;
    size_t bl = strcspn(b, ";");
    if (bl && b[0] == '"' && b[bl - 1] == '"') {
        b++;
        bl -= 2;
    }
    char *delim = http_sprintf(c, "\r\n--%.*s", (int)bl, b);
    size_t dl = strlen(delim);
    h2o_iovec_t body = http_body(c);
    const char *p = body.base, *end = body.base + body.len;
    if (!p || body.len < dl - 2 || memcmp(p, delim + 2, dl - 2) != 0)
        return false;
    p += dl - 2;
    char *want = http_sprintf(c, "name=\"%s\"", name);
    while (p < end) {
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend)
            return false;
        const char *start = hend + 4;
        const char *next = memmem(start, (size_t)(end - start), delim, dl);
        if (!next)
            return false;
        if (memmem(p, (size_t)(hend - p), want, strlen(want))) {
            *data = start;
            *len = (size_t)(next - start);
            return true;
        }
        p = next + dl;
    }
    return false;
}

static void upload_done(http_ctx *c, int rc, const char *data, size_t len, const char *ct)
{
    (void)data, (void)len, (void)ct;
    if (rc) {
        api_object_error(c, rc);
        return;
    }
    http_reply_raw(c, 204, NULL, "", 0);
}

/* POST /objects/<key>?method=POST&...: the archive upload, a form post as
 * to S3 (the CLI appends uploadFields, then "file"). */
void api_objects_post(http_ctx *c)
{
    const char *m = http_query(c, "method"), *exp = http_query(c, "expires"),
               *sig = http_query(c, "sig");
    if (!m || !exp || !sig || strcmp(m, "POST") != 0 ||
        objstore_verify(c->app->os, "POST", http_param(c, 0), strtoll(exp, NULL, 10), sig,
                        c->now) != 0) {
        http_reply_error(c, 403, "Invalid signature");
        return;
    }
    const char *data;
    size_t len;
    if (!multipart_part(c, "file", &data, &len)) {
        http_reply_error(c, 400, "Expected a multipart form with a file field");
        return;
    }
    api_object_put(c, http_param(c, 0), data, len, "application/gzip", upload_done);
}

/* ---- the CLI's deployment routes ---------------------------------------- */

static json_t *error_json(const store_deployment *d)
{
    json_t *e = d->error ? jsontext_loads(d->error, 0, NULL) : NULL;
    return json_is_object(e) ? e : (json_decref(e), NULL);
}

/* GetDeploymentResponseBody */
static json_t *deployment_json(http_ctx *c, const store_deployment *d)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:n}", "id", d->friendly_id, "status",
                          d->status, "contentHash", d->content_hash, "shortCode", d->short_code,
                          "version", d->version, "imagePlatform", "linux/amd64", "imageReference");
    json_t *err = error_json(d);
    if (err)
        json_object_set_new(o, "errorData", err);
    if (d->worker_id) {
        store_worker w = {0};
        if (store_worker_get(c->app->st, c->auth.env->id, d->worker_id, &w) == 0) {
            json_t *tasks = json_array(), *all = jsontext_loads(w.tasks ? w.tasks : "[]", 0, NULL);
            size_t i;
            json_t *t;
            json_array_foreach(all, i, t)
            {
                json_t *x = json_pack("{s:O,s:O,s:O}", "id", json_object_get(t, "id"), "slug",
                                      json_object_get(t, "id"), "filePath",
                                      json_object_get(t, "filePath"));
                if (!x)
                    continue;
                if (json_is_string(json_object_get(t, "exportName")))
                    json_object_set(x, "exportName", json_object_get(t, "exportName"));
                json_array_append_new(tasks, x);
            }
            json_decref(all);
            json_object_set_new(o, "worker", json_pack("{s:s,s:s,s:o}", "id", w.friendly_id,
                                                       "version", w.version, "tasks", tasks));
        }
        store_worker_clear(&w);
    }
    return o;
}

/* POST /api/v1/deployments (initializeDeployment). Only native builds:
 * triggerd builds the archive itself; there is no image registry. */
void api_deployments_create(http_ctx *c)
{
    if (!deployable(c))
        return;
    json_t *body = http_json(c);
    if (!body)
        return;
    if (!json_is_true(json_object_get(body, "isNativeBuild"))) {
        http_reply_error(c, 400,
                         "triggerd builds deployments itself and has no image registry: run "
                         "`trigger.dev deploy --native-build-server`");
        return;
    }
    const char *key = json_string_value(json_object_get(body, "artifactKey"));
    const char *prefix = http_sprintf(c, "artifacts/%s/", c->auth.env->id);
    if (!key || strncmp(key, prefix, strlen(prefix)) != 0 || !objstore_key_valid(key)) {
        http_reply_error(c, 400, "artifactKey is required (upload the deployment files first)");
        return;
    }
    json_t *git = json_object_get(body, "gitMeta");
    char *git_text = json_is_object(git) ? jsontext_dumps(git, JSON_COMPACT) : NULL;
    deploy_opts o = {
        .content_hash = json_string_value(json_object_get(body, "contentHash")),
        .artifact_key = key,
        .config_path = json_string_value(json_object_get(body, "configFilePath")),
        .git = git_text,
        .runtime = json_string_value(json_object_get(body, "runtime")),
        .triggered_via = json_string_value(json_object_get(body, "triggeredVia")),
        .skip_promotion = json_is_true(json_object_get(body, "skipPromotion")),
    };
    if (o.config_path && (strstr(o.config_path, "..") || o.config_path[0] == '/')) {
        free(git_text);
        http_reply_error(c, 400, "Invalid configFilePath");
        return;
    }
    store_deployment d = {0};
    err_t e = {0};
    int rc = engine_deploy_create(c->app->en, c->auth.env, &o, c->now, &d, &e);
    free(git_text);
    if (rc) {
        http_reply_err(c, &e);
        return;
    }
    deploy_build_start(c->app, &d);
    /* no eventStream: the CLI's log stream is S2's cloud (it takes no
     * endpoint), so it reports the deployment queued and exits */
    http_reply_json(c, 200,
                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", d.friendly_id, "contentHash",
                              d.content_hash, "shortCode", d.short_code, "version", d.version,
                              "imageTag", "", "imagePlatform", "linux/amd64"));
    store_deployment_clear(&d);
}

/* GET /api/v1/deployments/{id} */
void api_deployments_get(http_ctx *c)
{
    store_deployment d = {0};
    if (!load(c, http_param(c, 0), &d))
        return;
    http_reply_json(c, 200, deployment_json(c, &d));
    store_deployment_clear(&d);
}

/* GET /api/v1/deployments/latest */
void api_deployments_latest(http_ctx *c)
{
    store_deployment d = {0};
    int rc = store_deployment_latest(c->app->st, c->auth.env->id, &d);
    if (rc) {
        store_deployment_clear(&d);
        http_reply_error(c, rc == ERR_NOT_FOUND ? 404 : 500,
                         rc == ERR_NOT_FOUND ? "Deployment not found" : "Something went wrong");
        return;
    }
    http_reply_json(c, 200, deployment_json(c, &d));
    store_deployment_clear(&d);
}

/* POST /api/v1/deployments/{id}/background-workers: the index controller
 * of the build registers the deployment's worker. */
void api_deployments_worker(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *md = json_object_get(body, "metadata");
    if (!json_is_object(md)) {
        http_reply_json(c, 400, json_pack("{s:s,s:[]}", "error", "Invalid body", "issues"));
        return;
    }
    worker_info wi;
    err_t e = {0};
    if (engine_deploy_register(c->app->en, c->auth.env, http_param(c, 0), md, http_origin(c),
                               c->now, &wi, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200,
                    json_pack("{s:s,s:s,s:s}", "id", wi.id, "version", wi.version, "contentHash",
                              wi.content_hash));
}

/* POST /api/v1/deployments/{id}/fail */
void api_deployments_fail(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    json_t *err = json_object_get(body, "error");
    if (!json_is_object(err) || !json_is_string(json_object_get(err, "message"))) {
        http_reply_error(c, 400, "error {name, message} is required");
        return;
    }
    err_t e = {0};
    if (engine_deploy_fail(c->app->en, c->auth.env, http_param(c, 0), err, c->now, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    /* as cancel: a build still queued or running for it would only hold
     * the queue (its end finds the deployment final and changes nothing) */
    deploy_build_cancel(c->app, http_param(c, 0));
    http_reply_json(c, 200, json_pack("{s:s}", "id", http_param(c, 0)));
}

/* POST /api/v1/deployments/{id}/cancel: {reason?} (optional body) -> 204 */
void api_deployments_cancel(http_ctx *c)
{
    h2o_iovec_t b = http_body(c);
    json_t *body = b.len ? http_json(c) : NULL;
    if (b.len && !body)
        return;
    json_t *reason = json_object_get(body, "reason");
    if (reason && (!json_is_string(reason) || json_string_length(reason) > 200)) {
        http_reply_error(c, 400, "Invalid request body");
        return;
    }
    err_t e = {0};
    store_deployment d = {0};
    int rc = engine_deploy_get(c->app->en, c->auth.env, http_param(c, 0), &d, &e);
    if (rc == 0)
        rc = engine_deploy_end(c->app->en, c->auth.env, d.friendly_id, "CANCELED", NULL, c->now,
                               &e);
    if (rc == 0)
        deploy_build_cancel(c->app, d.friendly_id);
    store_deployment_clear(&d);
    if (rc == ERR_CONFLICT)
        http_reply_error(c, 409, "Deployment is already in a final state and cannot be canceled");
    else if (rc)
        http_reply_err(c, &e);
    else
        http_reply_raw(c, 204, "text/plain", "", 0);
}

/* POST /api/v1/deployments/{version}/promote */
void api_deployments_promote(http_ctx *c)
{
    store_deployment d = {0};
    err_t e = {0};
    if (engine_deploy_promote(c->app->en, c->auth.env, http_param(c, 0), c->now, &d, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    deploy_promoted(c->app, c->auth.env->id);
    http_reply_json(c, 200, json_pack("{s:s,s:s,s:s}", "id", d.friendly_id, "version", d.version,
                                      "shortCode", d.short_code));
    store_deployment_clear(&d);
}

/* ---- the SDK's deployments list and current (spec/api.md 6.10) ---------- */

static json_t *list_item(const store_deployment *d)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:n,s:s}", "id", d->friendly_id, "shortCode",
                          d->short_code, "version", d->version, "runtime",
                          d->runtime ? d->runtime : "node", "runtimeVersion", "status", d->status);
    set_iso(o, "createdAt", d->created_at);
    if (d->deployed_at)
        set_iso(o, "deployedAt", d->deployed_at);
    json_t *git = d->git ? jsontext_loads(d->git, 0, NULL) : NULL;
    if (json_is_object(git))
        json_object_set_new(o, "git", git);
    else
        json_decref(git);
    json_t *err = error_json(d);
    if (err)
        json_object_set_new(o, "error", err);
    return o;
}

/* GET /api/v1/deployments/current */
void api_deployments_current(http_ctx *c)
{
    store_deployment d = {0};
    err_t e = {0};
    if (engine_deploy_current(c->app->en, c->auth.env, &d, &e) != 0) {
        store_deployment_clear(&d);
        http_reply_err(c, &e);
        return;
    }
    http_reply_json(c, 200, list_item(&d));
    store_deployment_clear(&d);
}

/* GET /api/v1/deployments */
void api_deployments_list(http_ctx *c)
{
    const char *after = http_query(c, "page[after]"), *size = http_query(c, "page[size]");
    const char *status = http_query(c, "status");
    int64_t limit = size ? strtoll(size, NULL, 10) : 20;
    if (limit < 5 || limit > 100) {
        http_reply_error(c, 400, "page[size] must be between 5 and 100");
        return;
    }
    int64_t before = 0, from = 0, to = 0;
    if (after) {
        store_deployment a = {0};
        if (!load(c, after, &a))
            return;
        before = a.seq;
        store_deployment_clear(&a);
    }
    const char *k_from = http_query(c, "from"), *k_to = http_query(c, "to"),
               *k_period = http_query(c, "period");
    int64_t ms = 0;
    if ((k_from && time_parse_iso(k_from, &from) != 0) ||
        (k_to && time_parse_iso(k_to, &to) != 0) || (k_period && dur_parse(k_period, &ms) != 0)) {
        http_reply_error(c, 400, "Invalid from, to or period");
        return;
    }
    if (k_period)
        from = c->now - ms;
    store_deployment *v = NULL;
    size_t n = 0;
    if (store_deployment_list(c->app->st, c->auth.env->id, status, before, from, to, limit + 1, &v,
                              &n) != 0) {
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    json_t *data = json_array(), *pag = json_object();
    for (size_t i = 0; i < n; i++) {
        if ((int64_t)i < limit)
            json_array_append_new(data, list_item(&v[i]));
        else
            json_object_set_new(pag, "next", json_string(v[i - 1].friendly_id));
        store_deployment_clear(&v[i]);
    }
    free(v);
    http_reply_json(c, 200, json_pack("{s:o,s:o}", "data", data, "pagination", pag));
}

/* ---- the workload API of deployed worker processes ---------------------- */

/* Authenticates a worker process by its secret header; replies 401 if not. */
static const deploy_runner *runner(http_ctx *c, const char *header)
{
    const deploy_runner *r = deploy_runner_find(c->app, http_header(c, header));
    if (!r) {
        http_reply_error(c, 401, "Unknown workload runner");
        return NULL;
    }
    c->auth.kind = AUTH_SECRET;
    c->auth.env = r->env;
    return r;
}

#define RUNNER_H "x-trigger-workload-runner-id"

void api_workload_attempt_start(http_ctx *c)
{
    if (!runner(c, RUNNER_H))
        return;
    api_attempt_start(c);
    deploy_runner_busy(c->app, http_header(c, RUNNER_H), true);
}

void api_workload_attempt_complete(http_ctx *c)
{
    if (runner(c, RUNNER_H))
        api_attempt_complete(c);
}

void api_workload_heartbeat(http_ctx *c)
{
    if (runner(c, RUNNER_H))
        api_heartbeat(c);
}

void api_workload_debug_log(http_ctx *c)
{
    if (runner(c, RUNNER_H))
        http_reply_raw(c, 204, NULL, "", 0);
}

/* Checkpoints are not taken: the process stays alive through its waits
 * (the controller's answer to ok:false is to stay alive). */
void api_workload_suspend(http_ctx *c)
{
    if (runner(c, RUNNER_H))
        http_reply_json(c, 200, json_pack("{s:b,s:s}", "ok", 0, "error",
                                          "triggerd keeps waiting runs' processes alive"));
}

/* GET .../runs/{run}/snapshots/since/{snapshot}: the run's latest snapshot
 * when it is not that one (triggerd keeps only the latest). */
void api_workload_snapshots_since(http_ctx *c)
{
    if (!runner(c, RUNNER_H))
        return;
    store_run r = {0};
    err_t e = {0};
    if (engine_run_get(c->app->en, c->auth.env, http_param(c, 0), &r, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    json_t *list = json_array();
    if (r.snapshot_id && strcmp(r.snapshot_id, http_param(c, 1)) != 0)
        json_array_append_new(list, api_execution_data(&r));
    store_run_clear(&r);
    http_reply_json(c, 200, json_pack("{s:o}", "snapshots", list));
}

/* GET /connect (warm-start service): how long a warm start may wait. The
 * client re-polls after connectionTimeoutMs; keepaliveMs is the process's
 * whole idle life, which for a warm pool is "forever" (a day, then the
 * supervisor starts it again). */
void api_warm_connect(http_ctx *c)
{
    http_reply_json(c, 200, json_pack("{s:i,s:i}", "connectionTimeoutMs", 20000, "keepaliveMs",
                                      24 * 3600 * 1000));
}

/* GET /warm-start: the next run for this process, held until there is one. */
void api_warm_start(http_ctx *c)
{
    const deploy_runner *r = runner(c, "x-trigger-workload-controller-id");
    if (!r)
        return;
    deploy_runner r_copy = *r; /* the next call may reuse it */
    if (!deploy_runner_busy(c->app, http_header(c, "x-trigger-workload-controller-id"), false)) {
        http_reply_error(c, 503, "Worker retired");
        return;
    }
    /* answered after the dequeue's commit, before its fsync, as the dev
     * attempt start and libtrigger's dequeues are: a dequeue a crash loses
     * only hands the run out again (and the crash took this process with
     * it). One fsync less between a trigger and its start. */
    c->lazy_durable = true;
    api_dev_hold_one(c, r_copy.worker_id, &r_copy.machines);
}
