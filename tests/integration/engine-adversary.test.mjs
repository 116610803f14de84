// tests/integration/engine-adversary.test.mjs - attempts to break the run
// engine's invariants (docs/engine.md) with the protocol calls the SDK and
// CLI never make in that order: completions for snapshots that are not an
// attempt, waits on already-completed tokens while still blocked, tokens
// completed twice or after their timeout, garbage retry timestamps, odd JSON
// in metadata, and SIGKILL restarts in the middle of waits, delays and
// batches. Driven step by step with the fake worker (worker.mjs).
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startTriggerd, stopServer, uid, sleep, api, BINARY } from "./helpers.mjs";
import { FakeWorker } from "./worker.mjs";

let servers = [];
async function server(args = []) {
  const srv = await startTriggerd({ args });
  servers.push(srv);
  return srv;
}
let workers = [];
function worker(srv, opts) {
  const w = new FakeWorker(srv, opts);
  workers.push(w);
  return w;
}
afterEach(async () => {
  for (const w of workers) w.stopAll();
  workers = [];
  for (const s of servers) await stopServer(s);
  servers = [];
});

const isClientError = (res) => res.status >= 400 && res.status < 500;

async function executingRun(srv, opts = {}) {
  const w = worker(srv, opts);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  const started = await w.run(id);
  return { w, task, id, started };
}

// ---- completions for snapshots that are not a running attempt ------------

test("a completion on the QUEUED snapshot of a run waiting for its retry is refused; the retry still runs once", async () => {
  const srv = await server();
  const { w, id } = await executingRun(srv);
  const f = await w.fail(id, { retryMs: 60_000 });
  assert.equal(f.status, 200, f.text);
  const q = await w.latest(id);
  assert.equal(q.snapshot.executionStatus, "QUEUED");
  const res = await w.completeRaw(id, q.snapshot.friendlyId, { ok: true, output: '{"sneaky":1}', outputType: "application/json" });
  assert.ok(isClientError(res), `completing a QUEUED run: ${res.status} ${res.text}`);
  const run = await w.retrieve(id);
  assert.equal(run.status, "QUEUED");
  assert.equal(run.output, undefined);
});

test("a completion on the PENDING_EXECUTING snapshot (attempt never started) is refused", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  const m = await w.take(id);
  assert.equal(m.snapshot.executionStatus, "PENDING_EXECUTING");
  const res = await w.completeRaw(id, m.snapshot.friendlyId, { ok: true, output: '{"x":1}', outputType: "application/json" });
  assert.ok(isClientError(res), `completing a never-started attempt: ${res.status} ${res.text}`);
  // the attempt can still start and complete normally
  await w.start(id, m.snapshot.friendlyId);
  assert.equal((await w.succeed(id, { real: 1 })).status, 200);
  const run = await w.waitStatus(id, "COMPLETED");
  assert.deepEqual(run.output, { real: 1 });
});

test("a second completion of the same attempt is refused and the output of the first stays", async () => {
  const srv = await server();
  const { w, id } = await executingRun(srv);
  const snap = (await w.latest(id)).snapshot.friendlyId;
  const a = await w.succeed(id, { n: 1 }, { snapshotId: snap });
  assert.equal(a.status, 200, a.text);
  const b = await w.succeed(id, { n: 2 }, { snapshotId: snap });
  assert.ok(isClientError(b), `${b.status} ${b.text}`);
  const c = await w.fail(id, { snapshotId: (await w.latest(id)).snapshot.friendlyId });
  assert.ok(isClientError(c), `${c.status} ${c.text}`);
  assert.deepEqual((await w.retrieve(id)).output, { n: 1 });
});

test("a failing completion with a garbage retry timestamp (huge, negative, NaN-ish, string) never crashes the server", async () => {
  const srv = await server();
  for (const timestamp of [1e300, -1e300, -5, "soon", null, 9.3e18]) {
    const { w, id } = await executingRun(srv);
    const snap = (await w.latest(id)).snapshot.friendlyId;
    const res = await w.completeRaw(id, snap, {
      ok: false,
      error: { type: "BUILT_IN_ERROR", name: "Error", message: "x", stackTrace: "" },
      retry: { timestamp, delay: 1 },
      skippedRetrying: false,
    });
    assert.ok(res.status < 500, `${timestamp}: ${res.status} ${res.text}`);
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200, `healthz after retry.timestamp ${timestamp}`);
  }
});

