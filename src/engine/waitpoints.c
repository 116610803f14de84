/*
 * engine/waitpoints.c - waitpoints: things a run can wait on. Today the
 * tokens of wait.createToken (completed by the API, by their callback URL,
 * or by their timeout); waits of running tasks on them come with the worker
 * protocol.
 */
#include "engine/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/status.h"
#include "util/id.h"
#include "util/timefmt.h"

static int new_waitpoint(engine *en, const char *env_id, const char *type, store_waitpoint *w,
                         int64_t now);

static char *tags_text(const char **tags, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (tags[i] && tags[i][0])
            json_array_append_new(arr, json_string(tags[i]));
    char *s = jsontext_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!s)
        abort();
    return s;
}

int engine_token_create(engine *en, const store_env *env, const token_opts *o, int64_t now,
                        char id[64], bool *cached, err_t *e)
{
    store_waitpoint w = {0};
    *cached = false;
    if (o->n_tags > ENGINE_MAX_TAGS)
        return err_set(e, ERR_UNPROCESSABLE,
                       "Waitpoints can only have %d tags, you're trying to set %zu.",
                       ENGINE_MAX_TAGS, o->n_tags);
    int rc;
    if (o->idempotency_key) {
        rc = store_waitpoint_by_idempotency(en->st, env->id, o->idempotency_key, &w);
        if (rc == 0 && (!w.idempotency_expires_at || w.idempotency_expires_at > now)) {
            snprintf(id, 64, "%s", w.friendly_id);
            *cached = true;
            store_waitpoint_clear(&w);
            return 0;
        }
        if (rc == 0) { /* expired: the key moves to the new waitpoint */
            free(w.inactive_idempotency_key);
            w.inactive_idempotency_key = w.idempotency_key;
            w.idempotency_key = NULL;
            w.updated_at = now;
            rc = store_waitpoint_update(en->st, &w);
            store_waitpoint_clear(&w);
            if (rc)
                return err_set(e, rc, "Something went wrong");
        } else if (rc != ERR_NOT_FOUND) {
            return err_set(e, rc, "Something went wrong");
        }
        memset(&w, 0, sizeof w);
    }
    if (o->idempotency_key) {
        w.idempotency_key = engine_strdup(o->idempotency_key);
        w.user_idempotency_key = 1;
        w.idempotency_expires_at =
            now +
            (o->idempotency_ttl_ms > 0 ? o->idempotency_ttl_ms : ENGINE_DEFAULT_IDEMPOTENCY_TTL_MS);
    }
    w.timeout_at = o->timeout_at;
    w.completed_after = o->timeout_at;
    w.tags = tags_text(o->tags, o->n_tags);
    rc = new_waitpoint(en, env->id, "MANUAL", &w, now);
    if (rc)
        err_set(e, rc, "Something went wrong");
    else
        snprintf(id, 64, "%s", w.friendly_id);
    if (rc == 0 && w.timeout_at)
        engine_arm(en, w.timeout_at);
    store_waitpoint_clear(&w);
    return rc;
}

int engine_waitpoint_get(engine *en, const store_env *env, const char *id, store_waitpoint *w,
                         err_t *e)
{
    int rc = store_waitpoint_get(en->st, env ? env->id : NULL, id, w);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, rc, "Waitpoint not found");
    if (rc)
        return err_set(e, rc, "Something went wrong");
    return 0;
}

/* Marks w completed with output; the caller saves it. */
static void complete(store_waitpoint *w, const char *output, bool is_error, int64_t now)
{
    free(w->status);
    w->status = engine_strdup("COMPLETED");
    free(w->output);
    w->output = engine_strdup(output);
    free(w->output_type);
    w->output_type = output ? engine_strdup("application/json") : NULL;
    w->output_is_error = is_error;
    w->completed_at = now;
    w->updated_at = now;
}

int engine_waitpoint_complete(engine *en, const store_env *env, const char *id, const char *output,
                              int64_t now, err_t *e)
{
    store_waitpoint w = {0};
    int rc = engine_waitpoint_get(en, env, id, &w, e);
    if (rc)
        return rc;
    if (strcmp(w.status, "PENDING") == 0) {
        complete(&w, output, false, now);
        rc = store_waitpoint_update(en->st, &w);
        if (rc == 0)
            rc = engine_waitpoint_done(en, &w, now);
        if (rc)
            err_set(e, rc, "Something went wrong");
    }
    store_waitpoint_clear(&w);
    return rc;
}

/* Times out the tokens whose timeout has passed, with the SDK's timeout
 * error as output (isWaitpointOutputTimeout in @trigger.dev/core). */
