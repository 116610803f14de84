// Compat: the run engine's correctness (issue 7) as a user of the real
// `trigger.dev dev` CLI sees it. One CLI session (cli.mjs) runs the fixture
// project; the tasks are in fixture/src/trigger/engine.ts:
//   1 cancel 1.2 s before an 8 s wait.for ends: the run ends CANCELED
//   2 triggerAndWait of a child with ttl 3s behind a busy limit-1 queue: the
//     parent resumes with an error for it
//   3 batchTriggerAndWait with one 11-tag item: the parent resumes
//   7 cancelling a parent cancels the child it waits on
//   4 a hot reload while a parent waits: the child it triggers afterwards is
//     locked to the old version and still runs (on the old build)
//   a run whose wait ends while another run holds its limit-1 queue's slot
//     goes on only once that slot is free (QUEUED_EXECUTING, docs/engine.md)
// Every wait is a bounded poll; the whole file takes about 1.5 minutes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, sleep } from "../helpers.mjs";
import { tasks, runs, wait } from "../sdk.mjs";
import { startDevSession, FINAL, CLI_VERSION } from "./cli.mjs";

let srv;
let cli;

before(async () => {
  srv = await startServer();
  cli = await startDevSession(srv);
});

after(async () => {
  await cli?.stop();
  await srv?.stop();
});

const msg = (run) => `run ${run.id} ${run.status} output=${JSON.stringify(run.output)} error=${JSON.stringify(run.error)}`;

/** Polls runs.retrieve until the run is final; returns it (throws with the CLI's log tail on timeout). */
async function finished(id, timeout) {
  const deadline = Date.now() + timeout;
  let run;
  while (Date.now() < deadline) {
    run = await runs.retrieve(id);
    if (FINAL.has(run.status)) return run;
    if (cli.exited) throw new Error(`the CLI exited (${JSON.stringify(cli.exited)})\n${cli.tail()}`);
    await sleep(250);
  }
  throw new Error(`run ${id} not finished after ${timeout} ms: status ${run?.status}\n${cli.tail(30)}`);
}

/** Polls until metadata.phase is `phase`; returns the run. */
async function reached(id, phase, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let run;
  while (Date.now() < deadline) {
    run = await runs.retrieve(id);
    if (run.metadata?.phase === phase) return run;
    if (FINAL.has(run.status)) throw new Error(`run ${id} ended before phase ${phase}: ${msg(run)}`);
    await sleep(200);
  }
  throw new Error(`run ${id} never reached phase ${phase}: status ${run?.status}\n${cli.tail(30)}`);
}

async function cancelQuietly(id) {
  try {
    await runs.cancel(id);
  } catch {}
}

test(`trigger.dev ${CLI_VERSION} dev is ready for the engine tests`, () => {
  assert.equal(cli.exited, null);
  assert.match(cli.versions()[0], /^\d{8}\.\d+$/);
});

test("1: a run canceled 1.2 s before its 8 s wait.for ends is CANCELED, not COMPLETED", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("engine-wait-long", {});
  const r = await reached(h.id, "waiting");
  const endsAt = r.metadata.waitEndsAt;
  assert.equal(typeof endsAt, "number");
  await sleep(Math.max(0, endsAt - 1200 - Date.now()));
  await runs.cancel(h.id);
  const run = await finished(h.id, 30_000);
  assert.equal(run.status, "CANCELED", msg(run));
  assert.equal(run.output, undefined, "no output from the canceled run");
});

test("2: triggerAndWait of a child with ttl 3s behind a busy limit-1 queue resumes the parent with an error", { timeout: 60_000 }, async () => {
  const hog = await tasks.trigger("engine-hog", { ms: 25_000 });
  try {
    await reached(hog.id, "running");
    const p = await tasks.trigger("engine-ttl-parent", {});
    const run = await finished(p.id, 25_000);
    assert.equal(run.status, "COMPLETED", msg(run));
    assert.equal(run.output.ok, false, `the child's result is an error: ${JSON.stringify(run.output)}`);
    const child = run.relatedRuns?.children?.[0] ?? (await runs.retrieve(p.id)).relatedRuns.children[0];
    assert.equal((await runs.retrieve(child.id)).status, "EXPIRED");
  } finally {
    await cancelQuietly(hog.id);
  }
});