// ---- waits on tokens -----------------------------------------------------

test("waiting on an already-completed token while still blocked on a pending one does not continue the run", async () => {
  const srv = await server();
  const { w, id } = await executingRun(srv);
  const pending = await w.createToken({});
  const done = await w.createToken({});
  assert.equal((await w.completeToken(done, { d: 1 })).status, 200);
  assert.equal((await w.waitToken(id, pending)).status, 200);
  assert.equal((await w.latest(id)).snapshot.executionStatus, "EXECUTING_WITH_WAITPOINTS");
  const r = await w.waitToken(id, done);
  assert.ok(r.status < 500, r.text);
  const ex = await w.latest(id);
  assert.equal(ex.snapshot.executionStatus, "EXECUTING_WITH_WAITPOINTS", "still blocked on the pending token");
  // and when the pending one completes, the run continues with both
  assert.equal((await w.completeToken(pending, { p: 1 })).status, 200);
  const after = await w.waitSnapshot(id, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "continued" });
  const ids = after.completedWaitpoints.map((x) => x.id).sort();
  assert.deepEqual(ids, [done, pending].sort());
});

test("a token completed twice keeps the first output; one completed after its timeout keeps the timeout", async () => {
  const srv = await server();
  const w = worker(srv);
  const t = await w.createToken({});
  assert.equal((await w.completeToken(t, { first: 1 })).status, 200);
  const again = await w.completeToken(t, { second: 2 });
  assert.ok(again.status < 500, again.text);
  const r1 = await w.call("GET", `/api/v1/waitpoints/tokens/${t}`);
  assert.equal(r1.status, 200);
  assert.match(r1.json.output, /first/);

  const timeout = new Date(Date.now() + 300).toISOString();
  const t2 = await w.createToken({ timeout });
  await sleep(900);
  const late = await w.completeToken(t2, { late: 1 });
  assert.ok(late.status < 500, late.text);
  const r2 = await w.call("GET", `/api/v1/waitpoints/tokens/${t2}`);
  assert.equal(r2.json.status, "TIMED_OUT", JSON.stringify(r2.json));
  assert.doesNotMatch(r2.json.output ?? "", /late/);
});

// ---- restarts in the middle ------------------------------------------------

test("SIGKILL while a run is blocked on wait.for: after the restart the wait ends and the run continues exactly once", async () => {
  const srv = await server();
  const { w, id } = await executingRun(srv);
  w.keepAlive(id);
  assert.equal((await w.waitDuration(id, 1500)).status, 200);
  await srv.restart("SIGKILL");
  const ex = await w.waitSnapshot(id, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "continued after restart", timeout: 8000 });
  assert.equal(ex.completedWaitpoints.length, 1);
  const snap = ex.snapshot.friendlyId;
  await sleep(1000);
  assert.equal((await w.latest(id)).snapshot.friendlyId, snap, "no second continue");
  assert.equal((await w.succeed(id, { ok: 1 })).status, 200);
  await w.waitStatus(id, "COMPLETED");
});

test("SIGKILL while a parent waits on a batch: after the restart the items run once each and the parent resumes with every index", async () => {
  const srv = await server();
  const { w, id: parent, task } = await executingRun(srv);
  w.keepAlive(parent);
  const { batchId } = await w.batchTriggerAndWait(parent, task, [{}, {}, {}]);
  const kids = (await w.batchRuns(batchId)).map((r) => r.id);
  assert.equal(kids.length, 3);
  await w.run(kids[0]);
  await w.succeed(kids[0], { i: 0 });
  await srv.restart("SIGKILL");
  for (const k of kids.slice(1)) {
    await w.run(k);
    await w.succeed(k, { k });
  }
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "parent resumed" });
  const idx = ex.completedWaitpoints.filter((x) => x.type === "RUN").map((x) => x.index).sort();
  assert.deepEqual(idx, [0, 1, 2]);
  // nothing is dequeued again
  assert.deepEqual((await w.dequeue()).map((m) => m.run.friendlyId), []);
});

