// tests/integration/queues.test.mjs - the engine side of the queues API:
// a pause and an override are durable (they survive SIGTERM and SIGKILL and
// a worker registering the queue again), a paused queue holds runs that
// resume from a wait as well as new ones, and the counts follow the runs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, api, trigger, retrieve, expectStatus, uid, sleep, stopServer } from "./helpers.mjs";
import { FakeWorker } from "./worker.mjs";

let srv, w;
const T = uid("iq-");
const L = uid("iql-");

before(async () => {
  srv = await startTriggerd();
  w = new FakeWorker(srv);
  await w.register([{ id: T }, { id: L, queue: { concurrencyLimit: 1 } }]);
});
after(() => stopServer(srv));

const q = (path, body) =>
  body === undefined ? api(srv, "GET", `/api/v1/queues/${path}`) : api(srv, "POST", `/api/v1/queues/${path}`, { body });

async function taken(polls = 3) {
  const ids = [];
  for (let i = 0; i < polls; i++) for (const m of await w.dequeue({ maxRuns: 9 })) ids.push(m.run.friendlyId);
  return ids;
}

async function finish(id) {
  const m = w.dequeued.get(id);
  w.dequeued.delete(id);
  await w.start(id, m.snapshot.friendlyId);
  expectStatus(await w.succeed(id), 200, "complete");
}

test("a paused queue stays paused across SIGTERM, SIGKILL and a new worker version", async () => {
  expectStatus(await q(`${T}/pause`, { type: "task", action: "pause" }), 200);
  const id = (await trigger(srv, T)).json.id;
  await srv.restart();
  let r = await q(`${T}?type=task`);
  expectStatus(r, 200);
  assert.equal(r.json.paused, true);
  assert.equal(r.json.queued, 1);
  assert.deepEqual(await taken(), []);
  await srv.restart("SIGKILL");
  await w.register([{ id: T }, { id: L, queue: { concurrencyLimit: 1 } }], { tag: "v2" });
  assert.equal((await q(`${T}?type=task`)).json.paused, true, "a worker registering again keeps the pause");
  assert.deepEqual(await taken(), []);
  assert.equal((await retrieve(srv, id)).status, "QUEUED");
  expectStatus(await q(`${T}/pause`, { type: "task", action: "resume" }), 200);
  assert.deepEqual(await taken(1), [id]);
  await finish(id);
});

test("an override survives a restart; a new manifest changes the base, not the override", async () => {
  const o = await q(`${L}/concurrency/override`, { type: "task", concurrencyLimit: 3 });
  expectStatus(o, 200);
  await srv.restart("SIGKILL");
  await w.register([{ id: T }, { id: L, queue: { concurrencyLimit: 2 } }], { tag: "v3" });
  let r = await q(`${L}?type=task`);
  assert.equal(r.json.concurrencyLimit, 3);
  assert.deepEqual(r.json.concurrency.base, 2);
  assert.equal(r.json.concurrency.override, 3);
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push((await trigger(srv, L)).json.id);
  const first = await taken();
  assert.equal(first.length, 3);
  r = await q(`${L}?type=task`);
  assert.equal(r.json.running, 3);
  assert.equal(r.json.queued, 1);
  expectStatus(await q(`${L}/concurrency/reset`, { type: "task" }), 200);
  await srv.restart();
  r = await q(`${L}?type=task`);
  assert.equal(r.json.concurrencyLimit, 2, "the declared limit of the newest manifest");
  assert.equal(r.json.concurrency.override, null);
  for (const id of first) await finish(id);
  const rest = await taken();
  assert.equal(rest.length, 1);
  await finish(rest[0]);
});

test("a run resuming from a wait in a paused queue waits for the resume", async () => {
  const id = (await trigger(srv, T)).json.id;
  await w.run(id);
  expectStatus(await w.waitDuration(id, 300), 200, "wait");
  expectStatus(await q(`${T}/pause`, { type: "task", action: "pause" }), 200);
  await sleep(700);
  await taken(2); // a dequeue resumes the runs whose waits are over, if their queue has room
  const held = await w.latest(id);
  assert.equal(held.snapshot.executionStatus, "QUEUED_EXECUTING", "no slot while the queue is paused");
  expectStatus(await q(`${T}/pause`, { type: "task", action: "resume" }), 200);
  await taken(1);
  await w.waitSnapshot(id, (x) => x.snapshot.executionStatus === "EXECUTING", { what: "resumed" });
});
