// tests/integration/worker.mjs - a fake dev worker that drives triggerd's
// worker protocol by hand (docs/dev-protocol.md), one request at a time, so a
// test decides exactly when each event happens: register a worker, dequeue,
// start, heartbeat, wait (duration or token), trigger children
// (triggerAndWait / batchTriggerAndWait) and complete attempts.
//
// Request bodies follow the real CLI 4.5.0 and SDK (trigger.dev
// dist/esm/dev/devSupervisor.js, entryPoints/dev-run-controller.js,
// @trigger.dev/core apiClient and runEngineWorker): dequeue/start/complete are
// posted as text/plain, the child trigger carries parentRunId +
// resumeParentOnCompletion + lockToVersion, batchTriggerAndWait is the
// two-phase /api/v3/batches create + NDJSON items.
//
// Nothing here asserts: every call returns {status, json, text} (api()), and
// the high-level helpers return the parsed parts or throw with the response
// when a step the test relies on did not succeed.
import { createHash, randomUUID } from "node:crypto";
import { api, sleep, waitFor } from "./helpers.mjs";

/** A completion error the SDK sends for a thrown Error. */
export function builtInError(message = "boom") {
  return { type: "BUILT_IN_ERROR", name: "Error", message, stackTrace: `Error: ${message}\n    at run (task.ts:1:1)` };
}

/** Final statuses in the current (2025-07-16) API vocabulary. */
export const FINAL = new Set([
  "COMPLETED", "CANCELED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "INTERRUPTED", "EXPIRED", "TIMED_OUT",
]);

export class FakeWorker {
  /**
   * `srv` from startTriggerd; `key` the env secret key (default the dev
   * key). One FakeWorker registers any number of background workers in
   * that env (`register`), each a version; `current` is the latest.
   */
  constructor(srv, { key } = {}) {
    this.srv = srv.peer ?? srv; // TRIGGERD_NODES=2: the worker talks to the other node
    this.key = key ?? srv.keys.dev;
    this.workers = []; // {id, version, contentHash}
    this.current = null;
    this.dequeued = new Map(); // runId -> DequeuedMessage not yet started by the test
    this.beats = new Map(); // runId -> interval handle (keepAlive)
  }

  call(method, path, opts = {}) {
    return api(this.srv, method, path, {
      key: this.key,
      ...opts,
      headers: { "x-trigger-request-idempotency-key": randomUUID(), ...(opts.headers ?? {}) },
    });
  }

  /** POST a JSON body the way the CLI does for dequeue/start/complete (text/plain). */
  plain(path, body) {
    return this.call("POST", path, {
      body: JSON.stringify(body),
      headers: { "content-type": "text/plain;charset=UTF-8" },
    });
  }

  /**
   * Registers a background worker. `tasks`: [{id, queue?: {name?, concurrencyLimit?},
   * retry?, ttl?, ...}]; `queues`: [{name, concurrencyLimit}] declared with queue().
   * A different `tag` gives a different contentHash, so a new version (hot reload).
   */
  async register(tasks, { queues = [], tag = "" } = {}) {
    const full = tasks.map((t) => ({ maxDuration: 3600, filePath: "src/trigger/fake.ts", entryPoint: "/fake.mjs", ...t }));
    const contentHash = createHash("md5").update(JSON.stringify({ full, queues, tag })).digest("hex");
    const res = await this.call("POST", `/api/v1/projects/${this.srv.projectRef}/background-workers`, {
      headers: { "x-trigger-source": "cli" },
      body: {
        localOnly: true,
        metadata: {
          packageVersion: "4.5.0",
          cliPackageVersion: "4.5.0",
          contentHash,
          runtime: "node",
          runtimeVersion: "20.0.0",
          tasks: full,
          queues,
          sourceFiles: [],
        },
        engine: "V2",
        supportsLazyAttempts: true,
      },
    });
    if (res.status !== 200) throw new Error(`register: ${res.status} ${res.text}`);
    const w = { id: res.json.id, version: res.json.version, contentHash };
    this.workers.push(w);
    this.current = w;
    return w;
  }

