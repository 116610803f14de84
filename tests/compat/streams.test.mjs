// Realtime streams (spec/api.md 6.14 [66]-[70]) and input streams (6.15
// [71]-[72]) with the real SDK, from outside a task: the SDK's own v2 writer
// (StreamsWriterV2, an S2 append session over h2c to triggerd's own S2 API,
// spec/s2.md), its v1 writer (StreamsWriterV1, the long-lived NDJSON POST,
// chosen with TRIGGER_V2_REALTIME_STREAMS=0) and createStream/appendToStream
// of its ApiClient write; streams.read, fetchStream and
// subscribeToRun().withStreams() read; streams.input().send sends. The dev CLI
// suite (dev/streams.test.mjs) covers the in-task paths.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { sdk, tasks, runs, configure, SDK_PACKAGE, SDK_VERSION } from "./sdk.mjs";
import { startServer, uid, sleep, apiClient, FAST_RETRY } from "./helpers.mjs";

const { streams } = sdk;

// The v1 writer is the SDK's own class, from the core the SDK under test uses.
const require = createRequire(import.meta.url);
const sdkRequire = createRequire(join(dirname(require.resolve(`${SDK_PACKAGE}/package.json`)), "package.json"));
const coreDir = dirname(sdkRequire.resolve("@trigger.dev/core/package.json"));
const { StreamsWriterV1 } = await import(
  pathToFileURL(join(coreDir, "dist/esm/v3/realtimeStreams/streamsWriterV1.js")).href
);
const { StreamsWriterV2 } = await import(
  pathToFileURL(join(coreDir, "dist/esm/v3/realtimeStreams/streamsWriterV2.js")).href
);

/** Runs fn with the SDK asking for v1 streams (x-trigger-realtime-streams-version: v1). */
async function withV1(fn) {
  process.env.TRIGGER_V2_REALTIME_STREAMS = "0";
  try {
    return await fn();
  } finally {
    delete process.env.TRIGGER_V2_REALTIME_STREAMS;
  }
}

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
  // 4.5.0's run subscription cannot be cancelled: after the withStreams()
  // consumer breaks out, its shape stream keeps polling (retrying once the
  // server is gone) and keeps this file's process alive (see realtime.test.mjs).
  if (SDK_VERSION.startsWith("4.5.")) setTimeout(() => process.exit(0), 2000).unref();
});

/** A run that stays DELAYED (not finished) for the test. */
async function liveRun() {
  return tasks.trigger(uid("st-"), { n: 1 }, { delay: "1h" });
}

