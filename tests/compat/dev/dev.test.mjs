// Compat: the real `trigger.dev dev` CLI against build/triggerd
// (docs/dev-protocol.md). Starts triggerd, runs the CLI in a temporary copy of
// the fixture project (dev/fixture's sources; packages from dev/fixture, CLI +
// SDK 4.5.0, or with TRIGGER_SDK=latest from dev/fixture-latest, 4.8.3), waits
// for "Local worker ready", then triggers the fixture's tasks with the SDK and
// checks each outcome through runs.retrieve. The last test
// kills the CLI and checks that its watchdog's disconnect cancels the run it
// was executing.
//
// The CLI's output (--log-level debug) goes to a log file whose path is
// printed when the CLI starts; failures quote its tail.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, uid, sleep } from "../helpers.mjs";
import { tasks, runs, wait, envvars, queues, SDK_VERSION, apiClientManager } from "../sdk.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const latest = process.env.TRIGGER_SDK === "latest";
const FIXTURE = join(here, latest ? "fixture-latest" : "fixture");
const CLI = join(FIXTURE, "node_modules/trigger.dev/dist/esm/index.js");
const CLI_VERSION = JSON.parse(
  readFileSync(join(FIXTURE, "node_modules/trigger.dev/package.json"), "utf8"),
).version;

const READY_TIMEOUT_MS = 90_000; // first build + indexing take 10-20 s, +8 s offline
const RUN_TIMEOUT_MS = 45_000; // one run end to end; snapshot polls are every 5 s

// DB statuses that end a run, in the 2025-07-16 vocabulary (spec/api.md 4).
// runs.poll stops on isCompleted, which excludes TIMED_OUT and EXPIRED.
const FINAL = new Set([
  "COMPLETED", "CANCELED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "INTERRUPTED", "EXPIRED", "TIMED_OUT",
]);

let srv;
let cli; // { proc, log, logPath, exited, version }
let projectDir; // the private copy of the fixture the CLI runs in

const stripAnsi = (s) => s.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)/g, "");

function cliTail(lines = 60) {
  if (!cli) return "(CLI not started)";
  const all = stripAnsi(cli.log).split("\n");
  return `--- last ${lines} lines of ${cli.logPath} ---\n` + all.slice(-lines).join("\n");
}

/**
 * A private copy of the project for this run, so concurrent runs and the CLI's
 * .trigger/ never touch the tree: dev/fixture's trigger.config.ts and src/,
 * the chosen fixture's package.json and lock, and a symlink to its node_modules.
 */
function prepareProject() {
  if (!existsSync(join(FIXTURE, "node_modules/trigger.dev")))
    throw new Error(`${FIXTURE}/node_modules is missing: run npm --prefix ${FIXTURE} ci`);
  const dir = join(mkdtempSync(join(tmpdir(), "triggerd-dev-")), "project");
  const src = join(here, "fixture");
  cpSync(join(src, "trigger.config.ts"), join(dir, "trigger.config.ts"));
  cpSync(join(src, "src"), join(dir, "src"), { recursive: true });
  cpSync(join(FIXTURE, "package.json"), join(dir, "package.json"));
  cpSync(join(FIXTURE, "package-lock.json"), join(dir, "package-lock.json"));
  symlinkSync(join(FIXTURE, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

async function startCli() {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("TRIGGER_") && !k.startsWith("OTEL_")),
  );
  Object.assign(env, {
    TRIGGER_ACCESS_TOKEN: srv.pat,
    TRIGGER_API_URL: (srv.peer ?? srv).url, // TRIGGERD_NODES=2: the other node
    TRIGGER_PROJECT_REF: srv.projectRef,
    XDG_CONFIG_HOME: join(dirname(projectDir), "config"), // never the user's profile
    FORCE_COLOR: "0",
    NO_COLOR: "1",
  });
  const logPath = join(mkdtempSync(join(tmpdir(), "triggerd-dev-log-")), "cli.log");
  const logFile = createWriteStream(logPath);
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "dev",
      "--skip-update-check",
      "--skip-platform-notifications",
      "--skip-mcp-install",
      "--skip-rules-install",
      "--log-level",
      "debug",
    ],
    { cwd: projectDir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  cli = { proc, log: "", logPath, exited: null, version: null };
  const onData = (d) => {
    cli.log += d;
    logFile.write(d);
  };
  proc.stdout.on("data", onData);
  proc.stderr.on("data", onData);
  proc.on("exit", (code, signal) => {
    cli.exited = { code, signal };
    logFile.end();
  });
  console.log(`# trigger.dev ${CLI_VERSION} dev: pid ${proc.pid}, log ${logPath}`);

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const m = stripAnsi(cli.log).match(/Local worker ready[^\n]*->\s*(\S+)/);
    if (m) {
      cli.version = m[1];
      return;
    }
    if (cli.exited) throw new Error(`the CLI exited (${JSON.stringify(cli.exited)}) before the worker was ready\n${cliTail()}`);
    await sleep(250);
  }
  throw new Error(`no "Local worker ready" within ${READY_TIMEOUT_MS} ms\n${cliTail()}`);
}

