/*
 * engine/sessions.c - session rows and the runs they own.
 *
 * A session points at its current run (current_run_id) under an optimistic
 * version counter. ensure_run keeps one live run per session: it returns the
 * current run while that run is not final, else triggers a new one from the
 * session's trigger config and claims it with a compare-and-swap on the
 * version; a lost claim cancels the run it made and takes the winner's.
 * Every claimed run gets a session_runs audit row with its reason.
 */
#include "engine/sessions.h"

#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "engine/status.h"
#include "util/id.h"

#define CLAIM_ATTEMPTS 3

const char *engine_session_key(const store_session *s)
{
    return s->external_id ? s->external_id : s->friendly_id;
}

const char *engine_session_status(const store_session *s, int64_t now)
{
    if (s->closed_at)
        return "CLOSED";
    if (s->expires_at && s->expires_at < now)
        return "EXPIRED";
    return "ACTIVE";
}

int engine_session_get(engine *en, const store_env *env, const char *key, store_session *out,
                       err_t *e)
{
    int rc = store_session_get(en->st, env->id, key, out);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_NOT_FOUND, "Session not found");
    if (rc)
        return err_set(e, rc, "Something went wrong");
    return 0;
}

/* The run's payload: {...basePayload, idleTimeoutInSeconds?, sessionId},
 * and for a continuation {continuation, previousRunId} without the
 * previous turn's message, messages and trigger. JSON text, malloc'd. */
static char *run_payload(const store_session *s, json_t *tc, const char *previous_run)
{
    json_t *base = json_object_get(tc, "basePayload");
    json_t *p = json_is_object(base) ? json_deep_copy(base) : json_object();
    json_t *idle = json_object_get(tc, "idleTimeoutInSeconds");
    if (json_is_integer(idle))
        json_object_set(p, "idleTimeoutInSeconds", idle);
    json_object_set_new(p, "sessionId", json_string(s->friendly_id));
    if (previous_run) {
        json_object_set_new(p, "continuation", json_true());
        json_object_set_new(p, "previousRunId", json_string(previous_run));
        json_object_del(p, "message");
        json_object_del(p, "messages");
        json_object_del(p, "trigger");
    }
    char *text = jsontext_dumps(p, JSON_COMPACT);
    json_decref(p);
    return text;
}

/* Triggers a run of s's task from its trigger config. */
static int trigger_for(engine *en, const store_env *env, const store_session *s,
                       const char *previous_run, int64_t now, trigger_result *res, err_t *e)
{
    json_t *tc = jsontext_loads(s->trigger_config ? s->trigger_config : "{}", 0, NULL);
    if (!json_is_object(tc)) {
        json_decref(tc);
        tc = json_object();
    }
    char *payload = run_payload(s, tc, previous_run);
    if (!payload) {
        json_decref(tc);
        return err_set(e, ERR_NOMEM, "Something went wrong");
    }
    json_t *tags = json_object_get(tc, "tags");
    size_t n = json_is_array(tags) ? json_array_size(tags) : 0;
    const char *tv[ENGINE_MAX_TAGS];
    size_t nt = 0;
    for (size_t i = 0; i < n && nt < ENGINE_MAX_TAGS; i++)
        if (json_is_string(json_array_get(tags, i)))
            tv[nt++] = json_string_value(json_array_get(tags, i));
    json_t *ttl = json_object_get(tc, "ttl");
    char ttl_buf[32];
    const char *ttl_text = json_string_value(ttl);
    if (json_is_integer(ttl)) {
        snprintf(ttl_buf, sizeof ttl_buf, "%llds", (long long)json_integer_value(ttl));
        ttl_text = ttl_buf;
    }
    trigger_opts o = {
        .task = s->task,
        .payload = payload,
        .payload_type = "application/json",
        .queue = json_string_value(json_object_get(tc, "queue")),
        .concurrency_key = json_string_value(json_object_get(tc, "concurrencyKey")),
        .ttl = ttl_text,
        .tags = tv,
        .n_tags = nt,
        .machine = json_string_value(json_object_get(tc, "machine")),
        .max_attempts = json_integer_value(json_object_get(tc, "maxAttempts")),
        .max_duration_s = json_integer_value(json_object_get(tc, "maxDuration")),
        .lock_to_version = json_string_value(json_object_get(tc, "lockToVersion")),
        .trigger_function = "trigger",
    };
    int rc = engine_trigger(en, env, &o, now, res, e);
    free(payload);
    json_decref(tc);
    return rc;
}

