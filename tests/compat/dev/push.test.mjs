// Compat: the real `trigger.dev dev` CLI on triggerd's push channel
// (socket.io /dev-worker, docs/dev-protocol.md). The CLI connects, gets
// run:notify for the runs it holds (it acknowledges each with a debug log,
// counted by GET /engine/v1/dev/push), and so reacts at once instead of on
// its 5 s snapshot poll: cancel -> abort signal, token completion ->
// resume and a > 5 s wait.for each well under a second; its dequeue is
// held open, so a trigger starts the task without a poll interval.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../helpers.mjs";
import { startDevSession, CLI_VERSION } from "./cli.mjs";
import { triggerToStart, tokenToResume, cancelToAbort, waitForLateness, percentile } from "./latency.mjs";

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

async function stats() {
  // the CLI's node (TRIGGERD_NODES=2: the other one)
  const r = await fetch((srv.peer ?? srv).url + "/engine/v1/dev/push", { headers: { authorization: `Bearer ${srv.keys.dev}` } });
  return r.json();
}

test(`the CLI ${CLI_VERSION} listens on /dev-worker`, async () => {
  const deadline = Date.now() + 20_000;
  let s;
  while (Date.now() < deadline && !(s = await stats()).listening) await new Promise((r) => setTimeout(r, 100));
  assert.ok(s.listening, `no CLI socket: ${JSON.stringify(s)}\n${cli.tail()}`);
});

test("trigger -> task start is not held up by a poll interval", { timeout: 120_000 }, async () => {
  await triggerToStart(); // the first run may start a task process
  const xs = [];
  const ys = [];
  for (let i = 0; i < 5; i++) {
    const { task, attempt } = await triggerToStart();
    xs.push(task);
    ys.push(attempt);
  }
  console.log(`# trigger -> attempt start ms: ${ys.join(", ")}; -> task's first line: ${xs.join(", ")}`);
  // the CLI's part (a task process per run) is most of the second figure
  assert.ok(percentile(ys, 50) < 200, `median ${percentile(ys, 50)} ms to the attempt start`);
});

test("cancel -> abort signal in under a second, through run:notify", { timeout: 120_000 }, async () => {
  const before = await stats();
  const xs = [];
  for (let i = 0; i < 3; i++) xs.push(await cancelToAbort());
  console.log(`# cancel -> abort ms: ${xs.join(", ")}`);
  for (const x of xs) assert.ok(x < 1000, `cancel -> abort ${x} ms\n${cli.tail()}`);
  const after = await stats();
  assert.ok(after.notifies > before.notifies, `no run:notify sent: ${JSON.stringify(after)}`);
  assert.ok(after.received > before.received, `the CLI acknowledged no run:notify: ${JSON.stringify(after)}`);
});

test("token completion -> resume in under a second", { timeout: 120_000 }, async () => {
  const xs = [];
  for (let i = 0; i < 3; i++) xs.push(await tokenToResume(srv));
  console.log(`# token -> resume ms: ${xs.join(", ")}`);
  for (const x of xs) assert.ok(x < 1000, `token -> resume ${x} ms`);
});

test("wait.for over 5 s resumes less than a second late", { timeout: 120_000 }, async () => {
  const late = await waitForLateness(6);
  console.log(`# wait.for 6 s: ${late} ms late`);
  assert.ok(late < 1000, `${late} ms late`);
});
