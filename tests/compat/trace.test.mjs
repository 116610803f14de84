// tests/compat/trace.test.mjs - a run's trace and spans (spec/api.md [23],
// [24]) through the SDK's own ApiClient (retrieveRunTrace, retrieveSpan, and
// the latest SDK's retrieveRunTracePage), parsed by its zod schemas: the
// OTLP spans and logs an attempt sends (here posted by hand, in the shape the
// SDK's exporter writes them) hang under the run's span, a partial span
// stands until its full one arrives, and a finished run closes its trace.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, apiClient, rejectsApi, uid } from "./helpers.mjs";
import { tasks, runs, auth, NotFoundError, SDK_VERSION } from "./sdk.mjs";
import { FakeWorker } from "../integration/worker.mjs";

let srv, w;
const T = uid("trace-");
const ONCE = uid("trace-once-");
const RUN_ATTR = "$metadata.ctx.run.id";

before(async () => {
  srv = await startServer();
  w = new FakeWorker(srv);
  await w.register([{ id: T }, { id: ONCE, retry: { maxAttempts: 1 } }]);
});
after(() => srv?.stop());

const str = (key, v) => ({ key, value: { stringValue: v } });
const ns = (ms) => String(BigInt(ms) * 1000000n);

async function otlp(path, body) {
  const r = await fetch(srv.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(r.status, 200);
}
const spans = (list) => otlp("/otel/v1/traces", { resourceSpans: [{ scopeSpans: [{ spans: list }] }] });
const logs = (list) => otlp("/otel/v1/logs", { resourceLogs: [{ scopeLogs: [{ logRecords: list }] }] });

/** A run started by the fake worker: its id and the traceparent of its attempt. */
async function started(payload = {}, task = T) {
  const { id } = await tasks.trigger(task, payload);
  const body = await w.run(id);
  const tp = body.execution?.run?.traceContext?.traceparent;
  assert.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, JSON.stringify(body).slice(0, 400));
  const [, traceId, runSpan] = tp.split("-");
  return { id, traceId, runSpan };
}

const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0")).join("");

