// tests/integration/completion.test.mjs - what an attempt's completion
// reports besides its outcome, driven through the dev-worker protocol by hand
// (docs/dev-protocol.md 3.0-3.5): the SDK's last metadata flush (a serialized
// FlushedRunMetadata packet, applied to the run, its parent and its root, or
// to the run itself when it has none) and the attempt's compute time
// (usage.durationMs, summed over attempts into the run's durationMs).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, api, expectStatus, retrieve, uid, waitFor, stopServer } from "./helpers.mjs";

/** The SDK's stringifyIO of a flush packet: superjson text, no meta for plain JSON. */
const superjson = (json, meta) => ({
  data: JSON.stringify(meta ? { json, meta } : { json }),
  dataType: "application/super+json",
});

describe("attempt completions: flushed metadata and compute time", () => {
  let srv;
  let worker;
  const task = uid("cmpl-");
  before(async () => {
    srv = await startTriggerd();
    const reg = await api(srv, "POST", `/api/v1/projects/${srv.projectRef}/background-workers`, {
      body: {
        localOnly: true,
        metadata: {
          packageVersion: "4.5.0",
          cliPackageVersion: "4.5.0",
          contentHash: uid("h"),
          tasks: [{ id: task, filePath: "t.ts", exportName: task, retry: { maxAttempts: 3 } }],
          queues: [],
        },
        engine: "V2",
      },
    });
    expectStatus(reg, 200, "register worker:");
    worker = reg.json.id;
  });
  after(async () => {
    await stopServer(srv);
  });

  /** Dequeues until run id is handed out, starts its attempt; returns the attempt's snapshot id. */
  async function start(id) {
    let msg;
    await waitFor(
      async () => {
        const r = await api(srv, "POST", "/engine/v1/dev/dequeue", {
          body: { currentWorker: worker, oldWorkers: [] },
        });
        expectStatus(r, 200, "dequeue:");
        msg = r.json.dequeuedMessages.find((m) => m.run.friendlyId === id);
        return !!msg;
      },
      { timeout: 10000, interval: 100, what: `run ${id} to be dequeued` },
    );
    const s = await api(srv, "POST", `/engine/v1/dev/runs/${id}/snapshots/${msg.snapshot.friendlyId}/attempts/start`, {
      body: {},
    });
    expectStatus(s, 200, "attempt start:");
    return s.json.snapshot.friendlyId;
  }

  async function complete(id, snapshot, completion) {
    const r = await api(srv, "POST", `/engine/v1/dev/runs/${id}/snapshots/${snapshot}/attempts/complete`, {
      body: { completion: { id, ...completion } },
    });
    expectStatus(r, 200, "attempt complete:");
    return r.json.result;
  }

  async function triggerRun(options = {}) {
    const r = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: "{}", options } });
    expectStatus(r, 200, "trigger:");
    return r.json.id;
  }

  test("the last flush is applied to the run's metadata, keeping what was set at trigger time", async () => {
    const id = await triggerRun({ metadata: { seeded: 1, keep: "me" } });
    let snap = await start(id);
    const failed = await complete(id, snap, {
      ok: false,
      error: { type: "BUILT_IN_ERROR", name: "Error", message: "first", stackTrace: "" },
      retry: { timestamp: Date.now(), delay: 0 },
      usage: { durationMs: 1000 },
      flushedMetadata: superjson({ operations: [{ type: "set", key: "attempt1", value: true }], parentOperations: [], rootOperations: [] }),
    });
    // a retry due now goes on in the same worker (RETRY_IMMEDIATELY): the
    // next attempt starts on the snapshot the completion answered
    assert.equal(failed.attemptStatus, "RETRY_IMMEDIATELY");
    const again = await api(srv, "POST", `/engine/v1/dev/runs/${id}/snapshots/${failed.snapshot.friendlyId}/attempts/start`, {
      body: {},
    });
    expectStatus(again, 200, "attempt start after RETRY_IMMEDIATELY:");
    snap = again.json.snapshot.friendlyId;
    const done = await complete(id, snap, {
      ok: true,
      output: '{"ok":true}',
      outputType: "application/json",
      usage: { durationMs: 234 },
      flushedMetadata: superjson({
        operations: [
          { type: "set", key: "final", value: { at: "end" } },
          { type: "increment", key: "count", value: 2 },
        ],
        parentOperations: [{ type: "set", key: "viaParent", value: "self" }],
        rootOperations: [{ type: "increment", key: "viaRoot", value: 5 }],
      }),
    });
    assert.equal(done.attemptStatus, "RUN_FINISHED");
    const run = await retrieve(srv, id);
    assert.equal(run.status, "COMPLETED");
    // a run without a parent or root takes its parent and root operations itself
    const want = { seeded: 1, keep: "me", attempt1: true, final: { at: "end" }, count: 2, viaParent: "self", viaRoot: 5 };
    assert.deepEqual(run.metadata, want);
    const md = await api(srv, "GET", `/api/v1/runs/${id}/metadata`);
    expectStatus(md, 200, "GET metadata:");
    assert.deepEqual(md.json, { metadata: want, metadataType: "application/json" });
    // compute time of both attempts, not the wall time between start and finish
    assert.equal(run.durationMs, 1234);
    const list = await api(srv, "GET", `/api/v1/runs?filter[taskIdentifier]=${task}&page[size]=100`);
    assert.equal(list.json.data.find((r) => r.id === id).durationMs, 1234);
  });

  test("a child's parent and root operations at completion reach its parent and root", async () => {
    // The root and the middle run wait (delayed) while the leaf runs, so only it is dequeued.
    const root = await triggerRun({ delay: "1h", metadata: { role: "root" } });
    const middle = await triggerRun({ delay: "1h", parentRunId: root, metadata: { role: "middle" } });
    const leaf = await triggerRun({ parentRunId: middle });
    const snap = await start(leaf);
    await complete(leaf, snap, {
      ok: true,
      output: "{}",
      outputType: "application/json",
      flushedMetadata: superjson({
        operations: [{ type: "set", key: "mine", value: 1 }],
        parentOperations: [{ type: "set", key: "fromLeaf", value: leaf }, { type: "append", key: "log", value: "leaf" }],
        rootOperations: [{ type: "increment", key: "leafDone", value: 1 }],
      }),
    });
    assert.deepEqual((await retrieve(srv, leaf)).metadata, { mine: 1 });
    assert.deepEqual((await retrieve(srv, middle)).metadata, { role: "middle", fromLeaf: leaf, log: ["leaf"] });
    assert.deepEqual((await retrieve(srv, root)).metadata, { role: "root", leafDone: 1 });
  });

  test("PUT metadata: parent and root operations on a run without a parent apply to the run itself", async () => {
    const id = await triggerRun({ delay: "1h" });
    const r = await api(srv, "PUT", `/api/v1/runs/${id}/metadata`, {
      body: {
        operations: [{ type: "set", key: "own", value: 1 }],
        parentOperations: [{ type: "set", key: "p", value: 2 }],
        rootOperations: [{ type: "increment", key: "r", value: 3 }],
      },
    });
    expectStatus(r, 200, "PUT metadata:");
    assert.deepEqual((await retrieve(srv, id)).metadata, { own: 1, p: 2, r: 3 });
  });

  test("a flush the platform's schema refuses (superjson-only values) is dropped whole, the run completes", async () => {
    const id = await triggerRun({ metadata: { seeded: 1 } });
    const snap = await start(id);
    await complete(id, snap, {
      ok: true,
      output: "{}",
      outputType: "application/json",
      flushedMetadata: superjson(
        { operations: [{ type: "set", key: "when", value: "1970-01-01T00:00:00.000Z" }, { type: "set", key: "x", value: 1 }] },
        { values: { "operations.0.value": ["Date"] } },
      ),
    });
    const run = await retrieve(srv, id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.metadata, { seeded: 1 });
  });

  test("a completion's invalid operations leave the metadata alone and the run completes", async () => {
    const id = await triggerRun({ metadata: { seeded: 1 } });
    const snap = await start(id);
    await complete(id, snap, {
      ok: true,
      output: "{}",
      outputType: "application/json",
      flushedMetadata: superjson({ operations: [{ type: "set", key: "a", value: 1 }, { type: "explode" }] }),
    });
    const run = await retrieve(srv, id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.metadata, { seeded: 1 });
    assert.equal(run.durationMs, 0, "no usage reported");
  });
});
