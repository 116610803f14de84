/*
 * api/api.c - the route table: every endpoint, its auth mode, CORS and body
 * limit (spec/api.md section 6). Handlers live in one file per API area.
 */
#include "api/api.h"

#define S ROUTE_SECRET
#define J ROUTE_JWT
#define CORS ROUTE_CORS
#define EXEMPT ROUTE_RL_EXEMPT

const http_route api_routes[] = {
    {"GET", "/healthz", api_healthz, ROUTE_NOAUTH, 0},
    /* 6.1 trigger */
    {"POST", "/api/v1/tasks/:taskId/trigger", api_trigger, S | J | CORS, API_PAYLOAD_MAX},
    /* 6.2 batches */
    {"POST", "/api/v3/batches", api_batch_create, S | J | CORS, API_CREATE_BATCH_MAX},
    {"POST", "/api/v3/batches/:batchId/items", api_batch_items, S | J | ROUTE_CHUNKED, 0},
    {"POST", "/api/v2/tasks/batch", api_batch_v2, S | J | CORS, API_BATCH_BODY_MAX},
    {"POST", "/api/v1/tasks/batch", api_batch_v1, S | J | CORS, API_BATCH_BODY_MAX},
    {"POST", "/api/v1/tasks/:taskId/batch", api_batch_task_v1, S, API_BATCH_BODY_MAX},
    {"GET", "/api/v2/batches/:batchId", api_batch_retrieve_v2, S | J | CORS, 0},
    {"GET", "/api/v1/batches/:batchId", api_batch_retrieve_v1, S | J | CORS, 0},
    {"GET", "/api/v1/batches/:batchId/results", api_batch_results, S | ROUTE_LEGACY, 0},
    /* 6.3 packets and the object store behind their signed URLs */
    {"PUT", "/api/v2/packets/*", api_packets_put, S | EXEMPT, 0},
    {"GET", "/api/v1/packets/*", api_packets_get, S | J | CORS | EXEMPT, 0},
    {"PUT", "/objects/*", api_objects_put, ROUTE_NOAUTH | ROUTE_CHUNKED | CORS, API_PACKET_MAX},
    {"GET", "/objects/*", api_objects_get, ROUTE_NOAUTH | CORS, 0},
    /* 6.4 runs */
    {"GET", "/api/v3/runs/:runId", api_runs_retrieve, S | J | CORS, 0},
    {"GET", "/api/v1/runs", api_runs_list, S | J | CORS, 0},
    {"GET", "/api/v1/projects/:projectRef/runs", api_project_runs_list, ROUTE_PAT | CORS, 0},
    {"GET", "/api/v1/runs/:runId/events", api_run_events, S | J | CORS, 0},
    {"GET", "/api/v1/runs/:runId/trace", api_run_trace, S | J | CORS, 0},
    {"GET", "/api/v1/runs/:runId/spans/:spanId", api_run_span, S | J | CORS, 0},
    {"POST", "/api/v2/runs/:runId/cancel", api_runs_cancel, S | J, 0},
    {"POST", "/api/v1/runs/:runId/replay", api_runs_replay, S, 0},
    {"POST", "/api/v1/runs/:runId/reschedule", api_runs_reschedule, S | ROUTE_LEGACY, 0},
    {"POST", "/api/v1/runs/:runId/tags", api_runs_tags, S | ROUTE_LEGACY, 0},
    {"PUT", "/api/v1/runs/:runId/metadata", api_runs_metadata_put, S, API_METADATA_BODY_MAX},
    {"GET", "/api/v1/runs/:runId/metadata", api_runs_metadata_get, S | ROUTE_LEGACY, 0},
    {"GET", "/api/v1/runs/:runId/result", api_runs_result, S | ROUTE_LEGACY, 0},
    /* 6.5 schedules */
    {"POST", "/api/v1/schedules", api_schedules_create, S | ROUTE_LEGACY, 64 * 1024},
    {"GET", "/api/v1/schedules", api_schedules_list, S | ROUTE_LEGACY, 0},
    {"GET", "/api/v1/schedules/:schedule", api_schedules_retrieve, S | ROUTE_LEGACY, 0},
    {"PUT", "/api/v1/schedules/:schedule", api_schedules_update, S | ROUTE_LEGACY, 64 * 1024},
    {"DELETE", "/api/v1/schedules/:schedule", api_schedules_delete, S | ROUTE_LEGACY, 0},
    {"POST", "/api/v1/schedules/:schedule/activate", api_schedules_activate, S | ROUTE_LEGACY, 0},
    {"POST", "/api/v1/schedules/:schedule/deactivate", api_schedules_deactivate, S | ROUTE_LEGACY,
     0},
    {"GET", "/api/v1/timezones", api_timezones, ROUTE_NOAUTH | CORS, 0},
    /* 6.12 sessions */
    {"POST", "/api/v1/sessions", api_sessions_create, S | J | CORS, 32 * 1024},
    {"GET", "/api/v1/sessions", api_sessions_list, S | J | CORS, 0},
    {"GET", "/api/v1/sessions/:session", api_sessions_retrieve, S | J | CORS, 0},
    {"PATCH", "/api/v1/sessions/:session", api_sessions_update, S | J | CORS, 32 * 1024},
    {"POST", "/api/v1/sessions/:session/close", api_sessions_close, S | J | CORS, 1024},
    {"POST", "/api/v1/sessions/:session/end-and-continue", api_sessions_end_and_continue, S | J,
     1024},
    {"PUT", "/api/v1/sessions/:session/snapshot-url", api_sessions_snapshot_put,
     S | J | CORS | EXEMPT, 0},
    {"GET", "/api/v1/sessions/:session/snapshot-url", api_sessions_snapshot_get,
     S | J | CORS | EXEMPT, 0},
    /* 6.16 session channels; named side channels (latest SDK) first */
    {"PUT", "/realtime/v1/sessions/:session/channels/:name/:io", api_sesschan_named_init,
     S | J | CORS, 0},
    {"GET", "/realtime/v1/sessions/:session/channels/:name/:io", api_sesschan_named_read,
     S | J | CORS | EXEMPT, 0},
    {"HEAD", "/realtime/v1/sessions/:session/channels/:name/:io", api_sesschan_named_head,
     S | J | CORS | EXEMPT, 0},
    {"POST", "/realtime/v1/sessions/:session/channels/:name/:io/append", api_sesschan_named_append,
     S | J | CORS, 1024 * 1024},
    {"GET", "/realtime/v1/sessions/:session/channels/:name/:io/records", api_sesschan_named_records,
     S | J | CORS | EXEMPT, 0},
    {"PUT", "/realtime/v1/sessions/:session/:io", api_sesschan_init, S | J | CORS, 0},
    {"GET", "/realtime/v1/sessions/:session/:io", api_sesschan_read, S | J | CORS | EXEMPT, 0},
    {"HEAD", "/realtime/v1/sessions/:session/:io", api_sesschan_head, S | J | CORS | EXEMPT, 0},
    {"POST", "/realtime/v1/sessions/:session/:io/append", api_sesschan_append, S | J | CORS,
     1024 * 1024},
    {"GET", "/realtime/v1/sessions/:session/:io/records", api_sesschan_records,
     S | J | CORS | EXEMPT, 0},
    {"POST", "/api/v1/runs/:runId/session-streams/wait", api_sesschan_wait, S, 10 * 1024},
    {"GET", "/api/v1/sessions/:session/transcript", api_sessions_transcript, S, 0},
    /* 6.13 realtime run feeds (Electric shape protocol) */
    {"GET", "/realtime/v1/runs/:runId", api_realtime_run, S | J | CORS | EXEMPT, 0},
    {"GET", "/realtime/v1/runs", api_realtime_runs, S | J | CORS | EXEMPT, 0},
    {"GET", "/realtime/v1/batches/:batchId", api_realtime_batch, S | J | CORS | EXEMPT, 0},
    /* 6.15 input streams (before 6.14: "input" would match :target) */
    {"POST", "/realtime/v1/streams/:runId/input/:streamId", api_input_send, S | J | CORS,
     1024 * 1024},
    {"GET", "/realtime/v1/streams/:runId/input/:streamId", api_input_read, S | J | CORS | EXEMPT,
     0},
    {"POST", "/api/v1/runs/:runId/input-streams/wait", api_input_wait, S, 10 * 1024},
    /* 6.14 realtime output streams (v1) */
    {"GET", "/realtime/v1/streams/:runId/:streamKey", api_stream_read, S | J | CORS | EXEMPT, 0},
    {"PUT", "/realtime/v1/streams/:runId/:target/:streamKey", api_stream_create, S, 0},
    {"POST", "/realtime/v1/streams/:runId/:target/:streamKey", api_stream_ingest,
     S | ROUTE_CHUNKED | EXEMPT, 0},
    {"HEAD", "/realtime/v1/streams/:runId/:target/:streamKey", api_stream_head, S | EXEMPT, 0},
    {"POST", "/realtime/v1/streams/:runId/:target/:streamKey/append", api_stream_append, S,
     512 * 1024},
    /* S2 unary appends, ops A and B (spec/s2.md 3, 4); the token is S2's own,
     * checked by the handler. Sessions (op C) come over h2c (api/s2.c). */
    {"POST", "/v1/streams/:stream/records", api_s2_append, ROUTE_NOAUTH | EXEMPT, 8 * 1024 * 1024},
    /* 6.7 queues */
    {"GET", "/api/v1/queues", api_queues_list, S, 0},
    {"GET", "/api/v1/queues/:queueParam", api_queues_retrieve, S | J, 0},
    {"POST", "/api/v1/queues/:queueParam/pause", api_queues_pause, S, 4 * 1024},
    {"POST", "/api/v1/queues/:queueParam/concurrency/override", api_queues_override, S, 4 * 1024},
    {"POST", "/api/v1/queues/:queueParam/concurrency/reset", api_queues_reset, S, 4 * 1024},
    /* 6.8 waitpoint tokens */
    {"POST", "/api/v1/waitpoints/tokens", api_tokens_create, S, API_TOKEN_BODY_MAX},
    {"GET", "/api/v1/waitpoints/tokens", api_tokens_list, S, 0},
    {"GET", "/api/v1/waitpoints/tokens/:waitpointId", api_tokens_retrieve, S, 0},
    {"POST", "/api/v1/waitpoints/tokens/:waitpointId/complete", api_tokens_complete, S | J | CORS,
     API_TOKEN_COMPLETE_MAX},
    {"POST", "/api/v1/waitpoints/tokens/:waitpointId/callback/:hash", api_tokens_callback,
     ROUTE_NOAUTH | EXEMPT, API_TOKEN_COMPLETE_MAX},
    /* 6.9 idempotency keys */
    {"POST", "/api/v1/idempotencyKeys/:key/reset", api_idempotency_reset, S | J | CORS, 0},
    /* 6.11 auth */
    {"POST", "/api/v1/auth/jwt/claims", api_auth_claims, S | EXEMPT | ROUTE_LEGACY, 0},
    {"POST", "/api/v1/auth/jwt", api_auth_jwt, S | ROUTE_LEGACY, 0},
    {"GET", "/api/v2/whoami", api_whoami, ROUTE_PAT | S, 0},
    /* the CLI's login (authorization codes) and triggerd's page that approves them */
    {"POST", "/api/v1/authorization-code", api_login_code_create, ROUTE_NOAUTH, 4 * 1024},
    {"POST", "/api/v1/token", api_login_token, ROUTE_NOAUTH, 4 * 1024},
    {"GET", "/account/authorization-code/:code", api_login_page, ROUTE_NOAUTH, 0},
    {"POST", "/account/authorization-code/:code", api_login_approve, ROUTE_NOAUTH, 4 * 1024},
    {"GET", "/account/login-link/:secret", api_login_link_page, ROUTE_NOAUTH, 0},
    /* projects and organizations for `trigger.dev init` */
    {"GET", "/api/v1/projects", api_projects_list, ROUTE_PAT, 0},
    {"GET", "/api/v1/projects/:projectRef", api_project_get, ROUTE_PAT, 0},
    {"POST", "/api/v1/projects/:projectRef/init", api_project_init, ROUTE_PAT, 0},
    {"GET", "/api/v1/orgs", api_orgs_list, ROUTE_PAT, 0},
    {"POST", "/api/v1/orgs", api_orgs_create, ROUTE_PAT, 4 * 1024},
    {"GET", "/api/v1/orgs/:orgParam/projects", api_org_projects_list, ROUTE_PAT, 0},
    {"POST", "/api/v1/orgs/:orgParam/projects", api_org_projects_create, ROUTE_PAT, 4 * 1024},
    {"POST", "/api/v1/profile/complete", api_profile_complete, ROUTE_PAT, 4 * 1024},
    /* the dev CLI (docs/dev-protocol.md) */
    {"GET", "/api/v1/platform-notifications", api_platform_notifications, ROUTE_PAT | S, 0},
    {"GET", "/api/v1/projects/:projectRef/envvars", api_envvars_all, S, 0},
    /* 6.6 environment variables */
    {"GET", "/api/v1/projects/:projectRef/envvars/:slug", api_envvars_list, S | ROUTE_PAT, 0},
    {"POST", "/api/v1/projects/:projectRef/envvars/:slug", api_envvars_create, S | ROUTE_PAT,
     1024 * 1024},
    {"POST", "/api/v1/projects/:projectRef/envvars/:slug/import", api_envvars_import, S | ROUTE_PAT,
     4 * 1024 * 1024},
    {"GET", "/api/v1/projects/:projectRef/envvars/:slug/:name", api_envvars_get, S | ROUTE_PAT, 0},
    {"PUT", "/api/v1/projects/:projectRef/envvars/:slug/:name", api_envvars_update, S | ROUTE_PAT,
     1024 * 1024},
    {"POST", "/api/v1/projects/:projectRef/envvars/:slug/:name", api_envvars_update, S | ROUTE_PAT,
     1024 * 1024},
    {"DELETE", "/api/v1/projects/:projectRef/envvars/:slug/:name", api_envvars_delete,
     S | ROUTE_PAT, 0},
    {"POST", "/api/v1/projects/:projectRef/background-workers", api_background_workers, S,
     8 * 1024 * 1024},
    {"GET", "/api/v1/projects/:projectRef/:env", api_project_env, ROUTE_PAT, 0},
    {"GET", "/engine/v1/dev/config", api_dev_config, S, 0},
    {"GET", "/engine/v1/dev/push", api_dev_push_stats, S, 0},
    {"GET", "/engine/v1/dev/presence", api_dev_presence, S, 0},
    {"POST", "/engine/v1/dev/dequeue", api_dev_dequeue, S, 10 * 1024},
    {"POST", "/engine/v1/dev/disconnect", api_dev_disconnect, S, 64 * 1024},
    {"POST", "/engine/v1/dev/runs/:runId/snapshots/:snapshotId/attempts/start", api_attempt_start,
     S, 64 * 1024},
    {"POST", "/engine/v1/dev/runs/:runId/snapshots/:snapshotId/attempts/complete",
     api_attempt_complete, S, 16 * 1024 * 1024},
    {"POST", "/engine/v1/dev/runs/:runId/snapshots/:snapshotId/heartbeat", api_heartbeat, S,
     64 * 1024},
    {"GET", "/engine/v1/dev/runs/:runId/snapshots/latest", api_snapshot_latest, S, 0},
    {"POST", "/engine/v1/dev/runs/:runId/logs/debug", api_debug_log, S, 1024 * 1024},
    /* in-task waits (spec/api.md 6.17) */
    {"POST", "/engine/v1/runs/:runId/wait/duration", api_wait_duration, S, 64 * 1024},
    {"POST", "/engine/v1/runs/:runId/waitpoints/tokens/:waitpointId/wait", api_wait_token, S,
     64 * 1024},
    /* OTLP/HTTP JSON from task processes (no auth, as the real server) */
    {"POST", "/otel/v1/logs", api_otel_logs, ROUTE_NOAUTH, 16 * 1024 * 1024},
    {"POST", "/otel/v1/traces", api_otel_traces, ROUTE_NOAUTH, 16 * 1024 * 1024},
    {"POST", "/otel/v1/metrics", api_otel_metrics, ROUTE_NOAUTH, 16 * 1024 * 1024},
};

const size_t api_routes_count = sizeof(api_routes) / sizeof(api_routes[0]);
