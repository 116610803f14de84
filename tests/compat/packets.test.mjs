// Payload offload: a serialized payload of >= 128 KiB is uploaded by the SDK
// (PUT /api/v2/packets/{filename} -> presignedUrl, then PUT the bytes there)
// and the trigger carries payloadType "application/store" + the storage
// path. runs.retrieve then answers payloadPresignedUrl, which the SDK fetches
// to fill `payload`. spec/api.md 6.3 [10] [11], 6.4 [12].
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { tasks, runs } from "./sdk.mjs";
import { startServer, uid, recordFetch, apiClient } from "./helpers.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

const KiB = 1024;

test("a payload over 128 KiB is offloaded via /api/v2/packets and round-trips through retrieve", async () => {
  const task = uid("compat-big-");
  const payload = { blob: "x".repeat(200 * KiB), unicode: "héllo ✓", n: 7 };
  const [handle, calls] = await recordFetch(() => tasks.trigger(task, payload));

  const presign = calls.find((c) => c.method === "PUT" && c.url.startsWith(`${srv.url}/api/v2/packets/`));
  assert.ok(presign, `SDK asked for an upload URL; calls: ${calls.map((c) => `${c.method} ${c.url}`).join(", ")}`);
  // SDK 4.5.0 names it trigger/<task>/<ts>-<rand>/payload.json; newer SDKs differ
  assert.match(decodeURIComponent(presign.url), /\/api\/v2\/packets\/.+\.json$/);
  const trigger = calls.find((c) => c.method === "POST" && c.url.endsWith(`/api/v1/tasks/${task}/trigger`));
  const body = JSON.parse(trigger.body);
  assert.equal(body.options.payloadType, "application/store");
  assert.equal(typeof body.payload, "string"); // the storagePath the server returned
  assert.ok(body.payload.length > 0);
  // the upload itself went to the presigned URL, and succeeded (else trigger would have thrown)
  const upload = calls.find((c) => c.method === "PUT" && !c.url.includes("/api/v2/packets/"));
  assert.ok(upload, "SDK uploaded the bytes to the presigned URL");

  const run = await runs.retrieve(handle.id);
  assert.equal(run.status, "QUEUED");
  assert.equal(typeof run.payloadPresignedUrl, "string");
  assert.deepEqual(run.payload, payload); // the SDK resolved payloadPresignedUrl

  // The presigned GET URL works without credentials and serves the packet as uploaded.
  const res = await fetch(run.payloadPresignedUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/super\+json/);
  const text = await res.text();
  assert.ok(Buffer.byteLength(text) >= 128 * KiB);
  assert.deepEqual(JSON.parse(text).json, payload);
});

test("GET /api/v1/packets/{filename} presigns a download of an uploaded packet", async () => {
  const task = uid("compat-big-get-");
  const payload = { blob: "y".repeat(130 * KiB) };
  const [, calls] = await recordFetch(() => tasks.trigger(task, payload));
  const body = JSON.parse(calls.find((c) => c.url.endsWith("/trigger")).body);
  const { presignedUrl } = await apiClient().getPayloadUrl(body.payload);
  assert.equal(typeof presignedUrl, "string");
  const res = await fetch(presignedUrl);
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(await res.text()).json, payload);
});

test("a payload just under 128 KiB is sent inline", async () => {
  const task = uid("compat-inline-");
  const payload = { blob: "z".repeat(120 * KiB) };
  const [handle, calls] = await recordFetch(() => tasks.trigger(task, payload));
  assert.equal(calls.filter((c) => c.url.includes("/api/v2/packets/")).length, 0);
  const run = await runs.retrieve(handle.id);
  assert.equal(run.payloadPresignedUrl, undefined);
  assert.deepEqual(run.payload, payload);
});

test("a large text payload (text/plain) is offloaded and round-trips", async () => {
  const text = "line\n".repeat(30 * KiB); // 150 KiB
  const h = await tasks.trigger(uid("compat-big-text-"), text);
  const run = await runs.retrieve(h.id);
  assert.equal(typeof run.payloadPresignedUrl, "string");
  assert.equal(run.payload, text);
});

test("replaying an offloaded run keeps the payload", async () => {
  const payload = { blob: "r".repeat(140 * KiB), id: 3 };
  const h = await tasks.trigger(uid("compat-big-replay-"), payload);
  const { id } = await runs.replay(h.id);
  assert.notEqual(id, h.id);
  const run = await runs.retrieve(id);
  assert.deepEqual(run.payload, payload);
});

test("a presigned URL with a tampered signature is refused", async () => {
  const h = await tasks.trigger(uid("compat-big-sig-"), { blob: "s".repeat(129 * KiB) });
  const run = await runs.retrieve(h.id);
  const url = new URL(run.payloadPresignedUrl);
  // flip one character of every query value (whatever the signing scheme calls it)
  let changed = false;
  for (const [k, v] of url.searchParams) {
    if (/sig|signature/i.test(k) && v.length) {
      url.searchParams.set(k, (v[0] === "a" ? "b" : "a") + v.slice(1));
      changed = true;
    }
  }
  if (!changed) url.pathname += "x";
  const res = await fetch(url);
  assert.ok(res.status >= 400 && res.status < 500, `expected 4xx, got ${res.status}`);
});