test("3: batchTriggerAndWait with one 11-tag item resumes the parent: the item is an error, the other succeeds", { timeout: 60_000 }, async () => {
  const p = await tasks.trigger("engine-batch-tags", {});
  const run = await finished(p.id, 30_000);
  assert.equal(run.status, "COMPLETED", msg(run));
  assert.deepEqual(run.output, { runs: [{ ok: true }, { ok: false }] });
});

test("7: cancelling a parent cancels the child it waits on", { timeout: 60_000 }, async () => {
  const p = await tasks.trigger("engine-cancel-parent", {});
  let childId;
  try {
    const deadline = Date.now() + 30_000;
    while (!childId && Date.now() < deadline) {
      childId = (await runs.retrieve(p.id)).relatedRuns?.children?.[0]?.id;
      if (!childId) await sleep(200);
    }
    assert.ok(childId, "the parent triggered its child");
    await reached(childId, "running");
    await runs.cancel(p.id);
    const parent = await finished(p.id, 20_000);
    assert.equal(parent.status, "CANCELED", msg(parent));
    const child = await finished(childId, 20_000);
    assert.equal(child.status, "CANCELED", msg(child));
  } finally {
    if (childId) await cancelQuietly(childId);
  }
});

test("a limit-1 queue across a wait: the waiter whose token completes while another run holds the slot goes on only after it", { timeout: 90_000 }, async () => {
  const token = await wait.createToken({ timeout: "2m" });
  const w = await tasks.trigger("engine-slot-waiter", { tokenId: token.id });
  await reached(w.id, "waiting");
  // the waiter gave its slot back: the holder starts while it waits
  const h = await tasks.trigger("engine-slot-holder", { ms: 6000 });
  await reached(h.id, "running");
  await wait.completeToken(token.id, { go: true });
  await sleep(2000);
  const mid = await runs.retrieve(w.id);
  assert.equal(mid.metadata?.phase, "waiting", `the waiter went on while the holder has the slot: ${msg(mid)}`);
  const holder = await finished(h.id, 30_000);
  assert.equal(holder.status, "COMPLETED", msg(holder));
  const waiter = await finished(w.id, 30_000);
  assert.equal(waiter.status, "COMPLETED", msg(waiter));
  assert.ok(waiter.output.resumedAt >= holder.output.endedAt, `resumed at ${waiter.output.resumedAt}, holder ended at ${holder.output.endedAt}`);
});

// Last: it rebuilds the project, so later tasks would run on the new build.
test("4: after a hot reload, the child a waiting parent triggers (locked to the old version) runs on the old worker", { timeout: 180_000 }, async () => {
  const token = await wait.createToken({ timeout: "2m" });
  const p = await tasks.trigger("engine-reload-parent", { tokenId: token.id });
  await reached(p.id, "waiting");
  const before = cli.versions().length;
  const file = join(cli.projectDir, "src/trigger/engine.ts");
  writeFileSync(file, readFileSync(file, "utf8").replace('"engine-build-1"', '"engine-build-2"'));
  const versions = await cli.waitForVersion(before + 1, 90_000);
  assert.notEqual(versions.at(-1), versions[before - 1], "the rebuild registered a new worker version");
  await wait.completeToken(token.id, { go: true });
  const run = await finished(p.id, 60_000);
  assert.equal(run.status, "COMPLETED", msg(run));
  const seen = `versions ${JSON.stringify(versions)}, output ${JSON.stringify(run.output)}\n${cli.tail(40)}`;
  assert.equal(run.output.parentMark, "engine-build-1");
  assert.equal(run.output.ok, true, seen);
  // The child ran on the worker of its locked (old) version, not the newest.
  // Which code that worker imports is the CLI's business: its rebuild rewrites
  // the old build's files in place, so the mark may already be build 2.
  assert.equal(run.output.child.version, versions[before - 1], `the child ran on its locked version: ${seen}`);
  assert.notEqual(run.output.child.version, versions.at(-1), seen);
});
