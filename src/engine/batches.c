/*
 * engine/batches.c - batches: the two-phase streaming batch (create with a
 * run count, then items that are deduplicated by index until the batch is
 * sealed) and the one-shot batch built on it.
 */
#include "engine/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/status.h"
#include "util/id.h"

int engine_batch_create(engine *en, const store_env *env, const batch_create_opts *o, int64_t now,
                        batch_create_result *res, err_t *e)
{
    memset(res, 0, sizeof *res);
    if (o->one_time_token && store_batch_otu_used(en->st, o->one_time_token))
        return err_set(e, ERR_UNPROCESSABLE,
                       "Cannot create batch with a one-time use token as it has already been "
                       "used.");
    store_batch b = {0};
    if (o->idempotency_key) {
        int rc = store_batch_by_idempotency(en->st, env->id, o->idempotency_key, &b);
        if (rc == 0) {
            snprintf(res->batch_id, sizeof res->batch_id, "%s", b.friendly_id);
            res->is_cached = true;
            res->run_count = b.run_count;
            store_batch_clear(&b);
            return 0;
        }
        if (rc != ERR_NOT_FOUND)
            return err_set(e, rc, "Something went wrong");
    }
    if (o->parent_run_id) {
        store_run parent = {0};
        int rc = store_run_get(en->st, env->id, o->parent_run_id, &parent);
        bool executing = rc == 0 && engine_run_executing(&parent);
        store_run_clear(&parent);
        if (rc)
            return err_set(e, ERR_NOT_FOUND, "Parent run %s not found", o->parent_run_id);
        if (o->resume_parent && !executing)
            return err_set(e, ERR_INVALID,
                           "Cannot batch trigger and wait: the parent run %s is not executing",
                           o->parent_run_id);
    }
    char cuid[ID_CUID_LEN + 1], fid[64];
    id_cuid(cuid);
    id_friendly(fid, sizeof fid, "batch_", cuid);
    b.id = engine_strdup(cuid);
    b.friendly_id = engine_strdup(fid);
    b.env_id = engine_strdup(env->id);
    b.status = engine_strdup("PENDING");
    b.run_count = o->run_count;
    b.idempotency_key = engine_strdup(o->idempotency_key);
    b.created_at = now;
    b.updated_at = now;
    b.parent_run_id = engine_strdup(o->parent_run_id);
    b.resume_parent = o->resume_parent;
    b.one_time_token = engine_strdup(o->one_time_token);
    b.errors = engine_strdup("[]");
    b.version = engine_strdup(o->version ? o->version : "v3");
    int rc = store_batch_insert(en->st, &b);
    if (rc == 0 && o->resume_parent && o->parent_run_id)
        rc = engine_batch_wait(en, env, b.friendly_id, o->parent_run_id, now);
    if (rc)
        err_set(e, rc, "Something went wrong");
    else {
        snprintf(res->batch_id, sizeof res->batch_id, "%s", b.friendly_id);
        res->run_count = b.run_count;
    }
    store_batch_clear(&b);
    return rc;
}

/* A sealed batch is PENDING while any of its runs is unfinished, then
 * COMPLETED (the status stored at sealing, which also tells partial
 * failures). Derived on read, so no write is needed when runs end. */
static int live_status(engine *en, store_batch *b)
{
    if (!b->sealed || strcmp(b->status, "COMPLETED") != 0)
        return 0;
    int64_t open[RUN_STATUS_COUNT];
    size_t n = 0;
    for (int s = 0; s < RUN_STATUS_COUNT; s++)
        if (!status_is_final((run_status)s))
            open[n++] = s;
    int64_t count = 0;
    int rc = store_batch_count_runs(en->st, b->friendly_id, open, n, &count);
    if (rc == 0 && count > 0) {
        free(b->status);
        b->status = engine_strdup("PENDING");
    }
    return rc;
}

int engine_batch_get(engine *en, const store_env *env, const char *batch_id, store_batch *b,
                     err_t *e)
{
    int rc = store_batch_get(en->st, env->id, batch_id, b);
    if (rc == 0)
        rc = live_status(en, b);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, rc, "Batch not found");
    if (rc)
        return err_set(e, rc, "Something went wrong");
    return 0;
}

int engine_batch_results(engine *en, const store_env *env, const char *batch_id, store_batch *b,
                         store_run **runs, size_t *n, err_t *e)
{
    *runs = NULL;
    *n = 0;
    int rc = engine_batch_get(en, env, batch_id, b, e);
    if (rc)
        return rc;
    char **ids = NULL;
    size_t cnt = 0;
    if ((rc = store_batch_run_ids(en->st, b->id, &ids, &cnt))) {
        store_batch_clear(b);
        return err_set(e, rc, "Something went wrong, please try again.");
    }
    store_run *out = calloc(cnt ? cnt : 1, sizeof *out);
    if (!out)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (rc == 0 && store_run_get(en->st, env->id, ids[i], &out[k]) == 0) {
            if (status_is_final((run_status)out[k].status))
                k++;
            else
                store_run_clear(&out[k]);
        }
        free(ids[i]);
    }
    free(ids);
    *runs = out;
    *n = k;
    return 0;
}

