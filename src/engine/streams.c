/*
 * engine/streams.c - the run side of realtime streams (spec/api.md 6.14,
 * 6.15): which run a stream write targets (self, parent or root), the run's
 * list of stream keys (realtimeStreams), and input-stream waitpoints, which
 * are token waitpoints completed by the next record sent to the stream.
 */
#include <stdio.h>
#include <string.h>

#include "engine/internal.h"

int engine_stream_target(engine *en, const store_env *env, const char *run_id, const char *target,
                         store_run *out, err_t *e)
{
    store_run r = {0};
    int rc = engine_run_get(en, env, run_id, &r, e);
    if (rc)
        return rc;
    const char *fid = NULL;
    if (strcmp(target, "self") == 0)
        fid = r.friendly_id;
    else if (strcmp(target, "parent") == 0)
        fid = r.parent_id;
    else if (strcmp(target, "root") == 0)
        fid = r.root_id && *r.root_id ? r.root_id : r.friendly_id;
    else {
        store_run_clear(&r);
        return err_set(e, ERR_INVALID, "Invalid target");
    }
    if (!fid || !*fid) {
        store_run_clear(&r);
        return err_set(e, ERR_NOT_FOUND, "Target not found");
    }
    if (fid == r.friendly_id) {
        *out = r;
        return 0;
    }
    rc = store_run_get(en->st, env->id, fid, out);
    store_run_clear(&r);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, rc, "Target not found");
    return rc ? err_set(e, rc, "Something went wrong") : 0;
}

bool engine_run_completed(const store_run *r)
{
    return r->completed_at != 0 || engine_run_finished(r);
}

int engine_stream_register(engine *en, store_run *r, const char *key, err_t *e)
{
    json_t *list = r->realtime_streams ? json_loads(r->realtime_streams, 0, NULL) : NULL;
    if (!json_is_array(list)) {
        json_decref(list);
        list = json_array();
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (json_is_string(v) && strcmp(json_string_value(v), key) == 0)
    {
        json_decref(list);
        return 0;
    }
    json_array_append_new(list, json_string(key));
    char *text = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    if (!text)
        return err_set(e, ERR_NOMEM, "Something went wrong");
    free(r->realtime_streams);
    r->realtime_streams = text;
    if (engine_save(en, r))
        return err_set(e, ERR_STORE, "Something went wrong");
    return 0;
}

static void first_rec(void *ud, const store_stream_rec *rec)
{
    char **out = ud;
    if (*out)
        return;
    *out = strndup(rec->data, rec->len);
}

int engine_input_wait(engine *en, const store_env *env, const char *run_id, const char *stream,
                      const token_opts *o, int64_t after_seq, int64_t now, char id[64],
                      bool *cached, err_t *e)
{
    store_run r = {0};
    int rc = engine_run_get(en, env, run_id, &r, e);
    if (rc)
        return rc;
    store_run_clear(&r);
    if ((rc = engine_token_create(en, env, o, now, id, cached, e)))
        return rc;
    if (store_input_wait_set(en->st, run_id, stream, id))
        return err_set(e, ERR_STORE, "Something went wrong");
    if (*cached)
        return 0;
    /* data sent before the wait began: the first record after the caller's
     * last one completes the waitpoint at once */
    char *data = NULL;
    if (store_stream_each(en->st, run_id, stream, after_seq, -1, 1, first_rec, &data))
        return err_set(e, ERR_STORE, "Something went wrong");
    if (!data)
        return 0;
    rc = engine_waitpoint_complete(en, env, id, data, now, e);
    free(data);
    if (rc)
        return rc;
    if (store_input_wait_delete(en->st, run_id, stream))
        return err_set(e, ERR_STORE, "Something went wrong");
    return 0;
}

int engine_input_sent(engine *en, const store_env *env, const char *run_id, const char *stream,
                      const char *data, int64_t now, err_t *e)
{
    char id[64];
    int rc = store_input_wait_get(en->st, run_id, stream, id);
    if (rc == ERR_NOT_FOUND)
        return 0;
    if (rc)
        return err_set(e, ERR_STORE, "Something went wrong");
    if ((rc = engine_waitpoint_complete(en, env, id, data, now, e)))
        return rc;
    if (store_input_wait_delete(en->st, run_id, stream))
        return err_set(e, ERR_STORE, "Something went wrong");
    return 0;
}
