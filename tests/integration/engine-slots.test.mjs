// tests/integration/engine-slots.test.mjs - queue slots across waits
// (docs/engine.md, "Concurrency"): a blocked run gives its slot back, and a
// run whose waits are over takes one again before it goes on, waiting in
// QUEUED_EXECUTING while its queue is full. Driven step by step with the
// fake worker: waits on tokens the test completes, so every race is
// deterministic. Invariant checked throughout: a limit-1 queue never has
// two runs that hold a slot (PENDING_EXECUTING, EXECUTING).
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, stopServer, uid, sleep } from "./helpers.mjs";
import { FakeWorker } from "./worker.mjs";

let servers = [];
let workers = [];
afterEach(async () => {
  for (const w of workers) w.stopAll();
  workers = [];
  for (const s of servers) await stopServer(s);
  servers = [];
});

/** A server, a worker with task `task` on a limit-1 queue, and helpers. */
async function setup(args = [], limit = 1) {
  const srv = await startTriggerd({ args });
  servers.push(srv);
  const w = new FakeWorker(srv);
  workers.push(w);
  const task = uid("t-");
  await w.register([{ id: task, queue: { name: `q-${task}`, concurrencyLimit: limit } }]);
  const status = async (id) => (await w.latest(id)).snapshot.executionStatus;
  /** Triggers a run, starts it, keeps it alive. */
  const running = async (opts = {}) => {
    const id = await w.trigger(task, opts);
    await w.run(id);
    w.keepAlive(id);
    return id;
  };
  /** A running run blocked on a fresh token; returns [run, token]. */
  const waiting = async (opts = {}) => {
    const id = await running(opts);
    const token = await w.createToken();
    assert.equal((await w.waitToken(id, token)).status, 200);
    assert.equal(await status(id), "EXECUTING_WITH_WAITPOINTS");
    return [id, token];
  };
  /** No two of ids hold a slot at once. */
  const oneHolder = async (ids) => {
    const s = await Promise.all(ids.map(status));
    const holders = s.filter((x) => x === "EXECUTING" || x === "PENDING_EXECUTING");
    assert.ok(holders.length <= 1, `two slot holders on a limit-1 queue: ${ids.map((id, i) => `${id} ${s[i]}`).join(", ")}`);
    return s;
  };
  const executing = (id, what) => w.waitSnapshot(id, (e) => e.snapshot.executionStatus === "EXECUTING", { what, timeout: 5000 });
  return { srv, w, task, status, running, waiting, oneHolder, executing };
}

test("a run whose token completes while its queue is full waits in QUEUED_EXECUTING, is not handed out again, and goes on with the token when the slot is free", async () => {
  const { w, status, running, waiting, oneHolder, executing } = await setup();
  const [a, token] = await waiting();
  const b = await running();
  assert.equal((await w.completeToken(token, { v: "a" })).status, 200);
  const q = await w.latest(a);
  assert.equal(q.snapshot.executionStatus, "QUEUED_EXECUTING");
  assert.match(q.snapshot.description, /waiting for concurrency/);
  assert.equal((await w.retrieve(a)).status, "EXECUTING", "the API still shows the run executing");
  // the CLI heartbeats the snapshot it has: accepted, and nothing stalls it
  assert.equal((await w.heartbeatRaw(a, q.snapshot.friendlyId)).status, 200);
  // a dequeue poll hands out neither a nor anything else
  assert.deepEqual((await w.dequeue()).map((m) => m.run.friendlyId), []);
  await oneHolder([a, b]);
  // no attempt can complete, and no new wait can start, while it waits for a slot
  const done = await w.completeRaw(a, q.snapshot.friendlyId, { ok: true, output: '{"early":1}', outputType: "application/json" });
  assert.ok(done.status >= 400 && done.status < 500, `completion while QUEUED_EXECUTING: ${done.status}`);
  assert.ok((await w.waitDuration(a, 100)).status >= 400);
  assert.equal((await w.succeed(b, { b: 1 })).status, 200);
  const ex = await executing(a, "a goes on once b is done");
  assert.deepEqual(ex.completedWaitpoints.map((x) => x.friendlyId ?? x.id), [token]);
  assert.equal(await status(a), "EXECUTING");
  assert.equal((await w.succeed(a, { a: 1 })).status, 200);
  const run = await w.waitStatus(a, "COMPLETED");
  assert.deepEqual(run.output, { a: 1 });
});

