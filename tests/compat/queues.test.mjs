// tests/compat/queues.test.mjs - the SDK's queues functions (spec/api.md 6.7,
// [39]-[43]) against triggerd: list, retrieve (id, task, custom), pause /
// resume, overrideConcurrencyLimit / resetConcurrencyLimit, parsed by the
// SDK's own QueueItem schema; and the engine honouring them at dequeue (a
// FakeWorker drives the dev worker protocol: a paused queue's runs stay
// QUEUED, an override replaces the declared limit until reset).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, rejectsApi, uid, waitFor } from "./helpers.mjs";
import { queues, tasks, runs, NotFoundError, BadRequestError, SDK_VERSION } from "./sdk.mjs";
import { FakeWorker } from "../integration/worker.mjs";

let srv, w;
const T = uid("qtask-");
const LIMITED = uid("qlim-");
const SHARED = uid("shared-");
const CUSTOM_TASK = uid("qcust-");
const SLASHED = `team/${uid("emails-")}`; // a custom name with a slash (sent as %252F)

before(async () => {
  srv = await startServer();
  w = new FakeWorker(srv);
  await w.register(
    [
      { id: T },
      { id: LIMITED, queue: { concurrencyLimit: 1 } },
      { id: CUSTOM_TASK, queue: { name: SHARED } },
    ],
    { queues: [{ name: SHARED, concurrencyLimit: 3 }, { name: SLASHED, concurrencyLimit: 5 }] },
  );
});
after(() => srv?.stop());

const raw = (method, path, body) =>
  fetch(srv.url + path, {
    method,
    headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, json: await r.json().catch(() => null) }));

/** Starts and completes a dequeued run (its message from drain()). */
async function finish(id) {
  const m = w.dequeued.get(id);
  w.dequeued.delete(id);
  await w.start(id, m.snapshot.friendlyId);
  const r = await w.succeed(id);
  assert.equal(r.status, 200, r.text);
}

/** Dequeues (a few polls) and returns the run ids taken. */
async function drain(polls = 3) {
  const ids = [];
  for (let i = 0; i < polls; i++) for (const m of await w.dequeue({ maxRuns: 9 })) ids.push(m.run.friendlyId);
  return ids;
}

test(`queues.list pages every queue with the QueueItem shape (SDK ${SDK_VERSION})`, async () => {
  const all = [];
  for await (const q of queues.list({ perPage: 2 })) all.push(q);
  const byName = new Map(all.map((q) => [q.name, q]));
  assert.equal(all.length, 4, JSON.stringify(all));
  const t = byName.get(T);
  assert.match(t.id, /^queue_/);
  assert.equal(t.type, "task");
  assert.equal(t.paused, false);
  assert.equal(t.concurrencyLimit, null);
  assert.deepEqual(t.concurrency, { current: null, base: null, override: null, overriddenAt: null, overriddenBy: null });
  assert.equal(byName.get(LIMITED).concurrencyLimit, 1);
  const s = byName.get(SHARED);
  assert.equal(s.type, "custom");
  assert.equal(s.concurrencyLimit, 3);

  const page = await queues.list({ page: 2, perPage: 2 });
  assert.equal(page.data.length, 2);
  assert.deepEqual(page.pagination, { currentPage: 2, totalPages: 2, count: 4 });
  assert.equal((await queues.list({ page: 3, perPage: 2 })).data.length, 0);
  const names = (await queues.list()).data.map((q) => q.name);
  assert.deepEqual(names, [...names].sort((a, b) => (a < b ? -1 : 1)), "name order");
});