int engine_waitpoints_tick(engine *en, int64_t now)
{
    for (;;) {
        store_waitpoint *ws = NULL;
        size_t n = 0;
        int rc = store_waitpoint_due(en->st, now, 256, &ws, &n);
        if (rc)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(ws[i].type, "DATETIME") == 0) {
                complete(&ws[i], NULL, false, now); /* a wait.for that is over */
            } else {
                char at[32], out[128];
                time_format_iso(ws[i].timeout_at, at);
                snprintf(out, sizeof out,
                         "{\"code\":\"TRIGGER_WAITPOINT_TIMEOUT\",\"message\":\"Waitpoint timed "
                         "out at %s\"}",
                         at);
                complete(&ws[i], out, true, now);
            }
            if (rc == 0)
                rc = store_waitpoint_update(en->st, &ws[i]);
            if (rc == 0)
                rc = engine_waitpoint_done(en, &ws[i], now);
            store_waitpoint_clear(&ws[i]);
        }
        free(ws);
        if (rc)
            return rc;
        if (n < 256)
            return 0;
    }
}

/* ---- blocking and continuing runs -------------------------------------- */

static void set_iso(json_t *o, const char *k, int64_t ms)
{
    char buf[32];
    time_format_iso(ms, buf);
    json_object_set_new(o, k, json_string(buf));
}

/* The CompletedWaitpoint a worker receives (docs/dev-protocol.md 5.3). */
static json_t *completed_json(const store_waitpoint *w)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "id", w->friendly_id, "friendlyId", w->friendly_id,
                          "type", w->type, "outputIsError", w->output_is_error != 0);
    set_iso(o, "completedAt", w->completed_at ? w->completed_at : w->updated_at);
    if (w->output) {
        json_object_set_new(o, "output", json_string(w->output));
        json_object_set_new(o, "outputType",
                            json_string(w->output_type ? w->output_type : "application/json"));
    }
    if (w->completed_after)
        set_iso(o, "completedAfter", w->completed_after);
    if (w->completed_by_run) {
        json_t *by =
            json_pack("{s:s,s:s}", "id", w->completed_by_run, "friendlyId", w->completed_by_run);
        if (w->batch_id) {
            json_object_set_new(
                by, "batch", json_pack("{s:s,s:s}", "id", w->batch_id, "friendlyId", w->batch_id));
            json_object_set_new(o, "index", json_integer(w->batch_index));
        }
        json_object_set_new(o, "completedByTaskRun", by);
    }
    if (strcmp(w->type, "BATCH") == 0 && w->batch_id)
        json_object_set_new(o, "completedByBatch",
                            json_pack("{s:s,s:s}", "id", w->batch_id, "friendlyId", w->batch_id));
    return o;
}

/* Appends a completed waitpoint to the run's pending list (JSON text). */
static void add_pending(store_run *r, json_t *cw)
{
    json_t *arr = jsontext_loads(r->pending_waitpoints ? r->pending_waitpoints : "[]", 0, NULL);
    if (!json_is_array(arr)) {
        json_decref(arr);
        arr = json_array();
    }
    json_array_append(arr, cw);
    free(r->pending_waitpoints);
    r->pending_waitpoints = jsontext_dumps(arr, JSON_COMPACT);
    json_decref(arr);
}

/* True when run_fid is blocked by the BATCH waitpoint of batch_fid: the
 * attempt that waits on this batch, not a later one of a requeued parent. */
static bool blocked_by_batch(engine *en, const char *run_fid, const char *batch_fid)
{
    store_waitpoint bw = {0};
    if (store_waitpoint_of_batch(en->st, batch_fid, &bw) != 0)
        return false;
    char **runs = NULL;
    size_t n = 0;
    bool found = false;
    if (store_blocked_runs(en->st, bw.friendly_id, &runs, &n) == 0)
        for (size_t i = 0; i < n; i++) {
            found = found || strcmp(runs[i], run_fid) == 0;
            free(runs[i]);
        }
    free(runs);
    store_waitpoint_clear(&bw);
    return found;
}

