// tests/integration/engine-races.test.mjs - regression tests for the run
// engine's correctness bugs (issue 7, items 1-8), each one driven step by
// step by the fake worker (worker.mjs) so the race happens every time:
//   1 a cancel is never lost (wait ending, wait requested, ok completion)
//   2 a TTL-expired child resumes its waiting parent with an error
//   3 an invalid batchTriggerAndWait item becomes a SYSTEM_FAILURE run
//   4 runs locked to an older worker version are dispatched to that worker
//   5 one busy queue (or concurrency key) does not starve the others
//   6 stale waits never revive a run; dev stalls fail, other envs requeue
//   7 cancelling a parent cancels its children, recursively
//   8 the idempotency key of a failed/expired run is released
//
// Each test gets its own triggerd (a fresh data dir), so leftovers of one
// test never hold a queue slot in another. Waits are bounded polls. Most
// tests collect every deviation (Checks) before failing, so one run shows
// all of what is wrong, not just the first assertion.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, stopServer, uid, sleep, waitFor } from "./helpers.mjs";
import { FakeWorker } from "./worker.mjs";

const STALL_MS = 1000; // --heartbeat-timeout for the stall tests
const tags11 = Array.from({ length: 11 }, (_, i) => `tag${i}`);

let servers = [];
async function server(args = []) {
  const srv = await startTriggerd({ args });
  servers.push(srv);
  return srv;
}
let workers = [];
function worker(srv, opts) {
  const w = new FakeWorker(srv, opts);
  workers.push(w);
  return w;
}
afterEach(async () => {
  for (const w of workers) w.stopAll();
  workers = [];
  for (const s of servers) await stopServer(s);
  servers = [];
});