test("SIGKILL with a delayed run and a TTL run pending: after the restart the delay fires once and the TTL expires", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const delayed = await w.trigger(task, { delay: "1s" });
  const ttl = await w.trigger(uid("nobody-"), { ttl: "1s" });
  await srv.restart("SIGKILL");
  await sleep(1500);
  const m = await w.take(delayed);
  await w.start(delayed, m.snapshot.friendlyId);
  await w.succeed(delayed, { d: 1 });
  await w.waitStatus(delayed, "COMPLETED");
  await w.waitStatus(ttl, "EXPIRED");
  assert.deepEqual((await w.dequeue()).map((x) => x.run.friendlyId), []);
});

// ---- odd JSON ----------------------------------------------------------------

test("metadata with 2^63 and larger integers, U+0000 in keys and lone surrogates round-trips or is refused cleanly", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  const bodies = [
    '{"metadata":{"big":9223372036854775808,"bigger":123456789012345678901234567890}}',
    '{"metadata":{"neg":-9223372036854775809}}',
    '{"metadata":{"k\\u0000ey":"v"}}',
    '{"metadata":{"\\ud800":"\\udc00x"}}',
    '{"metadata":{"f":1e400}}',
  ];
  for (const body of bodies) {
    const r = await api(srv, "PUT", `/api/v1/runs/${id}/metadata`, { body });
    assert.ok(r.status === 200 || r.status === 400 || r.status === 422, `${body}: ${r.status} ${r.text}`);
    const g = await api(srv, "GET", `/api/v1/runs/${id}/metadata`);
    assert.equal(g.status, 200, `${body}: get ${g.status}`);
    if (r.status === 200) {
      const sent = JSON.parse(body).metadata;
      assert.deepEqual(JSON.parse(g.text).metadata, sent, `${body}: round trip, got ${g.text}`);
    }
  }
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
});

// ---- batches -------------------------------------------------------------------

test("an items stream that fails part-way (an out-of-range index) loses no accepted item: the retried stream seals the batch and the parent resumes", async () => {
  const srv = await server();
  const { w, id: parent, task } = await executingRun(srv);
  w.keepAlive(parent);
  const c = await w.call("POST", "/api/v3/batches", { body: { runCount: 3, parentRunId: parent, resumeParentOnCompletion: true } });
  assert.ok(c.status === 200 || c.status === 202, c.text);
  const batchId = c.json.id;
  const line = (index) =>
    JSON.stringify({ index, task, payload: JSON.stringify({ i: index }), options: { lockToVersion: w.current.version, payloadType: "application/json" } });
  const stream = (idx) =>
    w.call("POST", `/api/v3/batches/${batchId}/items`, { body: idx.map(line).join("\n") + "\n", headers: { "content-type": "application/x-ndjson" } });
  const bad = await stream([0, 1, 99]);
  assert.ok(isClientError(bad), `${bad.status} ${bad.text}`);
  const retry = await stream([0, 1, 2]);
  assert.equal(retry.status, 200, retry.text);
  assert.equal(retry.json.sealed, true, `the retried stream seals the batch: ${retry.text}`);
  const kids = (await w.batchRuns(batchId)).map((r) => r.id);
  assert.equal(kids.length, 3, "one run per index, none twice");
  for (const k of kids) {
    await w.run(k);
    await w.succeed(k, { k });
  }
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "parent resumed", timeout: 5000 });
  assert.deepEqual(ex.completedWaitpoints.filter((x) => x.type === "RUN").map((x) => x.index).sort(), [0, 1, 2]);
});

test("waiting twice on the same pending token blocks once; one completion continues the run", async () => {
  const srv = await server();
  const { w, id } = await executingRun(srv);
  const t = await w.createToken({});
  assert.equal((await w.waitToken(id, t)).status, 200);
  const again = await w.waitToken(id, t);
  assert.ok(again.status < 500, again.text);
  assert.equal((await w.completeToken(t)).status, 200);
  const ex = await w.waitSnapshot(id, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "continued" });
  assert.ok(ex.completedWaitpoints.length >= 1);
});