/** Kills the CLI's process group (the CLI and its task processes) and waits for the CLI to exit. */
async function killCli(signal) {
  if (!cli || cli.exited) return;
  const exited = new Promise((r) => cli.proc.once("exit", r));
  try {
    process.kill(-cli.proc.pid, signal);
  } catch {}
  await Promise.race([exited, sleep(10_000)]);
  if (!cli.exited) {
    try {
      process.kill(-cli.proc.pid, "SIGKILL");
    } catch {}
    await exited;
  }
}

/** The CLI's detached watchdog (.trigger/watchdog.pid) outlives it to send disconnect; let it finish, then end it. */
async function reapWatchdog() {
  let pid;
  try {
    const s = readFileSync(join(projectDir, ".trigger/watchdog.pid"), "utf8");
    if (s.startsWith("trigger-watchdog:")) pid = parseInt(s.slice("trigger-watchdog:".length), 10);
  } catch {
    return;
  }
  if (!pid) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 15_000;
  while (alive() && Date.now() < deadline) await sleep(200);
  if (alive()) process.kill(pid, "SIGTERM");
}

/** Polls runs.retrieve until the run reaches a final status; returns the run. */
async function finished(id, timeout = RUN_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  let run;
  while (Date.now() < deadline) {
    run = await runs.retrieve(id);
    if (FINAL.has(run.status)) return run;
    if (cli?.exited && !killedOnPurpose) throw new Error(`the CLI exited (${JSON.stringify(cli.exited)})\n${cliTail()}`);
    await sleep(250);
  }
  throw new Error(
    `run ${id} not finished after ${timeout} ms: status ${run?.status}, attemptCount ${run?.attemptCount}\n${cliTail()}`,
  );
}

/** Waits until the task published metadata.phase = `phase` (tasks.ts phase()); falls back to
 *  "EXECUTING + 3 s" when metadata never shows up, so a metadata bug only weakens the timing. */
async function reached(id, phase, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  let executingSince;
  let run;
  while (Date.now() < deadline) {
    run = await runs.retrieve(id);
    if (run.metadata?.phase === phase) return run;
    if (FINAL.has(run.status)) throw new Error(`run ${id} ended (${run.status}) before phase ${phase}: ${JSON.stringify(run.error)}`);
    if (run.status === "EXECUTING" || run.status === "WAITING") {
      executingSince ??= Date.now();
      if (Date.now() - executingSince > 3000) return run;
    }
    await sleep(200);
  }
  throw new Error(`run ${id} never reached phase ${phase}: status ${run?.status}\n${cliTail()}`);
}

const msg = (run) => `run ${run.id} ${run.status} attemptCount=${run.attemptCount} error=${JSON.stringify(run.error)}`;

function assertCompleted(run) {
  assert.equal(run.status, "COMPLETED", msg(run));
  assert.equal(run.isSuccess, true);
  assert.equal(run.isCompleted, true);
  assert.equal(run.error, undefined);
}

let killedOnPurpose = false;

// Set through the API before the CLI starts (4.5 reads the project's variables when
// it builds the worker, 4.8 from every attempt start).
const ENV_VARS = { TD_FIXTURE_GREETING: "hello from triggerd", TD_FIXTURE_SECRET: "s3cr=t value" };

