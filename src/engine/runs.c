/*
 * engine/runs.c - the life of a run up to the moment a worker takes it:
 * trigger (idempotency, delay, TTL, tags, parent links), and the operations
 * the runs API offers on it (cancel, replay, reschedule, tags; metadata is
 * engine/runmeta.c).
 */
#include "engine/deploy.h"
#include "engine/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/queue.h"
#include "engine/status.h"
#include "util/id.h"
#include "util/timefmt.h"

/* Tags that are empty or only whitespace are dropped, as the real API does. */
static bool tag_blank(const char *t)
{
    if (!t)
        return true;
    for (; *t; t++)
        if (*t != ' ' && *t != '\t' && *t != '\n' && *t != '\r')
            return false;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Builds the sorted, deduplicated JSON array text of tags; blanks dropped. */
static char *tags_json(const char **tags, size_t n)
{
    const char **sorted = calloc(n ? n : 1, sizeof *sorted);
    if (!sorted)
        abort();
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!tag_blank(tags[i]))
            sorted[m++] = tags[i];
    qsort(sorted, m, sizeof *sorted, cmp_str);
    json_t *arr = json_array();
    for (size_t i = 0; i < m; i++)
        if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0)
            json_array_append_new(arr, json_string(sorted[i]));
    free(sorted);
    char *s = jsontext_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!s)
        abort();
    return s;
}

static int load_parent(engine *en, const store_env *env, const char *task, const char *parent_id,
                       store_run *parent, err_t *e)
{
    int rc = store_run_get(en->st, env->id, parent_id, parent);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_NOT_FOUND, "Parent run %s not found", parent_id);
    if (rc)
        return err_set(e, rc, "Something went wrong");
    if (status_is_final((run_status)parent->status)) {
        err_set(e, ERR_UNPROCESSABLE, "Cannot trigger %s as the parent run has a status of %s",
                task, status_api_name((run_status)parent->status, true));
        store_run_clear(parent);
        return ERR_UNPROCESSABLE;
    }
    return 0;
}

/* Blocks the triggering parent on an existing child (an idempotency hit). */
static int wait_on_existing(engine *en, const store_env *env, store_run *child,
                            const trigger_opts *o, int64_t now, err_t *e)
{
    if (o->batch_id) {
        int rc = engine_batch_item_wait_existing(en, child, o->parent_run_id, o->batch_id,
                                                 o->batch_index, now);
        return rc ? err_set(e, rc, "Something went wrong") : 0;
    }
    store_waitpoint w = {0};
    int rc = store_waitpoint_by_run(en->st, child->friendly_id, &w);
    if (rc == ERR_NOT_FOUND) {
        /* the child was not waited on before: make its waitpoint now */
        free(child->parent_id);
        child->parent_id = engine_strdup(o->parent_run_id);
        rc = engine_block_parent(en, child, o->batch_index, now);
        if (rc == 0 && status_is_final((run_status)child->status))
            rc = engine_settle_waitpoint(en, child, now); /* already over: its result at once */
    } else if (rc == 0) {
        rc = engine_wait_token(en, env, o->parent_run_id, w.friendly_id, now, e);
    }
    store_waitpoint_clear(&w);
    return rc && !e->code ? err_set(e, rc, "Something went wrong") : rc;
}

/* n random bytes as 2n lower-case hex digits (malloc'd): trace and span ids. */
static char *random_hex(size_t n)
{
    unsigned char b[16];
    char *hex = malloc(2 * n + 1);
    if (!hex || n > sizeof b)
        abort();
    id_random_bytes(b, n);
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return hex;
}

