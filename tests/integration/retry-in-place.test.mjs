// tests/integration/retry-in-place.test.mjs - a failed attempt whose retry is
// due soon goes on in the worker that ran it (RETRY_IMMEDIATELY, as the
// platform does below RUN_ENGINE_RETRY_WARM_START_THRESHOLD_MS, 30 s): the
// run keeps its worker and its queue slot, and the next attempt starts on the
// new EXECUTING snapshot the completion answered. Later retries are queued
// (RETRY_QUEUED); --retry-warm-start 0 queues every retry.
//
// Invariants: between the attempts no other worker gets the run, no
// completion or wait is taken, a cancel sticks, a worker that vanishes
// stalls the run like any executing one, and a restart keeps the state.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, stopServer, uid, sleep } from "./helpers.mjs";
import { FakeWorker } from "./worker.mjs";

let servers = [];
let workers = [];
async function server(args = []) {
  const srv = await startTriggerd({ args });
  servers.push(srv);
  return srv;
}
function worker(srv) {
  const w = new FakeWorker(srv);
  workers.push(w);
  return w;
}
afterEach(async () => {
  for (const w of workers) w.stopAll();
  workers = [];
  for (const s of servers) await stopServer(s);
  servers = [];
});

async function executing(srv, taskDef = {}) {
  const w = worker(srv);
  const task = uid("rip-");
  await w.register([{ id: task, retry: { maxAttempts: 3 }, ...taskDef }]);
  const id = await w.trigger(task);
  await w.run(id);
  return { w, task, id };
}

/** Fails the running attempt with a retry due in `ms`; returns the completion result. */
async function failWithRetry(w, id, ms = 50) {
  const res = await w.fail(id, { retryMs: ms });
  assert.equal(res.status, 200, res.text);
  return res.json.result;
}

test("a retry due now: RETRY_IMMEDIATELY, the run stays with its worker, the next attempt starts on the answered snapshot", async () => {
  const srv = await server();
  const { w, id } = await executing(srv);
  const r = await failWithRetry(w, id);
  assert.equal(r.attemptStatus, "RETRY_IMMEDIATELY");
  assert.equal(r.snapshot.executionStatus, "EXECUTING");
  assert.equal(r.run.attemptNumber, 1, "the answer names the attempt that just failed");
  const latest = await w.latest(id);
  assert.equal(latest.snapshot.friendlyId, r.snapshot.friendlyId);
  // no other poll gets it meanwhile
  for (let i = 0; i < 5; i++) {
    const msgs = await w.dequeue();
    assert.ok(!msgs.some((m) => m.run.friendlyId === id), "a run retrying in place was dequeued again");
    await sleep(60);
  }
  const started = await w.start(id, r.snapshot.friendlyId);
  assert.equal(started.execution.attempt.number, 2);
  const done = await w.succeed(id, { second: true });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.result.attemptStatus, "RUN_FINISHED");
  const run = await w.retrieve(id);
  assert.equal(run.status, "COMPLETED");
  assert.equal(run.attemptCount, 2);
  assert.deepEqual(run.output, { second: true });
});

test("between the attempts: a completion, a wait, a start on the old snapshot and a second start are refused", async () => {
  const srv = await server();
  const { w, id } = await executing(srv);
  const r = await failWithRetry(w, id);
  const snap = r.snapshot.friendlyId;
  const again = await w.completeRaw(id, snap, { ok: true, output: '{"sneaky":1}', outputType: "application/json" });
  assert.ok(again.status >= 400 && again.status < 500, `a completion with no open attempt: ${again.status} ${again.text}`);
  const wait = await w.waitDuration(id, 1000);
  assert.ok(wait.status >= 400 && wait.status < 500, `a wait with no open attempt: ${wait.status} ${wait.text}`);
  // the same failure delivered twice (a retried request) changes nothing
  const twice = await w.fail(id, { retryMs: 50, snapshotId: snap });
  assert.ok(twice.status >= 400 && twice.status < 500, `a second failure: ${twice.status} ${twice.text}`);
  const between = await w.retrieve(id);
  assert.equal(between.status, "EXECUTING"); // RETRYING_AFTER_FAILURE, as the current API shows it
  assert.equal(between.attemptCount, 1);
  const first = await w.startRaw(id, snap);
  assert.equal(first.status, 200, first.text);
  const second = await w.startRaw(id, snap);
  assert.ok(second.status >= 400 && second.status < 500, `a second start: ${second.status} ${second.text}`);
  const run = await w.retrieve(id);
  assert.equal(run.status, "EXECUTING");
  assert.equal(run.attemptCount, 2);
});

