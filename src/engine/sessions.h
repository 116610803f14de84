/*
 * engine/sessions.h - sessions: a durable row that owns its current run,
 * survives that run's exit and boots continuation runs (spec/sessions.md
 * sections 2 and 3). The engine side of [55]-[62]; never sees HTTP.
 */
#ifndef TD_ENGINE_SESSIONS_H
#define TD_ENGINE_SESSIONS_H

#include <jansson.h>
#include <stdbool.h>

#include "engine/engine.h"
#include "store/sessions.h"

/* POST /api/v1/sessions; values borrowed and already validated. */
typedef struct session_create_opts {
    const char *type;
    const char *external_id; /* NULL: always a new session */
    const char *task;
    json_t *trigger_config; /* object */
    json_t *tags;           /* array or NULL */
    json_t *metadata;       /* object or NULL */
    int64_t expires_at;     /* 0 = never */
} session_create_opts;

/* Creates the session, or finds the one holding (env, external_id) and
 * updates only its trigger config (*cached), then makes sure it has a live
 * run (reason initial, or continuation for a cached one). A closed or
 * expired session is ERR_CONFLICT with the platform's message. *out is the
 * row after (caller clears). */
int engine_session_create(engine *en, const store_env *env, const session_create_opts *o,
                          int64_t now, store_session *out, bool *cached, err_t *e);

/* Loads the session of env that key (session_... or an external id)
 * addresses; ERR_NOT_FOUND "Session not found". */
int engine_session_get(engine *en, const store_env *env, const char *key, store_session *out,
                       err_t *e);

/* ensureRunForSession: the current run when it is alive, else a new run of
 * the session's task from its trigger config (a continuation when a run
 * died before), claimed with an optimistic swap; run_id receives the live
 * run, *triggered whether this call made it. s is refreshed. */
int engine_session_ensure_run(engine *en, const store_env *env, store_session *s,
                              const char *reason, int64_t now, char run_id[64], bool *triggered,
                              err_t *e);

/* end-and-continue: triggers a continuation of calling_run and swaps it in
 * while calling_run is still current; *swapped false when another run took
 * over first (run_id is then that run). */
int engine_session_end_and_continue(engine *en, const store_env *env, const char *key,
                                    const char *calling_run, const char *reason, int64_t now,
                                    char run_id[64], bool *swapped, err_t *e);

/* Closes the session (idempotent: a closed one keeps its first closedAt and
 * reason). */
int engine_session_close(engine *en, const store_env *env, const char *key, const char *reason,
                         int64_t now, store_session *out, err_t *e);

/* PATCH: tags (array), metadata (object, or JSON null to clear) and
 * external_id, each only when has_*; changing a set external id is
 * ERR_UNPROCESSABLE, taking another session's is ERR_CONFLICT. */
typedef struct session_update_opts {
    bool has_tags, has_metadata, has_external_id;
    json_t *tags;
    json_t *metadata;
    const char *external_id; /* NULL clears (only when it was unset) */
} session_update_opts;

int engine_session_update(engine *en, const store_env *env, const char *key,
                          const session_update_opts *o, int64_t now, store_session *out,
                          err_t *e);

/* ACTIVE, CLOSED or EXPIRED at now. */
const char *engine_session_status(const store_session *s, int64_t now);

/* The key that names a session's channels and tokens: its external id, else
 * its friendly id. */
const char *engine_session_key(const store_session *s);

int engine_session_list(engine *en, const store_session_filter *f, store_session **out,
                        size_t *n, bool *has_more);

/* ---- channels (engine/sesschan.c) ---- */

/* A channel of a session: its addressing key (engine_session_key, or the
 * URL value when no row exists), io "in" or "out", and the S2 stream that
 * holds its records. */
typedef struct session_chan {
    const char *key;
    const char *io;
    const char *stream;
} session_chan;

/* X-Part-Id dedup: *claimed false when part_id was appended to ch within
 * the last 5 minutes. */
int engine_session_part_claim(engine *en, const store_env *env, const session_chan *ch,
                              const char *part_id, int64_t now, bool *claimed, err_t *e);
void engine_session_part_release(engine *en, const store_env *env, const session_chan *ch,
                                 const char *part_id);

/* A record was appended to ch (body: the client's raw JSON text): every
 * session-stream waitpoint waiting on ch completes with it. */
int engine_session_appended(engine *en, const store_env *env, const session_chan *ch,
                            const char *body, int64_t now, err_t *e);

/* POST /api/v1/runs/:run/session-streams/wait: a waitpoint run_id blocks on
 * until the next record of ch; when a record after after_seq exists already
 * it completes at once with that record's data. */
int engine_session_stream_wait(engine *en, const store_env *env, const char *run_id,
                               const session_chan *ch, const token_opts *o, int64_t after_seq,
                               int64_t now, char id[64], bool *cached, err_t *e);

/* The data of an S2 record of a session channel, as waitpoint output: the
 * envelope {"data":..,"id":..}'s data (a string's text as is, else its
 * JSON). NULL for command and control records (no envelope). malloc'd. */
char *engine_session_record_data(const uint8_t *body, size_t len);

#endif