/** Reads an async iterable into an array until `n` items or the timeout. */
async function take(iterable, n, timeout = 15000) {
  const out = [];
  const timer = setTimeout(() => iterable.cancel?.(), timeout);
  try {
    for await (const v of iterable) {
      out.push(v);
      if (out.length >= n) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/** Writes chunks through the SDK's v1 writer (one NDJSON POST) and waits. */
async function writeV1(runId, key, chunks) {
  const source = new ReadableStream({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  });
  const w = new StreamsWriterV1({
    key,
    runId,
    source,
    baseUrl: srv.url,
    headers: apiClient().getHeaders(),
    version: "v1",
    target: "self",
  });
  await w.wait();
}

/** createStream, then the SDK's v2 writer on the S2 coordinates it returns, as
 * StreamInstance does in a task; returns what wait() resolves. */
async function writeV2(runId, key, chunks) {
  const { version, headers } = await apiClient().createStream(runId, "self", key);
  assert.equal(version, "v2");
  const source = new ReadableStream({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  });
  const w = new StreamsWriterV2({
    basin: headers["x-s2-basin"],
    stream: headers["x-s2-stream-name"],
    accessToken: headers["x-s2-access-token"],
    endpoint: headers["x-s2-endpoint"],
    source,
    flushIntervalMs: parseInt(headers["x-s2-flush-interval-ms"]),
    maxRetries: parseInt(headers["x-s2-max-retries"]),
  });
  return w.wait();
}

test("createStream answers v2 with the S2 coordinates; v1 (and no S2 headers) when the SDK asks for v1", async () => {
  const h = await liveRun();
  const r = await apiClient().createStream(h.id, "self", "ai");
  assert.equal(r.version, "v2");
  assert.equal(r.headers["x-s2-basin"], "trigger-local");
  assert.equal(r.headers["x-s2-endpoint"], `${srv.url}/v1`);
  assert.equal(r.headers["x-s2-flush-interval-ms"], "100");
  assert.ok(r.headers["x-s2-access-token"]);
  assert.match(r.headers["x-s2-stream-name"], new RegExp(`/runs/${h.id}/ai$`));
  const r1 = await withV1(() => apiClient().createStream(h.id, "self", "ai1"));
  assert.equal(r1.version, "v1");
  assert.ok(!Object.keys(r1.headers).some((k) => k.startsWith("x-s2-")), JSON.stringify(r1.headers));
  // the Electric row the SDK sees lists the stream (realtimeStreams)
  const res = await fetch(`${srv.url}/realtime/v1/runs/${h.id}?offset=-1`, {
    headers: { authorization: `Bearer ${srv.keys.dev}` },
  });
  const rows = await res.json();
  const row = rows.find((m) => m.value)?.value;
  assert.equal(row.realtimeStreams, '{"ai","ai1"}');
  await runs.cancel(h.id);
});

test("v2 writer (S2 append session) -> streams.read: every chunk, in order, live while being written", async () => {
  const h = await liveRun();
  await apiClient().createStream(h.id, "self", "tokens");
  const reading = take(await streams.read(h.id, "tokens", { timeoutInSeconds: 5 }), 6);
  await sleep(200);
  const w1 = await writeV2(h.id, "tokens", ["a", "b", { c: 3 }]);
  const w2 = await writeV2(h.id, "tokens", [4, [5], "six"]);
  assert.deepEqual(await reading, ["a", "b", { c: 3 }, 4, [5], "six"]);
  // 4.5.0 reports the ack's end, 4.8.x the last record (s2.md 5.7)
  const last = Number(w2.lastEventId);
  assert.ok(last === 5 || last === 6, JSON.stringify([w1, w2]));
  await runs.cancel(h.id);
});

test("v1 writer -> streams.read: every chunk, in order, live while being written", async () => {
  await withV1(async () => {
    const h = await liveRun();
    await apiClient().createStream(h.id, "self", "tokens");
    const reading = take(await streams.read(h.id, "tokens", { timeoutInSeconds: 5 }), 6);
    await sleep(200);
    await writeV1(h.id, "tokens", ["a", "b", { c: 3 }]);
    await writeV1(h.id, "tokens", [4, [5], "six"]);
    assert.deepEqual(await reading, ["a", "b", { c: 3 }, 4, [5], "six"]);
    await runs.cancel(h.id);
  });
});

test("v2: replayed whole after the run finished (writer and appendToStream), S2 ids resume", async () => {
  const h = await liveRun();
  await writeV2(h.id, "v2out", ["x", "y"]);
  await apiClient().appendToStream(h.id, "self", "v2out", "tail part");
  await writeV2(h.id, "v2out", [{ z: 1 }]);
  const parts = [];
  const first = await take(
    await apiClient().fetchStream(h.id, "v2out", { timeoutInSeconds: 2, onPart: (p) => parts.push(p) }),
    4,
  );
  assert.deepEqual(first, ["x", "y", "tail part", { z: 1 }]);
  assert.deepEqual(parts.map((p) => p.id), ["0", "1", "2", "3"]);
  const rest = await take(await apiClient().fetchStream(h.id, "v2out", { timeoutInSeconds: 2, lastEventId: "1" }), 2);
  assert.deepEqual(rest, ["tail part", { z: 1 }]);
  await runs.cancel(h.id);
  const t0 = Date.now();
  const all = [];
  for await (const v of await streams.read(h.id, "v2out")) all.push(v);
  assert.deepEqual(all, ["x", "y", "tail part", { z: 1 }]);
  assert.ok(Date.now() - t0 < 5000, "a finished run's stream ends after the replay");
});

test("replayed whole after the run finished, and the read ends by itself", async () => {
  const h = await liveRun();
  await apiClient().createStream(h.id, "self", "out");
  await writeV1(h.id, "out", ["x", "y", "z"]);
  await apiClient().appendToStream(h.id, "self", "out", "tail part");
  await runs.cancel(h.id);
  const t0 = Date.now();
  const all = [];
  for await (const v of await streams.read(h.id, "out")) all.push(v);
  assert.deepEqual(all, ["x", "y", "z", "tail part"]);
  assert.ok(Date.now() - t0 < 5000, "a finished run's stream ends after the replay");
  // writes to a finished run are refused
  await assert.rejects(apiClient().createStream(h.id, "self", "out"), (e) => e.status === 400);
});

test("startIndex / Last-Event-ID resume: nothing lost, nothing duplicated", async () => {
  const h = await liveRun();
  await apiClient().createStream(h.id, "self", "r");
  await writeV1(h.id, "r", [0, 1, 2, 3, 4]);
  const parts = [];
  const all = await take(
    await apiClient().fetchStream(h.id, "r", { timeoutInSeconds: 2, onPart: (p) => parts.push(p) }),
    5,
  );
  assert.deepEqual(all, [0, 1, 2, 3, 4]);
  // ids are "<ms>-<seq>": the SDK reads the timestamp from them
  assert.match(parts[2].id, /^\d+-2$/);
  assert.ok(Math.abs(parts[2].timestamp - Date.now()) < 60000);
  const rest = await take(await apiClient().fetchStream(h.id, "r", { timeoutInSeconds: 2, lastEventId: parts[2].id }), 2);
  assert.deepEqual(rest, [3, 4]);
  const from = await take(await streams.read(h.id, "r", { startIndex: 4, timeoutInSeconds: 2 }), 1);
  assert.deepEqual(from, [4]);
  await runs.cancel(h.id);
});

test("the v1 writer's resume probe: HEAD X-Last-Chunk-Index per client id", async () => {
  const h = await liveRun();
  const url = `${srv.url}/realtime/v1/streams/${h.id}/self/probe`;
  const auth = { authorization: `Bearer ${srv.keys.dev}` };
  let r = await fetch(url, { method: "HEAD", headers: { ...auth, "x-client-id": "c1" } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("x-last-chunk-index"), "-1");
  r = await fetch(url, {
    method: "POST",
    headers: { ...auth, "x-client-id": "c1", "x-resume-from-chunk": "0", "content-type": "application/json" },
    body: '"a"\n"b"\n"c"\n',
  });
  assert.equal(r.status, 200);
  r = await fetch(url, { method: "HEAD", headers: { ...auth, "x-client-id": "c1" } });
  assert.equal(r.headers.get("x-last-chunk-index"), "2");
  // a resumed POST numbers its chunks from X-Resume-From-Chunk
  await fetch(url, {
    method: "POST",
    headers: { ...auth, "x-client-id": "c1", "x-resume-from-chunk": "3" },
    body: '"d"\n',
  });
  r = await fetch(url, { method: "HEAD", headers: { ...auth, "x-client-id": "c1" } });
  assert.equal(r.headers.get("x-last-chunk-index"), "3");
  r = await fetch(url, { method: "HEAD", headers: { ...auth, "x-client-id": "other" } });
  assert.equal(r.headers.get("x-last-chunk-index"), "-1");
  await runs.cancel(h.id);
});

test("subscribeToRun().withStreams() follows the run's streams", async () => {
  const h = await liveRun();
  await writeV2(h.id, "ws", ["p", "q"]);
  const got = [];
  const sub = runs.subscribeToRun(h.id).withStreams();
  const timer = setTimeout(() => sub.cancel?.(), 15000);
  for await (const part of sub) {
    if (part.type === "ws") got.push(part.chunk);
    if (got.length >= 2) break;
  }
  clearTimeout(timer);
  assert.deepEqual(got, ["p", "q"]);
  await runs.cancel(h.id);
});

test("input streams: send, read back in order, refused for a finished run", async () => {
  const h = await liveRun();
  const approval = streams.input({ id: "approval" });
  await approval.send(h.id, { ok: true, n: 1 });
  await approval.send(h.id, "second");
  const parts = [];
  const recs = await take(
    await apiClient().fetchStream(h.id, "input/approval", { timeoutInSeconds: 2, onPart: (p) => parts.push(p) }),
    2,
  );
  // the S2-format records carry the sent data as JSON text, numbered from 0
  assert.deepEqual(recs.map((r) => JSON.parse(r)), [{ ok: true, n: 1 }, "second"]);
  assert.deepEqual(parts.map((p) => p.id), ["0", "1"]);
  // the trigger's public token may send (write:inputStreams:<runId>)
  configure({ baseURL: srv.url, accessToken: h.publicAccessToken, requestOptions: { retry: FAST_RETRY } });
  try {
    await approval.send(h.id, 3);
  } finally {
    configure({ baseURL: srv.url, accessToken: srv.keys.dev, requestOptions: { retry: FAST_RETRY } });
  }
  await runs.cancel(h.id);
  await assert.rejects(approval.send(h.id, 4), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /Cannot send to input stream on a completed run/);
    return true;
  });
});