  /** One POST /engine/v1/dev/dequeue; returns the raw response. `maxRuns` is triggerd's extension (1-9). */
  dequeueRaw({ worker, maxRuns } = {}) {
    const body = { currentWorker: worker ?? this.current?.id, oldWorkers: [] };
    if (maxRuns) body.maxRuns = maxRuns;
    return this.plain("/engine/v1/dev/dequeue", body);
  }

  /** One dequeue poll; every message is remembered (take()) and returned. */
  async dequeue(opts = {}) {
    const res = await this.dequeueRaw(opts);
    if (res.status !== 200) throw new Error(`dequeue: ${res.status} ${res.text}`);
    for (const m of res.json.dequeuedMessages) this.dequeued.set(m.run.friendlyId, m);
    return res.json.dequeuedMessages;
  }

  /** Polls dequeue until runId's message has come (bounded); returns it and forgets it. */
  async take(runId, { timeout = 10000, worker, maxRuns } = {}) {
    await waitFor(
      async () => this.dequeued.has(runId) || ((await this.dequeue({ worker, maxRuns })), this.dequeued.has(runId)),
      { timeout, interval: 50, what: `dequeue of ${runId}` },
    );
    const m = this.dequeued.get(runId);
    this.dequeued.delete(runId);
    return m;
  }

  startRaw(runId, snapshotId) {
    return this.plain(`/engine/v1/dev/runs/${runId}/snapshots/${snapshotId}/attempts/start`, {});
  }

  /** attempts/start on `snapshotId`; throws unless 200; returns the body {run, snapshot, execution}. */
  async start(runId, snapshotId) {
    const res = await this.startRaw(runId, snapshotId);
    if (res.status !== 200) throw new Error(`start ${runId}: ${res.status} ${res.text}`);
    return res.json;
  }

  /** Dequeue (bounded poll) and start: the run is EXECUTING. Returns the start body. */
  async run(runId, opts = {}) {
    const m = await this.take(runId, opts);
    return this.start(runId, m.snapshot.friendlyId);
  }

  completeRaw(runId, snapshotId, completion) {
    return this.plain(`/engine/v1/dev/runs/${runId}/snapshots/${snapshotId}/attempts/complete`, {
      completion: { id: runId, ...completion },
    });
  }

  /** Completes the attempt on the run's latest snapshot (as the CLI does) with output `value`. */
  async succeed(runId, value = { ok: true }, { snapshotId } = {}) {
    const snap = snapshotId ?? (await this.latest(runId)).snapshot.friendlyId;
    return this.completeRaw(runId, snap, {
      ok: true,
      output: JSON.stringify(value),
      outputType: "application/json",
      usage: { durationMs: 5 },
    });
  }

  /** Fails the attempt on the latest snapshot; `retryMs` asks for a retry after that delay. */
  async fail(runId, { retryMs, message = "boom", snapshotId } = {}) {
    const snap = snapshotId ?? (await this.latest(runId)).snapshot.friendlyId;
    const completion = { ok: false, error: builtInError(message), skippedRetrying: false, usage: { durationMs: 5 } };
    if (retryMs !== undefined) completion.retry = { timestamp: Date.now() + retryMs, delay: retryMs };
    return this.completeRaw(runId, snap, completion);
  }

  /** The completion the CLI sends after a PENDING_CANCEL. */
  async cancelled(runId, { snapshotId } = {}) {
    const snap = snapshotId ?? (await this.latest(runId)).snapshot.friendlyId;
    return this.completeRaw(runId, snap, { ok: false, error: { type: "INTERNAL_ERROR", code: "TASK_RUN_CANCELLED" } });
  }