before(async () => {
  projectDir = prepareProject();
  srv = await startServer();
  await envvars.upload(srv.projectRef, "dev", { variables: ENV_VARS, override: true });
  await startCli();
});

after(async () => {
  killedOnPurpose = true;
  await killCli("SIGTERM");
  if (projectDir) await reapWatchdog();
  await srv?.stop();
  if (projectDir) rmSync(dirname(projectDir), { recursive: true, force: true });
});

test(`trigger.dev ${CLI_VERSION} dev logs in, builds and registers a worker`, () => {
  assert.match(cli.version, /^\d{8}\.\d+$/, `worker version printed by the CLI: ${cli.version}`);
  assert.equal(cli.exited, null);
  console.log(`# CLI ${CLI_VERSION}, test-side SDK ${SDK_VERSION}, worker ${cli.version}`);
});

test("a task succeeds with its output, on attempt 1, in the DEVELOPMENT env", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-hello", { name: "ada" });
  const run = await finished(h.id);
  assertCompleted(run);
  assert.deepEqual(run.output, {
    greeting: "hello ada",
    attempt: 1,
    runId: h.id,
    envType: "DEVELOPMENT",
    projectRef: srv.projectRef,
  });
  assert.equal(run.attemptCount, 1);
  assert.equal(run.taskIdentifier, "dev-hello");
  assert.equal(run.version, cli.version, "the run is locked to the worker the CLI registered");
  assert.ok(run.startedAt instanceof Date, "startedAt");
  assert.ok(run.finishedAt instanceof Date, "finishedAt");
});

test("a task that fails on attempt 1 is retried and succeeds on attempt 2", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-retry-once", {});
  const run = await finished(h.id);
  assertCompleted(run);
  assert.deepEqual(run.output, { attempt: 2 });
  assert.equal(run.attemptCount, 2);
});

test("a task that always fails ends FAILED after maxAttempts (2) with the last error", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-always-fails", {});
  const run = await finished(h.id);
  assert.equal(run.status, "FAILED", msg(run));
  assert.equal(run.isFailed, true);
  assert.equal(run.attemptCount, 2);
  assert.equal(run.error?.message, "boom on attempt 2");
  assert.equal(run.error?.name, "Error");
  assert.match(run.error?.stackTrace ?? "", /boom on attempt 2/);
  assert.equal(run.output, undefined);
});

test("wait.for 2 s (local in dev) completes", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-wait-for", { seconds: 2 });
  const run = await finished(h.id);
  assertCompleted(run);
  assert.equal(run.output.seconds, 2);
  assert.ok(run.output.elapsedMs >= 1990, `elapsed ${run.output.elapsedMs} ms`);
});

test("wait.for 6 s goes through the server's DATETIME waitpoint and resumes", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-wait-for", { seconds: 6 });
  const run = await finished(h.id);
  assertCompleted(run);
  assert.equal(run.output.seconds, 6);
  assert.ok(run.output.elapsedMs >= 5990, `elapsed ${run.output.elapsedMs} ms`);
  assert.equal(run.attemptCount, 1);
});

test("triggerAndWait: the parent gets the child's output", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-parent", { x: 21 });
  const run = await finished(h.id);
  assertCompleted(run);
  const { childId, output } = run.output;
  assert.match(childId, /^run_/);
  assert.deepEqual(output, { doubled: 42, childRunId: childId });
  const child = await runs.retrieve(childId);
  assertCompleted(child);
  assert.equal(child.taskIdentifier, "dev-child");
  assert.deepEqual(child.output, { doubled: 42, childRunId: childId });
  assert.equal(child.triggerFunction, "triggerAndWait");
  assert.equal(child.depth, 1);
  assert.equal(child.relatedRuns?.parent?.id, h.id);
});