test("cancel while a run waits for the slot: it finishes at once (its worker sees FINISHED), never executes again, and the slot goes to the next run", async () => {
  const { w, task, status, running, waiting } = await setup();
  const [a, token] = await waiting();
  const b = await running();
  await w.completeToken(token);
  assert.equal(await status(a), "QUEUED_EXECUTING");
  assert.equal((await w.cancel(a)).status, 200);
  assert.equal(await status(a), "FINISHED");
  assert.equal((await w.retrieve(a)).status, "CANCELED");
  const c = await w.trigger(task);
  assert.equal((await w.succeed(b)).status, 200);
  await w.run(c); // the freed slot goes to the queued run
  await sleep(300);
  assert.equal(await status(a), "FINISHED", "a canceled run never continues");
  assert.equal((await w.retrieve(a)).status, "CANCELED");
  await w.succeed(c);
  await w.waitStatus(c, "COMPLETED");
  // and a waiting run whose worker goes away is let go the same way
  const [d, t2] = await waiting();
  const e = await running();
  await w.completeToken(t2);
  assert.equal(await status(d), "QUEUED_EXECUTING");
  const r = await w.call("POST", "/engine/v1/dev/disconnect", { body: { runFriendlyIds: [d] } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await w.retrieve(d)).status, "CANCELED");
  await w.succeed(e);
  await sleep(300);
  assert.equal(await status(d), "FINISHED");
});

test("every way the slot holder lets go hands the slot to the waiting run: it blocks, it fails into a queued retry, its cancel is acknowledged", async () => {
  // every retry queued (a retry in place keeps its slot: retry-in-place.test.mjs)
  const { w, status, running, waiting, oneHolder, executing } = await setup(["--retry-warm-start", "0"]);
  // 1. the holder blocks on a wait of its own
  const [a, ta] = await waiting();
  const b = await running();
  await w.completeToken(ta);
  assert.equal(await status(a), "QUEUED_EXECUTING");
  const tb = await w.createToken();
  await w.waitToken(b, tb);
  await executing(a, "a takes the slot b gave back by waiting");
  await w.completeToken(tb);
  assert.equal(await status(b), "QUEUED_EXECUTING");
  await oneHolder([a, b]);
  // 2. the holder fails into a retry: requeued, it gives the slot to b before its retry runs
  assert.equal((await w.fail(a, { retryMs: 0 })).status, 200);
  await executing(b, "b takes the slot of a's failed attempt");
  assert.deepEqual((await w.dequeue()).map((m) => m.run.friendlyId), [], "a's retry waits for the slot");
  assert.equal(await status(a), "QUEUED");
  // 3. the holder is canceled: PENDING_CANCEL holds the slot until the worker lets go
  const tb2 = await w.createToken();
  await w.waitToken(b, tb2);
  await w.run(a); // the retry of a takes the slot b gave back
  w.keepAlive(a);
  await w.completeToken(tb2);
  assert.equal(await status(b), "QUEUED_EXECUTING");
  assert.equal((await w.cancel(a)).status, 200);
  assert.equal(await status(a), "PENDING_CANCEL");
  assert.equal(await status(b), "QUEUED_EXECUTING", "the canceled attempt still runs on its worker");
  assert.equal((await w.cancelled(a)).status, 200);
  await executing(b, "b goes on once a's worker let go");
  await w.succeed(b, { b: 1 });
  assert.deepEqual((await w.waitStatus(b, "COMPLETED")).output, { b: 1 });
  assert.equal((await w.retrieve(a)).status, "CANCELED");
});