/** Soft assertions: every failed check is kept, done() fails with all of them. */
class Checks {
  constructor() {
    this.failed = [];
  }
  ok(cond, what) {
    if (!cond) this.failed.push(what);
    return !!cond;
  }
  equal(actual, expected, what) {
    return this.ok(Object.is(actual, expected), `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
  done() {
    assert.equal(this.failed.length, 0, "\n  - " + this.failed.join("\n  - "));
  }
}

const isClientError = (res) => res.status >= 400 && res.status < 500;
/** The retrieved error names INTERNAL_ERROR `code` (and not a longer code it prefixes). */
const hasCode = (error, code) => new RegExp(`\\b${code}\\b(?!_)`).test(JSON.stringify(error ?? null));
const runWaitpoints = (ex) => ex.completedWaitpoints.filter((w) => w.type === "RUN");

/** Polls latest for `ms` and returns every distinct executionStatus seen, in order. */
async function watchSnapshots(w, runId, ms) {
  const seen = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const s = (await w.latest(runId)).snapshot.executionStatus;
    if (seen[seen.length - 1] !== s) seen.push(s);
    await sleep(50);
  }
  return seen;
}

/** A registered env with task `t` (own queue) and a started run of it. */
async function executingRun(srv, opts = {}) {
  const w = worker(srv, opts);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  const started = await w.run(id);
  return { w, task, id, started };
}

// ---- 1: cancel ------------------------------------------------------------

test("1: cancel during a wait.for: CANCELED at once, the wait ending never continues it, an ok completion leaves it CANCELED without output", async () => {
  const srv = await server();
  const { w, id } = await executingRun(srv);
  const wait = await w.waitDuration(id, 1500);
  assert.equal(wait.status, 200, wait.text);
  assert.equal((await w.latest(id)).snapshot.executionStatus, "EXECUTING_WITH_WAITPOINTS");
  const c = new Checks();
  const cancel = await w.cancel(id);
  c.equal(cancel.status, 200, "cancel status");
  c.equal((await w.retrieve(id)).status, "CANCELED", "status right after cancel");
  c.equal((await w.latest(id)).snapshot.executionStatus, "PENDING_CANCEL", "snapshot right after cancel");
  // the wait's datetime passes: the run must not be continued
  const seen = await watchSnapshots(w, id, 2300);
  c.ok(!seen.includes("EXECUTING"), `no EXECUTING snapshot after the cancel (seen ${seen.join(" > ")})`);
  c.equal(seen[seen.length - 1], "PENDING_CANCEL", "snapshot after the wait ended");
  // the task did not see the cancel and completes successfully
  const done = await w.succeed(id, { finished: true });
  c.ok(done.status === 200 || isClientError(done), `ok completion answered ${done.status} ${done.text}`);
  if (done.status === 200) c.equal(done.json.result.run.status, "CANCELED", "completion result run status");
  const run = await w.retrieve(id);
  c.equal(run.status, "CANCELED", "final status");
  c.equal(run.output, undefined, "output of the canceled run");
  c.done();
});

test("1: a wait.for requested after a cancel is refused with a 4xx and the run stays PENDING_CANCEL", async () => {
  const srv = await server();
  const { w, id } = await executingRun(srv);
  assert.equal((await w.cancel(id)).status, 200);
  const before = await w.latest(id);
  const c = new Checks();
  c.equal(before.snapshot.executionStatus, "PENDING_CANCEL", "snapshot after cancel");
  const wait = await w.waitDuration(id, 1000);
  c.ok(isClientError(wait), `wait/duration after cancel: expected 4xx, got ${wait.status} ${wait.text}`);
  const after = await w.latest(id);
  c.equal(after.snapshot.executionStatus, "PENDING_CANCEL", "snapshot after the refused wait");
  c.equal(after.snapshot.friendlyId, before.snapshot.friendlyId, "the refused wait made no new snapshot");
  c.equal((await w.retrieve(id)).status, "CANCELED", "status after cancel");
  c.done();
});

test("1: a token wait requested after a cancel is refused with a 4xx and the run stays PENDING_CANCEL", async () => {
  const srv = await server();
  const { w, id } = await executingRun(srv);
  const token = await w.createToken();
  assert.equal((await w.cancel(id)).status, 200);
  const before = await w.latest(id);
  const c = new Checks();
  const wait = await w.waitToken(id, token);
  c.ok(isClientError(wait), `token wait after cancel: expected 4xx, got ${wait.status} ${wait.text}`);
  const after = await w.latest(id);
  c.equal(after.snapshot.executionStatus, "PENDING_CANCEL", "snapshot after the refused wait");
  c.equal(after.snapshot.friendlyId, before.snapshot.friendlyId, "the refused wait made no new snapshot");
  c.done();
});

test("1: cancel while waiting on a token: completing the token never continues the run", async () => {
  const srv = await server();
  const { w, id } = await executingRun(srv);
  const token = await w.createToken();
  assert.equal((await w.waitToken(id, token)).status, 200);
  assert.equal((await w.cancel(id)).status, 200);
  assert.equal((await w.completeToken(token, { late: true })).status, 200);
  const c = new Checks();
  const seen = await watchSnapshots(w, id, 500);
  c.ok(!seen.includes("EXECUTING"), `no EXECUTING snapshot after the cancel (seen ${seen.join(" > ")})`);
  c.equal(seen[seen.length - 1], "PENDING_CANCEL", "snapshot after the token completed");
  const done = await w.cancelled(id);
  c.equal(done.status, 200, `TASK_RUN_CANCELLED completion: ${done.text}`);
  c.equal((await w.retrieve(id)).status, "CANCELED", "final status");
  c.equal((await w.latest(id)).snapshot.executionStatus, "FINISHED", "snapshot after the completion");
  c.done();
});

// Passes today; the fix must keep it.
test("1: cancel of a dequeued, not yet started run: CANCELED at once and attempts/start is refused", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  const m = await w.take(id);
  assert.equal(m.snapshot.executionStatus, "PENDING_EXECUTING");
  assert.equal((await w.cancel(id)).status, 200);
  const c = new Checks();
  c.equal((await w.retrieve(id)).status, "CANCELED", "status after cancel");
  const snap = (await w.latest(id)).snapshot.executionStatus;
  c.ok(snap === "PENDING_CANCEL" || snap === "FINISHED", `snapshot after cancel: ${snap}`);
  const st = await w.startRaw(id, (await w.latest(id)).snapshot.friendlyId);
  c.ok(isClientError(st), `attempts/start after cancel: expected 4xx, got ${st.status} ${st.text}`);
  const st2 = await w.startRaw(id, m.snapshot.friendlyId);
  c.ok(isClientError(st2), `attempts/start on the dequeue snapshot: expected 4xx, got ${st2.status}`);
  c.equal((await w.retrieve(id)).status, "CANCELED", "status at the end");
  c.done();
});

// Passes today (the child finishes through its worker's completion); the fix must keep it.
test("1: a parent waiting on a child canceled mid-execution resumes with an error result for it", async () => {
  const srv = await server();
  const { w, id: parent } = await executingRun(srv);
  const ctask = uid("c-");
  await w.register([{ id: ctask }]); // same env, another version: children lock to it
  const child = await w.triggerAndWait(parent, ctask);
  await w.run(child);
  assert.equal((await w.cancel(child)).status, 200);
  await w.waitSnapshot(child, (e) => e.snapshot.executionStatus === "PENDING_CANCEL", { what: "PENDING_CANCEL" });
  const done = await w.cancelled(child);
  assert.equal(done.status, 200, done.text);
  assert.equal((await w.retrieve(child)).status, "CANCELED");
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING" && runWaitpoints(e).length > 0, {
    timeout: 3000,
    what: "continued with the child's waitpoint",
  });
  const [wp] = runWaitpoints(ex);
  assert.equal(wp.completedByTaskRun.friendlyId, child);
  assert.equal(wp.outputIsError, true);
});

// ---- 2: TTL expiry of a waited-on child -------------------------------------

/** Env with a limit-1 queue "busy" held by a started hog run; `child` runs on it. */
async function busyQueue(srv) {
  const w = worker(srv);
  const q = uid("busy-");
  const t = { parent: uid("p-"), hog: uid("hog-"), child: uid("c-") };
  await w.register(
    [{ id: t.parent }, { id: t.hog, queue: { name: q } }, { id: t.child, queue: { name: q } }],
    { queues: [{ name: q, concurrencyLimit: 1 }] },
  );
  const hog = await w.trigger(t.hog);
  await w.run(hog);
  const parent = await w.trigger(t.parent);
  await w.run(parent);
  return { w, t, q, hog, parent };
}

test("2: a triggerAndWait child that expires behind a busy queue resumes its parent with an error result", async () => {
  const srv = await server();
  const { w, t, parent } = await busyQueue(srv);
  const child = await w.triggerAndWait(parent, t.child, { ttl: "1s" });
  for (let i = 0; i < 3; i++) {
    assert.equal((await w.dequeue()).some((m) => m.run.friendlyId === child), false, "the busy queue holds the child back");
    await sleep(100);
  }
  await w.waitStatus(child, "EXPIRED", { timeout: 5000 });
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING" && runWaitpoints(e).length > 0, {
    timeout: 3000,
    what: "continued with the expired child's waitpoint",
  });
  const [wp] = runWaitpoints(ex);
  assert.equal(wp.completedByTaskRun.friendlyId, child);
  assert.equal(wp.outputIsError, true);
});

test("2: an expired batchTriggerAndWait item counts as finished: the parent resumes with a result per index", async () => {
  const srv = await server();
  const { w, t, parent } = await busyQueue(srv);
  const free = uid("free-");
  const { batchId } = await w.batchTriggerAndWait(parent, t.child, [
    { options: { queue: { name: free } } }, // runs at once
    { options: { ttl: "1s" } }, // stuck behind the hog, expires
  ]);
  const runs = await w.batchRuns(batchId);
  assert.equal(runs.length, 2);
  const ids = runs.map((r) => r.id);
  // run whichever item the free queue lets through, before the other expires
  const msgs = await waitFor(async () => (await w.dequeue()).filter((m) => ids.includes(m.run.friendlyId)), {
    timeout: 3000,
    what: "the free item to be dequeued",
  });
  const m = msgs[0];
  await w.start(m.run.friendlyId, m.snapshot.friendlyId);
  assert.equal((await w.succeed(m.run.friendlyId, { i: 0 })).status, 200);
  const other = ids.find((x) => x !== m.run.friendlyId);
  await w.waitStatus(other, "EXPIRED", { timeout: 5000 });
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING" && runWaitpoints(e).length > 0, {
    timeout: 3000,
    what: "continued after the batch",
  });
  const byIndex = new Map(runWaitpoints(ex).map((x) => [x.index, x]));
  assert.deepEqual([...byIndex.keys()].sort(), [0, 1], `one waitpoint per index: ${JSON.stringify(runWaitpoints(ex))}`);
  assert.equal(byIndex.get(1).outputIsError, true, "the expired item is an error");
  assert.equal(byIndex.get(0).outputIsError, false);
});

// ---- 3: invalid batch item -------------------------------------------------

test("3: batchTriggerAndWait with an 11-tag item: a SYSTEM_FAILURE run for it, and the parent resumes with one waitpoint per index", async () => {
  const srv = await server();
  const { w, id: parent } = await executingRun(srv);
  const ctask = uid("c-");
  await w.register([{ id: ctask }]);
  const { batchId } = await w.batchTriggerAndWait(parent, ctask, [{}, { options: { tags: tags11 } }]);
  const c = new Checks();
  const runs = await w.batchRuns(batchId);
  c.equal(runs.length, 2, "runs in the batch");
  c.ok(runs.some((r) => r.status === "SYSTEM_FAILURE"), `a SYSTEM_FAILURE run for the invalid item (statuses ${runs.map((r) => r.status)})`);
  const good = runs.find((r) => r.status === "QUEUED");
  assert.ok(good, "the valid item is queued");
  await w.run(good.id);
  assert.equal((await w.succeed(good.id, { i: 0 })).status, 200);
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING" && runWaitpoints(e).length > 0, {
    timeout: 3000,
    what: "continued after the batch",
  });
  const byIndex = new Map(runWaitpoints(ex).map((x) => [x.index, x]));
  c.ok(byIndex.size === 2 && byIndex.has(0) && byIndex.has(1), `one waitpoint per index, got indexes ${[...byIndex.keys()]}`);
  c.equal(byIndex.get(1)?.outputIsError, true, "the invalid item's waitpoint is an error");
  c.equal(byIndex.get(0)?.outputIsError, false, "the valid item's waitpoint");
  c.done();
});

// ---- 4: runs locked to an older version -------------------------------------

test("4: after a hot reload, a child locked to the old version is dequeued by a poll with the newest worker, with the old worker", async () => {
  const srv = await server();
  const w = worker(srv);
  const t = { parent: uid("p-"), child: uid("c-") };
  const v1 = await w.register([{ id: t.parent }, { id: t.child }], { tag: "v1" });
  const parent = await w.trigger(t.parent);
  await w.run(parent);
  const v2 = await w.register([{ id: t.parent }, { id: t.child }], { tag: "v2" }); // the file changed
  assert.notEqual(v2.version, v1.version);
  const child = await w.triggerAndWait(parent, t.child, {}, { version: v1.version });
  const m = await w.take(child, { worker: v2.id, timeout: 3000 });
  assert.equal(m.backgroundWorker.friendlyId, v1.id, "dispatched to the worker of its locked version");
  assert.equal(m.backgroundWorker.version, v1.version);
  const st = await w.start(child, m.snapshot.friendlyId);
  assert.equal(st.execution.run.version ?? v1.version, v1.version);
  assert.equal((await w.succeed(child, { from: "v1" })).status, 200);
  await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING" && runWaitpoints(e).length > 0, {
    timeout: 3000,
    what: "parent continued",
  });
});

test("4: runs.replay of a run locked to an old version makes an unlocked run (dequeued with the newest worker)", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  const v1 = await w.register([{ id: task }], { tag: "v1" });
  const locked = await w.trigger(task, { lockToVersion: v1.version });
  const v2 = await w.register([{ id: task }], { tag: "v2" });
  const rep = await w.call("POST", `/api/v1/runs/${locked}/replay`);
  assert.equal(rep.status, 200, rep.text);
  const m = await w.take(rep.json.id, { worker: v2.id, timeout: 3000 });
  assert.equal(m.backgroundWorker.friendlyId, v2.id, "the replay is not locked: the newest worker runs it");
});

// ---- 5: starvation ---------------------------------------------------------

/** Env with task `busy` on a limit-1 queue whose slot is taken, `n` more queued, and one run of `idle`. */
async function starved(srv, n, { key } = {}) {
  const w = worker(srv);
  const t = { busy: uid("busy-"), idle: uid("idle-") };
  await w.register([{ id: t.busy, queue: { name: t.busy, concurrencyLimit: 1 } }, { id: t.idle }]);
  const first = await w.trigger(t.busy, key ? { concurrencyKey: key } : {});
  await w.run(first);
  for (let i = 0; i < n; i++) await w.trigger(t.busy, key ? { concurrencyKey: key } : {});
  return { w, t };
}

test("5: 20 runs on a full limit-1 queue do not starve another queue's run (a one-run poll)", async () => {
  const srv = await server();
  const { w, t } = await starved(srv, 20);
  const idle = await w.trigger(t.idle);
  const msgs = await w.dequeue({ maxRuns: 1 });
  assert.deepEqual(msgs.map((m) => m.run.friendlyId), [idle], "the first poll returns the idle queue's run");
});

test("5: 100 runs on a full limit-1 queue do not starve another queue's run (the CLI's 10-run poll)", async () => {
  const srv = await server();
  const { w, t } = await starved(srv, 100);
  const idle = await w.trigger(t.idle);
  const msgs = await w.dequeue();
  assert.deepEqual(msgs.map((m) => m.run.friendlyId), [idle], "the first poll returns only the idle queue's run");
});

test("5: 20 runs of a full concurrency key do not starve another key of the same queue", async () => {
  const srv = await server();
  const { w, t } = await starved(srv, 20, { key: "a" });
  const other = await w.trigger(t.busy, { concurrencyKey: "b" });
  const msgs = await w.dequeue({ maxRuns: 1 });
  assert.deepEqual(msgs.map((m) => m.run.friendlyId), [other], "the first poll returns key b's run");
});

test("5: dequeue is round-robin across queues: a two-run poll takes one run from each of two queues", async () => {
  const srv = await server();
  const w = worker(srv);
  const a = uid("qa-"), b = uid("qb-");
  await w.register([{ id: a }, { id: b }]);
  const as = [], bs = [];
  for (let i = 0; i < 20; i++) as.push(await w.trigger(a));
  for (let i = 0; i < 20; i++) bs.push(await w.trigger(b));
  const msgs = await w.dequeue({ maxRuns: 2 });
  const got = msgs.map((m) => m.run.friendlyId);
  assert.equal(got.length, 2);
  assert.equal(got.filter((x) => as.includes(x)).length, 1, `one of queue a, one of queue b: ${got}`);
  assert.equal(got.filter((x) => bs.includes(x)).length, 1, `one of queue a, one of queue b: ${got}`);
});

// ---- 6: stale waits, stalls ------------------------------------------------

test("6a: (prod) a run requeued after its heartbeat stalled mid-wait stays QUEUED when the old wait ends; its next attempt starts clean", async () => {
  const srv = await server(["--heartbeat-timeout", String(STALL_MS)]);
  const w = worker(srv, { key: srv.keys.prod });
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  const m = await w.take(id);
  await w.start(id, m.snapshot.friendlyId);
  const waitMs = 3500;
  const waitStarted = Date.now();
  assert.equal((await w.waitDuration(id, waitMs)).status, 200);
  // the worker vanishes: no heartbeat, the engine requeues the run
  await w.waitSnapshot(id, (e) => e.snapshot.executionStatus === "QUEUED", { timeout: 5000, what: "requeued after the stall" });
  const c = new Checks();
  // the old wait ends while the run sits in the queue
  const seen = await watchSnapshots(w, id, Math.max(0, waitStarted + waitMs + 800 - Date.now()));
  c.ok(!seen.includes("EXECUTING"), `never EXECUTING without a worker (seen ${seen.join(" > ")})`);
  c.equal(seen[seen.length - 1], "QUEUED", "snapshot after the old wait ended");
  c.equal((await w.retrieve(id)).status, "QUEUED", "status after the old wait ended");
  const again = await w.take(id, { timeout: 5000 }).catch((e) => (c.ok(false, e.message), null));
  if (again) {
    c.equal(again.completedWaitpoints.length, 0, "no stale waitpoints in the new dequeue");
    const st = await w.start(id, again.snapshot.friendlyId);
    c.equal(st.run.attemptNumber, 2, "second attempt");
    c.equal((await w.latest(id)).completedWaitpoints.length, 0, "the new attempt starts with no completed waitpoints");
    c.equal((await w.succeed(id, { attempt: 2 })).status, 200, "completion of attempt 2");
    const run = await w.retrieve(id);
    c.equal(run.status, "COMPLETED", "final status");
    c.equal(run.attemptCount, 2, "attemptCount");
  }
  c.done();
});

// Passes today; the fix must keep it (non-dev envs requeue a stalled run).
test("6: (prod) a run whose heartbeat stalls while EXECUTING is requeued and its next attempt completes", async () => {
  const srv = await server(["--heartbeat-timeout", String(STALL_MS)]);
  const w = worker(srv, { key: srv.keys.prod });
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  await w.run(id);
  await w.waitSnapshot(id, (e) => e.snapshot.executionStatus === "QUEUED", { timeout: 5000, what: "requeued" });
  const m = await w.take(id, { timeout: 5000 });
  const st = await w.start(id, m.snapshot.friendlyId);
  assert.equal(st.run.attemptNumber, 2);
  assert.equal((await w.succeed(id)).status, 200);
  assert.equal((await w.retrieve(id)).status, "COMPLETED");
});

test("6: (dev) a run whose heartbeat stalls while EXECUTING fails with TASK_RUN_STALLED_EXECUTING and is not retried", async () => {
  const srv = await server(["--heartbeat-timeout", String(STALL_MS)]);
  const { w, id } = await executingRun(srv);
  const run = await w.waitRun(id, (r) => r.status !== "EXECUTING", { timeout: 5000, what: "the stall" });
  const c = new Checks();
  c.equal(run.status, "FAILED", "status after the stall");
  c.ok(hasCode(run.error, "TASK_RUN_STALLED_EXECUTING"), `error names TASK_RUN_STALLED_EXECUTING: ${JSON.stringify(run.error)}`);
  await sleep(STALL_MS + 500); // a requeue backoff would have passed
  c.equal((await w.dequeue()).some((m) => m.run.friendlyId === id), false, "not dequeued again");
  const final = await w.retrieve(id);
  c.equal(final.status, "FAILED", "status later");
  c.equal(final.attemptCount, 1, "attemptCount");
  c.done();
});

test("6: (dev) a run whose heartbeat stalls while waiting fails with TASK_RUN_STALLED_EXECUTING_WITH_WAITPOINTS and is not retried", async () => {
  const srv = await server(["--heartbeat-timeout", String(STALL_MS)]);
  const { w, id } = await executingRun(srv);
  assert.equal((await w.waitDuration(id, 10000)).status, 200);
  const run = await w.waitRun(id, (r) => !["EXECUTING", "WAITING"].includes(r.status), { timeout: 5000, what: "the stall" });
  const c = new Checks();
  c.equal(run.status, "FAILED", "status after the stall");
  c.ok(hasCode(run.error, "TASK_RUN_STALLED_EXECUTING_WITH_WAITPOINTS"), `error names TASK_RUN_STALLED_EXECUTING_WITH_WAITPOINTS: ${JSON.stringify(run.error)}`);
  await sleep(STALL_MS + 500);
  c.equal((await w.dequeue()).some((m) => m.run.friendlyId === id), false, "not dequeued again");
  c.equal((await w.retrieve(id)).attemptCount, 1, "attemptCount");
  c.done();
});

// Passes today; the fix must keep it.
test("6: (dev) a dequeued run that is never started (PENDING_EXECUTING stall) is requeued", async () => {
  const srv = await server(["--heartbeat-timeout", String(STALL_MS)]);
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  await w.take(id);
  await w.waitSnapshot(id, (e) => e.snapshot.executionStatus === "QUEUED", { timeout: 5000, what: "requeued" });
  const m = await w.take(id, { timeout: 5000 });
  const st = await w.start(id, m.snapshot.friendlyId);
  assert.equal(st.run.attemptNumber, 1, "the attempt that never started is not counted");
  assert.equal((await w.succeed(id)).status, 200);
  assert.equal((await w.retrieve(id)).status, "COMPLETED");
});

test("6b: a wait.for requested for a COMPLETED run is refused, changes nothing, and the run never executes again", async () => {
  const srv = await server(["--heartbeat-timeout", String(STALL_MS)]);
  const { w, id } = await executingRun(srv);
  assert.equal((await w.succeed(id, { v: 1 })).status, 200);
  const before = await w.latest(id);
  const c = new Checks();
  const wait = await w.waitDuration(id, 500);
  c.ok(isClientError(wait), `wait/duration on a COMPLETED run: expected 4xx, got ${wait.status} ${wait.text}`);
  const after = await w.latest(id);
  c.equal(after.snapshot.friendlyId, before.snapshot.friendlyId, "no new snapshot");
  // a heartbeat deadline, had one been armed, passes; so does the wait
  await sleep(STALL_MS + 1500);
  const msgs = await w.dequeue();
  c.equal(msgs.some((m) => m.run.friendlyId === id), false, "the COMPLETED run is not dequeued again");
  const run = await w.retrieve(id);
  c.equal(run.status, "COMPLETED", "status at the end");
  c.equal(run.attemptCount, 1, "attemptCount");
  c.equal((await w.latest(id)).snapshot.executionStatus, "FINISHED", "snapshot at the end");
  c.done();
});

test("6b: a token wait requested for a COMPLETED run is refused and the run never executes again", async () => {
  const srv = await server(["--heartbeat-timeout", String(STALL_MS)]);
  const { w, id } = await executingRun(srv);
  assert.equal((await w.succeed(id)).status, 200);
  const token = await w.createToken();
  const c = new Checks();
  const wait = await w.waitToken(id, token);
  c.ok(isClientError(wait), `token wait on a COMPLETED run: expected 4xx, got ${wait.status} ${wait.text}`);
  await w.completeToken(token);
  await sleep(STALL_MS + 500);
  c.equal((await w.dequeue()).some((m) => m.run.friendlyId === id), false, "not dequeued again");
  c.equal((await w.latest(id)).snapshot.executionStatus, "FINISHED", "snapshot at the end");
  c.equal((await w.retrieve(id)).status, "COMPLETED", "status at the end");
  c.done();
});

test("6b: a wait.for requested for a QUEUED run is refused and changes nothing", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  const snapOf = async () => {
    const l = await w.latestRaw(id); // a QUEUED run may have no snapshot yet (404)
    return l.status === 200 ? l.json.execution.snapshot.friendlyId : `${l.status}`;
  };
  const before = await snapOf();
  const c = new Checks();
  const wait = await w.waitDuration(id, 500);
  c.ok(isClientError(wait), `wait/duration on a QUEUED run: expected 4xx, got ${wait.status} ${wait.text}`);
  c.equal(await snapOf(), before, "snapshot after the refused wait");
  c.equal((await w.retrieve(id)).status, "QUEUED", "status after the refused wait");
  await sleep(800); // the wait's time passes
  c.equal((await w.retrieve(id)).status, "QUEUED", "status after the wait's time");
  c.done();
});

// ---- 7: cancelling a parent --------------------------------------------------

test("7: cancelling a parent cancels its children (queued, executing, triggered without wait) and theirs", async () => {
  const srv = await server();
  const w = worker(srv);
  const t = { p: uid("p-"), c: uid("c-"), g: uid("g-"), s: uid("s-") };
  await w.register([{ id: t.p }, { id: t.c }, { id: t.g }, { id: t.s }]);
  const parent = await w.trigger(t.p);
  await w.run(parent);
  const sibling = await w.trigger(t.s, { parentRunId: parent }); // tasks.trigger from inside the parent
  const child = await w.triggerAndWait(parent, t.c);
  await w.run(child);
  const grandchild = await w.triggerAndWait(child, t.g); // stays queued: nobody dequeues it
  assert.equal((await w.cancel(parent)).status, 200);
  const c = new Checks();
  for (const [name, id] of Object.entries({ parent, child, grandchild, sibling })) {
    const r = await w.waitRun(id, (x) => x.status === "CANCELED", { timeout: 3000, what: `${name} CANCELED` }).catch(async () => w.retrieve(id));
    c.equal(r.status, "CANCELED", `${name} status after the parent's cancel`);
  }
  const snap = (await w.latest(child)).snapshot.executionStatus;
  c.ok(snap === "PENDING_CANCEL" || snap === "FINISHED", `executing child's snapshot: ${snap}`);
  c.done();
});