int engine_waitpoint_done(engine *en, store_waitpoint *w, int64_t now)
{
    json_t *cw = completed_json(w);
    int rc = 0;
    /* batch items report to the waiting parent, which the batch blocks */
    if (w->batch_id && w->resume_run && strcmp(w->type, "RUN") == 0) {
        store_run p = {0};
        if (store_run_get(en->st, NULL, w->resume_run, &p) == 0 && engine_run_blocked(&p) &&
            blocked_by_batch(en, p.friendly_id, w->batch_id)) {
            add_pending(&p, cw);
            rc = engine_save(en, &p);
        }
        store_run_clear(&p);
    }
    char **runs = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = store_blocked_runs(en->st, w->friendly_id, &runs, &n);
    for (size_t i = 0; i < n; i++) {
        store_run r = {0};
        int64_t left = 0;
        /* only a blocked run goes on; one that was canceled, requeued or
         * finished since it blocked has no waits left (docs/engine.md) */
        if (rc == 0 && (rc = store_blocker_remove(en->st, runs[i], w->friendly_id, &left)) == 0 &&
            store_run_get(en->st, NULL, runs[i], &r) == 0 && engine_run_blocked(&r)) {
            add_pending(&r, cw);
            if (left == 0)
                rc = engine_continue(en, &r, now);
            if (rc == 0)
                rc = engine_save(en, &r);
        }
        store_run_clear(&r);
        free(runs[i]);
    }
    free(runs);
    json_decref(cw);
    return rc;
}

/* Makes a waitpoint row: type, and the fields the caller set in w. */
static int new_waitpoint(engine *en, const char *env_id, const char *type, store_waitpoint *w,
                         int64_t now)
{
    char cuid[ID_CUID_LEN + 1], fid[64];
    id_cuid(cuid);
    id_friendly(fid, sizeof fid, "waitpoint_", cuid);
    w->id = engine_strdup(cuid);
    w->friendly_id = engine_strdup(fid);
    w->env_id = engine_strdup(env_id);
    w->type = engine_strdup(type);
    w->status = engine_strdup("PENDING");
    w->created_at = now;
    w->updated_at = now;
    if (!w->tags)
        w->tags = engine_strdup("[]");
    return store_waitpoint_insert(en->st, w);
}

int engine_block_parent(engine *en, const store_run *child, int64_t batch_index, int64_t now)
{
    store_waitpoint w = {0};
    w.completed_by_run = engine_strdup(child->friendly_id);
    w.resume_run = engine_strdup(child->parent_id);
    w.batch_id = engine_strdup(child->batch_id);
    w.batch_index = batch_index;
    int rc = new_waitpoint(en, child->env_id, "RUN", &w, now);
    if (rc == 0 && !child->batch_id) {
        store_run p = {0};
        if (store_run_get(en->st, child->env_id, child->parent_id, &p) == 0)
            rc = engine_block_run(en, &p, w.friendly_id, now);
        store_run_clear(&p);
    }
    store_waitpoint_clear(&w);
    return rc;
}

int engine_batch_item_wait_existing(engine *en, const store_run *child, const char *parent_id,
                                    const char *batch_fid, int64_t batch_index, int64_t now)
{
    store_waitpoint w = {0};
    w.completed_by_run = engine_strdup(child->friendly_id);
    w.resume_run = engine_strdup(parent_id);
    w.batch_id = engine_strdup(batch_fid);
    w.batch_index = batch_index;
    /* no blocker: the parent is blocked by the batch's waitpoint */
    int rc = new_waitpoint(en, child->env_id, "RUN", &w, now);
    store_waitpoint_clear(&w);
    /* already over (a final status: a canceled run the worker still holds
     * was settled at the cancel): its result at once */
    if (rc == 0 && status_is_final((run_status)child->status))
        rc = engine_settle_waitpoint(en, child, now);
    return rc;
}

/* Waits are for running attempts only: a run that is finished, canceled or
 * back in the queue has no attempt to block (docs/engine.md). */
static int require_executing(const store_run *r, err_t *e)
{
    if (engine_run_executing(r))
        return 0;
    return err_set(e, ERR_INVALID, "Run %s cannot wait: it is not executing (%s)", r->friendly_id,
                   engine_run_pending_cancel(r) ? "PENDING_CANCEL"
                   : r->snapshot_status         ? r->snapshot_status
                                                : status_api_name((run_status)r->status, true));
}

