// runs.list (filters, cursor paging), runs.cancel, runs.replay,
// runs.reschedule, and a restart in the middle. spec/api.md 1.4, 4, 6.4
// [12]-[17]; docs runs.mdx, replaying.mdx.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { tasks, runs, auth, BadRequestError, NotFoundError, AuthenticationError } from "./sdk.mjs";
import { near, startServer, uid, rejectsApi, listIds, collect, sorted, sleep, apiClient } from "./helpers.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

test("runs.list filters: status, taskIdentifier, tag, isTest, createdAt", async () => {
  const taskA = uid("compat-list-a-");
  const taskB = uid("compat-list-b-");
  const T1 = uid("t1-");
  const T2 = uid("t2-");

  const tBefore = Date.now();
  const a = await tasks.trigger(taskA, { a: 1 }, { tags: [T1] });
  const b = await tasks.trigger(taskB, { b: 1 }, { tags: [T1] });
  const c = await tasks.trigger(taskA, { c: 1 }, { tags: [T2], delay: "1h" });
  await sleep(50);
  const mid = Date.now();
  await sleep(50);
  const d = await apiClient().triggerTask(taskA, {
    payload: "{}",
    options: { payloadType: "application/json", tags: [T1], test: true },
  });
  const e = await tasks.trigger(taskB, { e: 1 }, { tags: [T1] });
  await runs.cancel(e.id);

  // tag
  assert.deepEqual(await listIds(runs, { tag: T1 }), sorted([a.id, b.id, d.id, e.id]));
  assert.deepEqual(await listIds(runs, { tag: T2 }), [c.id]);
  // several tags: a run matching any of them
  assert.deepEqual(await listIds(runs, { tag: [T1, T2] }), sorted([a.id, b.id, c.id, d.id, e.id]));
  // taskIdentifier
  assert.deepEqual(await listIds(runs, { tag: T1, taskIdentifier: taskA }), sorted([a.id, d.id]));
  assert.deepEqual(await listIds(runs, { taskIdentifier: [taskA, taskB] }), sorted([a.id, b.id, c.id, d.id, e.id]));
  // status (API vocabulary, comma list)
  assert.deepEqual(await listIds(runs, { tag: T1, status: "QUEUED" }), sorted([a.id, b.id, d.id]));
  assert.deepEqual(await listIds(runs, { tag: T1, status: ["CANCELED"] }), [e.id]);
  assert.deepEqual(await listIds(runs, { tag: [T1, T2], status: ["DELAYED", "CANCELED"] }), sorted([c.id, e.id]));
  assert.deepEqual(await listIds(runs, { tag: T1, status: "COMPLETED" }), []);
  // isTest
  assert.deepEqual(await listIds(runs, { tag: T1, isTest: true }), [d.id]);
  assert.deepEqual(await listIds(runs, { tag: T1, isTest: false }), sorted([a.id, b.id, e.id]));
  // createdAt from / to (ms epoch) and period
  assert.deepEqual(await listIds(runs, { tag: [T1, T2], from: mid }), sorted([d.id, e.id]));
  assert.deepEqual(await listIds(runs, { tag: [T1, T2], to: mid }), sorted([a.id, b.id, c.id]));
  assert.deepEqual(await listIds(runs, { tag: [T1, T2], from: new Date(tBefore - 1000), to: new Date(mid) }), sorted([a.id, b.id, c.id]));
  assert.deepEqual(await listIds(runs, { tag: [T1, T2], period: "1d" }), sorted([a.id, b.id, c.id, d.id, e.id]));
});

test("runs.list items carry the common run fields plus env", async () => {
  const task = uid("compat-list-item-");
  const tag = uid("item-");
  const h = await tasks.trigger(task, { x: 1 }, { tags: [tag, "another"], metadata: { m: 1 }, ttl: "5m" });
  const page = await runs.list({ tag });
  assert.equal(page.data.length, 1);
  const item = page.data[0];
  assert.equal(item.id, h.id);
  assert.equal(item.taskIdentifier, task);
  assert.equal(item.status, "QUEUED");
  assert.equal(item.isQueued, true);
  assert.equal(item.isCompleted, false);
  assert.equal(item.isTest, false);
  assert.deepEqual(sorted(item.tags), sorted([tag, "another"]));
  assert.equal(item.ttl, "5m");
  assert.deepEqual(item.metadata, { m: 1 });
  assert.equal(item.env.name, "dev");
  assert.equal(typeof item.env.id, "string");
  assert.ok(item.createdAt instanceof Date);
  assert.equal(item.costInCents, 0);
  assert.equal(item.durationMs, 0);
  assert.equal(page.pagination.next, undefined);
  assert.equal(page.pagination.previous, undefined);
});