test(`the trace nests an attempt's spans and logs under the run's span (SDK ${SDK_VERSION})`, async () => {
  const { id, traceId, runSpan } = await started({ n: 1 });
  const attempt = hex(8), child = hex(8), bad = hex(8);
  const t0 = Date.now();
  await spans([
    { traceId, spanId: hex(8), parentSpanId: runSpan, name: "Attempt 1", startTimeUnixNano: ns(t0), endTimeUnixNano: ns(t0),
      attributes: [str(RUN_ATTR, id), { key: "$span.partial", value: { boolValue: true } }, str("$span.span_id", attempt)] },
  ]);
  await logs([
    { traceId, spanId: attempt, timeUnixNano: ns(t0 + 5), severityNumber: 9, body: { stringValue: "hello log" },
      attributes: [str(RUN_ATTR, id), { key: "n", value: { intValue: "4" } }] },
  ]);
  await spans([
    { traceId, spanId: child, parentSpanId: attempt, name: "fetch things", startTimeUnixNano: ns(t0 + 10), endTimeUnixNano: ns(t0 + 40),
      attributes: [str(RUN_ATTR, id), str("url", "https://example.com")],
      events: [{ name: "retry", timeUnixNano: ns(t0 + 20), attributes: [str("why", "flaky")] }] },
    { traceId, spanId: bad, parentSpanId: attempt, name: "broken", startTimeUnixNano: ns(t0 + 50), endTimeUnixNano: ns(t0 + 51),
      status: { code: 2 }, attributes: [str(RUN_ATTR, id)] },
  ]);

  const { trace } = await apiClient().retrieveRunTrace(id);
  assert.equal(trace.traceId, traceId);
  const root = trace.rootSpan;
  assert.equal(root.id, runSpan);
  assert.equal(root.runId, id);
  assert.equal(root.parentId, undefined);
  assert.equal(root.data.message, T);
  assert.equal(root.data.taskSlug, T);
  assert.equal(root.data.isPartial, true, "the run is still executing");
  assert.ok(root.data.startTime instanceof Date);
  assert.equal(root.children.length, 1);
  const a = root.children[0];
  assert.equal(a.id, attempt);
  assert.equal(a.parentId, runSpan);
  assert.equal(a.data.message, "Attempt 1");
  assert.equal(a.data.isPartial, true);
  assert.deepEqual(a.children.map((s) => s.data.message), ["hello log", "fetch things", "broken"]);
  const [log, c, b] = a.children;
  assert.equal(log.data.level, "INFO");
  assert.equal(log.data.properties.n, 4);
  assert.notEqual(log.id, attempt, "a log has a span id of its own");
  assert.equal(c.data.duration, 30);
  assert.equal(c.data.level, "TRACE");
  assert.equal(c.data.properties.url, "https://example.com");
  assert.equal(c.data.events[0].name, "retry");
  assert.equal(b.data.isError, true);

  // the full attempt span replaces the partial one
  await spans([
    { traceId, spanId: attempt, parentSpanId: runSpan, name: "Attempt 1", startTimeUnixNano: ns(t0), endTimeUnixNano: ns(t0 + 100),
      attributes: [str(RUN_ATTR, id)] },
  ]);
  const again = (await apiClient().retrieveRunTrace(id)).trace.rootSpan.children;
  assert.equal(again.length, 1);
  assert.equal(again[0].data.isPartial, false);
  assert.equal(again[0].data.duration, 100);

  const detail = await apiClient().retrieveSpan(id, child);
  assert.equal(detail.spanId, child);
  assert.equal(detail.parentId, attempt);
  assert.equal(detail.runId, id);
  assert.equal(detail.message, "fetch things");
  assert.equal(detail.durationMs, 30);
  assert.equal(detail.properties.url, "https://example.com");
  assert.equal(detail.events.length, 1);
  const rootDetail = await apiClient().retrieveSpan(id, runSpan);
  assert.equal(rootDetail.parentId, null);
  assert.equal((await apiClient().retrieveSpan(id, log.id)).parentId, attempt);
  await rejectsApi(apiClient().retrieveSpan(id, hex(8)), NotFoundError, 404, "Span not found");

  // the run finishes: its span closes, and so does a span left open
  const open = hex(8);
  await spans([
    { traceId, spanId: hex(8), parentSpanId: attempt, name: "never closed", startTimeUnixNano: ns(t0 + 60), endTimeUnixNano: ns(t0 + 60),
      attributes: [str(RUN_ATTR, id), { key: "$span.partial", value: { boolValue: true } }, str("$span.span_id", open)] },
  ]);
  const done = await w.succeed(id);
  assert.equal(done.status, 200, done.text);
  const closed = (await apiClient().retrieveRunTrace(id)).trace.rootSpan;
  assert.equal(closed.data.isPartial, false);
  assert.equal(closed.data.isError, false);
  const left = closed.children[0].children.find((s) => s.id === open);
  assert.equal(left.data.isPartial, false);
});

test("a failed run's span is an error; a span with an unknown parent hangs from the run's span", async () => {
  const { id, traceId, runSpan } = await started({}, ONCE);
  const orphan = hex(8);
  await spans([
    { traceId, spanId: orphan, parentSpanId: hex(8), name: "orphan", startTimeUnixNano: ns(Date.now()), endTimeUnixNano: ns(Date.now() + 1),
      attributes: [str(RUN_ATTR, id)] },
  ]);
  const snap = (await w.latest(id)).snapshot.friendlyId;
  const r = await w.completeRaw(id, snap, {
    ok: false,
    error: { type: "BUILT_IN_ERROR", name: "Error", message: "boom", stackTrace: "Error: boom" },
    retry: undefined,
    skippedRetrying: true,
  });
  assert.equal(r.status, 200, r.text);
  const root = (await apiClient().retrieveRunTrace(id)).trace.rootSpan;
  assert.equal(root.id, runSpan);
  assert.deepEqual(root.children.map((s) => s.id), [orphan]);
  assert.equal(root.children[0].parentId, runSpan);
  assert.equal((await runs.retrieve(id)).status, "FAILED");
  assert.equal(root.data.isError, true);
  assert.equal(root.data.isPartial, false);
});