test("a prod parent requeued after a stall mid-batch and now blocked on wait.for is not handed the old batch's item results", async () => {
  const srv = await server(["--heartbeat-timeout", "1000"]);
  const w = worker(srv, { key: srv.keys.prod });
  const task = uid("t-");
  await w.register([{ id: task }]);
  const parent = await w.trigger(task);
  await w.run(parent);
  const { batchId } = await w.batchTriggerAndWait(parent, task, [{}]);
  const [kid] = (await w.batchRuns(batchId)).map((r) => r.id);
  // the parent stalls (no heartbeats) and is requeued; its second attempt waits on a wait.for
  await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "QUEUED", { what: "requeued", timeout: 8000 });
  await w.run(parent);
  w.keepAlive(parent);
  w.keepAlive(kid);
  assert.equal((await w.waitDuration(parent, 1500)).status, 200);
  // the old batch's item finishes while the new attempt is blocked
  const mk = await w.take(kid);
  await w.start(kid, mk.snapshot.friendlyId);
  await w.succeed(kid, { old: 1 });
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "wait.for over", timeout: 8000 });
  assert.deepEqual(ex.completedWaitpoints.map((x) => x.type), ["DATETIME"], JSON.stringify(ex.completedWaitpoints));
});

// ---- the nack limit --------------------------------------------------------------

test("a run dequeued and never started, again and again, fails with TASK_RUN_DEQUEUED_MAX_RETRIES at the 12th stall (the platform's nack limit)", { timeout: 60_000 }, async () => {
  const srv = await server(["--heartbeat-timeout", "300"]);
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  for (let i = 1; i <= 12; i++) {
    await w.take(id, { timeout: 5000 });
    if (i === 6) await srv.restart("SIGKILL"); // the count survives a restart
    if (i < 12) await w.waitSnapshot(id, (e) => e.snapshot.executionStatus === "QUEUED", { what: `requeued after stall ${i}`, timeout: 5000 });
  }
  const run = await w.waitStatus(id, "SYSTEM_FAILURE", { timeout: 5000 });
  assert.match(JSON.stringify(run.error), /TASK_RUN_DEQUEUED_MAX_RETRIES/);
  assert.deepEqual((await w.dequeue()).map((m) => m.run.friendlyId), []);
});

test("metadata operations that nest past what the store reads back are refused, and the metadata is kept (not wiped to {})", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const id = await w.trigger(task);
  const nest = (d) => {
    let s = "1";
    for (let i = 0; i < d; i++) s = `{"a":${s}}`;
    return s;
  };
  const base = 2000;
  assert.equal((await api(srv, "PUT", `/api/v1/runs/${id}/metadata`, { body: `{"metadata":${nest(base)}}` })).status, 200);
  const path = "$." + Array(base).fill("a").join(".");
  // node's deepEqual overflows its stack at this depth: compare the texts
  const metaText = (text) => text.slice(text.indexOf(":") + 1, text.lastIndexOf(',"metadataType"') > 0 ? text.lastIndexOf(',"metadataType"') : -1);
  for (const extra of [10, 40, 47, 48, 60, 1000]) {
    const r = await api(srv, "PUT", `/api/v1/runs/${id}/metadata`, {
      body: `{"operations":[{"type":"set","key":${JSON.stringify(path)},"value":${nest(extra)}}]}`,
    });
    assert.ok(r.status === 200 || r.status === 400 || r.status === 413, `+${extra}: ${r.status}`);
    const g = await api(srv, "GET", `/api/v1/runs/${id}/metadata`);
    assert.equal(g.status, 200);
    const want = r.status === 200 ? nest(base + extra) : nest(base);
    assert.equal(metaText(g.text).length, want.length, `+${extra} (${r.status}): stored metadata is ${metaText(g.text).slice(0, 40)}…`);
    assert.equal(metaText(g.text), want, `+${extra} (${r.status})`);
    // reset to the base for the next round
    await api(srv, "PUT", `/api/v1/runs/${id}/metadata`, { body: `{"metadata":${nest(base)}}` });
  }
});

test("a payload and an output nested 3000 deep come back from runs.retrieve", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const nest = (d) => "[".repeat(d) + "1" + "]".repeat(d);
  const r0 = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: nest(3000), options: { payloadType: "application/json" } } });
  assert.equal(r0.status, 200, r0.text);
  const id = r0.json.id;
  const before = await api(srv, "GET", `/api/v3/runs/${id}`);
  assert.ok(before.text.includes(nest(3000)), "payload in retrieve");
  await w.run(id);
  await w.completeRaw(id, (await w.latest(id)).snapshot.friendlyId, { ok: true, output: nest(3000), outputType: "application/json" });
  await w.waitStatus(id, "COMPLETED");
  const after = await api(srv, "GET", `/api/v3/runs/${id}`);
  assert.equal(after.text.split(nest(3000)).length - 1, 2, "payload and output in retrieve");
});