test("batchTriggerAndWait of 3 children: each item resolves in order", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-batch-parent", {});
  const run = await finished(h.id);
  assertCompleted(run);
  const { batchId, runs: items } = run.output;
  assert.match(batchId, /^batch_/);
  assert.equal(items.length, 3);
  items.forEach((it, i) => {
    assert.equal(it.ok, true, `item ${i}`);
    assert.deepEqual(it.output, { doubled: 2 * (i + 1), childRunId: it.id });
  });
  assert.equal(new Set(items.map((it) => it.id)).size, 3);
  for (const it of items) {
    const child = await runs.retrieve(it.id);
    assertCompleted(child);
    assert.equal(child.batchId, batchId);
    assert.equal(child.triggerFunction, "batchTriggerAndWait");
  }
});

test("wait.forToken resumes when the test completes the token with the SDK", { timeout: 60_000 }, async () => {
  const token = await wait.createToken({ timeout: "1m" });
  const h = await tasks.trigger("dev-token-wait", { tokenId: token.id });
  await reached(h.id, "waiting");
  await sleep(1000); // the wait request follows the metadata flush
  await wait.completeToken(token.id, { approved: true, by: "sdk" });
  const run = await finished(h.id);
  assertCompleted(run);
  assert.deepEqual(run.output, { ok: true, output: { approved: true, by: "sdk" } });
  assert.equal((await wait.retrieveToken(token.id)).status, "COMPLETED");
});

test("wait.forToken resumes when the token's callback URL is POSTed", { timeout: 60_000 }, async () => {
  const token = await wait.createToken({ timeout: "1m" });
  const h = await tasks.trigger("dev-token-wait", { tokenId: token.id });
  await reached(h.id, "waiting");
  await sleep(1000);
  const res = await fetch(token.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ via: "callback", n: 7 }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const run = await finished(h.id);
  assertCompleted(run);
  assert.deepEqual(run.output, { ok: true, output: { via: "callback", n: 7 } });
});

test("wait.forToken on a token with timeout 2s resumes with a WaitpointTimeoutError", { timeout: 60_000 }, async () => {
  const token = await wait.createToken({ timeout: "2s" });
  const h = await tasks.trigger("dev-token-wait", { tokenId: token.id });
  const run = await finished(h.id);
  assertCompleted(run);
  assert.equal(run.output.ok, false, JSON.stringify(run.output));
  assert.equal(run.output.errorName, "WaitpointTimeoutError");
  assert.match(run.output.errorMessage, /timed out/i);
  assert.equal((await wait.retrieveToken(token.id)).status, "TIMED_OUT");
});

test("a task over its maxDuration (5 s) ends TIMED_OUT with MAX_DURATION_EXCEEDED, not retried", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-max-duration", {});
  const run = await finished(h.id);
  assert.equal(run.status, "TIMED_OUT", msg(run));
  assert.equal(run.attemptCount, 1);
  // The CLI completes with {type:"INTERNAL_ERROR", code:"MAX_DURATION_EXCEEDED", message}; the
  // real server presents stored errors with core's createJsonErrorObject, which for
  // INTERNAL_ERROR gives only this message (ApiRetrieveRunPresenter.apiErrorFromError).
  assert.deepEqual(run.error, { message: "trigger.dev internal error (MAX_DURATION_EXCEEDED)" });
  assert.equal(run.output, undefined);
});

test("cancelling a run while the CLI executes it ends it CANCELED", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-long", {});
  await reached(h.id, "running");
  const t0 = Date.now();
  await runs.cancel(h.id);
  const run = await finished(h.id, 30_000);
  assert.equal(run.status, "CANCELED", msg(run));
  assert.equal(run.isCancelled, true);
  assert.equal(run.output, undefined);
  assert.ok(Date.now() - t0 < 20_000, `cancel took ${Date.now() - t0} ms`);
  assert.ok(run.finishedAt instanceof Date, "finishedAt");
});

/** [start, end] intervals overlap. */
const overlaps = (a, b) => a.start < b.end && b.start < a.end;

test("a queue with concurrencyLimit 1 never runs two of its runs at once", { timeout: 90_000 }, async () => {
  const hs = await Promise.all([1, 2, 3].map((i) => tasks.trigger("dev-serial", { i })));
  const done = await Promise.all(hs.map((h) => finished(h.id, 60_000)));
  done.forEach(assertCompleted);
  const spans = done.map((r) => r.output).sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++)
    assert.ok(spans[i].start >= spans[i - 1].end, `runs overlap: ${JSON.stringify(spans)}`);
});

