// tests/integration/c-worker.test.mjs - the C example worker
// (examples/worker.c on libtrigger) against a real triggerd: its tasks run
// to the expected outcomes; a worker killed mid-run gets its run retried
// after the heartbeat stall; a triggerd restarted mid-run loses nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { startTriggerd, ROOT, triggerId, waitForStatus, retrieve, stopServer, sleep } from "./helpers.mjs";

const BUILD = process.env.TRIGGERD_BIN ? join(process.env.TRIGGERD_BIN, "..") : join(ROOT, "build");
const WORKER = join(BUILD, "lib", "trigger_worker_example");

function startWorker(srv, extraEnv = {}) {
  const proc = spawn(WORKER, [], {
    env: {
      ...process.env,
      TRIGGER_API_URL: srv.url,
      TRIGGER_SECRET_KEY: srv.keys.dev,
      TRIGGER_PROJECT_REF: srv.projectRef,
      TRIGGER_WORKER_POLL_MS: "20",
      TRIGGER_WORKER_HEARTBEAT_MS: "400",
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.output = "";
  proc.stdout.on("data", (d) => (proc.output += d));
  proc.stderr.on("data", (d) => (proc.output += d));
  return proc;
}

async function killWorker(proc, signal = "SIGTERM") {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.once("exit", r));
  proc.kill(signal);
  await done;
}

let srv;
before(async () => {
  assert.ok(existsSync(WORKER), `${WORKER} is built`);
  srv = await startTriggerd({ args: ["--heartbeat-timeout", "2000"] });
});
after(async () => {
  await stopServer(srv);
});

test("the example worker runs hello, flaky (retries), sleepy (wait.for) and parent (triggerAndWait)", async () => {
  const w = startWorker(srv);
  try {
    const hello = await triggerId(srv, "hello", {}, { payload: '{"name":"Ada"}' });
    const flaky = await triggerId(srv, "flaky");
    const sleepy = await triggerId(srv, "sleepy");
    const parent = await triggerId(srv, "parent");

    const h = await waitForStatus(srv, hello, "COMPLETED");
    assert.deepEqual(h.output, { message: "hello from C", run: hello, payload: { name: "Ada" } });
    assert.equal(h.attemptCount, 1);

    const f = await waitForStatus(srv, flaky, "COMPLETED");
    assert.equal(f.attemptCount, 3);
    assert.deepEqual(f.output, { succeededOnAttempt: 3 });

    const s = await waitForStatus(srv, sleepy, "COMPLETED");
    assert.deepEqual(s.output, { waited: true });
    assert.ok(new Date(s.finishedAt) - new Date(s.startedAt) >= 1400, "sleepy waited 1.5 s");

    const p = await waitForStatus(srv, parent, "COMPLETED");
    assert.equal(p.relatedRuns.children.length, 1);
    const child = p.relatedRuns.children[0];
    assert.equal(child.taskIdentifier, "hello");
    assert.equal(child.triggerFunction, "triggerAndWait");
    assert.deepEqual(p.output.child.payload, { from: "parent" });
    assert.equal(p.output.child.run, child.id);
  } finally {
    await killWorker(w);
  }
});

test("outside dev, a run whose worker is killed mid-run is retried after its heartbeat stalls", async () => {
  const key = srv.keys.prod;
  const w1 = startWorker(srv, { TRIGGER_SECRET_KEY: key });
  const id = await triggerId(srv, "slow", {}, { payload: '{"ms":4000}', key });
  await waitForStatus(srv, id, "EXECUTING", 20000, key);
  await killWorker(w1, "SIGKILL");
  // heartbeat timeout is 2 s: the stalled attempt is failed and the run requeued
  const w2 = startWorker(srv, { TRIGGER_SECRET_KEY: key });
  try {
    const run = await waitForStatus(srv, id, "COMPLETED", 30000, key);
    assert.equal(run.attemptCount, 2);
    assert.deepEqual(run.output, { slept: 4000, attempt: 2 });
  } finally {
    await killWorker(w2);
  }
});

test("in dev, a run whose worker is killed mid-run fails once its heartbeat stalls, as the platform's", async () => {
  const w1 = startWorker(srv);
  const id = await triggerId(srv, "slow", {}, { payload: '{"ms":4000}' });
  await waitForStatus(srv, id, "EXECUTING");
  await killWorker(w1, "SIGKILL");
  const w2 = startWorker(srv);
  try {
    const run = await waitForStatus(srv, id, "FAILED", 30000);
    assert.equal(run.attemptCount, 1, "not retried: the dev CLI that ran it is gone");
    assert.match(JSON.stringify(run.error), /TASK_RUN_STALLED_EXECUTING/);
    // and it stays failed: the new worker never gets it
    await sleep(1500);
    assert.equal((await retrieve(srv, id)).status, "FAILED");
  } finally {
    await killWorker(w2);
  }
});

test("a triggerd restarted mid-run loses nothing: the attempt completes after the restart", async () => {
  const w = startWorker(srv);
  try {
    const id = await triggerId(srv, "slow", {}, { payload: '{"ms":2500}' });
    const queued = await triggerId(srv, "hello");
    await waitForStatus(srv, id, "EXECUTING");
    await srv.restart();
    const run = await waitForStatus(srv, id, "COMPLETED", 30000);
    assert.equal(run.attemptCount, 1);
    assert.deepEqual(run.output, { slept: 2500, attempt: 1 });
    const q = await waitForStatus(srv, queued, "COMPLETED", 30000);
    assert.equal(q.attemptCount, 1);
  } finally {
    await killWorker(w);
  }
});

test("cancel of an executing C run ends it CANCELED", async () => {
  const w = startWorker(srv);
  try {
    const id = await triggerId(srv, "sleepy");
    await waitForStatus(srv, id, "EXECUTING");
    await sleep(200);
    const res = await fetch(`${srv.url}/api/v2/runs/${id}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${srv.keys.dev}` },
    });
    assert.equal(res.status, 200);
    const run = await waitForStatus(srv, id, "CANCELED", 20000);
    assert.equal(run.isCancelled, true);
  } finally {
    await killWorker(w);
  }
});