  heartbeatRaw(runId, snapshotId) {
    return this.call("POST", `/engine/v1/dev/runs/${runId}/snapshots/${snapshotId}/heartbeat`, {
      body: { cpu: 0, memory: 0 },
    });
  }

  /** Heartbeats the run's latest snapshot every `everyMs` until stopBeating(runId). */
  keepAlive(runId, everyMs = 200) {
    this.stopBeating(runId);
    const h = setInterval(async () => {
      try {
        const l = await this.latestRaw(runId);
        if (l.status === 200) await this.heartbeatRaw(runId, l.json.execution.snapshot.friendlyId);
      } catch {}
    }, everyMs);
    this.beats.set(runId, h);
  }

  stopBeating(runId) {
    clearInterval(this.beats.get(runId));
    this.beats.delete(runId);
  }

  stopAll() {
    for (const id of [...this.beats.keys()]) this.stopBeating(id);
  }

  latestRaw(runId) {
    return this.call("GET", `/engine/v1/dev/runs/${runId}/snapshots/latest`);
  }

  /** GET snapshots/latest; returns `execution` {snapshot, run, completedWaitpoints}. */
  async latest(runId) {
    const res = await this.latestRaw(runId);
    if (res.status !== 200) throw new Error(`snapshots/latest ${runId}: ${res.status} ${res.text}`);
    return res.json.execution;
  }

  /** Polls latest until pred(execution) holds (bounded); returns the execution. */
  async waitSnapshot(runId, pred, { timeout = 10000, what = "snapshot" } = {}) {
    let last;
    try {
      return await waitFor(
        async () => {
          last = await this.latest(runId);
          return pred(last) ? last : null;
        },
        { timeout, interval: 50, what: `${runId} ${what}` },
      );
    } catch (e) {
      throw new Error(`${e.message}; last ${last?.snapshot.executionStatus} (${last?.snapshot.description}), run ${last?.run.status}`);
    }
  }

  /** In-task wait.for: POST /engine/v1/runs/{run}/wait/duration until now+ms. */
  waitDuration(runId, ms, extra = {}) {
    return this.call("POST", `/engine/v1/runs/${runId}/wait/duration`, {
      body: { date: new Date(Date.now() + ms).toISOString(), ...extra },
    });
  }

  /** In-task wait.forToken: POST /engine/v1/runs/{run}/waitpoints/tokens/{id}/wait (no body). */
  waitToken(runId, tokenId) {
    return this.call("POST", `/engine/v1/runs/${runId}/waitpoints/tokens/${tokenId}/wait`);
  }

  /** wait.createToken; returns the token id. */
  async createToken(body = {}) {
    const res = await this.call("POST", "/api/v1/waitpoints/tokens", { body });
    if (res.status !== 200) throw new Error(`createToken: ${res.status} ${res.text}`);
    return res.json.id;
  }

  completeToken(tokenId, data = { v: 1 }) {
    return this.call("POST", `/api/v1/waitpoints/tokens/${tokenId}/complete`, { body: { data } });
  }

  /** POST /api/v1/tasks/{task}/trigger as the SDK does; returns the response. */
  triggerRaw(task, options = {}, payload = { x: 1 }) {
    return this.call("POST", `/api/v1/tasks/${encodeURIComponent(task)}/trigger`, {
      body: { payload: JSON.stringify(payload), options: { payloadType: "application/json", ...options } },
    });
  }

  async trigger(task, options = {}, payload) {
    const res = await this.triggerRaw(task, options, payload);
    if (res.status !== 200) throw new Error(`trigger ${task}: ${res.status} ${res.text}`);
    return res.json.id;
  }

  /**
   * In-task triggerAndWait from `parentId` (the SDK's body: lockToVersion =
   * the parent's worker version, resumeParentOnCompletion, parentRunId).
   * Returns the child run id.
   */
  triggerAndWait(parentId, task, options = {}, { version, payload } = {}) {
    return this.trigger(
      task,
      { lockToVersion: version ?? this.current.version, test: false, resumeParentOnCompletion: true, parentRunId: parentId, ...options },
      payload,
    );
  }

