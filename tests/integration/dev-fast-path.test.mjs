// tests/integration/dev-fast-path.test.mjs - triggerd's dev-protocol
// extensions that let libtrigger make one round trip a run
// (docs/dev-protocol.md, "Fewer round trips"): a dequeue with "startAttempts"
// starts the attempts it hands out, and a completion with "dequeue" hands out
// the next run; unhappy paths (twice, stale snapshot, nothing queued, restart).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, api, expectStatus, retrieve, uid, waitFor, stopServer } from "./helpers.mjs";

describe("dev fast path: startAttempts and complete-and-dequeue", () => {
  let srv;
  let worker;
  const task = uid("fast-");
  const other = uid("fast-other-");
  before(async () => {
    srv = await startTriggerd();
    const reg = await api(srv, "POST", `/api/v1/projects/${srv.projectRef}/background-workers`, {
      body: {
        localOnly: true,
        metadata: {
          packageVersion: "4.5.0",
          cliPackageVersion: "4.5.0",
          contentHash: uid("h"),
          tasks: [
            { id: task, filePath: "t.ts", exportName: task, retry: { maxAttempts: 1 } },
            { id: other, filePath: "o.ts", exportName: other, retry: { maxAttempts: 1 } },
          ],
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

  const trigger = async (t, payload) => {
    const r = await api(srv, "POST", `/api/v1/tasks/${t}/trigger`, { body: { payload: JSON.stringify(payload) } });
    expectStatus(r, 200, "trigger:");
    return r.json.id;
  };
  const dequeue = (body) =>
    api(srv, "POST", "/engine/v1/dev/dequeue", { body: { currentWorker: worker, oldWorkers: [], ...body } });
  const complete = (run, snap, body) =>
    api(srv, "POST", `/engine/v1/dev/runs/${run}/snapshots/${snap}/attempts/complete`, { body });
  const ok = (id) => ({ ok: true, id, output: '{"done":true}', outputType: "application/json" });

  /** Dequeues (with startAttempts) until run id comes; returns its message. */
  async function takeStarted(id) {
    let msg;
    await waitFor(
      async () => {
        const r = await dequeue({ maxRuns: 1, startAttempts: true });
        expectStatus(r, 200, "dequeue:");
        msg = r.json.dequeuedMessages.find((m) => m.run.friendlyId === id);
        return !!msg;
      },
      { timeout: 10000, interval: 50, what: `run ${id} to be dequeued` },
    );
    return msg;
  }

  test("a dequeue with startAttempts hands out started attempts", async () => {
    const id = await trigger(task, { n: 1 });
    const msg = await takeStarted(id);
    assert.equal(msg.snapshot.executionStatus, "PENDING_EXECUTING");
    const a = msg.attempt;
    assert.ok(a, "the message carries the attempt start answer");
    assert.equal(a.snapshot.executionStatus, "EXECUTING");
    assert.equal(a.execution.run.id, id);
    assert.equal(a.execution.task.id, task);
    assert.equal(a.execution.attempt.number, 1);
    assert.equal(JSON.parse(a.execution.run.payload).n, 1);
    assert.ok(a.envVars.TRIGGER_RUN_ID, "the env vars of the attempt");
    const run = await retrieve(srv, id);
    assert.equal(run.status, "EXECUTING");
    assert.equal(run.attemptCount, 1);
    // the attempt is started already: starting it again is refused
    const again = await api(srv, "POST", `/engine/v1/dev/runs/${id}/snapshots/${msg.snapshot.friendlyId}/attempts/start`, { body: {} });
    assert.ok(again.status >= 400 && again.status < 500, `second start: ${again.status}`);
    const c = await complete(id, a.snapshot.friendlyId, { completion: ok(id) });
    expectStatus(c, 200, "complete:");
    assert.equal(c.json.result.attemptStatus, "RUN_FINISHED");
    assert.equal(c.json.dequeuedMessages, undefined, "no dequeue asked, none answered");
    assert.equal((await retrieve(srv, id)).status, "COMPLETED");
  });

  test("a completion with dequeue hands out the next run, started", async () => {
    const first = await trigger(task, { n: 2 });
    const msg = await takeStarted(first);
    const second = await trigger(other, { n: 3 });
    const c = await complete(first, msg.attempt.snapshot.friendlyId, {
      completion: ok(first),
      dequeue: { currentWorker: worker, maxRuns: 1, startAttempts: true },
    });
    expectStatus(c, 200, "complete:");
    assert.equal(c.json.result.attemptStatus, "RUN_FINISHED");
    assert.equal((await retrieve(srv, first)).status, "COMPLETED");
    assert.equal(c.json.dequeuedMessages.length, 1);
    const next = c.json.dequeuedMessages[0];
    assert.equal(next.run.friendlyId, second);
    assert.equal(next.attempt.execution.task.id, other);
    assert.equal((await retrieve(srv, second)).status, "EXECUTING");
    // the same completion again: refused, and nothing more is handed out
    const twice = await complete(first, msg.attempt.snapshot.friendlyId, {
      completion: ok(first),
      dequeue: { currentWorker: worker, maxRuns: 1 },
    });
    assert.ok(twice.status >= 400 && twice.status < 500, `second completion: ${twice.status}`);
    // nothing queued: the completion answers at once with no runs (never held)
    const t0 = Date.now();
    const last = await complete(second, next.attempt.snapshot.friendlyId, {
      completion: ok(second),
      dequeue: { currentWorker: worker, maxRuns: 1, startAttempts: true },
    });
    expectStatus(last, 200, "last complete:");
    assert.deepEqual(last.json.dequeuedMessages, []);
    assert.ok(Date.now() - t0 < 900, "not held");
    assert.equal((await retrieve(srv, second)).status, "COMPLETED");
  });

  test("without startAttempts the runs handed out with a completion still need their start", async () => {
    const first = await trigger(task, { n: 4 });
    const msg = await takeStarted(first);
    const second = await trigger(task, { n: 5 });
    const c = await complete(first, msg.attempt.snapshot.friendlyId, {
      completion: ok(first),
      dequeue: { currentWorker: worker, maxRuns: 1 },
    });
    expectStatus(c, 200, "complete:");
    const next = c.json.dequeuedMessages.find((m) => m.run.friendlyId === second);
    assert.ok(next, "the next run is handed out");
    assert.equal(next.attempt, undefined);
    assert.equal((await retrieve(srv, second)).status, "DEQUEUED");
    const s = await api(srv, "POST", `/engine/v1/dev/runs/${second}/snapshots/${next.snapshot.friendlyId}/attempts/start`, { body: {} });
    expectStatus(s, 200, "start:");
    const done = await complete(second, s.json.snapshot.friendlyId, { completion: ok(second) });
    expectStatus(done, 200, "complete second:");
  });

  test("a run started with the dequeue survives a restart and completes once", async () => {
    const id = await trigger(task, { n: 6 });
    const msg = await takeStarted(id);
    // killed right after: a completion after the restart either lands (the
    // start was on disk) or is refused (it was not: the run is handed out
    // again later); never lost, never finished twice
    await srv.restart("SIGKILL");
    const c = await complete(id, msg.attempt.snapshot.friendlyId, { completion: ok(id) });
    const run = await retrieve(srv, id);
    if (c.status === 200) assert.equal(run.status, "COMPLETED");
    else assert.notEqual(run.status, "COMPLETED");
    const again = await complete(id, msg.attempt.snapshot.friendlyId, { completion: ok(id) });
    assert.ok(again.status >= 400 && again.status < 500, `completion after completion: ${again.status}`);
  });
});
