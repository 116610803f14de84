// Idempotency keys: idempotencyKeys.create, reuse on trigger (same run,
// isCached), idempotencyKeyTTL expiry, idempotencyKeys.reset.
// spec/api.md 3 (key format), 6.1, 6.9 [49]; docs idempotency.mdx.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { tasks, runs, idempotencyKeys, NotFoundError } from "./sdk.mjs";
import { startServer, uid, rejectsApi, sleep, listIds } from "./helpers.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

const sha256 = (s) => createHash("sha256").update(s).digest("hex");

test("idempotencyKeys.create outside a task hashes the key material (no scope suffix)", async () => {
  const k = await idempotencyKeys.create("order-1", { scope: "global" });
  assert.equal(k, sha256("order-1"));
  assert.equal(await idempotencyKeys.create(["order", "1"], { scope: "global" }), sha256("order-1"));
  // from backend code every scope behaves as global (docs: idempotency.mdx)
  assert.equal(await idempotencyKeys.create("order-1"), sha256("order-1"));
});

test("reusing an idempotency key returns the same run with isCached:true", async () => {
  const task = uid("compat-idem-");
  const user = uid("order-");
  const key = await idempotencyKeys.create(user, { scope: "global" });
  const h1 = await tasks.trigger(task, { n: 1 }, { idempotencyKey: key });
  assert.equal(h1.isCached, false);
  const h2 = await tasks.trigger(task, { n: 2 }, { idempotencyKey: key });
  assert.equal(h2.id, h1.id);
  assert.equal(h2.isCached, true);
  assert.equal(typeof h2.publicAccessToken, "string");

  const run = await runs.retrieve(h1.id);
  assert.equal(run.idempotencyKey, user); // the user's key, not the hash
  assert.deepEqual(run.payload, { n: 1 }); // the cached run keeps the first payload
  assert.deepEqual(await listIds(runs, { taskIdentifier: task }), [h1.id]);
});

test("a plain string idempotencyKey is hashed by the SDK and deduplicates the same way", async () => {
  const task = uid("compat-idem-str-");
  const user = uid("plain-");
  const h1 = await tasks.trigger(task, {}, { idempotencyKey: user });
  const h2 = await tasks.trigger(task, {}, { idempotencyKey: user });
  assert.equal(h2.id, h1.id);
  assert.equal(h2.isCached, true);
  assert.equal((await runs.retrieve(h1.id)).idempotencyKey, user);
});

test("the same key on a different task is a different run", async () => {
  const key = await idempotencyKeys.create(uid("shared-"), { scope: "global" });
  const a = await tasks.trigger(uid("compat-idem-a-"), {}, { idempotencyKey: key });
  const b = await tasks.trigger(uid("compat-idem-b-"), {}, { idempotencyKey: key });
  assert.notEqual(a.id, b.id);
  assert.equal(b.isCached, false);
});

test("idempotencyKeyTTL: within the TTL the run is reused, after it a new run is created", async () => {
  const task = uid("compat-idem-ttl-");
  const key = await idempotencyKeys.create(uid("ttl-"), { scope: "global" });
  const h1 = await tasks.trigger(task, {}, { idempotencyKey: key, idempotencyKeyTTL: "3s" });
  const h2 = await tasks.trigger(task, {}, { idempotencyKey: key, idempotencyKeyTTL: "3s" });
  assert.equal(h2.id, h1.id);
  assert.equal(h2.isCached, true);
  await sleep(4500); // comfortably past the 3 s TTL
  const h3 = await tasks.trigger(task, {}, { idempotencyKey: key, idempotencyKeyTTL: "3s" });
  assert.notEqual(h3.id, h1.id);
  assert.equal(h3.isCached, false);
});

test("a canceled run keeps its idempotency key (docs: only failed runs clear it)", async () => {
  const task = uid("compat-idem-cancel-");
  const key = await idempotencyKeys.create(uid("c-"), { scope: "global" });
  const h1 = await tasks.trigger(task, {}, { idempotencyKey: key });
  await runs.cancel(h1.id);
  const h2 = await tasks.trigger(task, {}, { idempotencyKey: key });
  assert.equal(h2.id, h1.id);
  assert.equal(h2.isCached, true);
});

test("idempotencyKeys.reset clears the key: the next trigger makes a new run", async () => {
  const task = uid("compat-idem-reset-");
  const key = await idempotencyKeys.create(uid("r-"), { scope: "global" });
  const h1 = await tasks.trigger(task, { v: 1 }, { idempotencyKey: key });
  const res = await idempotencyKeys.reset(task, key);
  assert.deepEqual(res, { id: key });
  const h2 = await tasks.trigger(task, { v: 2 }, { idempotencyKey: key });
  assert.notEqual(h2.id, h1.id);
  assert.equal(h2.isCached, false);
  // and the new run now owns the key
  const h3 = await tasks.trigger(task, { v: 3 }, { idempotencyKey: key });
  assert.equal(h3.id, h2.id);
  assert.equal(h3.isCached, true);
  assert.deepEqual((await runs.retrieve(h2.id)).payload, { v: 2 });
});

test("idempotencyKeys.reset with a raw string key and global scope", async () => {
  const task = uid("compat-idem-reset-raw-");
  const user = uid("raw-");
  const h1 = await tasks.trigger(task, {}, { idempotencyKey: user });
  const res = await idempotencyKeys.reset(task, user, { scope: "global" });
  assert.deepEqual(res, { id: sha256(user) });
  const h2 = await tasks.trigger(task, {}, { idempotencyKey: user });
  assert.notEqual(h2.id, h1.id);
});

test("idempotencyKeys.reset of an unknown key, or of a known key for another task, is a 404", async () => {
  const task = uid("compat-idem-reset-404-");
  await rejectsApi(idempotencyKeys.reset(task, sha256(uid("nothing-"))), NotFoundError, 404);
  const key = await idempotencyKeys.create(uid("k-"), { scope: "global" });
  await tasks.trigger(task, {}, { idempotencyKey: key });
  await rejectsApi(idempotencyKeys.reset(uid("compat-other-task-"), key), NotFoundError, 404);
});