test("odd OTLP input: a parent cycle, a deep chain, a span without an id, duplicates", async () => {
  const { id, traceId, runSpan } = await started();
  const t0 = Date.now();
  const a = hex(8), b = hex(8);
  const chain = Array.from({ length: 300 }, () => hex(8));
  const at = (i) => ({ startTimeUnixNano: ns(t0 + i), endTimeUnixNano: ns(t0 + i + 1) });
  await spans([
    { traceId, spanId: a, parentSpanId: b, name: "a", ...at(0), attributes: [str(RUN_ATTR, id)] },
    { traceId, spanId: b, parentSpanId: a, name: "b", ...at(1), attributes: [str(RUN_ATTR, id)] },
    { traceId, parentSpanId: runSpan, name: "no id", ...at(2), attributes: [str(RUN_ATTR, id)] },
    { traceId, spanId: a, parentSpanId: runSpan, name: "a again", ...at(3), attributes: [str(RUN_ATTR, id)] },
    { traceId, spanId: runSpan, name: "claims the run's span", ...at(4), attributes: [str(RUN_ATTR, id)] },
    ...chain.map((s, i) => ({ traceId, spanId: s, parentSpanId: i ? chain[i - 1] : runSpan, name: `c${i}`, ...at(5 + i), attributes: [str(RUN_ATTR, id)] })),
  ]);
  const root = (await apiClient().retrieveRunTrace(id)).trace.rootSpan;
  assert.equal(root.id, runSpan);
  assert.equal(root.data.message, T, "the run's span stays the run's");
  const all = [];
  const walk = (s, d) => { all.push([s, d]); s.children.forEach((c) => walk(c, d + 1)); };
  walk(root, 0);
  assert.equal(all.length, 1 + 2 + chain.length, "each span once; the one without an id left out");
  assert.equal(all.filter(([s]) => s.id === a).length, 1);
  const deepest = Math.max(...all.map(([, d]) => d));
  assert.ok(deepest <= 201, `a chain deeper than 200 is cut (deepest ${deepest})`);
  assert.ok(all.some(([s]) => s.id === chain[299]));
  const cyc = all.filter(([s]) => s.id === a || s.id === b);
  assert.ok(cyc.every(([, d]) => d <= 2), "the cycle hangs from the run's span");
});

test("a run not yet started has a trace of its own span; unknown runs are 404; JWTs need read access", async () => {
  const { id } = await tasks.trigger(T, {}, { delay: "1h" });
  const { trace } = await apiClient().retrieveRunTrace(id);
  assert.equal(trace.rootSpan.children.length, 0);
  assert.match(trace.rootSpan.id, /^[0-9a-f]{16}$/);
  assert.match(trace.traceId, /^[0-9a-f]{32}$/);
  const missing = await fetch(`${srv.url}/api/v1/runs/run_nope/trace`, { headers: { authorization: `Bearer ${srv.keys.dev}` } });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("x-should-retry"), "true");
  assert.deepEqual(await missing.json(), { error: "Not found" });

  const other = (await tasks.trigger(T, {}, { delay: "1h" })).id;
  const jwt = await auth.createPublicToken({ scopes: { read: { runs: [id] } } });
  const get = (run, path = "trace") =>
    fetch(`${srv.url}/api/v1/runs/${run}/${path}`, { headers: { authorization: `Bearer ${jwt}` } });
  assert.equal((await get(id)).status, 200, "a JWT with read:runs:<id> reads that run's trace");
  assert.equal((await get(other)).status, 403, "and not another run's");
  const span = (await apiClient().retrieveRunTrace(id)).trace.rootSpan.id;
  assert.equal((await get(id, `spans/${span}`)).status, 200);
  assert.equal((await get(other, `spans/${span}`)).status, 403);
  const cors = await fetch(`${srv.url}/api/v1/runs/${id}/trace`, { method: "OPTIONS", headers: { origin: "https://x.example", "access-control-request-method": "GET" } });
  assert.ok(cors.status < 300);
});

test("the latest SDK's paged trace reads every span, flat, in pages", async (t) => {
  if (typeof apiClient().retrieveRunTracePage !== "function") return t.skip(`no retrieveRunTracePage in ${SDK_VERSION}`);
  const { id, traceId, runSpan } = await started();
  const t0 = Date.now();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(hex(8));
  await spans(ids.map((s, i) => ({ traceId, spanId: s, parentSpanId: runSpan, name: `s${i}`, startTimeUnixNano: ns(t0 + i), endTimeUnixNano: ns(t0 + i + 1), attributes: [str(RUN_ATTR, id)] })));
  const seen = [];
  let after;
  for (let page = 0; page < 10; page++) {
    const r = await apiClient().retrieveRunTracePage(id, { limit: 2, after });
    seen.push(...r.data);
    assert.deepEqual(r.attemptFailures, []);
    after = r.pagination.next;
    if (!after) break;
  }
  assert.deepEqual(seen.map((s) => s.id), [runSpan, ...ids]);
  assert.equal(seen[0].parentId, undefined);
  assert.ok(seen.slice(1).every((s) => s.parentId === runSpan));
});