int engine_trigger(engine *en, const store_env *env, const trigger_opts *o, int64_t now,
                   trigger_result *res, err_t *e)
{
    int rc = 0;
    store_run r = {0}, parent = {0};
    memset(res, 0, sizeof *res);

    size_t n_tags = 0;
    for (size_t i = 0; i < o->n_tags; i++)
        n_tags += !tag_blank(o->tags[i]);
    if (n_tags > ENGINE_MAX_TAGS)
        return err_set(e, ERR_UNPROCESSABLE,
                       "Runs can only have %d tags, you're trying to set %zu.", ENGINE_MAX_TAGS,
                       n_tags);
    for (size_t i = 0; i < o->n_tags; i++)
        if (o->tags[i] && strlen(o->tags[i]) > ENGINE_TAG_MAX_LEN)
            return err_set(e, ERR_INVALID, "Tags must be at most %d characters long",
                           ENGINE_TAG_MAX_LEN);
    if (o->one_time_token && store_run_otu_used(en->st, o->one_time_token))
        return err_set(e, ERR_UNPROCESSABLE,
                       "Cannot trigger %s with a one-time use token as it has already been used.",
                       o->task);

    if (o->idempotency_key) {
        rc = store_run_by_idempotency(en->st, env->id, o->task, o->idempotency_key, &r);
        if (rc == 0) {
            if (r.idempotency_expires_at == 0 || r.idempotency_expires_at > now) {
                snprintf(res->run_id, sizeof res->run_id, "%s", r.friendly_id);
                res->is_cached = true;
                /* an idempotent triggerAndWait: the parent waits on the run
                 * the key already names, finished or not */
                if (o->resume_parent && o->parent_run_id)
                    rc = wait_on_existing(en, env, &r, o, now, e);
                store_run_clear(&r);
                return rc;
            }
            /* expired: the key is released and a new run takes it */
            r.idempotency_key = (free(r.idempotency_key), NULL);
            r.updated_at = now;
            rc = engine_save(en, &r);
            store_run_clear(&r);
            if (rc)
                return err_set(e, rc, "Something went wrong");
        } else if (rc != ERR_NOT_FOUND) {
            return err_set(e, rc, "Something went wrong");
        }
        memset(&r, 0, sizeof r);
    }

    int64_t delay_until = 0;
    if (o->delay && o->delay[0]) {
        if (time_parse_when(o->delay, now, &delay_until) != 0)
            return err_set(e, ERR_INVALID, "Invalid delay: %s", o->delay);
        if (delay_until <= now)
            delay_until = 0;
    }

    /* as the platform (queues.server.ts): a lock to a version no worker has
     * is refused, rather than a run no poll could ever take */
    if (o->lock_to_version && o->lock_to_version[0]) {
        store_worker lw = {0};
        rc = store_worker_by_version(en->st, env->id, o->lock_to_version, &lw);
        store_worker_clear(&lw);
        if (rc == ERR_NOT_FOUND)
            return err_set(e, ERR_UNPROCESSABLE,
                           "Task locked to version '%s', but no worker found with that version.",
                           o->lock_to_version);
        if (rc)
            return err_set(e, rc, "Something went wrong");
    }

    /* a deployed environment's runs lock to its current version at trigger,
     * so a later deploy does not change the code an older run runs on */
    char deployed[32];
    const char *lock = o->lock_to_version;
    if (!lock || !lock[0]) {
        engine_deploy_lock_version(en, env, deployed);
        lock = deployed[0] ? deployed : NULL;
    }

    if (o->parent_run_id) {
        rc = load_parent(en, env, o->task, o->parent_run_id, &parent, e);
        if (rc)
            return rc;
        /* triggerAndWait blocks the parent's attempt, so it needs one (batch
         * items wait through their batch, blocked at its creation) */
        if (o->resume_parent && !o->batch_id && !engine_run_executing(&parent)) {
            err_set(e, ERR_INVALID, "Cannot trigger %s and wait: the parent run %s is not executing",
                    o->task, parent.friendly_id);
            store_run_clear(&parent);
            return ERR_INVALID;
        }
    }

    char cuid[ID_CUID_LEN + 1];
    id_cuid(cuid);
    char fid[64];
    id_friendly(fid, sizeof fid, "run_", cuid);

    r.id = engine_strdup(cuid);
    r.friendly_id = engine_strdup(fid);
    r.env_id = engine_strdup(env->id);
    r.task = engine_strdup(o->task);
    r.payload = engine_strdup(o->payload);
    r.payload_type = engine_strdup(o->payload_type ? o->payload_type : "application/json");
    r.metadata = engine_strdup(o->metadata);
    r.metadata_type = engine_strdup(
        o->metadata ? (o->metadata_type ? o->metadata_type : "application/json") : NULL);
    r.seed_metadata = engine_strdup(o->metadata);
    r.seed_metadata_type = engine_strdup(r.metadata_type);
    if (o->queue && o->queue[0]) {
        r.queue = engine_strdup(o->queue);
    } else {
        char q[300];
        snprintf(q, sizeof q, "task/%s", o->task);
        r.queue = engine_strdup(q);
    }
    /* an empty key is no key: such runs share the queue's unkeyed unit */
    r.concurrency_key =
        engine_strdup(o->concurrency_key && o->concurrency_key[0] ? o->concurrency_key : NULL);
    if (o->idempotency_key) {
        r.idempotency_key = engine_strdup(o->idempotency_key);
        r.idempotency_key_user =
            engine_strdup(o->idempotency_key_user ? o->idempotency_key_user : o->idempotency_key);
        r.idempotency_expires_at =
            now +
            (o->idempotency_ttl_ms > 0 ? o->idempotency_ttl_ms : ENGINE_DEFAULT_IDEMPOTENCY_TTL_MS);
    }
    r.tags = tags_json(o->tags, o->n_tags);
    r.priority_ms = o->priority_ms;
    r.machine = engine_strdup(o->machine);
    r.max_attempts = o->max_attempts;
    r.max_duration_s = o->max_duration_s;
    r.is_test = o->test;
    if (o->ttl) {
        r.ttl = engine_strdup(o->ttl);
        r.ttl_ms = o->ttl_ms;
    } else if (strcmp(env->slug, "dev") == 0) {
        r.ttl = engine_strdup("10m"); /* runs.mdx: dev runs get a 10-minute TTL */
        r.ttl_ms = ENGINE_DEV_DEFAULT_TTL_MS;
    }
    if (r.ttl_ms <= 0)
        r.ttl = (free(r.ttl), NULL);
    r.created_at = o->created_at ? o->created_at : now;
    r.updated_at = now;
    r.schedule_id = engine_strdup(o->schedule_id);
    r.lock_to_version = engine_strdup(lock);
    r.one_time_token = engine_strdup(o->one_time_token);
    r.batch_id = engine_strdup(o->batch_id);
    r.trigger_function = engine_strdup(o->trigger_function ? o->trigger_function : "trigger");
    r.resume_parent = o->resume_parent;
    /* the run's span (the root of its trace) in the caller's trace, else a
     * new one; an attempt's spans are its children (api/dev.c traceparent) */
    r.trace_id = o->trace_id ? engine_strdup(o->trace_id) : random_hex(16);
    r.span_id = o->span_id ? engine_strdup(o->span_id) : random_hex(8);
    if (o->parent_run_id) {
        r.parent_id = engine_strdup(parent.friendly_id);
        r.root_id = engine_strdup(parent.root_id ? parent.root_id : parent.friendly_id);
        r.depth = parent.depth + 1;
        store_run_clear(&parent);
    }
    if (delay_until) {
        r.status = RUN_DELAYED;
        r.delay_until = delay_until;
        engine_arm(en, delay_until);
    } else {
        engine_enqueue(en, env, &r, now);
    }
    rc = engine_insert(en, &r);
    if (rc == 0 && o->resume_parent && r.parent_id)
        rc = engine_block_parent(en, &r, o->batch_index, now);
    if (rc) {
        err_set(e, rc, "Something went wrong");
        goto out;
    }
    snprintf(res->run_id, sizeof res->run_id, "%s", r.friendly_id);
out:
    store_run_clear(&r);
    return rc;
}

