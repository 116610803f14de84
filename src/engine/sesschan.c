/*
 * engine/sesschan.c - the engine side of session channels (spec/sessions.md
 * 3): the session-stream waitpoints a running agent blocks on until the
 * next record of its .in channel, and the part-id claims that keep a
 * retried append from being stored twice. The records themselves live in
 * S2 streams (realtime/s2.c); the HTTP side is api/sesschan.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "engine/sessions.h"

#define PART_CLAIM_MS (5LL * 60 * 1000)
#define WAIT_TTL_MS (7LL * 24 * 3600 * 1000) /* a wait without a timeout */

static char *part_key(const store_env *env, const session_chan *ch, const char *part_id)
{
    char *k;
    if (asprintf(&k, "%s\n%s\n%s\n%s", env->id, ch->key, ch->io, part_id) < 0)
        abort();
    return k;
}

int engine_session_part_claim(engine *en, const store_env *env, const session_chan *ch,
                              const char *part_id, int64_t now, bool *claimed, err_t *e)
{
    char *k = part_key(env, ch, part_id);
    int rc = store_session_part_claim(en->st, k, now, now + PART_CLAIM_MS, claimed);
    free(k);
    return rc ? err_set(e, ERR_STORE, "Something went wrong, please try again.") : 0;
}

void engine_session_part_release(engine *en, const store_env *env, const session_chan *ch,
                                 const char *part_id)
{
    char *k = part_key(env, ch, part_id);
    (void)store_session_part_release(en->st, k);
    free(k);
}

int engine_session_appended(engine *en, const store_env *env, const session_chan *ch,
                            const char *body, int64_t now, err_t *e)
{
    char **ids;
    size_t n;
    if (store_session_wait_drain(en->st, env->id, ch->key, ch->io, now, &ids, &n))
        return err_set(e, ERR_STORE, "Something went wrong");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        err_t we = {0};
        /* a waitpoint that timed out meanwhile is already completed: no-op */
        if (!rc && engine_waitpoint_complete(en, env, ids[i], body, now, &we) != 0 &&
            we.code == ERR_STORE)
            rc = err_set(e, ERR_STORE, "Something went wrong");
        free(ids[i]);
    }
    free(ids);
    return rc;
}

char *engine_session_record_data(const uint8_t *body, size_t len)
{
    if (!len)
        return NULL;
    json_t *env = jsontext_loadb((const char *)body, len, 0, NULL);
    json_t *data = json_object_get(env, "data");
    char *out = NULL;
    if (json_is_string(data))
        out = strndup(json_string_value(data), json_string_length(data));
    else if (data)
        out = jsontext_dumps(data, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(env);
    return out;
}

typedef struct first_rec {
    char *data;
} first_rec;

static void take_first(void *ud, const store_s2_rec *r)
{
    first_rec *f = ud;
    if (!f->data)
        f->data = engine_session_record_data(r->body, r->body_len);
}

int engine_session_stream_wait(engine *en, const store_env *env, const char *run_id,
                               const session_chan *ch, const token_opts *o, int64_t after_seq,
                               int64_t now, char id[64], bool *cached, err_t *e)
{
    store_run r = {0};
    int rc = store_run_get(en->st, env->id, run_id, &r);
    store_run_clear(&r);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_NOT_FOUND, "Run not found");
    if (rc)
        return err_set(e, rc, "Something went wrong");
    if ((rc = engine_token_create(en, env, o, now, id, cached, e)))
        return rc;
    int64_t until = o->timeout_at ? o->timeout_at : now + WAIT_TTL_MS;
    if (store_session_wait_add(en->st, env->id, ch->key, ch->io, id, until))
        return err_set(e, ERR_STORE, "Something went wrong");
    if (*cached)
        return 0;
    /* race check: a record appended after the caller's last one (before this
     * wait was registered) completes the waitpoint at once */
    first_rec f = {0};
    if (store_s2_each(en->st, ch->stream, after_seq + 1, 64, take_first, &f))
        return err_set(e, ERR_STORE, "Something went wrong");
    if (!f.data)
        return 0;
    rc = engine_waitpoint_complete(en, env, id, f.data, now, e);
    free(f.data);
    if (rc)
        return rc;
    if (store_session_wait_remove(en->st, env->id, ch->key, ch->io, id))
        return err_set(e, ERR_STORE, "Something went wrong");
    return 0;
}