test("concurrencyKey: same key runs one at a time, another key runs alongside", { timeout: 90_000 }, async () => {
  const hs = await Promise.all([
    tasks.trigger("dev-keyed", { key: "a", n: 1 }, { concurrencyKey: "a" }),
    tasks.trigger("dev-keyed", { key: "a", n: 2 }, { concurrencyKey: "a" }),
    tasks.trigger("dev-keyed", { key: "b", n: 3 }, { concurrencyKey: "b" }),
  ]);
  const done = await Promise.all(hs.map((h) => finished(h.id, 60_000)));
  done.forEach(assertCompleted);
  const [a1, a2, b] = done.map((r) => r.output);
  assert.ok(!overlaps(a1, a2), `the two "a" runs overlap: ${JSON.stringify([a1, a2])}`);
  assert.ok(overlaps(b, a1) || overlaps(b, a2), `"b" overlaps no "a" run: ${JSON.stringify([a1, a2, b])}`);
});

test("logger.info lines come back from GET /api/v1/runs/{id}/events", { timeout: 60_000 }, async () => {
  const marker = uid("m");
  const h = await tasks.trigger("dev-logs", { marker });
  const run = await finished(h.id);
  assertCompleted(run);
  const want = ["one", "two", "three"].map((w) => `dev-log ${w} ${marker}`);
  let events = [];
  let last;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${srv.url}/api/v1/runs/${h.id}/events`, {
      headers: { authorization: `Bearer ${srv.keys.dev}` },
    });
    last = `${res.status} ${(await res.clone().text()).slice(0, 500)}`;
    if (res.ok) {
      events = (await res.json()).events ?? [];
      if (want.every((w) => events.some((e) => e.message === w))) break;
    }
    await sleep(250);
  }
  const found = want.map((w) => events.find((e) => e.message === w));
  assert.ok(found.every(Boolean), `missing log lines; last response: ${last}`);
  for (const e of found) {
    assert.equal(e.runId, h.id);
    if (e.level !== undefined) assert.match(String(e.level), /info/i);
  }
  // startTime: ns since the epoch (a stringified bigint or a number), or a date string.
  const toNs = (v) =>
    typeof v === "number" ? BigInt(Math.round(v)) : /^\d+$/.test(String(v)) ? BigInt(v) : BigInt(Date.parse(v)) * 1000000n;
  const t = found.map((e) => toNs(e.startTime));
  assert.ok(t[0] <= t[1] && t[1] <= t[2], `log lines out of order: ${found.map((e) => e.startTime)}`);
});

// ---- data the run carries (src/trigger/data.ts) ---------------------------

// Strings JSON.stringify writes as escapes JSON.parse reads back; the real
// server round-trips them (util/jsontext.h).
const AWKWARD = {
  nul: "a\u0000b",
  high: "\ud800",
  low: "x\udfffy",
  pair: "\ud83d\ude00",
  "key\u0000nul": 1,
  "key\ud800lone": 2,
  list: ["\u0000", "\udbff", { deep: "\u0000\ud800" }],
};

test("an output with U+0000 and lone surrogates comes back equal, and reaches the task as the payload", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-data-echo", AWKWARD);
  const run = await finished(h.id);
  assertCompleted(run);
  assert.deepEqual(run.payload, AWKWARD);
  assert.deepEqual(run.output, AWKWARD);
});

test("a superjson output keeps its undefined members and dates for the parent (triggerAndWait)", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-data-superjson-parent", {});
  const run = await finished(h.id);
  assertCompleted(run);
  const { childId, ...seen } = run.output;
  assert.deepEqual(seen, { hasA: true, aIsUndefined: true, list0IsUndefined: true, whenIsDate: true, n: 1 });
  // runs.retrieve presents the JSON part, as the real server does (superjson's
  // serialize of the parsed value: undefined becomes null, a Date its ISO string)
  const child = await runs.retrieve(childId);
  assertCompleted(child);
  assert.deepEqual(child.output, { a: null, n: 1, list: [null, 2], when: "1970-01-01T00:00:00.000Z" });
});

test("an offloaded superjson output is downloaded with its undefined members and dates", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-data-superjson-big", {});
  const run = await finished(h.id);
  assertCompleted(run);
  assert.ok(run.output && "a" in run.output, `output keys: ${Object.keys(run.output ?? {})}`);
  assert.equal(run.output.a, undefined);
  assert.ok(run.output.when instanceof Date, `when: ${run.output.when}`);
  assert.equal(run.output.big.length, 150_000);
});

test("metadata set just before returning is added to the trigger-time metadata", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-data-meta-end", {}, { metadata: { seeded: 1, log: ["trigger"] } });
  const run = await finished(h.id);
  assertCompleted(run);
  const want = { seeded: 1, log: ["trigger", "end"], final: "yes", count: 2 };
  assert.deepEqual(run.metadata, want);
  // GET /api/v1/runs/{id}/metadata (metadata.refresh) answers the same object
  const res = await fetch(`${srv.url}/api/v1/runs/${h.id}/metadata`, {
    headers: { authorization: `Bearer ${srv.keys.dev}` },
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { metadata: want, metadataType: "application/json" });
});

test("a child's metadata.parent / metadata.root calls just before it returns reach its parent and root", { timeout: 90_000 }, async () => {
  const h = await tasks.trigger("dev-data-meta-root", {}, { metadata: { role: "root" } });
  const run = await finished(h.id, 75_000);
  assertCompleted(run);
  const { middle, leaf } = run.output;
  assert.deepEqual(run.metadata, { role: "root", leafDone: 1 });
  assert.deepEqual((await runs.retrieve(middle)).metadata, { fromLeaf: leaf, log: ["leaf"] });
});

test("durationMs is compute time: a 6 s server-side wait is left out", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-data-wait", {});
  const run = await finished(h.id);
  assertCompleted(run);
  const wall = run.finishedAt.getTime() - run.startedAt.getTime();
  assert.ok(wall >= 6000, `wall time ${wall} ms`);
  assert.ok(run.durationMs > 0, `durationMs ${run.durationMs}`);
  assert.ok(run.durationMs < wall - 5000, `durationMs ${run.durationMs} includes the wait (wall ${wall} ms)`);
});

/** GET /api/v1/runs/{id}/events until every message in `want` is there (or 15 s); the events. */
async function eventsWith(runId, want) {
  let events = [];
  let last;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${srv.url}/api/v1/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${srv.keys.dev}` },
    });
    last = `${res.status} ${(await res.clone().text()).slice(0, 500)}`;
    if (res.ok) {
      events = (await res.json()).events ?? [];
      if (want.every((w) => events.some((e) => e.message === w))) return events;
    }
    await sleep(250);
  }
  assert.fail(`missing log lines ${JSON.stringify(want.filter((w) => !events.some((e) => e.message === w)))}; last response: ${last}`);
}