int engine_trigger_failed(engine *en, const store_env *env, const trigger_opts *o,
                          const char *reason, int64_t now, trigger_result *res)
{
    memset(res, 0, sizeof *res);
    store_run r = {0}, parent = {0};
    char cuid[ID_CUID_LEN + 1], fid[64], q[300];
    id_cuid(cuid);
    id_friendly(fid, sizeof fid, "run_", cuid);
    r.id = engine_strdup(cuid);
    r.friendly_id = engine_strdup(fid);
    r.env_id = engine_strdup(env->id);
    r.task = engine_strdup(o->task ? o->task : "");
    r.payload = engine_strdup(o->payload);
    r.payload_type = engine_strdup(o->payload_type ? o->payload_type : "application/json");
    snprintf(q, sizeof q, "task/%s", r.task);
    r.queue = engine_strdup(o->queue && o->queue[0] ? o->queue : q);
    r.tags = engine_strdup("[]"); /* what was given may be what is invalid */
    r.created_at = now;
    r.updated_at = now;
    r.batch_id = engine_strdup(o->batch_id);
    r.trigger_function = engine_strdup(o->trigger_function ? o->trigger_function : "trigger");
    r.resume_parent = o->resume_parent;
    if (o->parent_run_id && store_run_get(en->st, env->id, o->parent_run_id, &parent) == 0) {
        r.parent_id = engine_strdup(parent.friendly_id);
        r.root_id = engine_strdup(parent.root_id ? parent.root_id : parent.friendly_id);
        r.depth = parent.depth + 1;
    }
    store_run_clear(&parent);
    /* inserted outside the queue (not PENDING, so no dequeue unit sees it)
     * and finished at once, so its parent's wait is settled like any run's */
    r.status = RUN_PENDING_VERSION;
    char *err = engine_string_error(reason);
    int rc = engine_insert(en, &r);
    if (rc == 0 && o->resume_parent && r.parent_id)
        rc = engine_block_parent(en, &r, o->batch_index, now);
    if (rc == 0)
        rc = engine_finish(en, &r, RUN_SYSTEM_FAILURE, err, NULL, NULL, now);
    if (rc == 0)
        snprintf(res->run_id, sizeof res->run_id, "%s", r.friendly_id);
    free(err);
    store_run_clear(&r);
    return rc;
}