test("deep packets come back as JSON.parse reads them: strings with U+0000 and lone surrogates inside, superjson's json part, invalid text still left out", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const deep = (d, inner) => "[".repeat(d) + inner + "]".repeat(d);
  const inner = JSON.stringify({ s: "a\u0000b\ud800c\u{1F600}", n: 12345678901234567890 });
  const payload = deep(3000, inner);
  const r0 = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload, options: { payloadType: "application/json" } } });
  assert.equal(r0.status, 200, r0.text);
  const id = r0.json.id;
  const got = await api(srv, "GET", `/api/v3/runs/${id}`);
  assert.equal(got.status, 200);
  // (assert.deepEqual recurses too deep for these; compare what JSON.stringify writes)
  const same = (a, b, what) => assert.equal(JSON.stringify(a), JSON.stringify(b), what);
  same(JSON.parse(got.text).payload, JSON.parse(payload), "payload");
  // superjson: the run's value is the "json" member
  await w.run(id);
  const out = JSON.stringify({ json: JSON.parse(deep(2500, '{"k":"v"}')), meta: { values: {} } });
  await w.completeRaw(id, (await w.latest(id)).snapshot.friendlyId, { ok: true, output: out, outputType: "application/super+json" });
  await w.waitStatus(id, "COMPLETED");
  const after = JSON.parse((await api(srv, "GET", `/api/v3/runs/${id}`)).text);
  same(after.output, JSON.parse(deep(2500, '{"k":"v"}')), "superjson output");
  same(after.payload, JSON.parse(payload), "payload after");
  // a payload that is not JSON at all stays out of the reply, deep or not
  const r1 = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: deep(3000, "1") + "]", options: { payloadType: "application/json" } } });
  assert.equal(r1.status, 200, r1.text);
  const bad = await api(srv, "GET", `/api/v3/runs/${r1.json.id}`);
  assert.equal(bad.status, 200);
  assert.equal(JSON.parse(bad.text).payload, undefined);
});

// ---- env vars handed to a dev attempt ------------------------------------------

test("attempts/start envVars: user variables as set, OTEL_RESOURCE_ATTRIBUTES renamed (as the platform), TRIGGER_* reserved", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task }]);
  const vars = { MY_VAR: "a\u0000b=c \u{1F600}\ud800", OTEL_RESOURCE_ATTRIBUTES: "k=v" };
  for (const [name, value] of Object.entries(vars)) {
    const r = await api(srv, "POST", `/api/v1/projects/${srv.projectRef}/envvars/dev`, { body: { name, value } });
    assert.equal(r.status, 200, `${name}: ${r.text}`);
  }
  for (const name of ["TRIGGER_API_URL", "TRIGGER_OTEL_EXPORTER_OTLP_ENDPOINT"]) {
    const r = await api(srv, "POST", `/api/v1/projects/${srv.projectRef}/envvars/dev`, { body: { name, value: "http://evil.example" } });
    assert.equal(r.status, 400, `${name}: ${r.text}`);
  }
  const id = await w.trigger(task);
  const started = await w.run(id);
  const env = started.envVars;
  assert.equal(env.MY_VAR, vars.MY_VAR);
  assert.equal(env.OTEL_RESOURCE_ATTRIBUTES, undefined);
  assert.equal(env.CUSTOM_OTEL_RESOURCE_ATTRIBUTES, "k=v");
  assert.equal(env.TRIGGER_OTEL_EXPORTER_OTLP_ENDPOINT, `${srv.url}/otel`);
  // the 4.5 CLI reads the same variables when its worker starts
  const flat = await api(srv, "GET", `/api/v1/projects/${srv.projectRef}/envvars`);
  assert.equal(flat.status, 200, flat.text);
  assert.equal(flat.json.variables.CUSTOM_OTEL_RESOURCE_ATTRIBUTES, "k=v");
  assert.equal(flat.json.variables.OTEL_RESOURCE_ATTRIBUTES, undefined);
  assert.equal(flat.json.variables.MY_VAR, vars.MY_VAR);
});

// ---- idempotency hits inside a batchTriggerAndWait ---------------------------------

