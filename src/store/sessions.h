/*
 * store/sessions.h - session rows (a durable chat/agent that outlives its
 * runs) and their SessionRun audit rows (store/sessions.c).
 */
#ifndef TD_STORE_SESSIONS_H
#define TD_STORE_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct store_session {
    int64_t seq;
    char *id;          /* internal cuid */
    char *friendly_id; /* session_<cuid> */
    char *env_id;
    char *external_id; /* NULL = none; unique per environment */
    char *type;
    char *task;
    char *trigger_config; /* JSON object text (SessionTriggerConfig) */
    char *tags;           /* JSON array text */
    char *metadata;       /* JSON object text or NULL */
    char *current_run_id; /* friendly run id, NULL before the first run */
    int64_t current_run_version; /* optimistic-lock counter of current_run_id */
    int64_t closed_at;           /* 0 = open */
    char *closed_reason;
    int64_t expires_at; /* 0 = never */
    int64_t created_at;
    int64_t updated_at;
} store_session;

void store_session_clear(store_session *s);

/* Inserts s (seq set); ERR_CONFLICT when (env, external_id) is taken. */
int store_session_insert(store *st, store_session *s);
/* Writes every column of s back; ERR_CONFLICT on a taken external_id. */
int store_session_update(store *st, const store_session *s);
/* Loads the session of env addressed by key: a friendly id when it starts
 * with "session_", else an external id. ERR_NOT_FOUND when none. */
int store_session_get(store *st, const char *env_id, const char *key, store_session *s);

/* The optimistic claim of a session's current run: sets current_run_id to
 * run_id and bumps the version, only while the version is still version and
 * (when expect_run is non-NULL) the current run is still expect_run. *won
 * tells whether it did. */
int store_session_claim(store *st, const char *session_id, int64_t version,
                        const char *expect_run, const char *run_id, int64_t now, bool *won);

/* Records that run_id was triggered for session_id (reason: initial,
 * continuation, upgrade or manual). */
int store_session_run_add(store *st, const char *session_id, const char *run_id,
                          const char *reason, int64_t now);
/* The audit rows of a session, oldest first: fn(ud, run_id, reason, at). */
int store_session_runs_each(store *st, const char *session_id,
                            void (*fn)(void *ud, const char *run_id, const char *reason,
                                       int64_t at),
                            void *ud);

typedef enum {
    SESSION_ACTIVE = 1,
    SESSION_CLOSED = 2,
    SESSION_EXPIRED = 4,
} session_status_bit;

typedef struct store_session_filter {
    const char *env_id;
    const char *types[STORE_FILTER_MAX];
    size_t n_type;
    const char *tags[STORE_FILTER_MAX]; /* any of */
    size_t n_tag;
    const char *tasks[STORE_FILTER_MAX];
    size_t n_task;
    const char *external_id;
    int statuses; /* session_status_bit mask, 0 = any */
    int64_t now;  /* for EXPIRED */
    int64_t created_from, created_to;
    int64_t after_seq, before_seq; /* cursors: older than / newer than */
    int limit;
} store_session_filter;

/* Newest first (page[after] goes older, page[before] newer, returned newest
 * first too); *has_more when another page lies in that direction. */
int store_session_list(store *st, const store_session_filter *f, store_session **out, size_t *n,
                       bool *has_more);

/* ---- session channels (migration 15) ---- */

/* Registers waitpoint wp_id as waiting on the channel (env, key, io) until
 * expires_at (ms). */
int store_session_wait_add(store *st, const char *env_id, const char *key, const char *io,
                           const char *wp_id, int64_t expires_at);
/* Takes every waitpoint waiting on (env, key, io) (removing them, and any
 * expired ones): *ids receives a malloc'd array of malloc'd ids (caller
 * frees both). */
int store_session_wait_drain(store *st, const char *env_id, const char *key, const char *io,
                             int64_t now, char ***ids, size_t *n);
/* Unregisters one waitpoint (it was completed by the caller). */
int store_session_wait_remove(store *st, const char *env_id, const char *key, const char *io,
                              const char *wp_id);

/* Claims dkey (an append's part id) until expires_at: *claimed false when a
 * live claim exists already (a duplicate). Expired claims are purged. */
int store_session_part_claim(store *st, const char *dkey, int64_t now, int64_t expires_at,
                             bool *claimed);
/* Drops the claim (the append it guarded failed). */
int store_session_part_release(store *st, const char *dkey);

#endif