int engine_run_get(engine *en, const store_env *env, const char *run_id, store_run *r, err_t *e)
{
    int rc = store_run_get(en->st, env->id, run_id, r);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, rc, "Run not found");
    if (rc)
        return err_set(e, rc, "Something went wrong");
    return 0;
}

int engine_run_cancel(engine *en, const store_env *env, const char *run_id, int64_t now, err_t *e)
{
    store_run r = {0};
    int rc = engine_run_get(en, env, run_id, &r, e);
    if (rc)
        return rc;
    if ((rc = engine_cancel(en, &r, "Canceled by user", now)))
        err_set(e, rc, "Something went wrong");
    store_run_clear(&r);
    return rc;
}

int engine_run_replay(engine *en, const store_env *env, const char *run_id, int64_t now,
                      trigger_result *res, err_t *e)
{
    store_run r = {0};
    int rc = engine_run_get(en, env, run_id, &r, e);
    if (rc)
        return rc;
    json_t *tags = jsontext_loads(r.tags ? r.tags : "[]", 0, NULL);
    size_t n = json_is_array(tags) ? json_array_size(tags) : 0;
    const char **tv = calloc(n ? n : 1, sizeof *tv);
    if (!tv)
        abort();
    for (size_t i = 0; i < n; i++)
        tv[i] = json_string_value(json_array_get(tags, i));
    bool custom_queue = r.queue && strncmp(r.queue, "task/", 5) != 0;
    trigger_opts o = {
        .task = r.task,
        .payload = r.payload,
        .payload_type = r.payload_type,
        .queue = custom_queue ? r.queue : NULL,
        .concurrency_key = r.concurrency_key,
        .ttl = r.ttl,
        .ttl_ms = r.ttl_ms,
        .tags = tv,
        .n_tags = n,
        .metadata = r.seed_metadata,
        .metadata_type = r.seed_metadata_type,
        .priority_ms = r.priority_ms,
        .machine = r.machine,
        .max_attempts = r.max_attempts,
        .max_duration_s = r.max_duration_s,
        .test = r.is_test,
        /* not the lock: the platform locks a replay only when asked to */
    };
    rc = engine_trigger(en, env, &o, now, res, e);
    free(tv);
    json_decref(tags);
    store_run_clear(&r);
    return rc;
}

