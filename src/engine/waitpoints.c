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

#include "util/id.h"
#include "util/timefmt.h"

static char *tags_text(const char **tags, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (tags[i] && tags[i][0])
            json_array_append_new(arr, json_string(tags[i]));
    char *s = json_dumps(arr, JSON_COMPACT);
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
    char cuid[ID_CUID_LEN + 1], fid[64];
    id_cuid(cuid);
    id_friendly(fid, sizeof fid, "waitpoint_", cuid);
    w.id = engine_strdup(cuid);
    w.friendly_id = engine_strdup(fid);
    w.env_id = engine_strdup(env->id);
    w.type = engine_strdup("MANUAL");
    w.status = engine_strdup("PENDING");
    if (o->idempotency_key) {
        w.idempotency_key = engine_strdup(o->idempotency_key);
        w.user_idempotency_key = 1;
        w.idempotency_expires_at =
            now +
            (o->idempotency_ttl_ms > 0 ? o->idempotency_ttl_ms : ENGINE_DEFAULT_IDEMPOTENCY_TTL_MS);
    }
    w.timeout_at = o->timeout_at;
    w.completed_after = o->timeout_at;
    w.created_at = now;
    w.updated_at = now;
    w.tags = tags_text(o->tags, o->n_tags);
    rc = store_waitpoint_insert(en->st, &w);
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
    w->output_type = engine_strdup("application/json");
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
            char at[32], out[128];
            time_format_iso(ws[i].timeout_at, at);
            snprintf(out, sizeof out,
                     "{\"code\":\"TRIGGER_WAITPOINT_TIMEOUT\",\"message\":\"Waitpoint timed out at "
                     "%s\"}",
                     at);
            complete(&ws[i], out, true, now);
            if (rc == 0)
                rc = store_waitpoint_update(en->st, &ws[i]);
            store_waitpoint_clear(&ws[i]);
        }
        free(ws);
        if (rc)
            return rc;
        if (n < 256)
            return 0;
    }
}