/* Appends {index, taskIdentifier, error} to the batch's errors. */
static void record_error(store_batch *b, int64_t idx, const char *task, const char *msg)
{
    json_t *errs = jsontext_loads(b->errors ? b->errors : "[]", 0, NULL);
    if (!json_is_array(errs)) {
        json_decref(errs);
        errs = json_array();
    }
    json_array_append_new(errs, json_pack("{s:I,s:s,s:s}", "index", (json_int_t)idx,
                                          "taskIdentifier", task ? task : "", "error", msg));
    free(b->errors);
    b->errors = jsontext_dumps(errs, JSON_COMPACT);
    json_decref(errs);
}

/* Triggers one item unless its index is taken; *dup tells. */
static int add_item(engine *en, const store_env *env, store_batch *b, batch_item *it, int64_t now,
                    bool *dup, err_t *e)
{
    trigger_opts *o = &it->opts;
    if (it->index < 0 || it->index >= b->run_count)
        return err_set(e, ERR_UNPROCESSABLE, "Item index %lld is out of range for a batch of %lld",
                       (long long)it->index, (long long)b->run_count);
    /* claim the index first so a retried stream cannot create twice */
    int rc = store_batch_item_add(en->st, b->id, it->index, NULL, dup);
    if (rc || *dup)
        return rc ? err_set(e, rc, "Something went wrong") : 0;
    o->batch_id = b->friendly_id;
    o->batch_index = it->index;
    if (b->parent_run_id && !o->parent_run_id)
        o->parent_run_id = b->parent_run_id;
    o->resume_parent = b->resume_parent;
    o->trigger_function = b->resume_parent ? "batchTriggerAndWait" : "batchTrigger";
    trigger_result tr;
    err_t ie = {0};
    int trc = engine_trigger(en, env, o, now, &tr, &ie);
    if (trc == ERR_STORE)
        return err_set(e, trc, "Something went wrong");
    if (trc) {
        /* the item still gets a run, failed, so its index has a result */
        record_error(b, it->index, o->task, ie.msg);
        if ((rc = engine_trigger_failed(en, env, o, ie.msg, now, &tr)))
            return err_set(e, rc, "Something went wrong");
    }
    if ((rc = store_batch_item_set_run(en->st, b->id, it->index, tr.run_id)))
        return err_set(e, rc, "Something went wrong");
    b->items_accepted++;
    return 0;
}

/* Seals b when it holds every item: its status follows the item errors. */
static void seal(store_batch *b, int64_t now)
{
    if (b->sealed || b->items_accepted < b->run_count)
        return;
    b->sealed = 1;
    json_t *errs = jsontext_loads(b->errors ? b->errors : "[]", 0, NULL);
    size_t nerr = json_array_size(errs);
    json_decref(errs);
    free(b->status);
    /* runs are queued as items arrive, so a sealed batch is processed */
    b->status = engine_strdup(nerr == 0                      ? "COMPLETED"
                              : nerr >= (size_t)b->run_count ? "ABORTED"
                                                             : "PARTIAL_FAILED");
    b->completed_at = now;
}

int engine_batch_add(engine *en, const store_env *env, const char *batch_id, batch_item *items,
                     size_t n, int64_t now, batch_add_result *res, err_t *e)
{
    store_batch b = {0};
    memset(res, 0, sizeof *res);
    /* the stored row, not the derived status: it is written back below */
    int rc = store_batch_get(en->st, env->id, batch_id, &b);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_UNPROCESSABLE, "Batch %s not found", batch_id);
    if (rc)
        return err_set(e, rc, "Something went wrong");
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool dup = b.sealed != 0;
        if (!dup && (rc = add_item(en, env, &b, &items[i], now, &dup, e)))
            break;
        if (dup)
            res->deduplicated++;
        else
            res->accepted++;
    }
    /* the items accepted before a bad one are kept (their indexes are
     * claimed and their runs exist), so the count is saved even when the
     * stream failed part-way; the retried stream then seals the batch */
    int item_rc = rc;
    rc = 0;
    if (res->accepted) {
        seal(&b, now);
        b.updated_at = now;
        if ((rc = store_batch_update(en->st, &b)))
            err_set(e, rc, "Something went wrong");
    }
    res->enqueued = b.items_accepted;
    res->expected = b.run_count;
    res->sealed = b.sealed;
    if (rc == 0 && b.sealed && (rc = engine_batch_check_done(en, b.friendly_id, now)))
        err_set(e, rc, "Something went wrong");
    if (rc == 0)
        rc = item_rc;
    store_batch_clear(&b);
    return rc;
}