  /**
   * In-task batchTriggerAndWait: create the batch (runCount, parentRunId,
   * resumeParentOnCompletion) then stream the NDJSON items. `items`:
   * [{payload?, options?}]. Returns {batchId, items: the items response}.
   */
  async batchTriggerAndWait(parentId, task, items, { version } = {}) {
    const c = await this.call("POST", "/api/v3/batches", {
      body: { runCount: items.length, parentRunId: parentId, resumeParentOnCompletion: true },
    });
    if (c.status !== 200 && c.status !== 202) throw new Error(`batch create: ${c.status} ${c.text}`);
    const batchId = c.json.id;
    const lines = items.map((it, index) =>
      JSON.stringify({
        index,
        task,
        payload: JSON.stringify(it.payload ?? { i: index }),
        options: { lockToVersion: version ?? this.current.version, test: false, payloadType: "application/json", ...(it.options ?? {}) },
      }),
    );
    const s = await this.call("POST", `/api/v3/batches/${batchId}/items`, {
      body: lines.join("\n") + "\n",
      headers: { "content-type": "application/x-ndjson" },
    });
    if (s.status !== 200) throw new Error(`batch items: ${s.status} ${s.text}`);
    return { batchId, items: s.json };
  }

  cancel(runId) {
    return this.call("POST", `/api/v2/runs/${runId}/cancel`);
  }

  /** GET /api/v3/runs/{id} (current vocabulary); throws unless 200. */
  async retrieve(runId) {
    const res = await this.call("GET", `/api/v3/runs/${runId}`);
    if (res.status !== 200) throw new Error(`retrieve ${runId}: ${res.status} ${res.text}`);
    return res.json;
  }

  /** Polls retrieve until pred(run) (bounded). */
  async waitRun(runId, pred, { timeout = 10000, what = "condition" } = {}) {
    let last;
    try {
      return await waitFor(
        async () => {
          last = await this.retrieve(runId);
          return pred(last) ? last : null;
        },
        { timeout, interval: 50, what: `${runId} ${what}` },
      );
    } catch (e) {
      throw new Error(`${e.message}; last status ${last?.status}`);
    }
  }

  waitStatus(runId, status, opts = {}) {
    return this.waitRun(runId, (r) => r.status === status, { what: `status ${status}`, ...opts });
  }

  /** Runs of a batch (GET /api/v1/runs?filter[batch]=). */
  async batchRuns(batchId) {
    const res = await this.call("GET", `/api/v1/runs?filter[batch]=${batchId}&page[size]=100`);
    if (res.status !== 200) throw new Error(`list batch runs: ${res.status} ${res.text}`);
    return res.json.data;
  }
}

/**
 * Pollers (FakeWorkers, one may appear several times: concurrent pollers of
 * it) dequeue, start and succeed runs until done(got) is true or `timeout`
 * ms pass; got maps each run id handed out to how many times it was. Throws
 * when a completion is refused.
 */
export async function drainCounting(pollers, done, { timeout = 30000 } = {}) {
  const got = new Map();
  const deadline = Date.now() + timeout;
  await Promise.all(pollers.map(async (w) => {
    while (!done(got) && Date.now() < deadline) {
      const msgs = await w.dequeue({ maxRuns: 5 });
      for (const m of msgs) {
        const id = m.run.friendlyId;
        got.set(id, (got.get(id) ?? 0) + 1);
        w.dequeued.delete(id);
        await w.start(id, m.snapshot.friendlyId);
        const r = await w.succeed(id);
        if (r.status !== 200) throw new Error(`complete ${id}: ${r.status} ${r.text}`);
      }
      if (!msgs.length) await sleep(10);
    }
  }));
  return got;
}

export { sleep };