int engine_run_reschedule(engine *en, const store_env *env, const char *run_id, int64_t at,
                          int64_t now, err_t *e)
{
    store_run r = {0};
    int rc = engine_run_get(en, env, run_id, &r, e);
    if (rc)
        return rc;
    if (r.status != RUN_DELAYED) {
        rc = err_set(e, ERR_INVALID, "Cannot reschedule a run that is not delayed");
        goto out;
    }
    r.updated_at = now;
    if (at <= now) {
        engine_enqueue(en, env, &r, now);
    } else {
        r.delay_until = at;
        engine_arm(en, at);
    }
    rc = engine_save(en, &r);
    if (rc)
        err_set(e, rc, "Something went wrong");
out:
    store_run_clear(&r);
    return rc;
}

int engine_run_add_tags(engine *en, const store_env *env, const char *run_id, const char **tags,
                        size_t n, int64_t now, size_t *added, err_t *e)
{
    store_run r = {0};
    *added = 0;
    int rc = engine_run_get(en, env, run_id, &r, e);
    if (rc)
        return rc;
    json_t *have = jsontext_loads(r.tags ? r.tags : "[]", 0, NULL);
    if (!json_is_array(have)) {
        json_decref(have);
        have = json_array();
    }
    size_t old = json_array_size(have);
    const char **all = calloc(old + n + 1, sizeof *all);
    if (!all)
        abort();
    size_t m = 0;
    for (size_t i = 0; i < old; i++)
        all[m++] = json_string_value(json_array_get(have, i));
    size_t fresh = 0;
    for (size_t i = 0; i < n; i++) {
        if (tag_blank(tags[i]))
            continue;
        bool dup = false;
        for (size_t k = 0; k < m && !dup; k++)
            dup = strcmp(all[k], tags[i]) == 0;
        if (!dup) {
            all[m++] = tags[i];
            fresh++;
        }
    }
    if (m > ENGINE_MAX_TAGS) {
        char rest[1024] = "";
        for (size_t i = ENGINE_MAX_TAGS; i < m; i++) {
            strncat(rest, i > ENGINE_MAX_TAGS ? ", " : "", sizeof rest - strlen(rest) - 1);
            strncat(rest, all[i], sizeof rest - strlen(rest) - 1);
        }
        rc = err_set(e, ERR_UNPROCESSABLE,
                     "Runs can only have %d tags, you're trying to set %zu. These tags have not "
                     "been set: %s.",
                     ENGINE_MAX_TAGS, m, rest);
        goto out;
    }
    if (fresh) {
        free(r.tags);
        r.tags = tags_json(all, m);
        r.updated_at = now;
        rc = engine_save(en, &r);
        if (!rc)
            rc = store_run_tags_add(en->st, r.seq, r.tags);
        if (rc)
            err_set(e, rc, "Something went wrong");
    }
    *added = fresh;
out:
    free(all);
    json_decref(have);
    store_run_clear(&r);
    return rc;
}

int engine_idempotency_reset(engine *en, const store_env *env, const char *key, const char *task,
                             err_t *e)
{
    int64_t n = 0;
    int rc = store_run_clear_idempotency(en->st, env->id, task, key, &n);
    if (rc)
        return err_set(e, rc, "Something went wrong");
    if (n == 0)
        return err_set(e, ERR_NOT_FOUND, "No runs found with idempotency key: %s and task: %s", key,
                       task);
    return 0;
}
