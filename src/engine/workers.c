/*
 * engine/workers.c - background workers: the task manifest a worker
 * registers (tasks, queues, retry and machine settings), versions in the
 * real platform's YYYYMMDD.N form, and deduplication by content hash.
 */
#include "engine/internal.h"
#include "engine/schedules.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/status.h"
#include "util/id.h"

/* The queue a task runs on: its own queue name, or "task/<id>". */
static const char *task_queue(json_t *task, char *buf, size_t cap)
{
    json_t *q = json_object_get(task, "queue");
    const char *name = json_string_value(json_object_get(q, "name"));
    if (name)
        return name;
    snprintf(buf, cap, "task/%s", json_string_value(json_object_get(task, "id")));
    return buf;
}

static int queue_limit(json_t *q)
{
    json_t *l = json_object_get(q, "concurrencyLimit");
    return json_is_integer(l) ? (int)json_integer_value(l) : -1;
}

static int save_queues(engine *en, const store_env *env, json_t *metadata)
{
    size_t i;
    json_t *q;
    char qid[32], fid[64], buf[300];
    json_array_foreach(json_object_get(metadata, "queues"), i, q)
    {
        const char *name = json_string_value(json_object_get(q, "name"));
        if (!name)
            continue;
        id_nanoid(qid, 21);
        id_friendly(fid, sizeof fid, "queue_", qid);
        if (store_queue_upsert(en->st, env->id, name, fid, queue_limit(q)))
            return ERR_STORE;
    }
    json_t *t;
    json_array_foreach(json_object_get(metadata, "tasks"), i, t)
    {
        json_t *tq = json_object_get(t, "queue");
        const char *name = task_queue(t, buf, sizeof buf);
        /* a named shared queue is declared in metadata.queues; a task's own
         * queue carries its limit on the task */
        if (json_object_get(tq, "name") && !json_object_get(tq, "concurrencyLimit"))
            continue;
        id_nanoid(qid, 21);
        id_friendly(fid, sizeof fid, "queue_", qid);
        if (store_queue_upsert(en->st, env->id, name, fid, queue_limit(tq)))
            return ERR_STORE;
    }
    return 0;
}

/* Queues again the PENDING_VERSION runs whose task this worker has. */
static int release_pending_version(engine *en, const store_env *env, json_t *tasks, int64_t now)
{
    store_run *runs = NULL;
    size_t n = 0;
    int rc = store_run_pending_version(en->st, env->id, &runs, &n);
    for (size_t i = 0; i < n; i++) {
        bool has = false;
        size_t k;
        json_t *t;
        json_array_foreach(tasks, k, t) if (strcmp(json_string_value(json_object_get(t, "id")),
                                                   runs[i].task) == 0) has = true;
        if (has && rc == 0) {
            runs[i].status = RUN_PENDING;
            runs[i].updated_at = now;
            rc = engine_save(en, &runs[i]);
        }
        store_run_clear(&runs[i]);
    }
    free(runs);
    return rc;
}

int engine_worker_register(engine *en, const store_env *env, json_t *metadata, const char *origin,
                           int64_t now, worker_info *out, err_t *e)
{
    return engine_worker_register_as(en, env, metadata, origin, NULL, now, out, e);
}

int engine_worker_register_as(engine *en, const store_env *env, json_t *metadata,
                              const char *origin, const char *as_version, int64_t now,
                              worker_info *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    const char *hash = json_string_value(json_object_get(metadata, "contentHash"));
    json_t *tasks = json_object_get(metadata, "tasks");
    if (!hash || !json_is_array(tasks))
        return err_set(e, ERR_INVALID, "metadata needs contentHash and tasks");
    size_t ti;
    json_t *tv;
    json_array_foreach(tasks, ti, tv)
    {
        const char *tid = json_string_value(json_object_get(tv, "id"));
        if (!tid || !*tid)
            return err_set(e, ERR_INVALID, "metadata.tasks[%zu] needs an id", ti);
    }
    store_worker w = {0};
    int rc = store_worker_latest(en->st, env->id, &w);
    if (rc == 0 && !as_version && strcmp(w.content_hash, hash) == 0)
        goto done;
    if (rc && rc != ERR_NOT_FOUND)
        return err_set(e, rc, "Something went wrong");
    store_worker_clear(&w);
    memset(&w, 0, sizeof w);
    char cuid[ID_CUID_LEN + 1], fid[64], version[32];
    id_cuid(cuid);
    id_friendly(fid, sizeof fid, "worker_", cuid);
    if (as_version)
        snprintf(version, sizeof version, "%s", as_version);
    else if ((rc = engine_day_version(en, env, now, store_worker_count_version_prefix, version)))
        return err_set(e, rc, "Something went wrong");
    char *tasks_text = jsontext_dumps(tasks, JSON_COMPACT);
    w.id = engine_strdup(cuid);
    w.friendly_id = engine_strdup(fid);
    w.env_id = engine_strdup(env->id);
    w.version = engine_strdup(version);
    w.content_hash = engine_strdup(hash);
    w.tasks = tasks_text;
    w.created_at = now;
    if ((rc = store_worker_insert(en->st, &w)) || (rc = save_queues(en, env, metadata)) ||
        (rc = release_pending_version(en, env, tasks, now))) {
        store_worker_clear(&w);
        return err_set(e, rc, "Something went wrong");
    }
    if ((rc = engine_schedules_sync(en, env, tasks, origin, now, e))) {
        store_worker_clear(&w);
        return rc;
    }
done:
    snprintf(out->id, sizeof out->id, "%s", w.friendly_id);
    snprintf(out->version, sizeof out->version, "%s", w.version);
    snprintf(out->content_hash, sizeof out->content_hash, "%s", w.content_hash);
    store_worker_clear(&w);
    return 0;
}
