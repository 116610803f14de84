/*
 * store/migrations.c - SQL of each schema version (SQLite dialect). Column
 * names of runs and batches match the fields of store_run and store_batch,
 * which sqlite.c maps by name.
 */
#include "store/migrations.h"

const char *const store_migrations[] = {
    /* 1: tenancy, runs, batches, request dedup */
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE orgs(id TEXT PRIMARY KEY, slug TEXT NOT NULL, title TEXT NOT NULL);"
    "CREATE TABLE projects(id TEXT PRIMARY KEY, org_id TEXT NOT NULL, ref TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL, slug TEXT NOT NULL);"
    "CREATE TABLE envs(id TEXT PRIMARY KEY, project_id TEXT NOT NULL, slug TEXT NOT NULL,"
    " type TEXT NOT NULL, api_key TEXT NOT NULL UNIQUE);"
    "CREATE TABLE revoked_keys(api_key TEXT PRIMARY KEY, env_id TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL);"
    "CREATE TABLE access_tokens(token TEXT PRIMARY KEY, created_at INTEGER NOT NULL);"
    "CREATE TABLE runs("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
    " friendly_id TEXT NOT NULL UNIQUE, env_id TEXT NOT NULL, task TEXT NOT NULL,"
    " status INTEGER NOT NULL, payload TEXT, payload_type TEXT, metadata TEXT,"
    " metadata_type TEXT, output TEXT, output_type TEXT, error TEXT, queue TEXT,"
    " concurrency_key TEXT, idempotency_key TEXT, idempotency_key_user TEXT,"
    " idempotency_expires_at INTEGER, tags TEXT, priority_ms INTEGER, queue_ts INTEGER,"
    " machine TEXT, max_attempts INTEGER, max_duration_s INTEGER, is_test INTEGER,"
    " ttl TEXT, ttl_ms INTEGER, delay_until INTEGER, expire_at INTEGER,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, queued_at INTEGER,"
    " started_at INTEGER, completed_at INTEGER, expired_at INTEGER, parent_id TEXT,"
    " root_id TEXT, batch_id TEXT, depth INTEGER, trigger_function TEXT,"
    " lock_to_version TEXT, version TEXT, one_time_token TEXT,"
    " attempt_count INTEGER, seed_metadata TEXT, seed_metadata_type TEXT,"
    " resume_parent INTEGER, realtime_streams TEXT, trace_id TEXT, span_id TEXT);"
    "CREATE INDEX runs_env_seq ON runs(env_id, seq);"
    "CREATE INDEX runs_idem ON runs(env_id, task, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX runs_delay ON runs(delay_until) WHERE status = 0;"
    "CREATE INDEX runs_expire ON runs(expire_at) WHERE expire_at > 0;"
    "CREATE INDEX runs_queue ON runs(env_id, queue, queue_ts) WHERE status = 1;"
    "CREATE INDEX runs_parent ON runs(parent_id) WHERE parent_id IS NOT NULL;"
    "CREATE INDEX runs_batch ON runs(batch_id) WHERE batch_id IS NOT NULL;"
    "CREATE UNIQUE INDEX runs_otu ON runs(one_time_token) WHERE one_time_token IS NOT NULL;"
    "CREATE TABLE batches("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " friendly_id TEXT NOT NULL UNIQUE, env_id TEXT NOT NULL, status TEXT NOT NULL,"
    " run_count INTEGER NOT NULL, items_accepted INTEGER NOT NULL, idempotency_key TEXT,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, completed_at INTEGER,"
    " sealed INTEGER NOT NULL, parent_run_id TEXT, resume_parent INTEGER,"
    " one_time_token TEXT UNIQUE, errors TEXT, version TEXT);"
    "CREATE INDEX batches_idem ON batches(env_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE TABLE batch_items(batch_id TEXT NOT NULL, idx INTEGER NOT NULL, run_id TEXT,"
    " PRIMARY KEY(batch_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE request_keys(hash TEXT PRIMARY KEY, entity TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL) WITHOUT ROWID;",
    /* 2: waitpoints (tokens now; durations, child runs and batches later) */
    "CREATE TABLE waitpoints("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL, friendly_id TEXT NOT NULL UNIQUE,"
    " env_id TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,"
    " idempotency_key TEXT, user_idempotency_key INTEGER, idempotency_expires_at INTEGER,"
    " inactive_idempotency_key TEXT, output TEXT, output_type TEXT, output_is_error INTEGER,"
    " timeout_at INTEGER, completed_at INTEGER, completed_after INTEGER,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, tags TEXT);"
    "CREATE INDEX waitpoints_env_seq ON waitpoints(env_id, seq);"
    "CREATE INDEX waitpoints_idem ON waitpoints(env_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX waitpoints_timeout ON waitpoints(timeout_at) WHERE status = 'PENDING'"
    " AND timeout_at > 0;",
    /* 3: execution: workers, queues, snapshots, blockers, run events */
    "ALTER TABLE runs ADD COLUMN snapshot_id TEXT;"
    "ALTER TABLE runs ADD COLUMN snapshot_status TEXT;"
    "ALTER TABLE runs ADD COLUMN snapshot_desc TEXT;"
    "ALTER TABLE runs ADD COLUMN snapshot_at INTEGER;"
    "ALTER TABLE runs ADD COLUMN snapshot_waitpoints TEXT;"
    "ALTER TABLE runs ADD COLUMN pending_waitpoints TEXT;"
    "ALTER TABLE runs ADD COLUMN worker_id TEXT;"
    "ALTER TABLE runs ADD COLUMN heartbeat_deadline INTEGER;"
    "ALTER TABLE runs ADD COLUMN available_at INTEGER;"
    "CREATE INDEX runs_heartbeat ON runs(heartbeat_deadline) WHERE heartbeat_deadline > 0;"
    "CREATE INDEX runs_active ON runs(env_id, snapshot_status)"
    " WHERE snapshot_status IN ('PENDING_EXECUTING','EXECUTING','PENDING_CANCEL');"
    "ALTER TABLE waitpoints ADD COLUMN completed_by_run TEXT;"
    "ALTER TABLE waitpoints ADD COLUMN resume_run TEXT;"
    "ALTER TABLE waitpoints ADD COLUMN batch_id TEXT;"
    "ALTER TABLE waitpoints ADD COLUMN batch_index INTEGER;"
    "CREATE INDEX waitpoints_by_run ON waitpoints(completed_by_run)"
    " WHERE completed_by_run IS NOT NULL;"
    "CREATE INDEX waitpoints_by_batch ON waitpoints(batch_id, type) WHERE batch_id IS NOT NULL;"
    "CREATE TABLE workers(seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
    " friendly_id TEXT NOT NULL UNIQUE, env_id TEXT NOT NULL, version TEXT NOT NULL,"
    " content_hash TEXT NOT NULL, tasks TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE INDEX workers_env ON workers(env_id, seq);"
    "CREATE TABLE queues(env_id TEXT NOT NULL, name TEXT NOT NULL, friendly_id TEXT NOT NULL,"
    " concurrency_limit INTEGER NOT NULL, PRIMARY KEY(env_id, name)) WITHOUT ROWID;"
    "CREATE TABLE run_blockers(run_id TEXT NOT NULL, waitpoint_id TEXT NOT NULL,"
    " PRIMARY KEY(run_id, waitpoint_id)) WITHOUT ROWID;"
    "CREATE INDEX run_blockers_wp ON run_blockers(waitpoint_id);"
    "CREATE TABLE run_events(seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL, level TEXT, message TEXT, span_id TEXT, trace_id TEXT,"
    " attributes TEXT);"
    "CREATE INDEX run_events_run ON run_events(run_id, seq);",
    /* 4: environment variables */
    "CREATE TABLE env_vars(env_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
    " is_secret INTEGER NOT NULL, PRIMARY KEY(env_id, name)) WITHOUT ROWID;",
    /* 5: dequeue reads queued runs in queue order without sorting the whole queue */
    "CREATE INDEX runs_dequeue ON runs(env_id, queue_ts) WHERE status = 1;",
    /* 6: fair dequeue reads the queued runs one (queue, concurrency key)
     * unit at a time, in queue order, and finds the units by skipping
     * through the same index (store_ready_units) */
    "DROP INDEX runs_queue;"
    "DROP INDEX runs_dequeue;"
    "CREATE INDEX runs_unit ON runs(env_id, queue, concurrency_key, queue_ts) WHERE status = 1;",
    /* 7: compute time of a run (the API's durationMs), summed over its attempts */
    "ALTER TABLE runs ADD COLUMN usage_ms INTEGER NOT NULL DEFAULT 0;",
    /* 8: the CLI's login (authorization codes, one-time login links) and
     * project times for `trigger.dev init` */
    "CREATE TABLE authorization_codes(code TEXT PRIMARY KEY, created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL, token TEXT) WITHOUT ROWID;"
    "CREATE TABLE login_links(secret TEXT PRIMARY KEY, created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL, used_at INTEGER) WITHOUT ROWID;"
    "ALTER TABLE projects ADD COLUMN created_at INTEGER;"
    "ALTER TABLE projects ADD COLUMN initialized_at INTEGER;",
    /* 9: realtime: every run write takes the next change number, so a feed
     * resumes from an offset without missing a change */
    "ALTER TABLE runs ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;"
    "UPDATE runs SET change_seq = seq;"
    "CREATE INDEX runs_changes ON runs(env_id, change_seq);",
    /* 10: realtime streams (output streams and input streams "$trigger.input:<id>"):
     * records numbered from 0 per (run, stream), kept until the run is gone;
     * client_id/chunk let a v1 NDJSON writer resume (X-Last-Chunk-Index); and
     * the pending input-stream waitpoint of a (run, stream), completed by the
     * next record sent */
    "CREATE TABLE stream_records(run_id TEXT NOT NULL, stream TEXT NOT NULL,"
    " seq INTEGER NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " client_id TEXT, chunk INTEGER, part_id TEXT, PRIMARY KEY(run_id, stream, seq)) WITHOUT ROWID;"
    "CREATE TABLE input_stream_waits(run_id TEXT NOT NULL, stream TEXT NOT NULL,"
    " waitpoint_id TEXT NOT NULL, PRIMARY KEY(run_id, stream)) WITHOUT ROWID;",
    /* 11: sessions (durable chat/agent rows that outlive their runs) and the
     * audit trail of the runs each one triggered */
    "CREATE TABLE sessions(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " friendly_id TEXT NOT NULL UNIQUE, env_id TEXT NOT NULL, external_id TEXT, type TEXT NOT NULL,"
    " task TEXT NOT NULL, trigger_config TEXT NOT NULL, tags TEXT NOT NULL, metadata TEXT,"
    " current_run_id TEXT, current_run_version INTEGER NOT NULL DEFAULT 0,"
    " closed_at INTEGER NOT NULL DEFAULT 0, closed_reason TEXT, expires_at INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX sessions_external ON sessions(env_id, external_id);"
    "CREATE INDEX sessions_env ON sessions(env_id, seq);"
    "CREATE TABLE session_runs(run_id TEXT PRIMARY KEY, session_id TEXT NOT NULL,"
    " reason TEXT NOT NULL, triggered_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX session_runs_session ON session_runs(session_id, triggered_at);",
    /* 12: S2 streams (spec/s2.md): the streams triggerd serves over its own
     * S2 API (v2 run streams), by name. next_seq is the tail (the seq the
     * next record takes), last_ts keeps timestamps non-decreasing, trim_seq
     * the monotonic trim point (records below it are deleted). headers is
     * the records' headers as protobuf Header messages (realtime/s2wire.h) */
    "CREATE TABLE s2_streams(name TEXT PRIMARY KEY, next_seq INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL, trim_seq INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE s2_records(stream TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " headers BLOB, body BLOB, PRIMARY KEY(stream, seq)) WITHOUT ROWID;",
    /* 13: how many times a dequeued run was requeued because its attempt
     * never started (PENDING_EXECUTING stalls); the platform's nack limit */
    "ALTER TABLE runs ADD COLUMN nack_count INTEGER NOT NULL DEFAULT 0;",
    /* 14: schedules: a cron schedule of a project and its instances, one per
     * environment it fires in, each holding its next tick (the timer index);
     * runs remember the schedule that made them (runs.list filter[schedule]) */
    "CREATE TABLE schedules(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " friendly_id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL, type TEXT NOT NULL,"
    " task TEXT NOT NULL, cron TEXT NOT NULL, description TEXT NOT NULL, timezone TEXT NOT NULL,"
    " external_id TEXT, dedup_key TEXT NOT NULL, user_dedup INTEGER NOT NULL DEFAULT 0,"
    " active INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX schedules_dedup ON schedules(project_id, dedup_key);"
    "CREATE TABLE schedule_instances(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " schedule_id TEXT NOT NULL, env_id TEXT NOT NULL, next_at INTEGER NOT NULL DEFAULT 0,"
    " last_at INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX schedule_instances_env ON schedule_instances(schedule_id, env_id);"
    "CREATE INDEX schedule_instances_next ON schedule_instances(next_at) WHERE next_at > 0;"
    "ALTER TABLE runs ADD COLUMN schedule_id TEXT;"
    "CREATE INDEX runs_schedule ON runs(schedule_id, seq) WHERE schedule_id IS NOT NULL;",
    /* 15: session channels (spec/sessions.md 3): the session-stream
     * waitpoints waiting on a channel (env, addressing key, io), drained by
     * the next append, and the claimed X-Part-Id of recent appends (a retry
     * with the same part id is not appended twice; claims live 5 minutes) */
    "CREATE TABLE session_waits(env_id TEXT NOT NULL, skey TEXT NOT NULL, io TEXT NOT NULL,"
    " waitpoint_id TEXT NOT NULL, expires_at INTEGER NOT NULL,"
    " PRIMARY KEY(env_id, skey, io, waitpoint_id)) WITHOUT ROWID;"
    "CREATE TABLE session_parts(dkey TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX session_parts_expiry ON session_parts(expires_at);",
    /* 16: runs whose waits are over and that wait for a queue slot to go on
     * (snapshot QUEUED_EXECUTING, docs/engine.md), in queue order: every
     * released slot looks here first, and finds nothing in one seek */
    "CREATE INDEX runs_resuming ON runs(env_id, queue_ts)"
    " WHERE snapshot_status = 'QUEUED_EXECUTING';",
    /* 17: the queues API (spec/api.md 6.7): a paused queue is not dequeued
     * from; an override replaces the declared limit until it is reset (the
     * declared concurrency_limit keeps following the worker's manifest);
     * retrieve by id */
    "ALTER TABLE queues ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE queues ADD COLUMN override_limit INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE queues ADD COLUMN overridden_at INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX queues_friendly ON queues(env_id, friendly_id);",
    /* 18: a run's trace (GET /api/v1/runs/{id}/trace, spans/{spanId}): the
     * span tree of its OTLP events (a log's parent is the span it was
     * written in), span durations and errors, span events, and partial
     * spans (a span still open: shown until its full one arrives) */
    "ALTER TABLE run_events ADD COLUMN parent_id TEXT;"
    "ALTER TABLE run_events ADD COLUMN duration_ns INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE run_events ADD COLUMN is_error INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE run_events ADD COLUMN is_partial INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE run_events ADD COLUMN span_events TEXT;",
    /* 19: the runs list filtered by task or by status (the dashboard's
     * Runs page, runs.list) reads its page newest first from one index
     * range instead of walking the environment's runs (bench/dashboard) */
    "CREATE INDEX runs_env_task_seq ON runs(env_id, task, seq);"
    "CREATE INDEX runs_env_status_seq ON runs(env_id, status, seq);",
    /* 20: the runs list filtered by tag: an index of (tag, run), filled
     * at insert by a trigger and by store_run_tags_add when tags are added
     * later (not by an update trigger: every run update rewrites the whole
     * row), so a tag no run has is one seek, not a scan of every run's
     * JSON, and one tag's page is read newest first from the index
     * (bench/dashboard) */
    "CREATE TABLE run_tags(tag TEXT NOT NULL, run_seq INTEGER NOT NULL, PRIMARY KEY(tag, run_seq))"
    " WITHOUT ROWID;"
    "INSERT OR IGNORE INTO run_tags SELECT j.value, runs.seq FROM runs, json_each(runs.tags) j"
    " WHERE runs.tags IS NOT NULL AND json_valid(runs.tags);"
    "CREATE TRIGGER runs_tags_insert AFTER INSERT ON runs"
    " WHEN new.tags IS NOT NULL AND new.tags <> '[]' AND json_valid(new.tags) BEGIN"
    " INSERT OR IGNORE INTO run_tags SELECT value, new.seq FROM json_each(new.tags); END;",
    /* 19: deployments (docs/deploy.md): one `trigger.dev deploy` of an
     * environment, built by triggerd; the promotion row names the env's
     * current deployment, the version new runs lock to */
    "CREATE TABLE deployments(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " friendly_id TEXT NOT NULL UNIQUE, env_id TEXT NOT NULL, short_code TEXT NOT NULL,"
    " version TEXT NOT NULL, status TEXT NOT NULL, content_hash TEXT NOT NULL,"
    " artifact_key TEXT, config_path TEXT, worker_id TEXT, error TEXT, git TEXT, runtime TEXT,"
    " triggered_via TEXT, skip_promotion INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " built_at INTEGER NOT NULL DEFAULT 0, deployed_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX deployments_version ON deployments(env_id, version);"
    "CREATE INDEX deployments_env ON deployments(env_id, seq);"
    "CREATE TABLE deployment_promotions(env_id TEXT PRIMARY KEY, deployment_id TEXT NOT NULL,"
    " promoted_at INTEGER NOT NULL) WITHOUT ROWID;",
};

const size_t store_migrations_count = sizeof(store_migrations) / sizeof(store_migrations[0]);