// queues.pause / resume with the real CLI polling: nothing of a paused queue
// runs, and a resume lets its run go without waiting for a poll interval.
test("a paused queue's run waits QUEUED while the CLI polls, and runs as soon as it is resumed", { timeout: 60_000 }, async (tc) => {
  const q = { type: "task", name: "dev-data-echo" };
  const listed = [];
  for await (const item of queues.list()) listed.push(item.name);
  assert.ok(listed.includes("dev-data-echo"), `the fixture's task queues are listed: ${listed}`);
  assert.equal((await queues.pause(q)).paused, true);
  let resumed = false;
  try {
    const h = await tasks.trigger("dev-data-echo", { paused: true });
    await sleep(3000);
    assert.equal((await runs.retrieve(h.id)).status, "QUEUED");
    assert.equal((await queues.retrieve(q)).queued, 1);
    const t = Date.now();
    assert.equal((await queues.resume(q)).paused, false);
    resumed = true;
    const run = await finished(h.id);
    assertCompleted(run);
    assert.deepEqual(run.output, { paused: true });
    assert.ok(Date.now() - t < 10_000, `ran ${Date.now() - t} ms after the resume`);
    tc.diagnostic(`resume to COMPLETED: ${Date.now() - t} ms`);
  } finally {
    if (!resumed) await queues.resume(q);
  }
});

