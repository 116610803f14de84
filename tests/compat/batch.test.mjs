// tasks.batchTrigger / batch.trigger with 1,000 items (the 2-phase streaming
// batch: POST /api/v3/batches then NDJSON to /api/v3/batches/{id}/items),
// batch.retrieve, batch idempotency and completion. spec/api.md 6.2 [2] [3] [7].
//
// Batch status (run engine v2): once every item has become a run the batch is
// PENDING with processing.completedAt set ("all runs created, waiting for
// completion"); it becomes COMPLETED when every run is in a final status.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { tasks, batch, runs, NotFoundError, BadRequestError } from "./sdk.mjs";
import { startServer, uid, rejectsApi, waitFor, listIds, pool, sorted, apiClient } from "./helpers.mjs";
import { FakeWorker } from "../integration/worker.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

const N = 1000;

async function processed(batchId, count) {
  return waitFor(
    async () => {
      const b = await batch.retrieve(batchId);
      return b.runs.length === count && b.processing.completedAt ? b : null;
    },
    { timeout: 120_000, interval: 200, what: `batch ${batchId} to create ${count} runs` }
  );
}

test(`tasks.batchTrigger with ${N} items: every item becomes a run with its own payload`, async () => {
  const task = uid("compat-batch-");
  const items = Array.from({ length: N }, (_, i) => ({ payload: { i } }));
  const handle = await tasks.batchTrigger(task, items);
  assert.match(handle.batchId, /^batch_[0-9a-z]+$/);
  assert.equal(handle.runCount, N);
  assert.equal(typeof handle.publicAccessToken, "string");

  const b = await processed(handle.batchId, N);
  assert.equal(b.id, handle.batchId);
  assert.equal(b.runCount, N);
  assert.ok(["PENDING", "PROCESSING", "COMPLETED"].includes(b.status), b.status);
  assert.deepEqual(b.processing.errors, []);
  assert.ok(b.processing.completedAt instanceof Date);
  assert.ok(b.createdAt instanceof Date && b.updatedAt instanceof Date);
  assert.equal(b.idempotencyKey, undefined);
  assert.equal(new Set(b.runs).size, N, "run ids are unique");
  for (const id of b.runs) assert.match(id, /^run_/);

  // runs.list filter[batch] sees the same runs (100 per page, auto-paginated)
  assert.deepEqual(await listIds(runs, { batch: handle.batchId, limit: 100 }), sorted(b.runs));

  // each run: batchId, triggerFunction, status, and one distinct payload index
  const seen = await pool(b.runs, 25, async (id) => {
    const r = await runs.retrieve(id);
    assert.equal(r.batchId, handle.batchId);
    assert.equal(r.triggerFunction, "batchTrigger");
    assert.equal(r.taskIdentifier, task);
    assert.equal(r.status, "QUEUED");
    return r.payload.i;
  });
  assert.deepEqual([...seen].sort((x, y) => x - y), Array.from({ length: N }, (_, i) => i));
});

test(`batch.trigger with ${N} items across two tasks, with per-item options`, async () => {
  const taskA = uid("compat-batch-a-");
  const taskB = uid("compat-batch-b-");
  const tagA = uid("ba-");
  const tagB = uid("bb-");
  const items = Array.from({ length: N }, (_, i) =>
    i % 2 === 0
      ? { id: taskA, payload: { i }, options: { tags: [tagA] } }
      : { id: taskB, payload: `item ${i}`, options: { tags: [tagB], delay: "1h" } }
  );
  const handle = await batch.trigger(items);
  assert.equal(handle.runCount, N);
  const b = await processed(handle.batchId, N);
  assert.deepEqual(b.processing.errors, []);

  const a = await listIds(runs, { tag: tagA, limit: 100 });
  const d = await listIds(runs, { tag: tagB, limit: 100, status: "DELAYED" });
  assert.equal(a.length, N / 2);
  assert.equal(d.length, N / 2);
  assert.deepEqual(sorted([...a, ...d]), sorted(b.runs));
  assert.deepEqual(await listIds(runs, { taskIdentifier: taskA, batch: handle.batchId, limit: 100 }), a);

  const sample = await runs.retrieve(d[0]);
  assert.equal(sample.taskIdentifier, taskB);
  assert.equal(sample.status, "DELAYED");
  assert.match(sample.payload, /^item \d+$/);
  assert.deepEqual(sample.tags, [tagB]);
});

test("batch.retrieve of an unknown batch is a 404", async () => {
  await rejectsApi(batch.retrieve("batch_doesnotexist00000000000"), NotFoundError, 404);
});