test("queues.retrieve by id, by task id and by custom name; unknown is 404 queue-not-found", async () => {
  const byTask = await queues.retrieve({ type: "task", name: LIMITED });
  assert.equal(byTask.name, LIMITED);
  const byId = await queues.retrieve(byTask.id);
  assert.deepEqual(byId, byTask);
  const custom = await queues.retrieve({ type: "custom", name: SHARED });
  assert.equal(custom.type, "custom");
  assert.equal((await queues.retrieve({ type: "task", name: `task/${LIMITED}` })).id, byTask.id);
  const slashed = await queues.retrieve({ type: "custom", name: SLASHED });
  assert.equal(slashed.name, SLASHED);
  assert.equal(slashed.concurrencyLimit, 5);
  assert.equal((await queues.pause({ type: "custom", name: SLASHED })).paused, true);
  assert.equal((await queues.resume({ type: "custom", name: SLASHED })).paused, false);
  await rejectsApi(queues.retrieve("queue_doesnotexist"), NotFoundError, 404, "queue-not-found");
  await rejectsApi(queues.retrieve({ type: "custom", name: "nope" }), NotFoundError, 404, "queue-not-found");
  // a task queue is not found as custom (its row is task/<id>)
  await rejectsApi(queues.retrieve({ type: "custom", name: LIMITED }), NotFoundError, 404);
  const r = await raw("GET", `/api/v1/queues/${byTask.id}?type=bogus`);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, "Query Error");
});

test("a paused queue keeps its runs QUEUED until resumed; its counts show them", async () => {
  const paused = await queues.pause({ type: "task", name: T });
  assert.equal(paused.paused, true);
  assert.equal((await queues.pause({ type: "task", name: T })).paused, true, "pause twice");
  const { id } = await tasks.trigger(T, { n: 1 });
  assert.deepEqual(await drain(), [], "nothing dequeued from a paused queue");
  assert.equal((await runs.retrieve(id)).status, "QUEUED");
  const q = await queues.retrieve({ type: "task", name: T });
  assert.equal(q.queued, 1);
  assert.equal(q.running, 0);

  const resumed = await queues.resume(q.id);
  assert.equal(resumed.paused, false);
  const taken = await drain(1);
  assert.deepEqual(taken, [id], "the run goes as soon as the queue is resumed");
  const after = await queues.retrieve(q.id);
  assert.equal(after.queued, 0);
  assert.equal(after.running, 1);
  await finish(id);
});

test("a held dequeue gets the run of a resumed queue at once", async () => {
  await queues.pause({ type: "task", name: T });
  const { id } = await tasks.trigger(T, { n: 2 });
  const started = Date.now();
  const held = fetch(srv.url + "/engine/v1/dev/dequeue", {
    method: "POST",
    headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "text/plain" },
    body: JSON.stringify({ currentWorker: w.current.id, oldWorkers: [], waitMs: 5000 }),
  }).then((r) => r.json());
  await new Promise((r) => setTimeout(r, 300));
  await queues.resume({ type: "task", name: T });
  const res = await held;
  assert.deepEqual(res.dequeuedMessages.map((m) => m.run.friendlyId), [id]);
  assert.ok(Date.now() - started < 3000, "answered on resume, not at its deadline");
  for (const m of res.dequeuedMessages) w.dequeued.set(m.run.friendlyId, m);
  await finish(id);
});

test("overrideConcurrencyLimit replaces the declared limit at dequeue until reset", async () => {
  const o = await queues.overrideConcurrencyLimit({ type: "task", name: LIMITED }, 2);
  assert.equal(o.concurrencyLimit, 2);
  assert.equal(o.concurrency.current, 2);
  assert.equal(o.concurrency.base, 1);
  assert.equal(o.concurrency.override, 2);
  assert.ok(o.concurrency.overriddenAt instanceof Date);
  assert.equal(o.concurrency.overriddenBy, null);
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await tasks.trigger(LIMITED, { i })).id);
  const first = await drain();
  assert.equal(first.length, 2, `two at once under the override: ${first}`);

  const r = await queues.resetConcurrencyLimit({ type: "task", name: LIMITED });
  assert.equal(r.concurrencyLimit, 1);
  assert.deepEqual(
    { ...r.concurrency },
    { current: 1, base: null, override: null, overriddenAt: null, overriddenBy: null },
  );
  await finish(first[0]);
  assert.deepEqual(await drain(), [], "back to 1: one still running, none taken");
  await finish(first[1]);
  const last = await drain();
  assert.equal(last.length, 1);
  await finish(last[0]);
  await rejectsApi(
    queues.resetConcurrencyLimit({ type: "task", name: LIMITED }),
    BadRequestError,
    400,
    "Queue is not overridden",
  );
});