// The trace (GET /api/v1/runs/{id}/trace through the SDK's ApiClient) of a
// run the real SDK executed: its attempt's spans under the run's span, the
// logger lines under the span they were written in.
test("a run's trace nests the attempt and its logs under the run's span; spans are retrieved", { timeout: 60_000 }, async () => {
  const marker = uid("m");
  const h = await tasks.trigger("dev-logs", { marker });
  assertCompleted(await finished(h.id));
  await eventsWith(h.id, [`dev-log three ${marker}`]);
  const client = apiClientManager.clientOrThrow();
  const flat = [];
  const walk = (s, depth) => {
    flat.push({ s, depth });
    s.children.forEach((c) => walk(c, depth + 1));
  };
  let root;
  for (let i = 0; i < 40; i++) {
    root = (await client.retrieveRunTrace(h.id)).trace.rootSpan;
    flat.length = 0;
    walk(root, 0);
    if (!flat.some(({ s }) => s.data.isPartial)) break;
    await sleep(250);
  }
  assert.equal(root.data.taskSlug, "dev-logs");
  assert.equal(root.data.isPartial, false);
  assert.ok(root.children.length >= 1, JSON.stringify(root).slice(0, 800));
  const line = flat.find(({ s }) => s.data.message === `dev-log one ${marker}`);
  assert.ok(line, `the log line is in the trace: ${flat.map(({ s }) => s.data.message)}`);
  assert.ok(line.depth >= 2, "a log line sits under the attempt's span, not the run's");
  assert.equal(line.s.data.level, "INFO");
  const detail = await client.retrieveSpan(h.id, line.s.id);
  assert.equal(detail.message, `dev-log one ${marker}`);
  assert.equal(detail.parentId, line.s.parentId);
  const attempt = root.children[0];
  assert.ok(attempt.data.duration > 0, `the attempt span has a duration: ${JSON.stringify(attempt.data)}`);
});

// Levels come from the OTLP severityNumber, as the real server's TaskEventLevel
// (otlpTransform logLevelToEventLevel): DEBUG, INFO (logger.log and .info), WARN, ERROR,
// and isError only for ERROR.
test("logger.debug, info, warn and error lines are stored with their level", { timeout: 60_000 }, async () => {
  const marker = uid("m");
  const h = await tasks.trigger("dev-logs", { marker });
  assertCompleted(await finished(h.id));
  const levels = { debug: "DEBUG", one: "INFO", warn: "WARN", error: "ERROR" };
  const want = Object.keys(levels).map((w) => `dev-log ${w} ${marker}`);
  const events = await eventsWith(h.id, want);
  for (const [w, level] of Object.entries(levels)) {
    const e = events.find((x) => x.message === `dev-log ${w} ${marker}`);
    assert.equal(e.level, level, JSON.stringify(e));
    assert.equal(e.isError, level === "ERROR", JSON.stringify(e));
    assert.equal(e.kind, "LOG");
    assert.equal(e.runId, h.id);
  }
  assert.equal(events.find((x) => x.message === `dev-log debug ${marker}`).properties?.n, 4);
});

test("env vars set through the API are in process.env of the run", { timeout: 60_000 }, async () => {
  const names = [...Object.keys(ENV_VARS), "TD_FIXTURE_UNSET", "TRIGGER_PROJECT_REF"];
  const h = await tasks.trigger("dev-env", { names });
  const run = await finished(h.id);
  assertCompleted(run);
  assert.deepEqual(run.output, { ...ENV_VARS, TD_FIXTURE_UNSET: null, TRIGGER_PROJECT_REF: srv.projectRef });
});

// Last: it kills the CLI.
test("killing the CLI cancels the run it was executing (watchdog disconnect)", { timeout: 60_000 }, async () => {
  const h = await tasks.trigger("dev-long", {});
  await reached(h.id, "running");
  await sleep(500); // .trigger/active-runs.json is written at dequeue; leave it settled
  killedOnPurpose = true;
  await killCli("SIGKILL");
  const run = await finished(h.id, 30_000);
  assert.equal(run.status, "CANCELED", msg(run));
});
