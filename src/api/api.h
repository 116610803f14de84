/*
 * api/api.h - the route table and what the API files share: parsing
 * trigger options, presenting runs, minting response tokens.
 */
#ifndef TD_API_H
#define TD_API_H

#include "engine/engine.h"
#include "http/h2c.h"
#include "http/http.h"
#include "util/jsontext.h"

extern const http_route api_routes[];
extern const size_t api_routes_count;

/* Limits from spec/api.md and docs/limits.mdx. */
#define API_PAYLOAD_MAX (3 * 1024 * 1024)
#define API_BATCH_BODY_MAX (1000 * 1000)
#define API_BATCH_MAX_ITEMS 1000
#define API_V2_BATCH_MAX_ITEMS 500
#define API_CREATE_BATCH_MAX 131072
#define API_METADATA_BODY_MAX (2 * 1024 * 1024)
#define API_TOKEN_BODY_MAX (10 * 1024)
#define API_TOKEN_COMPLETE_MAX (3 * 1024 * 1024)
#define API_PACKET_MAX (10 * 1024 * 1024 + 1024 * 1024)

/* Fills o from a TriggerTaskRequestBody-shaped object {payload, options}
 * (borrowed; strings point into it or into the request pool). On invalid
 * input replies 400 and returns false. */
bool api_trigger_opts(http_ctx *c, json_t *body, const char *task, trigger_opts *o);

/* Seconds as a duration string ("1h1m1s"), in pool memory. */
const char *api_duration_string(http_ctx *c, int64_t secs);

/* True for a machine preset name (micro, small-1x, ...). */
bool api_machine_valid(const char *name);

/* Adds x-trigger-jwt / x-trigger-jwt-claims with scopes (borrowed). */
void api_jwt_headers(http_ctx *c, json_t *scopes, bool full_claims);

/* The RetrieveRunResponse-shaped JSON of a run (new reference). `full`
 * adds payload, output, error and relatedRuns. */
json_t *api_present_run(http_ctx *c, const store_run *r, bool full);

/* The TaskRunExecutionResult of a finished run (new reference). */
json_t *api_present_result(const store_run *r);

/* A ListRunResponseItem (common fields plus env). */
json_t *api_present_list_item(http_ctx *c, const store_run *r, const store_env *env);
/* The {next?, previous?} of a cursor page of n rows (newest first, seqs
 * first_seq..last_seq): backward when the request paged with before, more
 * when another page lies in that direction, after when it paged with
 * after. New reference. */
/* filter[createdAt][period|from|to] of the sessions and waitpoint-token
 * lists (from/to: ISO time or epoch ms, as those routes read them); true
 * when k is one of them. A bad period sets *error. */
bool api_created_at_filter(http_ctx *c, const char *k, const char *v, int64_t *from, int64_t *to,
                           const char **error);
json_t *api_cursor_pagination(size_t n, int64_t first_seq, int64_t last_seq, bool backward,
                              bool more, bool after);

/* A signed URL to the object store for key, valid for ttl_ms. */
char *api_object_url(http_ctx *c, const char *method, const char *key, int64_t ttl_ms);

/* An object store call off the loop (objstore_*_async) with c parked:
 * fn(c, rc, data, len, content_type) replies once it ends, unless the client
 * went away first. data and content_type are freed after fn. A put copies
 * data. */
typedef void (*api_object_reply)(http_ctx *c, int rc, const char *data, size_t len,
                                 const char *content_type);
void api_object_get(http_ctx *c, const char *key, api_object_reply fn);
void api_object_put(http_ctx *c, const char *key, const void *data, size_t len,
                    const char *content_type, api_object_reply fn);

/* The status and message of an object store error (ERR_* of objstore.h). */
void api_object_error(http_ctx *c, int rc);

/* The object key of an offloaded packet of env. */
char *api_packet_key(http_ctx *c, const store_env *env, const char *filename);

/* Request dedup (spec/api.md 1.5): the hash of the request key, the env and
 * parts (borrowed), or NULL without the header; the entity a request with
 * that hash made, or NULL; and remembering it (replies 500 on failure). */
char *api_request_hash(http_ctx *c, json_t *parts);
const char *api_request_seen(http_ctx *c, const char *hash);
bool api_request_remember(http_ctx *c, const char *hash, const char *entity);

/* JWT read access to a run (its id, task, tags or batch); secret keys
 * always. Replies 403 when refused. */
bool api_can_read_run(http_ctx *c, const store_run *r);

/* The change hub with the Electric row serializer (api/realtime.c). */
struct realtime *api_realtime_new(app *a);