// ---- 8: idempotency keys of dead runs -----------------------------------------

async function keyed(srv) {
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const key = uid("key-");
  const res = await w.triggerRaw(task, { idempotencyKey: key });
  assert.equal(res.status, 200, res.text);
  return { w, task, key, id: res.json.id };
}

async function retrigger(w, task, key) {
  const res = await w.triggerRaw(task, { idempotencyKey: key });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

for (const [end, how] of [
  ["FAILED", async (w, id) => assert.equal((await w.fail(id)).status, 200)],
  [
    "TIMED_OUT",
    async (w, id) =>
      assert.equal(
        (await w.completeRaw(id, (await w.latest(id)).snapshot.friendlyId, { ok: false, error: { type: "INTERNAL_ERROR", code: "MAX_DURATION_EXCEEDED" } })).status,
        200,
      ),
  ],
]) {
  test(`8: the idempotency key of a run that ended ${end} is released: retriggering creates a new run`, async () => {
    const srv = await server();
    const { w, task, key, id } = await keyed(srv);
    await w.run(id);
    await how(w, id);
    await w.waitStatus(id, end, { timeout: 3000 });
    const again = await retrigger(w, task, key);
    assert.notEqual(again.id, id, "a new run, not the dead one");
    assert.equal(again.isCached, false);
  });
}

test("8: the idempotency key of a run that EXPIRED is released: retriggering creates a new run", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  const key = uid("key-");
  const res = await w.triggerRaw(task, { idempotencyKey: key, ttl: "1s" });
  assert.equal(res.status, 200);
  await w.waitStatus(res.json.id, "EXPIRED", { timeout: 5000 });
  const again = await retrigger(w, task, key);
  assert.notEqual(again.id, res.json.id, "a new run, not the expired one");
});

// Pass today; the fix must keep them.
for (const end of ["COMPLETED", "CANCELED"]) {
  test(`8: the idempotency key of a run that ended ${end} is kept: retriggering returns it cached`, async () => {
    const srv = await server();
    const { w, task, key, id } = await keyed(srv);
    if (end === "COMPLETED") {
      await w.run(id);
      assert.equal((await w.succeed(id)).status, 200);
    } else {
      assert.equal((await w.cancel(id)).status, 200);
    }
    await w.waitStatus(id, end, { timeout: 3000 });
    const again = await retrigger(w, task, key);
    assert.equal(again.id, id);
    assert.equal(again.isCached, true);
  });
}