test("a batch whose runs are all created but not finished is PENDING, not COMPLETED", async () => {
  // runEngineHandlersShared.server.ts handleBatchCompletion: no item errors
  // -> status "PENDING" ("All runs created, waiting for completion");
  // batchSystem #tryCompleteBatch sets COMPLETED when every run is final.
  const handle = await tasks.batchTrigger(uid("compat-batch-pending-"), [{ payload: 1 }, { payload: 2 }]);
  const b = await processed(handle.batchId, 2);
  assert.equal(b.status, "PENDING");
  assert.ok(b.processing.completedAt instanceof Date);
});

test("a batch becomes COMPLETED once all its runs are final (here: canceled)", async () => {
  const handle = await tasks.batchTrigger(uid("compat-batch-done-"), [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
  const b = await processed(handle.batchId, 3);
  for (const id of b.runs) await runs.cancel(id);
  const done = await waitFor(
    async () => {
      const x = await batch.retrieve(handle.batchId);
      return x.status === "COMPLETED" ? x : null;
    },
    { timeout: 30_000, what: "batch COMPLETED" }
  );
  assert.equal(done.runs.length, 3);
});

test("batch idempotencyKey: the same key returns the same batch and creates no new runs", async () => {
  const task = uid("compat-batch-idem-");
  const key = uid("bkey-");
  const items = [{ payload: { n: 1 } }, { payload: { n: 2 } }];
  const h1 = await tasks.batchTrigger(task, items, { idempotencyKey: key });
  await processed(h1.batchId, 2);
  const h2 = await tasks.batchTrigger(task, items, { idempotencyKey: key });
  assert.equal(h2.batchId, h1.batchId);
  const b = await batch.retrieve(h1.batchId);
  assert.equal(typeof b.idempotencyKey, "string", "batch retrieve reports the idempotency key");
  assert.equal((await listIds(runs, { taskIdentifier: task })).length, 2);
});

test("a batch of more than 1,000 items is refused at create (400)", async () => {
  const items = Array.from({ length: N + 1 }, (_, i) => ({ payload: i }));
  let err;
  try {
    await tasks.batchTrigger(uid("compat-batch-big-"), items);
  } catch (e) {
    err = e;
  }
  assert.ok(err, "expected the batch to be refused");
  assert.equal(err.phase, "create", `BatchTriggerError phase (got ${err.message})`);
  assert.ok(err.cause instanceof BadRequestError, `cause: ${err.cause?.constructor?.name} ${err.cause?.message}`);
  assert.match(err.cause.message, /exceeds maximum allowed of 1000/);
});

// [9] GET /api/v1/batches/{id}/results (ApiClient getBatchResults, parsed by
// BatchTaskRunExecutionResult): the finished runs' results in item order.
test("getBatchResults: finished runs in item order (ok, failed, cancelled); unfinished left out", async () => {
  const task = uid("compat-batch-res-");
  const w = new FakeWorker(srv);
  await w.register([{ id: task, retry: { maxAttempts: 1 } }]);
  const handle = await tasks.batchTrigger(task, [0, 1, 2, 3].map((i) => ({ payload: { i } })));
  const b = await processed(handle.batchId, 4);
  const [ok, bad, cancelled, open] = b.runs;
  await w.run(ok);
  assert.equal((await w.succeed(ok, { done: 0 })).status, 200);
  await w.run(bad);
  const snap = (await w.latest(bad)).snapshot.friendlyId;
  const f = await w.completeRaw(bad, snap, { ok: false, error: { type: "BUILT_IN_ERROR", name: "Error", message: "no", stackTrace: "Error: no" } });
  assert.equal(f.status, 200, f.text);
  await runs.cancel(cancelled);
  const client = apiClient();
  const res = await waitFor(async () => {
    const r = await client.getBatchResults(handle.batchId);
    return r.items.length === 3 ? r : null;
  }, { timeout: 10_000, what: "three results" });
  assert.equal(res.id, handle.batchId);
  assert.deepEqual(res.items.map((x) => x.id), [ok, bad, cancelled]);
  assert.equal(res.items[0].ok, true);
  assert.deepEqual(JSON.parse(res.items[0].output), { done: 0 });
  assert.equal(res.items[0].taskIdentifier, task);
  assert.equal(res.items[1].ok, false);
  assert.equal(res.items[1].error.message, "no");
  assert.deepEqual(res.items[2].error, { type: "INTERNAL_ERROR", code: "TASK_RUN_CANCELLED" });
  assert.ok(!res.items.some((x) => x.id === open));
  await rejectsApi(client.getBatchResults("batch_doesnotexist"), NotFoundError, 404, "Batch not found");
});