/* Token waitpoint options from a body (api/waitpoints.c); replies 400
 * and returns false when invalid. */
bool api_token_opts(http_ctx *c, json_t *body, token_opts *o);
/* A wait body's lastSeqNum (any JSON number, or absent: -1) as a stream
 * cursor: below 0 is -1 (from the start), past int64 is a seq no record
 * has. v is borrowed. */
int64_t api_seq_cursor(json_t *v);
/* Held dev dequeues (api/dev.c): the state on a->holds, hooked into a->rt;
 * free answers every held dequeue empty (shutdown). */
/* A deployed worker's warm start (api/deploy.c): the next run of the
 * caller's env that worker (borrowed id) executes on a machine mf lets
 * through, held until there is one; answered with one DequeuedMessage. */
void api_dev_hold_one(http_ctx *c, const char *worker, const machine_filter *mf);
/* RunExecutionData of r's latest snapshot. */
json_t *api_execution_data(const store_run *r);
/* deployments and the workload API (api/deploy.c) */
void api_deploy_settings(http_ctx *c);
void api_artifacts_create(http_ctx *c);
void api_objects_post(http_ctx *c);
void api_deployments_create(http_ctx *c);
void api_deployments_get(http_ctx *c);
void api_deployments_latest(http_ctx *c);
void api_deployments_current(http_ctx *c);
void api_deployments_list(http_ctx *c);
void api_deployments_worker(http_ctx *c);
void api_deployments_fail(http_ctx *c);
void api_deployments_cancel(http_ctx *c);
void api_deployments_promote(http_ctx *c);
void api_workload_attempt_start(http_ctx *c);
void api_workload_attempt_complete(http_ctx *c);
void api_workload_heartbeat(http_ctx *c);
void api_workload_debug_log(http_ctx *c);
void api_workload_suspend(http_ctx *c);
void api_workload_snapshots_since(http_ctx *c);
void api_warm_connect(http_ctx *c);
void api_warm_start(http_ctx *c);
int api_devhold_new(app *a);
void api_devhold_free(app *a);
/* Tries env's held dequeues again at once: something other than a run write
 * made runs takeable (a queue resumed, a limit raised). */
void api_devhold_wake(app *a, const char *env_id);
/* The QueueItem JSON of a queue (api/queues.c; new reference). */
struct engine_queue;
json_t *api_present_queue(const struct engine_queue *q);
/* The RetrieveRunTraceSpan tree of a run's trace, rooted at the run's span
 * (api/trace.c; new reference). */
struct engine_trace;
json_t *api_present_trace(const struct engine_trace *t, const store_run *r);
/* Ends the realtime stream readers (shutdown). */
void api_streams_shutdown(app *a);

/* Handlers, one per route. */
void api_schedules_create(http_ctx *c);
void api_schedules_list(http_ctx *c);
void api_schedules_retrieve(http_ctx *c);
void api_schedules_update(http_ctx *c);
void api_schedules_delete(http_ctx *c);
void api_schedules_activate(http_ctx *c);
void api_schedules_deactivate(http_ctx *c);
void api_timezones(http_ctx *c);
void api_sessions_create(http_ctx *c);
void api_sessions_list(http_ctx *c);
void api_sessions_retrieve(http_ctx *c);
void api_sessions_update(http_ctx *c);
void api_sessions_close(http_ctx *c);
void api_sessions_end_and_continue(http_ctx *c);
void api_sessions_snapshot_put(http_ctx *c);
void api_sessions_snapshot_get(http_ctx *c);
void api_sessions_transcript(http_ctx *c);
void api_realtime_run(http_ctx *c);
void api_realtime_runs(http_ctx *c);
void api_realtime_batch(http_ctx *c);
void api_stream_create(http_ctx *c);
void api_stream_ingest(http_ctx *c);
void api_stream_head(http_ctx *c);
void api_stream_append(http_ctx *c);
void api_stream_read(http_ctx *c);
/* The X-S2-* headers granting stream name with token (s2.md 2.1). */
void api_s2_grant(http_ctx *c, const char *name, const char *token);
/* Serves S2 stream name as SSE (s2.md 8.2) from Last-Event-ID, following
 * it for Timeout-Seconds of quiet; settled: only what follows the cursor,
 * then [DONE], with X-Session-Settled: true. */