test("the last allowed attempt fails for good: no retry in place past maxAttempts", async () => {
  const srv = await server();
  const { w, id } = await executing(srv, { retry: { maxAttempts: 2 } });
  const r = await failWithRetry(w, id);
  assert.equal(r.attemptStatus, "RETRY_IMMEDIATELY");
  await w.start(id, r.snapshot.friendlyId);
  const last = await w.fail(id, { retryMs: 50 });
  assert.equal(last.status, 200, last.text);
  assert.equal(last.json.result.attemptStatus, "RUN_FINISHED");
  const run = await w.retrieve(id);
  assert.equal(run.status, "FAILED");
  assert.equal(run.attemptCount, 2);
});

test("a cancel between the attempts sticks: CANCELED, the start of the next attempt is refused", async () => {
  const srv = await server();
  const { w, id } = await executing(srv);
  const r = await failWithRetry(w, id);
  const c = await w.cancel(id);
  assert.equal(c.status, 200, c.text);
  assert.equal((await w.retrieve(id)).status, "CANCELED");
  assert.equal((await w.latest(id)).snapshot.executionStatus, "PENDING_CANCEL");
  const start = await w.startRaw(id, r.snapshot.friendlyId);
  assert.ok(start.status >= 400 && start.status < 500, `start after cancel: ${start.status} ${start.text}`);
  await sleep(300);
  assert.equal((await w.retrieve(id)).status, "CANCELED");
});

test("the run keeps its queue slot while it retries in place: a limit-1 queue starts nothing else meanwhile", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("rip-q-");
  await w.register([{ id: task, retry: { maxAttempts: 3 }, queue: { name: `q-${task}`, concurrencyLimit: 1 } }]);
  const a = await w.trigger(task);
  await w.run(a);
  const b = await w.trigger(task);
  const r = await failWithRetry(w, a);
  assert.equal(r.attemptStatus, "RETRY_IMMEDIATELY");
  for (let i = 0; i < 5; i++) {
    const msgs = await w.dequeue();
    assert.ok(!msgs.some((m) => m.run.friendlyId === b), "the queue's second run started while the first held the slot");
    await sleep(60);
  }
  await w.start(a, r.snapshot.friendlyId);
  assert.equal((await w.succeed(a)).status, 200);
  await w.run(b); // the slot is free now
  assert.equal((await w.succeed(b)).status, 200);
  assert.equal((await w.retrieve(b)).status, "COMPLETED");
});

test("a worker that vanishes between the attempts stalls the run (dev: it fails), and it never completes twice", async () => {
  const srv = await server(["--heartbeat-timeout", "800"]);
  const { w, id } = await executing(srv);
  const r = await failWithRetry(w, id);
  assert.equal(r.attemptStatus, "RETRY_IMMEDIATELY");
  const run = await w.waitRun(id, (x) => x.status === "FAILED" || x.status === "SYSTEM_FAILURE" || x.status === "CRASHED", {
    timeout: 10000,
    what: "the stalled run to fail",
  });
  assert.equal(run.attemptCount, 1);
  const late = await w.startRaw(id, r.snapshot.friendlyId);
  assert.ok(late.status >= 400 && late.status < 500, `a late start: ${late.status} ${late.text}`);
});

test("a restart between the attempts keeps the state: the next attempt starts after it", async () => {
  const srv = await server();
  const { w, id } = await executing(srv);
  const r = await failWithRetry(w, id);
  await srv.restart();
  assert.equal((await w.latest(id)).snapshot.friendlyId, r.snapshot.friendlyId);
  const started = await w.start(id, r.snapshot.friendlyId);
  assert.equal(started.execution.attempt.number, 2);
  assert.equal((await w.succeed(id)).status, 200);
  assert.equal((await w.retrieve(id)).status, "COMPLETED");
});

test("a retry due later than the threshold is queued (RETRY_QUEUED); --retry-warm-start 0 queues every retry", async () => {
  const srv = await server(["--retry-warm-start", "1000"]);
  const { w, id } = await executing(srv);
  const later = await failWithRetry(w, id, 1500);
  assert.equal(later.attemptStatus, "RETRY_QUEUED");
  assert.equal(later.snapshot.executionStatus, "QUEUED");
  await w.run(id, { timeout: 10000 });
  const soon = await failWithRetry(w, id, 0);
  assert.equal(soon.attemptStatus, "RETRY_IMMEDIATELY");

  const off = await server(["--retry-warm-start", "0"]);
  const o = await executing(off);
  const q = await failWithRetry(o.w, o.id, 0);
  assert.equal(q.attemptStatus, "RETRY_QUEUED");
  await o.w.run(o.id);
  assert.equal((await o.w.succeed(o.id)).status, 200);
  assert.equal((await o.w.retrieve(o.id)).attemptCount, 2);
});