int engine_wait_duration(engine *en, const store_env *env, const char *run_id, int64_t until,
                         const char *idempotency_key, int64_t idempotency_ttl_ms, int64_t now,
                         char wp[64], int64_t *wait_until, err_t *e)
{
    store_run r = {0};
    store_waitpoint w = {0};
    int rc = engine_run_get(en, env, run_id, &r, e);
    if (rc)
        return err_set(e, ERR_UNAUTHORIZED, "Run not found in this environment");
    if ((rc = require_executing(&r, e)))
        goto out;
    if (idempotency_key &&
        store_waitpoint_by_idempotency(en->st, env->id, idempotency_key, &w) == 0 &&
        (!w.idempotency_expires_at || w.idempotency_expires_at > now)) {
        /* an idempotent wait: the same waitpoint, maybe already over */
        snprintf(wp, 64, "%s", w.friendly_id);
        *wait_until = w.completed_after;
        if (strcmp(w.status, "PENDING") == 0)
            rc = engine_block_run(en, &r, w.friendly_id, now);
        else
            rc = engine_wait_token(en, env, run_id, w.friendly_id, now, e);
        goto out;
    }
    store_waitpoint_clear(&w);
    memset(&w, 0, sizeof w);
    if (idempotency_key) {
        w.idempotency_key = engine_strdup(idempotency_key);
        w.user_idempotency_key = 1;
        w.idempotency_expires_at =
            now + (idempotency_ttl_ms > 0 ? idempotency_ttl_ms : ENGINE_DEFAULT_IDEMPOTENCY_TTL_MS);
    }
    w.completed_after = until;
    w.timeout_at = until > now ? until : now;
    if ((rc = new_waitpoint(en, env->id, "DATETIME", &w, now)) == 0)
        rc = engine_block_run(en, &r, w.friendly_id, now);
    engine_arm(en, w.timeout_at);
    snprintf(wp, 64, "%s", w.friendly_id);
    *wait_until = until;
out:
    if (rc && !e->code)
        err_set(e, rc, "Something went wrong");
    store_waitpoint_clear(&w);
    store_run_clear(&r);
    return rc;
}

int engine_wait_token(engine *en, const store_env *env, const char *run_id,
                      const char *waitpoint_id, int64_t now, err_t *e)
{
    store_run r = {0};
    store_waitpoint w = {0};
    int rc = engine_run_get(en, env, run_id, &r, e);
    if (rc)
        return rc;
    if ((rc = require_executing(&r, e)) ||
        (rc = engine_waitpoint_get(en, env, waitpoint_id, &w, e)))
        goto out;
    if (strcmp(w.status, "PENDING") == 0) {
        rc = engine_block_run(en, &r, w.friendly_id, now);
    } else {
        /* already completed: the run is handed it at once, or with the
         * others when it is still blocked on one that is pending (continue
         * only a run with no blocker left) */
        json_t *cw = completed_json(&w);
        add_pending(&r, cw);
        json_decref(cw);
        if (!engine_run_blocked(&r))
            rc = engine_continue(en, &r, now);
        if (rc == 0)
            rc = engine_save(en, &r);
    }
    if (rc)
        err_set(e, rc, "Something went wrong");
out:
    store_waitpoint_clear(&w);
    store_run_clear(&r);
    return rc;
}

int engine_batch_wait(engine *en, const store_env *env, const char *batch_fid,
                      const char *parent_id, int64_t now)
{
    store_waitpoint w = {0};
    store_run p = {0};
    w.batch_id = engine_strdup(batch_fid);
    w.resume_run = engine_strdup(parent_id);
    int rc = store_run_get(en->st, env->id, parent_id, &p);
    if (rc == 0 && !engine_run_executing(&p))
        rc = ERR_INVALID; /* the caller checked; a wait needs a running attempt */
    if (rc == 0)
        rc = new_waitpoint(en, env->id, "BATCH", &w, now);
    if (rc == 0)
        rc = engine_block_run(en, &p, w.friendly_id, now);
    store_run_clear(&p);
    store_waitpoint_clear(&w);
    return rc;
}

int engine_batch_check_done(engine *en, const char *batch_fid, int64_t now)
{
    store_waitpoint w = {0};
    int rc = store_waitpoint_of_batch(en->st, batch_fid, &w);
    if (rc == ERR_NOT_FOUND)
        return 0;
    if (rc || strcmp(w.status, "PENDING") != 0)
        goto out;
    store_batch b = {0};
    if ((rc = store_batch_get(en->st, w.env_id, batch_fid, &b)))
        goto out;
    bool sealed = b.sealed;
    store_batch_clear(&b);
    int64_t open[RUN_STATUS_COUNT];
    size_t n = 0;
    for (int s = 0; s < RUN_STATUS_COUNT; s++)
        if (!status_is_final((run_status)s))
            open[n++] = s;
    int64_t unfinished = 0;
    if (!sealed || (rc = store_batch_count_runs(en->st, batch_fid, open, n, &unfinished)) ||
        unfinished > 0)
        goto out;
    complete(&w, NULL, false, now);
    if ((rc = store_waitpoint_update(en->st, &w)) == 0)
        rc = engine_waitpoint_done(en, &w, now);
out:
    store_waitpoint_clear(&w);
    return rc;
}
