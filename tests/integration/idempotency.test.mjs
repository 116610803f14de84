// tests/integration/idempotency.test.mjs - the two kinds of deduplication:
// request dedup by x-trigger-request-idempotency-key (spec/api.md 1.5, the
// SDK's retries of one call) and run idempotency by options.idempotencyKey
// ([1], reset through [49]).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID, createHash } from "node:crypto";
import { startTriggerd, api, trigger, triggerId, retrieve, expectStatus, waitFor, uid, stopServer } from "./helpers.mjs";

const REQ_KEY = "x-trigger-request-idempotency-key";

describe("idempotency", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await stopServer(srv);
  });

  async function listIds(task) {
    const res = await api(srv, "GET", `/api/v1/runs?filter[taskIdentifier]=${encodeURIComponent(task)}&page[size]=100`);
    expectStatus(res, 200, "list:");
    return res.json.data.map((r) => r.id);
  }

  describe("request dedup (x-trigger-request-idempotency-key)", () => {
    test("two trigger POSTs with the same request key and task return the same run", async () => {
      const task = uid("dedup-");
      const key = randomUUID();
      const a = await trigger(srv, task, {}, { headers: { [REQ_KEY]: key } });
      const b = await trigger(srv, task, {}, { headers: { [REQ_KEY]: key } });
      assert.equal(b.json.id, a.json.id);
      // spec/api.md 1.5: the replay says isCached:false and carries a fresh token.
      assert.equal(b.json.isCached, false);
      assert.ok(b.headers.get("x-trigger-jwt"), "replay carries x-trigger-jwt");
      assert.deepEqual(await listIds(task), [a.json.id], "only one run was created");
    });

    test("concurrent retries with one request key create one run", async () => {
      const task = uid("dedup-par-");
      const key = randomUUID();
      const results = await Promise.all(
        Array.from({ length: 8 }, () => trigger(srv, task, {}, { headers: { [REQ_KEY]: key } })),
      );
      const ids = new Set(results.map((r) => r.json.id));
      assert.equal(ids.size, 1, `ids: ${[...ids]}`);
      assert.equal((await listIds(task)).length, 1);
    });

    test("the replay ignores a changed body: the hash covers key, env and task only", async () => {
      const task = uid("dedup-body-");
      const key = randomUUID();
      const a = await trigger(srv, task, {}, { headers: { [REQ_KEY]: key }, payload: '{"n":1}' });
      const b = await trigger(srv, task, { tags: ["x"] }, { headers: { [REQ_KEY]: key }, payload: '{"n":2}' });
      assert.equal(b.json.id, a.json.id);
      assert.deepEqual((await retrieve(srv, a.json.id)).payload, { n: 1 });
    });

    test("a different request key, task or environment triggers a new run", async () => {
      const task = uid("dedup-diff-");
      const key = randomUUID();
      const a = await triggerId(srv, task, {}, { headers: { [REQ_KEY]: key } });
      const otherKey = await triggerId(srv, task, {}, { headers: { [REQ_KEY]: randomUUID() } });
      const otherTask = await triggerId(srv, task + "-b", {}, { headers: { [REQ_KEY]: key } });
      const otherEnv = await triggerId(srv, task, {}, { headers: { [REQ_KEY]: key }, key: srv.keys.prod });
      const noKey1 = await triggerId(srv, task);
      const noKey2 = await triggerId(srv, task);
      assert.equal(new Set([a, otherKey, otherTask, otherEnv, noKey1, noKey2]).size, 6);
    });

    test("a failed request is not remembered: the retry with the same key can succeed", async () => {
      const task = uid("dedup-fail-");
      const key = randomUUID();
      const bad = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: "{bad", headers: { [REQ_KEY]: key } });
      expectStatus(bad, 400, "bad body:");
      const good = await triggerId(srv, task, {}, { headers: { [REQ_KEY]: key } });
      assert.deepEqual(await listIds(task), [good]);
    });

    test("a retry after a restart is still deduplicated", async () => {
      const task = uid("dedup-restart-");
      const key = randomUUID();
      const a = await triggerId(srv, task, {}, { headers: { [REQ_KEY]: key } });
      await srv.restart();
      const b = await triggerId(srv, task, {}, { headers: { [REQ_KEY]: key } });
      assert.equal(b, a);
      assert.equal((await listIds(task)).length, 1);
    });
  });

  describe("run idempotency (options.idempotencyKey)", () => {
    test("the same idempotencyKey returns the same run with isCached:true", async () => {
      const task = uid("idem-");
      const key = uid("key-");
      const first = await trigger(srv, task, { idempotencyKey: key });
      assert.equal(first.json.isCached, false);
      const second = await trigger(srv, task, { idempotencyKey: key }, { payload: '{"other":true}' });
      assert.equal(second.json.id, first.json.id);
      assert.equal(second.json.isCached, true);
      const run = await retrieve(srv, first.json.id);
      assert.equal(run.idempotencyKey, key, "retrieve shows the user's key");
      assert.deepEqual(run.payload, { a: 1 }, "the cached run keeps its first payload");
      assert.equal((await listIds(task)).length, 1);
    });

    test("the key is scoped to the task and the environment", async () => {
      const task = uid("idem-scope-");
      const key = uid("key-");
      const a = await triggerId(srv, task, { idempotencyKey: key });
      const b = await triggerId(srv, task + "-other", { idempotencyKey: key });
      const c = await triggerId(srv, task, { idempotencyKey: key }, { key: srv.keys.prod });
      assert.equal(new Set([a, b, c]).size, 3);
    });

    test("concurrent triggers with one idempotencyKey create one run", async () => {
      const task = uid("idem-par-");
      const key = uid("key-");
      const results = await Promise.all(Array.from({ length: 8 }, () => trigger(srv, task, { idempotencyKey: key })));
      assert.equal(new Set(results.map((r) => r.json.id)).size, 1);
      assert.equal(results.filter((r) => r.json.isCached === false).length, 1, "exactly one fresh trigger");
    });

    test("reset: the next trigger with the key makes a new run, then that one is cached", async () => {
      const task = uid("idem-reset-");
      const key = uid("key-");
      const first = await triggerId(srv, task, { idempotencyKey: key });

      const reset = await api(srv, "POST", `/api/v1/idempotencyKeys/${encodeURIComponent(key)}/reset`, {
        body: { taskIdentifier: task },
      });
      expectStatus(reset, 200, "reset:");
      assert.deepEqual(reset.json, { id: key });

      const second = await trigger(srv, task, { idempotencyKey: key });
      assert.notEqual(second.json.id, first);
      assert.equal(second.json.isCached, false);
      const third = await trigger(srv, task, { idempotencyKey: key });
      assert.equal(third.json.id, second.json.id);
      assert.equal(third.json.isCached, true);

      // The first run is still there.
      assert.equal((await retrieve(srv, first)).id, first);
      assert.equal((await listIds(task)).length, 2);
    });

    test("reset with a 64-hex key as the SDK sends it", async () => {
      const task = uid("idem-hex-");
      const key = createHash("sha256").update(uid("sdk-key-")).digest("hex");
      const first = await triggerId(srv, task, { idempotencyKey: key });
      expectStatus(
        await api(srv, "POST", `/api/v1/idempotencyKeys/${key}/reset`, { body: { taskIdentifier: task } }),
        200,
        "reset:",
      );
      assert.notEqual(await triggerId(srv, task, { idempotencyKey: key }), first);
    });

    test("reset of an unknown key, of another task, or without taskIdentifier is refused", async () => {
      const task = uid("idem-reset-bad-");
      const key = uid("key-");
      await triggerId(srv, task, { idempotencyKey: key });

      let res = await api(srv, "POST", `/api/v1/idempotencyKeys/${uid("nokey-")}/reset`, { body: { taskIdentifier: task } });
      expectStatus(res, 404, "unknown key:");
      assert.match(res.json.error, /^No runs found with idempotency key/);

      res = await api(srv, "POST", `/api/v1/idempotencyKeys/${key}/reset`, { body: { taskIdentifier: task + "-x" } });
      expectStatus(res, 404, "other task:");

      for (const body of [{}, { taskIdentifier: "" }, { taskIdentifier: 5 }]) {
        res = await api(srv, "POST", `/api/v1/idempotencyKeys/${key}/reset`, { body });
        expectStatus(res, 400, `body ${JSON.stringify(body)}:`);
      }
      res = await api(srv, "POST", `/api/v1/idempotencyKeys/${key}/reset`, { body: "{bad" });
      expectStatus(res, 400, "malformed body:");

      // None of the refused resets cleared the key.
      const again = await trigger(srv, task, { idempotencyKey: key });
      assert.equal(again.json.isCached, true);
    });

    test("idempotencyKeyTTL: after it passes the key makes a new run", async () => {
      const task = uid("idem-ttl-");
      const key = uid("key-");
      const first = await triggerId(srv, task, { idempotencyKey: key, idempotencyKeyTTL: "2s" });
      const cached = await trigger(srv, task, { idempotencyKey: key, idempotencyKeyTTL: "2s" });
      assert.equal(cached.json.id, first);
      const fresh = await waitFor(
        async () => {
          const r = await trigger(srv, task, { idempotencyKey: key, idempotencyKeyTTL: "2s" });
          return r.json.id !== first ? r : null;
        },
        { timeout: 10000, interval: 500, what: "the idempotency key to expire" },
      );
      assert.equal(fresh.json.isCached, false);
    });

    test("the legacy idempotency-key header works like options.idempotencyKey", async () => {
      const task = uid("idem-hdr-");
      const key = uid("key-");
      const a = await trigger(srv, task, {}, { headers: { "idempotency-key": key } });
      const b = await trigger(srv, task, {}, { headers: { "idempotency-key": key } });
      assert.equal(b.json.id, a.json.id);
      assert.equal(b.json.isCached, true);
    });
  });
});