test("batchTriggerAndWait whose item hits an idempotency key of a finished run: the parent resumes with a result for every index", async () => {
  const srv = await server();
  const { w, id: parent, task } = await executingRun(srv);
  w.keepAlive(parent);
  const key = uid("idem-");
  const cached = await w.trigger(task, { idempotencyKey: key });
  await w.run(cached);
  await w.succeed(cached, { cached: 1 });
  await w.waitStatus(cached, "COMPLETED");
  const { batchId, items } = await w.batchTriggerAndWait(parent, task, [{ options: { idempotencyKey: key } }, {}]);
  assert.equal(items.sealed, true, JSON.stringify(items));
  const runs = (await w.batchRuns(batchId)).map((r) => r.id);
  for (const k of runs.filter((r) => r !== cached)) {
    await w.run(k);
    await w.succeed(k, { fresh: 1 });
  }
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "parent resumed", timeout: 5000 });
  const byIndex = Object.fromEntries(ex.completedWaitpoints.filter((x) => x.type === "RUN").map((x) => [x.index, x]));
  assert.deepEqual(Object.keys(byIndex).sort(), ["0", "1"], JSON.stringify(ex.completedWaitpoints));
  assert.equal(byIndex[0].completedByTaskRun.id, cached);
  assert.match(byIndex[0].output, /cached/);
});

test("batchTriggerAndWait whose item hits an idempotency key of a run still queued: the parent resumes when it ends, with every index", async () => {
  const srv = await server();
  const { w, id: parent, task } = await executingRun(srv);
  w.keepAlive(parent);
  const key = uid("idem-");
  const cached = await w.trigger(task, { idempotencyKey: key });
  const { batchId } = await w.batchTriggerAndWait(parent, task, [{ options: { idempotencyKey: key } }, {}]);
  const fresh = (await w.batchRuns(batchId)).map((r) => r.id).filter((r) => r !== cached);
  assert.equal(fresh.length, 1);
  await w.run(fresh[0]);
  await w.succeed(fresh[0], { fresh: 1 });
  await sleep(300);
  assert.equal((await w.latest(parent)).snapshot.executionStatus, "EXECUTING_WITH_WAITPOINTS", "the batch waits for the cached run too");
  await w.run(cached);
  await w.succeed(cached, { cached: 1 });
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "parent resumed", timeout: 5000 });
  const idx = ex.completedWaitpoints.filter((x) => x.type === "RUN").map((x) => x.index).sort();
  assert.deepEqual(idx, [0, 1], JSON.stringify(ex.completedWaitpoints));
});

// ---- garbage completions ------------------------------------------------------------

test("garbage completions never answer 5xx, and each run ends in exactly one final state", async () => {
  const srv = await server();
  const garbage = [
    { ok: "yes", output: '{"a":1}' },
    { ok: true, output: { not: "a string" }, outputType: 42 },
    { ok: true, output: "not json", outputType: "application/json" },
    { ok: false, error: "just a string" },
    { ok: false, error: { type: "INTERNAL_ERROR", code: 17 }, retry: [1, 2] },
    { ok: false, error: null, retry: { timestamp: "x" }, skippedRetrying: "no" },
    { ok: true, output: "1", usage: { durationMs: 1e300 } },
    { ok: true, output: "1", usage: { durationMs: -5 } },
    { ok: true, output: "1", usage: "fast" },
    { ok: true, output: "1", flushedMetadata: { operations: "nope", parentOperations: [{ type: "frob" }], rootOperations: null } },
    { ok: true, output: "1", metadata: { metadata: 7, metadataType: 9 } },
  ];
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task, retry: { maxAttempts: 1 } }]);
  for (const g of garbage) {
    const id = await w.trigger(task);
    await w.run(id);
    const snap = (await w.latest(id)).snapshot.friendlyId;
    const r = await w.completeRaw(id, snap, g);
    assert.ok(r.status < 500, `${JSON.stringify(g)}: ${r.status} ${r.text}`);
    const run = await w.retrieve(id);
    if (r.status === 200) {
      assert.ok(["COMPLETED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "QUEUED"].includes(run.status), `${JSON.stringify(g)}: ${run.status}`);
    }
    // a refused completion leaves the attempt running: a proper one still ends it
    if (r.status !== 200) {
      assert.equal(run.status, "EXECUTING", `${JSON.stringify(g)} refused with ${r.status}, run ${run.status}`);
      assert.equal((await w.succeed(id, { after: 1 })).status, 200);
    }
  }
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
});

