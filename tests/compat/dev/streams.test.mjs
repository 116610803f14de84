// Compat: realtime output streams written by tasks and input streams read by
// them (issue 9 items 3 and 4), run by the real `trigger.dev dev` CLI
// (cli.mjs); the tasks are in fixture/src/trigger/streams.ts. Readers use the
// SDK from outside (streams.read, streams.input().send).
//   pipe + writer + append from a task (v2: S2 append sessions over h2c to
//   triggerd's own S2 API) -> streams.read live and in order, then replayed
//   whole after completion, in S2's SSE format
//   append with target parent / root from a grandchild
//   input .once (data sent before it listens), .on, .peek, .wait
//   send to the finished run refused
//   triggerd restarted while a reader follows a live stream: the reader
//   resumes (Last-Event-ID) and misses nothing
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, sleep } from "../helpers.mjs";
import { sdk, tasks, runs } from "../sdk.mjs";
import { startDevSession, FINAL, CLI_VERSION } from "./cli.mjs";

const { streams } = sdk;

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

async function finished(id, timeout = 60_000) {
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

async function reached(id, phase, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let run;
  while (Date.now() < deadline) {
    run = await runs.retrieve(id);
    if (run.metadata?.phase === phase) return run;
    if (FINAL.has(run.status)) throw new Error(`run ${id} ended before phase ${phase}: ${msg(run)}`);
    await sleep(150);
  }
  throw new Error(`run ${id} never reached phase ${phase}: status ${run?.status}\n${cli.tail(30)}`);
}

/** Reads a stream until `n` parts (or the timeout); returns the parts with when they came. */
async function readN(runId, key, n, opts = {}, timeout = 45_000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeout);
  const got = [];
  try {
    for await (const v of await streams.read(runId, key, { signal: ctl.signal, timeoutInSeconds: 30, ...opts })) {
      got.push({ v, at: Date.now() });
      if (got.length >= n) break;
    }
  } finally {
    clearTimeout(timer);
    ctl.abort(); // else the SDK's subscription keeps reconnecting after we stop reading
  }
  return got;
}

test(`trigger.dev ${CLI_VERSION} dev is ready for the streams tests`, () => {
  assert.equal(cli.exited, null);
});

const PIPED = ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "w0", "w1", "end"];

test("pipe/writer/append from a task -> streams.read in order, then replayed whole", { timeout: 120_000 }, async () => {
  const h = await tasks.trigger("streams-pipe", { n: 8, delayMs: 150 });
  const live = await readN(h.id, "tokens", PIPED.length);
  assert.deepEqual(live.map((p) => p.v), PIPED);
  const run = await finished(h.id);
  assert.equal(run.status, "COMPLETED", msg(run));
  // the run lists its stream, as the real API does
  const replay = [];
  for await (const v of await streams.read(h.id, "tokens")) replay.push(v);
  assert.deepEqual(replay, PIPED);
  // the task wrote through triggerd's S2 API (v2): the route serves S2's
  // SSE format, records numbered 0.. with no gap (spec/s2.md 8.2)
  const raw = await fetch(`${srv.url}/realtime/v1/streams/${h.id}/tokens`, {
    headers: { authorization: `Bearer ${srv.keys.dev}` },
  });
  assert.equal(raw.headers.get("x-stream-version"), "v2");
  const seqs = [];
  for (const ev of (await raw.text()).split("\n\n")) {
    const data = ev.split("\n").find((l) => l.startsWith("data: {"));
    if (ev.includes("event: batch") && data) seqs.push(...JSON.parse(data.slice(6)).records.map((r) => r.seq_num));
  }
  assert.deepEqual(seqs, [...Array(PIPED.length).keys()]);
});

test("append with target parent and root from a grandchild", { timeout: 120_000 }, async () => {
  const h = await tasks.trigger("streams-targets-root", {});
  const run = await finished(h.id);
  assert.equal(run.status, "COMPLETED", msg(run));
  const full = await runs.retrieve(h.id);
  const child = full.relatedRuns?.children?.[0] ?? null;
  // find the child run (the grandchild's parent)
  const list = [];
  for await (const r of runs.list({ taskIdentifier: "streams-targets-child", limit: 10 })) {
    list.push(r);
    if (list.length >= 10) break;
  }
  const childRun = child ?? list.find((r) => true);
  assert.ok(childRun, "the child run exists");
  const up = [];
  for await (const v of await streams.read(childRun.id, "up")) up.push(v);
  assert.deepEqual(up, ["to-parent"]);
  const top = [];
  for await (const v of await streams.read(h.id, "top")) top.push(v);
  assert.deepEqual(top, ["to-root"]);
});

test("input streams: .once gets data sent before it listened, .on, .peek, .wait; then send refused", { timeout: 120_000 }, async () => {
  const approval = streams.input({ id: "approval" });
  const h = await tasks.trigger("streams-input", {});
  await approval.send(h.id, { early: true }); // before the task runs or listens
  await reached(h.id, "listening");
  await approval.send(h.id, "on-1");
  await approval.send(h.id, "on-2");
  await reached(h.id, "peeking");
  await approval.send(h.id, { peek: 1 });
  await reached(h.id, "waiting");
  await sleep(500);
  await approval.send(h.id, { waited: "yes" });
  const run = await finished(h.id);
  assert.equal(run.status, "COMPLETED", msg(run));
  assert.deepEqual(run.output, {
    first: { early: true },
    got: ["on-1", "on-2"],
    peeked: { peek: 1 },
    waited: { waited: "yes" },
  });
  await assert.rejects(approval.send(h.id, "late"), (e) => {
    assert.equal(e.status, 400);
    return true;
  });
});

test("triggerd restarted while a reader follows a live stream: the reader resumes, nothing lost or doubled", { timeout: 180_000 }, async () => {
  const h = await tasks.trigger("streams-pipe", { n: 8, delayMs: 600 });
  const reading = readN(h.id, "tokens", PIPED.length, {}, 120_000);
  await sleep(2500);
  await srv.restart();
  const got = await reading;
  assert.deepEqual(got.map((p) => p.v), PIPED);
  const run = await finished(h.id, 90_000);
  assert.equal(run.status, "COMPLETED", msg(run));
});