/* True when run_id names a run that is not final. */
static bool run_alive(engine *en, const store_env *env, const char *run_id)
{
    store_run r = {0};
    err_t ignore = {0};
    if (engine_run_get(en, env, run_id, &r, &ignore) != 0)
        return false;
    bool alive = !status_is_final((run_status)r.status);
    store_run_clear(&r);
    return alive;
}

/* Cancels a run this node triggered but lost the claim for. */
static void cancel_loser(engine *en, const store_env *env, const char *run_id, int64_t now)
{
    err_t ignore = {0};
    engine_run_cancel(en, env, run_id, now, &ignore);
}

static int reload(engine *en, const store_env *env, store_session *s, err_t *e)
{
    char *fid = strdup(s->friendly_id);
    if (!fid)
        abort();
    store_session_clear(s);
    int rc = engine_session_get(en, env, fid, s, e);
    free(fid);
    return rc;
}

int engine_session_ensure_run(engine *en, const store_env *env, store_session *s,
                              const char *reason, int64_t now, char run_id[64], bool *triggered,
                              err_t *e)
{
    *triggered = false;
    for (int attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        if (s->current_run_id && run_alive(en, env, s->current_run_id)) {
            snprintf(run_id, 64, "%s", s->current_run_id);
            return 0;
        }
        trigger_result res = {0};
        int rc = trigger_for(en, env, s, s->current_run_id, now, &res, e);
        if (rc)
            return rc;
        bool won;
        rc = store_session_claim(en->st, s->id, s->current_run_version, NULL, res.run_id, now,
                                 &won);
        if (rc)
            return err_set(e, rc, "Something went wrong");
        if (won) {
            if (store_session_run_add(en->st, s->id, res.run_id, reason, now))
                return err_set(e, ERR_STORE, "Something went wrong");
            *triggered = true;
            snprintf(run_id, 64, "%s", res.run_id);
            return reload(en, env, s, e);
        }
        cancel_loser(en, env, res.run_id, now);
        if ((rc = reload(en, env, s, e)))
            return rc;
    }
    return err_set(e, ERR_STORE, "Failed to ensure a run for the session");
}

/* Refuses a closed or expired session with the platform's message
 * ("Session is closed; use ...") for create. */
static int check_open(const store_session *s, int64_t now, int code, const char *fmt, err_t *e)
{
    const char *st = engine_session_status(s, now);
    if (strcmp(st, "ACTIVE") == 0)
        return 0;
    return err_set(e, code, fmt, strcmp(st, "CLOSED") == 0 ? "closed" : "expired");
}

static char *dump_or_null(json_t *v)
{
    return v && !json_is_null(v) ? jsontext_dumps(v, JSON_COMPACT) : NULL;
}

int engine_session_create(engine *en, const store_env *env, const session_create_opts *o,
                          int64_t now, store_session *out, bool *cached, err_t *e)
{
    *cached = false;
    int rc = o->external_id ? store_session_get(en->st, env->id, o->external_id, out)
                            : ERR_NOT_FOUND;
    if (rc == 0) {
        /* the existing row wins; only its trigger config follows the caller */
        *cached = true;
        if ((rc = check_open(out, now, ERR_CONFLICT,
                             "Session is %s; use a different externalId to create a new session",
                             e)))
            return rc;
        free(out->trigger_config);
        out->trigger_config = dump_or_null(o->trigger_config);
        out->updated_at = now;
        if (store_session_update(en->st, out))
            return err_set(e, ERR_STORE, "Something went wrong");
    } else if (rc == ERR_NOT_FOUND) {
        char cuid[ID_CUID_LEN + 1], fid[64];
        id_cuid(cuid);
        id_friendly(fid, sizeof fid, "session_", cuid);
        char internal[ID_CUID_LEN + 1];
        id_cuid(internal);
        *out = (store_session){
            .id = strdup(internal),
            .friendly_id = strdup(fid),
            .env_id = strdup(env->id),
            .external_id = o->external_id ? strdup(o->external_id) : NULL,
            .type = strdup(o->type),
            .task = strdup(o->task),
            .trigger_config = dump_or_null(o->trigger_config),
            .tags = o->tags ? jsontext_dumps(o->tags, JSON_COMPACT) : strdup("[]"),
            .metadata = dump_or_null(o->metadata),
            .expires_at = o->expires_at,
            .created_at = now,
            .updated_at = now,
        };
        if (!out->trigger_config)
            out->trigger_config = strdup("{\"basePayload\":{}}");
        rc = store_session_insert(en->st, out);
        if (rc == ERR_CONFLICT)
            return err_set(e, ERR_CONFLICT, "A session with this externalId already exists");
        if (rc)
            return err_set(e, ERR_STORE, "Something went wrong");
        if ((rc = check_open(out, now, ERR_CONFLICT,
                             "Session is %s; use a different externalId to create a new session",
                             e)))
            return rc;
    } else {
        return err_set(e, ERR_STORE, "Something went wrong");
    }
    char run_id[64];
    bool triggered;
    return engine_session_ensure_run(en, env, out, *cached ? "continuation" : "initial", now,
                                     run_id, &triggered, e);
}