test("runs.list: an unknown filter[status] is a 400 Query Error", async () => {
  await rejectsApi(runs.list({ status: "NOT_A_STATUS" }), BadRequestError, 400);
});

test("runs.list: page[size] above 100 is a 400", async () => {
  await rejectsApi(runs.list({ limit: 101 }), BadRequestError, 400);
});

test("runs.list: an unknown filter[machine] preset is a 400", async () => {
  // ApiRunListSearchParams validates filter[machine] against MachinePresetName
  await rejectsApi(runs.list({ machine: "huge-9x" }), BadRequestError, 400);
});

test("runs.list cursor paging: page[size], next/previous, auto-pagination, newest first", async () => {
  const task = uid("compat-page-");
  const tag = uid("page-");
  const ids = [];
  for (let i = 0; i < 12; i++) {
    ids.push((await tasks.trigger(task, { i }, { tags: [tag] })).id);
    await sleep(5); // distinct createdAt, so "newest first" is well defined
  }
  const newestFirst = [...ids].reverse();

  const p1 = await runs.list({ tag, limit: 5 });
  assert.deepEqual(p1.data.map((r) => r.id), newestFirst.slice(0, 5));
  assert.equal(typeof p1.pagination.next, "string");
  assert.equal(p1.pagination.previous, undefined);
  assert.equal(p1.hasNextPage(), true);

  const p2 = await p1.getNextPage();
  assert.deepEqual(p2.data.map((r) => r.id), newestFirst.slice(5, 10));
  assert.equal(typeof p2.pagination.previous, "string");
  assert.equal(typeof p2.pagination.next, "string");

  const p3 = await p2.getNextPage();
  assert.deepEqual(p3.data.map((r) => r.id), newestFirst.slice(10));
  assert.equal(p3.pagination.next, undefined);
  assert.equal(p3.hasNextPage(), false);

  // page[before] walks back to the same first page. Note: the SDK's
  // getPreviousPage() keeps the page[after] that fetched p2 and adds
  // page[before]; the real presenter lets page[before] win.
  const back = await p2.getPreviousPage();
  assert.deepEqual(back.data.map((r) => r.id), newestFirst.slice(0, 5));

  // SDK auto-pagination over every page
  const all = await collect(runs.list({ tag, limit: 5 }));
  assert.deepEqual(all.map((r) => r.id), newestFirst);
  // default page size (25) fits everything on one page
  const one = await runs.list({ tag });
  assert.equal(one.data.length, 12);
  assert.equal(one.pagination.next, undefined);
});

test("runs.cancel: QUEUED run becomes CANCELED; cancelling again is a no-op", async () => {
  const h = await tasks.trigger(uid("compat-cancel-"), { c: 1 });
  const res = await runs.cancel(h.id);
  assert.deepEqual(res, { id: h.id });

  const run = await runs.retrieve(h.id);
  assert.equal(run.status, "CANCELED");
  assert.equal(run.isCancelled, true);
  assert.equal(run.isCompleted, true);
  assert.equal(run.isFailed, true); // isCompleted && status != COMPLETED
  assert.equal(run.isSuccess, false);
  assert.equal(run.isQueued, false);
  assert.ok(run.finishedAt instanceof Date, "finishedAt is set on cancel");

  const again = await runs.cancel(h.id);
  assert.deepEqual(again, { id: h.id });
  const run2 = await runs.retrieve(h.id);
  assert.equal(run2.status, "CANCELED");
  assert.equal(run2.finishedAt.getTime(), run.finishedAt.getTime());
});

test("runs.cancel: a DELAYED run can be canceled", async () => {
  const h = await tasks.trigger(uid("compat-cancel-delayed-"), {}, { delay: "1h" });
  assert.equal((await runs.retrieve(h.id)).status, "DELAYED");
  await runs.cancel(h.id);
  const run = await runs.retrieve(h.id);
  assert.equal(run.status, "CANCELED");
  assert.equal(run.isCancelled, true);
});

test("runs.cancel of an unknown run is a 404", async () => {
  await rejectsApi(runs.cancel("run_doesnotexist0000000000000"), NotFoundError, 404);
});