test("an override of 0 takes nothing; over the environment limit is refused", async () => {
  await queues.overrideConcurrencyLimit({ type: "custom", name: SHARED }, 0);
  const { id } = await tasks.trigger(CUSTOM_TASK, {});
  assert.deepEqual(await drain(), []);
  await rejectsApi(
    queues.overrideConcurrencyLimit({ type: "custom", name: SHARED }, 101),
    BadRequestError,
    400,
    /cannot exceed the environment limit/,
  );
  const q = await queues.resetConcurrencyLimit({ type: "custom", name: SHARED });
  assert.equal(q.concurrencyLimit, 3);
  assert.deepEqual(await drain(), [id]);
  await finish(id);
  await rejectsApi(
    queues.overrideConcurrencyLimit({ type: "custom", name: "nope" }, 1),
    NotFoundError,
    404,
    "Queue not found",
  );
  await rejectsApi(queues.pause("queue_nope"), NotFoundError, 404, "queue-not-found");
});

test("bad bodies are 400 in the real error shape", async () => {
  const q = await queues.retrieve({ type: "task", name: T });
  const base = `/api/v1/queues/${q.id}`;
  for (const [path, body] of [
    [`${base}/pause`, { action: "stop" }],
    [`${base}/pause`, {}],
    [`${base}/pause`, { action: "pause", type: "nope" }],
    [`${base}/concurrency/override`, {}],
    [`${base}/concurrency/override`, { concurrencyLimit: 1, percent: 50 }],
    [`${base}/concurrency/override`, { concurrencyLimit: 1.5 }],
    [`${base}/concurrency/override`, { concurrencyLimit: -1 }],
    [`${base}/concurrency/override`, { concurrencyLimit: 100001 }],
    [`${base}/concurrency/override`, { percent: 0 }],
    [`${base}/concurrency/reset`, { type: 7 }],
    [`${base}/pause`, "not json"],
    [`${base}/pause`, ""],
  ]) {
    const r = await raw("POST", path, body);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.error, "string");
  }
  // a percent override: 50% of the environment's 100
  const p = await raw("POST", `${base}/concurrency/override`, { percent: 50 });
  assert.equal(p.status, 200);
  assert.equal(p.json.concurrencyLimit, 50);
  assert.equal((await raw("POST", `${base}/concurrency/reset`, {})).status, 200);
  const bad = await raw("GET", "/api/v1/queues?perPage=0");
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, "Query Error");
});

test("a JWT with read:queues retrieves a queue; without it, or on the other routes, it is refused", async () => {
  const { auth } = await import("./sdk.mjs");
  const q = await queues.retrieve({ type: "task", name: T });
  const call = (jwt, method, path, body) =>
    fetch(srv.url + path, {
      method,
      headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
      body: body && JSON.stringify(body),
    });
  const reader = await auth.createPublicToken({ scopes: { read: { queues: true } } });
  const r = await call(reader, "GET", `/api/v1/queues/${q.id}`);
  assert.equal(r.status, 200);
  assert.equal((await r.json()).id, q.id);
  const other = await auth.createPublicToken({ scopes: { read: { runs: true } } });
  assert.equal((await call(other, "GET", `/api/v1/queues/${q.id}`)).status, 403);
  for (const [m, p, b] of [
    ["GET", "/api/v1/queues"],
    ["POST", `/api/v1/queues/${q.id}/pause`, { action: "pause" }],
    ["POST", `/api/v1/queues/${q.id}/concurrency/override`, { concurrencyLimit: 1 }],
    ["POST", `/api/v1/queues/${q.id}/concurrency/reset`, {}],
  ]) {
    const res = await call(reader, m, p, b);
    assert.ok(res.status === 401 || res.status === 403, `${m} ${p}: ${res.status}`);
  }
  assert.equal((await queues.retrieve(q.id)).paused, false, "the refused pause did nothing");
});