/* The audit reason end-and-continue records for a caller's label. */
static const char *swap_reason(const char *r)
{
    static const char *known[] = {"upgrade", "continuation", "initial", "manual"};
    for (size_t i = 0; r && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(r, known[i]) == 0)
            return known[i];
    return "manual";
}

int engine_session_end_and_continue(engine *en, const store_env *env, const char *key,
                                    const char *calling_run, const char *reason, int64_t now,
                                    char run_id[64], bool *swapped, err_t *e)
{
    *swapped = false;
    store_session s = {0};
    int rc = engine_session_get(en, env, key, &s, e);
    if (rc)
        return rc;
    if (strcmp(engine_session_status(&s, now), "ACTIVE") != 0) {
        rc = err_set(e, ERR_INVALID, "Cannot end-and-continue %s session",
                     s.closed_at ? "a closed" : "an expired");
        goto out;
    }
    store_run caller = {0};
    err_t ignore = {0};
    if (engine_run_get(en, env, calling_run, &caller, &ignore) != 0) {
        rc = err_set(e, ERR_NOT_FOUND, "callingRunId not found in this environment");
        goto out;
    }
    store_run_clear(&caller);
    trigger_result res = {0};
    if ((rc = trigger_for(en, env, &s, calling_run, now, &res, e)))
        goto out;
    bool won;
    if (store_session_claim(en->st, s.id, s.current_run_version, calling_run, res.run_id, now,
                            &won)) {
        rc = err_set(e, ERR_STORE, "Failed to swap session run");
        goto out;
    }
    if (won) {
        if (store_session_run_add(en->st, s.id, res.run_id, swap_reason(reason), now)) {
            rc = err_set(e, ERR_STORE, "Failed to swap session run");
            goto out;
        }
        *swapped = true;
        snprintf(run_id, 64, "%s", res.run_id);
        goto out;
    }
    cancel_loser(en, env, res.run_id, now);
    if ((rc = reload(en, env, &s, e)))
        goto out;
    snprintf(run_id, 64, "%s", s.current_run_id ? s.current_run_id : "");
out:
    store_session_clear(&s);
    return rc;
}

int engine_session_close(engine *en, const store_env *env, const char *key, const char *reason,
                         int64_t now, store_session *out, err_t *e)
{
    int rc = engine_session_get(en, env, key, out, e);
    if (rc || out->closed_at)
        return rc;
    out->closed_at = now;
    out->closed_reason = reason ? strdup(reason) : NULL;
    out->updated_at = now;
    if (store_session_update(en->st, out))
        return err_set(e, ERR_STORE, "Something went wrong");
    return 0;
}

int engine_session_update(engine *en, const store_env *env, const char *key,
                          const session_update_opts *o, int64_t now, store_session *out,
                          err_t *e)
{
    int rc = engine_session_get(en, env, key, out, e);
    if (rc)
        return rc;
    if (o->has_external_id) {
        bool same = (!o->external_id && !out->external_id) ||
                    (o->external_id && out->external_id &&
                     strcmp(o->external_id, out->external_id) == 0);
        if (!same)
            return err_set(e, ERR_UNPROCESSABLE,
                           "externalId cannot be changed after creation; close this session and "
                           "create a new one with the desired externalId");
    }
    if (o->has_tags) {
        free(out->tags);
        out->tags = jsontext_dumps(o->tags, JSON_COMPACT);
    }
    if (o->has_metadata) {
        free(out->metadata);
        out->metadata = dump_or_null(o->metadata);
    }
    out->updated_at = now;
    rc = store_session_update(en->st, out);
    if (rc == ERR_CONFLICT)
        return err_set(e, ERR_CONFLICT,
                       "A session with this externalId already exists in this environment");
    if (rc)
        return err_set(e, ERR_STORE, "Something went wrong");
    return 0;
}

int engine_session_list(engine *en, const store_session_filter *f, store_session **out,
                        size_t *n, bool *has_more)
{
    return store_session_list(en->st, f, out, n, has_more);
}