test("two resumed runs contend for one slot: the one queued first goes on first, each once, and both before a run triggered later", async () => {
  const { w, task, status, running, waiting, oneHolder, executing } = await setup();
  const [a, ta] = await waiting();
  const [b, tb] = await waiting();
  const c = await running();
  // b's token completes first; a was queued first (queue order), so a goes first
  await w.completeToken(tb, { v: "b" });
  await w.completeToken(ta, { v: "a" });
  assert.deepEqual([await status(a), await status(b)], ["QUEUED_EXECUTING", "QUEUED_EXECUTING"]);
  const d = await w.trigger(task);
  await oneHolder([a, b, c]);
  await w.succeed(c);
  const exA = await executing(a, "a first");
  assert.equal(await status(b), "QUEUED_EXECUTING");
  assert.deepEqual((await w.dequeue()).map((m) => m.run.friendlyId), [], "d waits behind the resumed runs");
  await oneHolder([a, b, c]);
  const snapA = exA.snapshot.friendlyId;
  await w.succeed(a);
  const exB = await executing(b, "then b");
  assert.deepEqual(exB.completedWaitpoints.map((x) => x.friendlyId ?? x.id), [tb]);
  assert.equal((await w.latest(a)).snapshot.executionStatus, "FINISHED");
  assert.notEqual(snapA, exB.snapshot.friendlyId);
  await w.succeed(b);
  await w.run(d); // only now
  await w.succeed(d);
  await w.waitStatus(d, "COMPLETED");
});

test("concurrency keys: a resumed run waits only for a slot of its own key", async () => {
  const { w, status, running, waiting, executing } = await setup();
  const [a, ta] = await waiting({ concurrencyKey: "k1" });
  const [c, tc] = await waiting({ concurrencyKey: "k2" });
  const b = await running({ concurrencyKey: "k2" });
  await w.completeToken(ta);
  await executing(a, "k1 has a free slot while k2 runs");
  await w.completeToken(tc);
  assert.equal(await status(c), "QUEUED_EXECUTING", "k2's slot is b's");
  await w.succeed(b);
  await executing(c, "c takes k2's slot");
  assert.equal(await status(a), "EXECUTING");
});

test("SIGKILL while a resumed run waits for the slot: after the restart it still waits, and goes on once when the holder is done", async () => {
  const { srv, w, status, running, waiting, oneHolder, executing } = await setup();
  const [a, ta] = await waiting();
  const b = await running();
  await w.completeToken(ta, { v: 1 });
  const q = await w.latest(a);
  assert.equal(q.snapshot.executionStatus, "QUEUED_EXECUTING");
  await srv.restart("SIGKILL");
  await w.dequeue(); // a poll after the restart must not let it jump the queue
  await sleep(300);
  assert.equal((await w.latest(a)).snapshot.friendlyId, q.snapshot.friendlyId, "a still waits");
  await oneHolder([a, b]);
  assert.equal((await w.succeed(b)).status, 200);
  const ex = await executing(a, "a goes on after the restart");
  assert.deepEqual(ex.completedWaitpoints.map((x) => x.friendlyId ?? x.id), [ta]);
  await sleep(500);
  assert.equal((await w.latest(a)).snapshot.friendlyId, ex.snapshot.friendlyId, "continued once");
  assert.equal(await status(a), "EXECUTING");
  await w.succeed(a);
  await w.waitStatus(a, "COMPLETED");
});

test("a resumed run waiting for the slot is not stalled by missing heartbeats; once it has the slot, heartbeats count again", async () => {
  const { w, status, running, waiting, executing } = await setup(["--heartbeat-timeout", "700"]);
  const [a, ta] = await waiting();
  const b = await running();
  await w.completeToken(ta);
  w.stopBeating(a);
  assert.equal(await status(a), "QUEUED_EXECUTING");
  await sleep(2000);
  assert.equal(await status(a), "QUEUED_EXECUTING", "no heartbeat is due while it waits for a slot");
  w.keepAlive(a, 100);
  await w.succeed(b);
  await executing(a, "a goes on");
  await sleep(1500);
  assert.equal(await status(a), "EXECUTING", "kept alive by its heartbeats");
  w.stopBeating(a);
  // a dev run that stalls fails (docs/engine.md)
  const r = await w.waitStatus(a, "FAILED", { timeout: 5000 });
  assert.match(JSON.stringify(r.error), /TASK_RUN_STALLED_EXECUTING/);
});
