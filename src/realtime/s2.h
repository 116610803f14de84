/*
 * realtime/s2.h - S2 stream semantics (spec/s2.md 3-9): appending a batch
 * (limits, command records, trim, contiguous sequence numbers, timestamps),
 * the access tokens handed out in X-S2-Access-Token, the stream names of v2
 * run streams, and the record JSON of S2's read format. The wire forms are
 * realtime/s2wire.h; the HTTP side is api/s2.c.
 */
#ifndef TD_REALTIME_S2_H
#define TD_REALTIME_S2_H

#include <jansson.h>

#include "app.h"
#include "realtime/s2wire.h"

#define S2_BASIN "trigger-local"
#define S2_FLUSH_INTERVAL_MS "100"
#define S2_MAX_RETRIES "10"
#define S2_TOKEN_TTL_S (30LL * 24 * 3600) /* the SDK caches credentials for a run */

/* An S2 error (spec/s2.md 9.1): HTTP status, snake_case code, message. */
typedef struct s2_err {
    int status;
    const char *code;
    char msg[200];
    int64_t tail; /* 412 seq_num_mismatch: the stream's tail */
} s2_err;

/* Validates in (one batch) and appends it to stream name in the turn's
 * transaction: sequence numbers continue the stream's, timestamps are the
 * client's (capped at now) or now, never decreasing. A trim command record
 * raises the trim point. ack receives start/end/tail. The caller answers
 * only once the turn is durable (realtime/streams.h streams_when_durable). */
int s2_append(app *a, const char *name, const s2_input *in, int64_t now, s2_ack *ack, s2_err *e);

/* Reads a JSON AppendInput (s2.md 3, format raw). body is borrowed and
 * must outlive in (its strings are pointed at). */
int s2_input_from_json(json_t *body, s2_input *in, s2_err *e);

/* {"code","message"} (or {"seq_num_mismatch":N} for 412). New reference. */
json_t *s2_err_json(const s2_err *e);
/* {"start":{seq_num,timestamp},"end":...,"tail":...}. New reference. */
json_t *s2_ack_json(const s2_ack *a);

/* A long-lived token for env's S2 streams. Caller frees. */
char *s2_token_mint(app *a, const store_env *env, int64_t now);
/* The grant of a session channel handed to a client that holds no secret
 * key (PUT .in with a session token): it names stream name and may append
 * to nothing. The SDK writes .in only through the /append route, which
 * dedups parts, strips client-forged webhook trust and wakes waiting runs;
 * a direct S2 write would skip all three. PUT still answers with the
 * X-S2-* headers, as the real route does. Caller frees. */
char *s2_token_mint_stream(app *a, const store_env *env, const char *name, int64_t now);
/* 0 when token (raw, without "Bearer ") may append to stream name, else the
 * error (401 authn / 403 permission_denied) in e. */
int s2_token_check(app *a, const char *token, const char *name, int64_t now, s2_err *e);

/* The S2 stream of a v2 run stream (run friendly id, stream key). Caller frees. */
char *s2_run_stream_name(const char *env_id, const char *run_id, const char *key);
/* The S2 stream of a session channel: addressing key, the named side
 * channel (NULL: the chat channel) and io "in"/"out". Caller frees. */
char *s2_session_stream_name(const char *env_id, const char *key, const char *channel,
                             const char *io);

/* The S2 read-format JSON of a stored record (s2.md 8.2): seq_num,
 * timestamp, headers when any, body when not empty, as lossy UTF-8. */
json_t *s2_record_json(const store_s2_rec *r);

#endif