test("runs.replay: a new run of the same task with the same payload, tags and metadata", async () => {
  const task = uid("compat-replay-");
  const payload = { order: 17, items: ["a", "b"] };
  const h = await tasks.trigger(task, payload, { tags: ["r2", "r1"], metadata: { src: "orig" } });
  const res = await runs.replay(h.id);
  assert.equal(typeof res.id, "string");
  assert.match(res.id, /^run_/);
  assert.notEqual(res.id, h.id);

  const run = await runs.retrieve(res.id);
  assert.equal(run.taskIdentifier, task);
  assert.deepEqual(run.payload, payload);
  assert.deepEqual(run.tags, ["r1", "r2"]);
  assert.deepEqual(run.metadata, { src: "orig" });
  assert.equal(run.status, "QUEUED");
  // the original is untouched
  assert.equal((await runs.retrieve(h.id)).status, "QUEUED");
});

test("runs.replay of a canceled run works; of an unknown run is a 404", async () => {
  const h = await tasks.trigger(uid("compat-replay-c-"), "text payload");
  await runs.cancel(h.id);
  const res = await runs.replay(h.id);
  const run = await runs.retrieve(res.id);
  assert.equal(run.status, "QUEUED");
  assert.equal(run.payload, "text payload");

  await rejectsApi(runs.replay("run_doesnotexist0000000000000"), NotFoundError, 404);
});

test("runs.reschedule: a delayed run gets a new delayedUntil", async () => {
  const h = await tasks.trigger(uid("compat-resched-"), {}, { delay: "1h" });
  const t0 = Date.now();
  const res = await runs.reschedule(h.id, { delay: "3h" });
  // the response is the full RetrieveRunResponse of the run
  assert.equal(res.id, h.id);
  assert.equal(res.status, "DELAYED");
  near(res.delayedUntil, t0 + 3 * 3600_000, 60_000, "reschedule response delayedUntil");
  const run = await runs.retrieve(h.id);
  assert.equal(run.status, "DELAYED");
  near(run.delayedUntil, t0 + 3 * 3600_000, 60_000, "retrieve delayedUntil");

  const at = new Date(Date.now() + 86400_000);
  at.setMilliseconds(0);
  const res2 = await runs.reschedule(h.id, { delay: at });
  near(res2.delayedUntil, at.getTime(), 1000, "reschedule to a Date");
});

test("runs.reschedule: a run that is not delayed is a 400; a bad delay is a 400", async () => {
  const h = await tasks.trigger(uid("compat-resched-no-"), {});
  await rejectsApi(runs.reschedule(h.id, { delay: "1h" }), BadRequestError, 400, /not delayed/);
  assert.equal((await runs.retrieve(h.id)).status, "QUEUED");

  const d = await tasks.trigger(uid("compat-resched-bad-"), {}, { delay: "1h" });
  await rejectsApi(runs.reschedule(d.id, { delay: "whenever" }), BadRequestError, 400, /Invalid delay/);
});

test("runs.retrieve of an unknown run is a 404 (NotFoundError)", async () => {
  await rejectsApi(runs.retrieve("run_doesnotexist0000000000000"), NotFoundError, 404);
});

test("runs survive a server restart", async () => {
  const task = uid("compat-restart-");
  const h = await tasks.trigger(task, { keep: "me" }, { tags: ["persist"], delay: "2h", metadata: { k: 1 } });
  const before = await runs.retrieve(h.id);
  await srv.restart();
  const after = await runs.retrieve(h.id);
  assert.equal(after.status, "DELAYED");
  assert.deepEqual(after.payload, { keep: "me" });
  assert.deepEqual(after.tags, ["persist"]);
  assert.deepEqual(after.metadata, { k: 1 });
  assert.equal(after.delayedUntil.getTime(), before.delayedUntil.getTime());
  assert.equal(after.createdAt.getTime(), before.createdAt.getTime());
  assert.ok((await listIds(runs, { taskIdentifier: task })).includes(h.id));
});

test("runs.list(projectRef, {env}) with a personal access token lists the project's runs", async () => {
  // GET /api/v1/projects/{ref}/runs (spec/api.md [14]): PAT only
  const tag = uid("proj-");
  const h = await tasks.trigger(uid("compat-projruns-"), {}, { tags: [tag] });
  await auth.withAuth({ accessToken: srv.pat }, async () => {
    const page = await runs.list(srv.projectRef, { env: "dev", tag });
    assert.deepEqual(page.data.map((r) => r.id), [h.id]);
    assert.equal(page.data[0].env.name, "dev");
    assert.deepEqual((await runs.list(srv.projectRef, { env: "prod", tag })).data, []);
  });
  // a secret key is not accepted on this route
  await rejectsApi(runs.list(srv.projectRef, { env: "dev" }), AuthenticationError, 401);
});