void api_s2_sse(http_ctx *c, const char *name, bool settled);
/* session channels (api/sesschan.c) */
void api_sesschan_init(http_ctx *c);
void api_sesschan_read(http_ctx *c);
void api_sesschan_head(http_ctx *c);
void api_sesschan_append(http_ctx *c);
void api_sesschan_records(http_ctx *c);
void api_sesschan_named_init(http_ctx *c);
void api_sesschan_named_read(http_ctx *c);
void api_sesschan_named_head(http_ctx *c);
void api_sesschan_named_append(http_ctx *c);
void api_sesschan_named_records(http_ctx *c);
void api_sesschan_wait(http_ctx *c);
void api_input_send(http_ctx *c);
void api_input_read(http_ctx *c);
void api_input_wait(http_ctx *c);
void api_s2_append(http_ctx *c);
/* Cleartext HTTP/2 requests: S2 append sessions (op C), else 404/405. */
void api_s2_h2c(void *app, h2c_stream *s);
void api_healthz(http_ctx *c);
void api_trigger(http_ctx *c);
void api_runs_retrieve(http_ctx *c);
void api_runs_list(http_ctx *c);
/* The runs-list filter of the request's query (filter[...], page[...]), as
 * GET /api/v1/runs reads it; its strings are pool memory. Replies 400 and
 * returns false on a bad one. */
bool api_runs_filter(http_ctx *c, store_run_filter *f);
void api_project_runs_list(http_ctx *c);
void api_runs_cancel(http_ctx *c);
void api_runs_replay(http_ctx *c);
void api_runs_reschedule(http_ctx *c);
void api_runs_tags(http_ctx *c);
void api_runs_metadata_put(http_ctx *c);
void api_runs_metadata_get(http_ctx *c);
void api_runs_result(http_ctx *c);
void api_idempotency_reset(http_ctx *c);
void api_batch_create(http_ctx *c);
void api_batch_items(http_ctx *c);
void api_batch_v2(http_ctx *c);
void api_batch_v1(http_ctx *c);
void api_batch_task_v1(http_ctx *c);
void api_batch_retrieve_v2(http_ctx *c);
void api_batch_retrieve_v1(http_ctx *c);
void api_batch_results(http_ctx *c);
void api_packets_put(http_ctx *c);
void api_packets_get(http_ctx *c);
void api_objects_put(http_ctx *c);
void api_objects_get(http_ctx *c);
void api_auth_claims(http_ctx *c);
void api_auth_jwt(http_ctx *c);
void api_whoami(http_ctx *c);
void api_tokens_create(http_ctx *c);
void api_platform_notifications(http_ctx *c);
void api_project_env(http_ctx *c);
void api_dev_config(http_ctx *c);
void api_dev_push_stats(http_ctx *c);
void api_envvars_all(http_ctx *c);
void api_envvars_list(http_ctx *c);
void api_envvars_get(http_ctx *c);
void api_envvars_create(http_ctx *c);
void api_envvars_update(http_ctx *c);
void api_envvars_delete(http_ctx *c);
void api_envvars_import(http_ctx *c);
void api_dev_presence(http_ctx *c);
void api_background_workers(http_ctx *c);
void api_dev_dequeue(http_ctx *c);
void api_attempt_start(http_ctx *c);
void api_attempt_complete(http_ctx *c);
void api_heartbeat(http_ctx *c);
void api_snapshot_latest(http_ctx *c);
void api_debug_log(http_ctx *c);
void api_dev_disconnect(http_ctx *c);
void api_wait_duration(http_ctx *c);
void api_wait_token(http_ctx *c);
void api_otel_logs(http_ctx *c);
void api_otel_traces(http_ctx *c);
void api_otel_metrics(http_ctx *c);
void api_run_events(http_ctx *c);
void api_run_trace(http_ctx *c);
void api_run_span(http_ctx *c);
void api_tokens_list(http_ctx *c);
void api_tokens_retrieve(http_ctx *c);
void api_tokens_complete(http_ctx *c);
void api_tokens_callback(http_ctx *c);
void api_login_code_create(http_ctx *c);
void api_login_token(http_ctx *c);
void api_login_page(http_ctx *c);
void api_login_approve(http_ctx *c);
void api_login_link_page(http_ctx *c);
void api_projects_list(http_ctx *c);
void api_project_get(http_ctx *c);
void api_project_init(http_ctx *c);
void api_orgs_list(http_ctx *c);
void api_orgs_create(http_ctx *c);
void api_org_projects_list(http_ctx *c);
void api_org_projects_create(http_ctx *c);
void api_profile_complete(http_ctx *c);
void api_queues_list(http_ctx *c);
void api_queues_retrieve(http_ctx *c);
void api_queues_pause(http_ctx *c);
void api_queues_override(http_ctx *c);
void api_queues_reset(http_ctx *c);

#endif