// ---- version locks ---------------------------------------------------------------------

test("a trigger locked to a version no worker has is refused (422), and as a batchTriggerAndWait item it becomes a failed run", async () => {
  const srv = await server();
  const { w, id: parent, task } = await executingRun(srv, { key: undefined });
  w.keepAlive(parent);
  const r = await w.triggerRaw(task, { lockToVersion: "20990101.1" });
  assert.equal(r.status, 422, r.text);
  assert.match(r.json.error, /no worker found with that version/);
  const { batchId } = await w.batchTriggerAndWait(parent, task, [{ options: { lockToVersion: "20990101.1" } }]);
  const [kid] = await w.batchRuns(batchId);
  assert.equal(kid.status, "SYSTEM_FAILURE");
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "parent resumed", timeout: 5000 });
  assert.deepEqual(ex.completedWaitpoints.filter((x) => x.type === "RUN").map((x) => x.index), [0]);
});

// ---- key rotation and token callback URLs --------------------------------------------

test("a token's callback URL handed out before a key rotation works during the old key's grace, and not after", async () => {
  const srv = await server();
  const w = worker(srv);
  const mk = async () => {
    const r = await w.call("POST", "/api/v1/waitpoints/tokens", { body: {} });
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  const t1 = await mk();
  const t2 = await mk();
  assert.match(t1.url, /\/callback\/[0-9a-f]{64}$/);
  const { stdout } = await promisify(execFile)(BINARY, ["rotate-key", "--data", srv.dataDir, "--env", "dev", "--key-grace", "2000"]);
  w.key = stdout.trim();
  const post = (url) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"via":"callback"}' });
  const r1 = await post(t1.url);
  assert.equal(r1.status, 200, await r1.text());
  const g1 = await w.call("GET", `/api/v1/waitpoints/tokens/${t1.id}`);
  assert.equal(g1.json.status, "COMPLETED");
  await sleep(2600);
  const r2 = await post(t2.url);
  assert.equal(r2.status, 401, await r2.text());
});

// ---- queue concurrency across waits -----------------------------------------------------

test("a limit-1 queue never has two runs executing: a run whose wait ends while another holds the slot waits for it", async () => {
  const srv = await server();
  const w = worker(srv);
  const task = uid("t-");
  await w.register([{ id: task, queue: { name: `q-${task}`, concurrencyLimit: 1 } }]);
  const a = await w.trigger(task);
  await w.run(a);
  w.keepAlive(a);
  assert.equal((await w.waitDuration(a, 800)).status, 200);
  const b = await w.trigger(task);
  await w.run(b);
  w.keepAlive(b);
  await sleep(1500);
  const sa = (await w.latest(a)).snapshot.executionStatus;
  const sb = (await w.latest(b)).snapshot.executionStatus;
  assert.ok(!(sa === "EXECUTING" && sb === "EXECUTING"), `both EXECUTING on a limit-1 queue (a ${sa}, b ${sb})`);
  await w.succeed(b, { b: 1 });
  await w.waitSnapshot(a, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "a continues once b is done" });
});

test("batchTriggerAndWait whose item hits the key of a run canceled while its worker still holds it: the parent resumes with the cancel for that index", async () => {
  const srv = await server();
  const { w, id: parent, task } = await executingRun(srv);
  w.keepAlive(parent);
  const key = uid("idem-");
  const cached = await w.trigger(task, { idempotencyKey: key });
  await w.run(cached);
  assert.equal((await w.cancel(cached)).status, 200);
  assert.equal((await w.latest(cached)).snapshot.executionStatus, "PENDING_CANCEL");
  await w.batchTriggerAndWait(parent, task, [{ options: { idempotencyKey: key } }]);
  const ex = await w.waitSnapshot(parent, (e) => e.snapshot.executionStatus === "EXECUTING", { what: "parent resumed", timeout: 5000 });
  const [item] = ex.completedWaitpoints.filter((x) => x.type === "RUN");
  assert.equal(item?.index, 0, JSON.stringify(ex.completedWaitpoints));
  assert.equal(item.outputIsError, true);
});
