// tests/integration/sesschan.test.mjs - an adversary for a session's .in /
// .out channels (spec/api.md 6.16 [74]-[78], spec/sessions.md 1-4, 8;
// spec/s2.md 8): who may touch which channel (secret key, session PATs by
// either alias, another chat's PAT, the S2 token a PAT holder is handed),
// 404 vs the row-optional routes, the append path (contiguous seq, X-Part-Id
// dedup, the 1 MiB record limit, odd bodies, closed and expired sessions,
// client-forged webhook trust), the records drain, the SSE reader
// (Last-Event-ID resume and clamp, Timeout-Seconds, [DONE], settled peek),
// CORS for the browser transport, and the in-task session-stream wait
// (race check, per-session, timeouts, a restart in between).
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHmac } from "node:crypto";
import { startTriggerd, api, expectStatus, assertHealthy, stopServer, uid, sleep, rawRequest, waitFor } from "./helpers.mjs";

const MiB = 1024 * 1024;
const streamstore = await import(new URL("../compat/node_modules/@s2-dev/streamstore/dist/esm/index.js", import.meta.url).href);

/** Writes an S2 trim command record the way the agent does (protobuf, spec/s2.md 4). */
async function s2trim(h, seq) {
  const s2 = new streamstore.S2({ accessToken: h["x-s2-access-token"], endpoints: { account: h["x-s2-endpoint"], basin: h["x-s2-endpoint"] } });
  const stream = s2.basin(h["x-s2-basin"]).stream(h["x-s2-stream-name"]);
  return stream.append(streamstore.AppendInput.create([streamstore.AppendRecord.trim(seq)]));
}
const b64u = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const ISS = { iss: "https://id.trigger.dev", aud: "https://api.trigger.dev" };
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

/** A public JWT with scopes, signed with the env's secret key as the SDK's auth.createPublicToken does. */
function mint(srv, sub, scopes, ttl = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64u({ alg: "HS256" });
  const body = b64u({ sub, pub: true, scopes, iat: now, exp: now + ttl, ...ISS });
  const sig = createHmac("sha256", srv.keys.dev).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

async function start(srv, ext, extra = {}) {
  const res = await api(srv, "POST", "/api/v1/sessions", {
    body: {
      type: "chat.agent",
      externalId: ext,
      taskIdentifier: "chat-task",
      triggerConfig: { basePayload: { chatId: ext }, maxAttempts: 1 },
      ...extra,
    },
  });
  expectStatus(res, 201, `create ${ext}:`);
  return res.json;
}

const chan = (s, io, rest = "") => `/realtime/v1/sessions/${encodeURIComponent(s)}/${io}${rest}`;

function append(srv, s, io, body, { key, partId, headers = {} } = {}) {
  return api(srv, "POST", chan(s, io, "/append"), {
    key,
    body,
    headers: { "content-type": "application/json", ...(partId ? { "x-part-id": partId } : {}), ...headers },
  });
}

async function records(srv, s, io, { after, key } = {}) {
  const r = await api(srv, "GET", chan(s, io, "/records") + (after === undefined ? "" : `?afterEventId=${after}`), { key });
  expectStatus(r, 200, `records ${s}/${io}:`);
  return r.json.records;
}

/**
 * Opens an SSE subscription. Resolves once the response head arrives with
 * {status, headers, text(), events(), done} where done resolves when the body
 * ends (or after `ms`, then {ended:false}).
 */
function openSse(srv, path, headers = {}, ms = 10000) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: "127.0.0.1",
        port: srv.port,
        path,
        agent: false,
        headers: { authorization: `Bearer ${srv.keys.dev}`, accept: "text/event-stream", ...headers },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        const done = new Promise((r) => {
          const t = setTimeout(() => {
            req.destroy();
            r({ ended: false });
          }, ms);
          res.on("end", () => {
            clearTimeout(t);
            r({ ended: true });
          });
          res.on("error", () => r({ ended: false }));
        });
        resolve({ status: res.statusCode, headers: res.headers, text: () => text, done, close: () => req.destroy() });
      },
    );
    req.on("error", reject);
  });
}

/** All records of the S2 batches of an SSE body. */
function batchRecords(text) {
  const out = [];
  for (const ev of text.split("\n\n")) {
    const lines = ev.split("\n");
    if (!lines.includes("event: batch")) continue;
    out.push(...JSON.parse(lines.find((l) => l.startsWith("data: ")).slice(6)).records);
  }
  return out;
}

/** SSE read to its end: status, headers, body, records, and the elapsed ms. */
async function sseAll(srv, path, headers = {}, ms = 10000) {
  const t0 = Date.now();
  const s = await openSse(srv, path, headers, ms);
  const { ended } = await s.done;
  const text = s.text();
  return { status: s.status, headers: s.headers, text, ended, elapsed: Date.now() - t0, recs: s.status === 200 ? batchRecords(text) : [] };
}

/** PUT a channel: the S2 coordinates (lower-case header names, as the SDK reads them). */
async function coords(srv, s, io, key) {
  const r = await api(srv, "PUT", chan(s, io), { key });
  expectStatus(r, 202, `PUT ${s}/${io}:`);
  return Object.fromEntries(r.headers);
}

/** A unary JSON append on triggerd's S2 API (spec/s2.md 3). */
function s2append(srv, token, stream, recs) {
  return fetch(`${srv.url}/v1/streams/${encodeURIComponent(stream)}/records`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "s2-basin": "trigger-local", "content-type": "application/json" },
    body: JSON.stringify({ records: recs }),
  });
}

async function waitpoint(srv, id) {
  const w = await api(srv, "GET", `/api/v1/waitpoints/tokens/${id}`);
  expectStatus(w, 200, `waitpoint ${id}:`);
  return w.json;
}

async function sessionWait(srv, run, body, expect = 200) {
  const r = await api(srv, "POST", `/api/v1/runs/${run}/session-streams/wait`, { body });
  expectStatus(r, expect, `session-streams/wait ${JSON.stringify(body)}:`);
  return r.json;
}

describe("session channels (adversary)", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await stopServer(srv);
  });
  afterEach(async () => {
    await assertHealthy(srv);
  });

  // ---- auth ---------------------------------------------------------------

  test("auth: the session PAT works by externalId and by session_ id, on every reader and .in writer", async () => {
    const ext = uid("chat-");
    const s = await start(srv, ext);
    const pat = s.publicAccessToken;
    for (const form of [ext, s.id]) {
      const a = await append(srv, form, "in", `{"n":"${form}"}`, { key: pat });
      expectStatus(a, 200, `append via ${form}:`);
      expectStatus(await api(srv, "PUT", chan(form, "in"), { key: pat }), 202, `PUT in via ${form}`);
      expectStatus(await api(srv, "HEAD", chan(form, "in"), { key: pat }), 200, `HEAD via ${form}`);
      const recs = await records(srv, form, "in", { key: pat });
      assert.equal(recs.length >= 1, true);
      const sse = await sseAll(srv, chan(form, "in"), { authorization: `Bearer ${pat}`, "timeout-seconds": "1" });
      assert.equal(sse.status, 200);
    }
    // both forms are one stream
    const recs = await records(srv, ext, "in");
    assert.deepEqual(recs.map((r) => r.seqNum), [0, 1]);
    assert.deepEqual(recs.map((r) => JSON.parse(r.data).n), [ext, s.id]);
    // a token scoped to the friendly id authorizes the externalId URL and back
    const env = claims(pat).sub;
    const byFriendly = mint(srv, env, [`read:sessions:${s.id}`, `write:sessions:${s.id}`]);
    expectStatus(await append(srv, ext, "in", "{}", { key: byFriendly }), 200, "friendly-id token, externalId URL");
    assert.equal((await records(srv, ext, "in", { key: byFriendly })).length, 3);
    // type-level scopes
    const typeLevel = mint(srv, env, ["read:sessions", "write:sessions"]);
    expectStatus(await append(srv, s.id, "in", "{}", { key: typeLevel }), 200, "write:sessions");
    assert.equal((await records(srv, s.id, "in", { key: typeLevel })).length, 4);
  });

  test("auth: read-only and write-only scopes; another chat's PAT is 403 everywhere", async () => {
    const a = await start(srv, uid("chat-a-"));
    const b = await start(srv, uid("chat-b-"));
    const env = claims(a.publicAccessToken).sub;
    const readOnly = mint(srv, env, [`read:sessions:${a.externalId}`]);
    const writeOnly = mint(srv, env, [`write:sessions:${a.externalId}`]);
    expectStatus(await append(srv, a.externalId, "in", "{}", { key: readOnly }), 403, "read-only append");
    expectStatus(await api(srv, "PUT", chan(a.externalId, "in"), { key: readOnly }), 403, "read-only PUT");
    expectStatus(await append(srv, a.externalId, "in", "{}", { key: writeOnly }), 200, "write-only append");
    expectStatus(await api(srv, "GET", chan(a.externalId, "in", "/records"), { key: writeOnly }), 403, "write-only records");
    const other = b.publicAccessToken;
    for (const form of [a.externalId, a.id]) {
      let r = await append(srv, form, "in", "{}", { key: other });
      expectStatus(r, 403, `other chat append ${form}`);
      assert.equal(r.json.code, "unauthorized");
      expectStatus(await api(srv, "PUT", chan(form, "in"), { key: other }), 403, `other chat PUT ${form}`);
      expectStatus(await api(srv, "GET", chan(form, "in", "/records"), { key: other }), 403, `other chat records ${form}`);
      expectStatus(await api(srv, "HEAD", chan(form, "out"), { key: other }), 403, `other chat HEAD ${form}`);
      const sse = await sseAll(srv, chan(form, "out"), { authorization: `Bearer ${other}`, "timeout-seconds": "1" });
      assert.equal(sse.status, 403, `other chat SSE ${form}`);
      r = await api(srv, "GET", `/realtime/v1/sessions/${form}/channels/side/out/records`, { key: other });
      expectStatus(r, 403, `other chat side channel ${form}`);
    }
    // nothing of b's landed on a
    assert.equal((await records(srv, a.externalId, "in")).length, 1);
    // a run-scoped (trigger) token no longer opens a session
    const runTok = mint(srv, env, [`read:runs:${a.runId}`, `write:inputStreams:${a.runId}`]);
    expectStatus(await append(srv, a.externalId, "in", "{}", { key: runTok }), 403, "run token append");
  });

  test("auth: .out is secret-key only for PUT and append; PAT may read it", async () => {
    const s = await start(srv, uid("chat-"));
    const pat = s.publicAccessToken;
    let r = await api(srv, "PUT", chan(s.externalId, "out"), { key: pat });
    expectStatus(r, 403);
    assert.equal(r.text, "Initializing the out channel requires secret key authentication");
    r = await append(srv, s.externalId, "out", '{"type":"text-delta"}', { key: pat });
    expectStatus(r, 403);
    assert.deepEqual(r.json, { ok: false, error: "Appending to the out channel requires secret key authentication" });
    r = await append(srv, s.externalId, "out", '{"type":"text-delta"}');
    expectStatus(r, 200);
    assert.equal(r.json.seq, 0);
    const recs = await records(srv, s.externalId, "out", { key: pat });
    assert.equal(recs.length, 1, "only the secret key's record");
  });

  test("auth: missing, garbage, wrong-key and expired tokens are 401 {error}", async () => {
    const s = await start(srv, uid("chat-"));
    const env = claims(s.publicAccessToken).sub;
    const now = Math.floor(Date.now() / 1000);
    const head = b64u({ alg: "HS256" });
    const expiredBody = b64u({ sub: env, pub: true, scopes: [`read:sessions:${s.externalId}`], iat: now - 7200, exp: now - 3600, ...ISS });
    const expired = `${head}.${expiredBody}.${createHmac("sha256", srv.keys.dev).update(`${head}.${expiredBody}`).digest("base64url")}`;
    const wrongKey = (() => {
      const body = b64u({ sub: env, pub: true, scopes: [`read:sessions:${s.externalId}`], iat: now, exp: now + 60, ...ISS });
      return `${head}.${body}.${createHmac("sha256", "not-the-key").update(`${head}.${body}`).digest("base64url")}`;
    })();
    for (const key of [null, "garbage", "tr_dev_nope", wrongKey, expired]) {
      for (const [m, p] of [
        ["POST", chan(s.externalId, "in", "/append")],
        ["GET", chan(s.externalId, "in", "/records")],
        ["PUT", chan(s.externalId, "in")],
        ["GET", chan(s.externalId, "out")],
      ]) {
        const r = await api(srv, m, p, { key, body: m === "POST" ? "{}" : undefined });
        expectStatus(r, 401, `${m} ${p} with ${String(key).slice(0, 12)}:`);
        assert.equal(typeof r.json?.error, "string", r.text);
      }
    }
  });

  // ---- 404 and row-optional routes ---------------------------------------

  test("unknown session_ id: 404 on every route; an unknown externalId works where the row is optional", async () => {
    const ghost = "session_" + "z".repeat(25);
    const run = (await start(srv, uid("chat-"))).runId;
    const checks = [
      ["PUT", chan(ghost, "in")],
      ["GET", chan(ghost, "in")],
      ["HEAD", chan(ghost, "out")],
      ["GET", chan(ghost, "in", "/records")],
      ["POST", chan(ghost, "in", "/append")],
      ["GET", `/realtime/v1/sessions/${ghost}/channels/side/in/records`],
      ["POST", `/realtime/v1/sessions/${ghost}/channels/side/in/append`],
      ["PUT", `/realtime/v1/sessions/${ghost}/channels/side/in`],
      ["POST", `/api/v1/sessions/${ghost}/end-and-continue`, { callingRunId: run, reason: "upgrade" }],
      ["PUT", `/api/v1/sessions/${ghost}/snapshot-url`],
      ["GET", `/api/v1/sessions/${ghost}/snapshot-url`],
      ["GET", `/api/v1/sessions/${ghost}`],
      ["POST", `/api/v1/sessions/${ghost}/close`, {}],
    ];
    for (const [m, p, body] of checks) {
      const r = await api(srv, m, p, { body: body ?? (m === "POST" ? "{}" : undefined) });
      expectStatus(r, 404, `${m} ${p}:`);
    }
    let r = await api(srv, "POST", `/api/v1/runs/${run}/session-streams/wait`, { body: { session: ghost, io: "in" } });
    expectStatus(r, 404);
    assert.deepEqual(r.json, { error: "Session not found" });
    r = await append(srv, ghost, "in", "{}");
    assert.deepEqual(r.json, { error: "Resource not found" });

    // externalId form without a row: PUT, SSE, HEAD, records, wait work; append is 404
    const ext = uid("norow-");
    expectStatus(await api(srv, "PUT", chan(ext, "in")), 202, "PUT no-row");
    expectStatus(await api(srv, "HEAD", chan(ext, "out")), 200, "HEAD no-row");
    assert.deepEqual(await records(srv, ext, "out"), []);
    const sse = await sseAll(srv, chan(ext, "out"), { "timeout-seconds": "1" });
    assert.equal(sse.status, 200);
    assert.deepEqual(sse.recs, []);
    const w = await sessionWait(srv, run, { session: ext, io: "in" });
    assert.match(w.waitpointId, /^waitpoint_/);
    r = await append(srv, ext, "in", "{}");
    expectStatus(r, 404);
    assert.deepEqual(r.json, { error: "Resource not found" });
    // no session row was created by any of that
    expectStatus(await api(srv, "GET", `/api/v1/sessions/${ext}`), 404);
    // the row created later lands on the same key: the early wait and PUT converge with it
    const s = await start(srv, ext);
    expectStatus(await append(srv, s.id, "in", '"late row"', { key: s.publicAccessToken }), 200);
    assert.equal((await waitpoint(srv, w.waitpointId)).output, '"late row"');
    assert.equal((await records(srv, ext, "in")).length, 1);
  });

  test("externalIds with URL-special characters address one stream by either form", async () => {
    for (const raw of ["a/b", "sp ace", "ünï", "q?x=1", "h#h", "p%2Fq"]) {
      const ext = raw + uid("-");
      const s = await start(srv, ext);
      const a = await append(srv, ext, "in", '"x"', { key: s.publicAccessToken });
      expectStatus(a, 200, `append ${JSON.stringify(ext)}:`);
      assert.equal(a.json.seq, 0);
      assert.equal((await records(srv, ext, "in", { key: s.publicAccessToken })).length, 1);
      assert.equal((await records(srv, s.id, "in")).length, 1);
      const w = await sessionWait(srv, s.runId, { session: ext, io: "in" });
      assert.equal((await waitpoint(srv, w.waitpointId)).output, '"x"');
    }
    // a key cannot reach into another session's names: "a" + "/in" is not "a/in"'s stream
    const base = uid("k");
    const one = await start(srv, base);
    const two = await start(srv, `${base}/in`);
    await append(srv, two.externalId, "out", '"two"');
    assert.deepEqual(await records(srv, one.externalId, "in"), []);
    assert.deepEqual(await records(srv, one.externalId, "out"), []);
  });

  test("a PAT for another chat gets 403, not 404, on append to an unknown session (no existence leak)", async () => {
    const a = await start(srv, uid("chat-"));
    for (const target of ["session_" + "q".repeat(25), uid("ghost-")]) {
      const r = await append(srv, target, "in", "{}", { key: a.publicAccessToken });
      expectStatus(r, 403, `append to ${target} with another chat's PAT:`);
    }
    // with a token for that very (missing) key it is the 404
    const ghost = uid("ghost-");
    const tok = mint(srv, claims(a.publicAccessToken).sub, [`write:sessions:${ghost}`]);
    expectStatus(await append(srv, ghost, "in", "{}", { key: tok }), 404);
  });

  test("bad io: 400 on every channel route; the wait's io and session are validated (400)", async () => {
    const s = await start(srv, uid("chat-"));
    for (const [m, p] of [
      ["PUT", chan(s.externalId, "err")],
      ["GET", chan(s.externalId, "IN")],
      ["HEAD", chan(s.externalId, "x")],
      ["GET", chan(s.externalId, "both", "/records")],
      ["POST", chan(s.externalId, "inn", "/append")],
      ["POST", `/realtime/v1/sessions/${s.externalId}/channels/side/sideways/append`],
      ["GET", `/realtime/v1/sessions/${s.externalId}/channels/bad%20name/in/records`],
    ]) {
      const r = await api(srv, m, p, { body: m === "POST" ? "{}" : undefined });
      expectStatus(r, 400, `${m} ${p}:`);
    }
    for (const body of [{ session: s.externalId, io: "foo" }, { io: "in" }, { session: 5, io: "in" }, { session: s.externalId, io: "in", timeout: 5 }]) {
      const r = await api(srv, "POST", `/api/v1/runs/${s.runId}/session-streams/wait`, { body });
      expectStatus(r, 400, `wait ${JSON.stringify(body)}:`);
    }
    // the run is resolved before the session (the real route's order)
    const r = await api(srv, "POST", "/api/v1/runs/run_nope/session-streams/wait", { body: { session: "session_" + "n".repeat(25), io: "in" } });
    expectStatus(r, 404);
    assert.deepEqual(r.json, { error: "Run not found" });
  });

  // ---- append ---------------------------------------------------------------

  test("append: seq contiguous across appends and channels; a duplicate X-Part-Id stores nothing and has no seq", async () => {
    const s = await start(srv, uid("chat-"));
    const seqs = [];
    for (let i = 0; i < 5; i++) {
      const r = await append(srv, s.externalId, "in", JSON.stringify({ i }), { partId: `p${i}`, key: s.publicAccessToken });
      expectStatus(r, 200);
      seqs.push(r.json.seq);
      // a retry of the same part: ok, no seq, no record
      const d = await append(srv, s.externalId, "in", JSON.stringify({ i, retry: true }), { partId: `p${i}`, key: s.publicAccessToken });
      expectStatus(d, 200);
      assert.deepEqual(d.json, { ok: true });
    }
    assert.deepEqual(seqs, [0, 1, 2, 3, 4]);
    // the same part id through the other alias is the same claim
    const alias = await append(srv, s.id, "in", "{}", { partId: "p0" });
    assert.deepEqual(alias.json, { ok: true });
    // part ids are per (session, io): .out and another chat store theirs
    const out = await append(srv, s.externalId, "out", "{}", { partId: "p0" });
    assert.equal(out.json.seq, 0);
    const other = await start(srv, uid("chat-"));
    const o = await append(srv, other.externalId, "in", "{}", { partId: "p0" });
    assert.equal(o.json.seq, 0);
    const recs = await records(srv, s.externalId, "in");
    assert.deepEqual(recs.map((r) => r.seqNum), [0, 1, 2, 3, 4]);
    assert.deepEqual(recs.map((r) => r.id), ["p0", "p1", "p2", "p3", "p4"]);
    assert.deepEqual(recs.map((r) => JSON.parse(r.data)), [0, 1, 2, 3, 4].map((i) => ({ i })));
    // without X-Part-Id every append is a record, with a generated id
    const a1 = await append(srv, s.externalId, "in", "{}");
    const a2 = await append(srv, s.externalId, "in", "{}");
    assert.deepEqual([a1.json.seq, a2.json.seq], [5, 6]);
    const tail = await records(srv, s.externalId, "in", { after: 4 });
    assert.equal(tail.length, 2);
    assert.match(tail[0].id, /^.{7}$/);
    assert.notEqual(tail[0].id, tail[1].id);
  });

  test("append: concurrent retries of one part id store exactly one record", async () => {
    const s = await start(srv, uid("chat-"));
    const rs = await Promise.all(Array.from({ length: 8 }, () => append(srv, s.externalId, "in", '{"x":1}', { partId: "same" })));
    for (const r of rs) expectStatus(r, 200);
    assert.equal(rs.filter((r) => "seq" in r.json).length, 1);
    assert.equal((await records(srv, s.externalId, "in")).length, 1);
  });

  test("append: 1 MiB limits (body, metered record), the part id is released on a refused append", async () => {
    const s = await start(srv, uid("chat-"));
    let r = await append(srv, s.externalId, "in", "x".repeat(MiB + 1));
    expectStatus(r, 413, "body over 1 MiB");
    // under 1 MiB of body, but JSON-escaped into the record it is over
    r = await append(srv, s.externalId, "in", '"'.repeat(600 * 1024), { partId: "big" });
    expectStatus(r, 413, "metered record over 1 MiB");
    assert.equal(r.json.ok, false);
    assert.match(r.json.error, /exceeds/);
    // the refused attempt did not keep the claim: the retry with the same id lands
    r = await append(srv, s.externalId, "in", '"small"', { partId: "big" });
    expectStatus(r, 200);
    assert.equal(r.json.seq, 0);
    // just under the limit is fine
    r = await append(srv, s.externalId, "in", "y".repeat(MiB - 64));
    expectStatus(r, 200);
    assert.equal(r.json.seq, 1);
    assert.equal((await records(srv, s.externalId, "in")).length, 2);
  });

  test("append: a body without Content-Length (chunked) is 413 as on the real route", { todo: "h2o 2.2 keeps Content-Length out of the request headers and entity, so triggerd cannot tell a chunked body from a sized one; the 1 MiB route limit still bounds it" }, async () => {
    const s = await start(srv, uid("chat-"));
    const r = await rawRequest(srv, "POST", chan(s.externalId, "in", "/append"), {
      headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json", "transfer-encoding": "chunked" },
      chunks: ['{"a":', "1}"],
    });
    assert.equal(r.status, 413, r.text);
  });

  test("append: empty body, non-JSON text and non-UTF-8 bytes are stored as text (the real route reads request.text())", async () => {
    const s = await start(srv, uid("chat-"));
    let r = await append(srv, s.externalId, "in", "");
    expectStatus(r, 200, "empty body");
    assert.equal(r.json.seq, 0);
    r = await append(srv, s.externalId, "in", "not json {", { headers: { "content-type": "text/plain" } });
    expectStatus(r, 200, "text body");
    r = await append(srv, s.externalId, "in", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { partId: "bin" });
    expectStatus(r, 200, "non-UTF-8 body");
    assert.equal(r.json.seq, 2);
    const recs = await records(srv, s.externalId, "in");
    assert.deepEqual(recs.map((x) => x.data), ["", "not json {", "{\ufffd\ufffd}"]);
    assert.equal(recs[2].id, "bin");
  });

  test("append to .in strips a client-forged actionSource: \"webhook\" (latest SDK trusts it); .out keeps it", async () => {
    const s = await start(srv, uid("chat-"));
    const forged = { kind: "message", payload: { chatId: s.externalId, trigger: "action", action: { x: 1 }, actionSource: "webhook" } };
    let r = await append(srv, s.externalId, "in", JSON.stringify(forged), { key: s.publicAccessToken });
    expectStatus(r, 200);
    const [rec] = await records(srv, s.externalId, "in");
    const stored = JSON.parse(rec.data);
    assert.equal(stored.payload.actionSource, undefined, `stored: ${rec.data}`);
    assert.deepEqual(stored.payload.action, { x: 1 });
    // an escaped key or value is the same JSON: stripped too (the reference
    // server's '"actionSource"' substring shortcut would miss the escaped key)
    for (const text of ['{"kind":"message","payload":{"action\\u0053ource":"webhook"}}', '{"kind":"message","payload":{"actionSource":"web\\u0068ook"}}']) {
      r = await append(srv, s.externalId, "in", text);
      expectStatus(r, 200);
      const got = JSON.parse((await records(srv, s.externalId, "in", { after: r.json.seq - 1 }))[0].data);
      assert.equal(got.payload.actionSource, undefined, `stored ${JSON.stringify(got)} from ${text}`);
    }
    // other actionSource values and other shapes are untouched
    const chan2 = { kind: "message", payload: { actionSource: "channel" } };
    r = await append(srv, s.externalId, "in", JSON.stringify(chan2));
    assert.deepEqual(JSON.parse((await records(srv, s.externalId, "in", { after: r.json.seq - 1 }))[0].data), chan2);
    r = await append(srv, s.externalId, "out", JSON.stringify(forged));
    assert.deepEqual(JSON.parse((await records(srv, s.externalId, "out"))[0].data), forged);
  });

  test("append to .in refuses JSON nested deeper than triggerd can check for a forged webhook source (422)", async () => {
    const s = await start(srv, uid("chat-"));
    const deep = "[".repeat(3000) + "]".repeat(3000);
    const text = `{"kind":"message","payload":{"trigger":"action","actionSource":"webhook","deep":${deep}}}`;
    let r = await append(srv, s.externalId, "in", text, { partId: "deep" });
    expectStatus(r, 422);
    assert.equal(r.json.ok, false);
    assert.deepEqual(await records(srv, s.externalId, "in"), []);
    // the refused part id is not claimed; .out (secret key, agent-written) takes it as text
    r = await append(srv, s.externalId, "in", '"fine"', { partId: "deep" });
    assert.equal(r.json.seq, 0);
    r = await append(srv, s.externalId, "out", text);
    expectStatus(r, 200);
    // merely deep non-webhook text that is not JSON is stored
    r = await append(srv, s.externalId, "in", "[".repeat(3000));
    expectStatus(r, 200);
  });

  test("append: closed session → 409 session_closed with closedReason; PUT .in 400; reads still work", async () => {
    const s = await start(srv, uid("chat-"));
    expectStatus(await append(srv, s.externalId, "in", '{"before":1}'), 200);
    expectStatus(await api(srv, "POST", `/api/v1/sessions/${s.id}/close`, { body: { reason: "done here" } }), 200);
    for (const form of [s.externalId, s.id]) {
      for (const key of [undefined, s.publicAccessToken]) {
        const r = await append(srv, form, "in", "{}", { key, partId: uid() });
        expectStatus(r, 409, `closed append via ${form}:`);
        assert.deepEqual(r.json, { ok: false, error: "Cannot append to a closed session", code: "session_closed", closedReason: "done here" });
      }
    }
    const p = await api(srv, "PUT", chan(s.externalId, "in"));
    expectStatus(p, 400);
    assert.equal(p.text, "Cannot initialize a channel on a closed session");
    // side channel appends are refused too
    const side = await api(srv, "POST", `/realtime/v1/sessions/${s.externalId}/channels/notes/in/append`, { body: "{}" });
    expectStatus(side, 409);
    assert.equal((await records(srv, s.externalId, "in")).length, 1);
    const sse = await sseAll(srv, chan(s.externalId, "in"), { "timeout-seconds": "1" });
    assert.equal(sse.recs.length, 1);
  });

  test("append: an expired session → 400 {ok:false} 'Cannot append to an expired session'", async () => {
    const s = await start(srv, uid("chat-"), { expiresAt: new Date(Date.now() + 1500).toISOString() });
    expectStatus(await append(srv, s.externalId, "in", "{}"), 200);
    await sleep(1800);
    const r = await append(srv, s.externalId, "in", "{}", { key: s.publicAccessToken });
    expectStatus(r, 400);
    assert.equal(r.json.ok, false);
    assert.equal(r.json.error, "Cannot append to an expired session");
    assert.equal((await records(srv, s.externalId, "in")).length, 1);
  });

  // ---- records ---------------------------------------------------------------

  test("records: afterEventId validation, beyond-tail and huge values, command records skipped, control record shape", async () => {
    const s = await start(srv, uid("chat-"));
    for (const bad of ["abc", "-1", "1.5", "", "1e3", "0x1", " 1"]) {
      const r = await api(srv, "GET", chan(s.externalId, "out", "/records") + `?afterEventId=${encodeURIComponent(bad)}`);
      expectStatus(r, 400, `afterEventId=${JSON.stringify(bad)}:`);
    }
    const h = await coords(srv, s.externalId, "out");
    const stream = h["x-s2-stream-name"];
    const tok = h["x-s2-access-token"];
    let r = await append(srv, s.externalId, "out", '{"type":"text-delta","delta":"hi"}');
    assert.equal(r.json.seq, 0);
    const ack = await s2append(srv, tok, stream, [
      { body: "", headers: [["trigger-control", "turn-complete"], ["public-access-token", "eyJ.x.y"], ["session-in-event-id", "3"]] },
    ]);
    assert.equal(ack.status, 200, await ack.clone().text());
    assert.equal((await ack.json()).start.seq_num, 1);
    await s2trim(h, 0);
    r = await append(srv, s.externalId, "out", '{"type":"finish"}');
    assert.equal(r.json.seq, 3, "seq continues over control and command records");
    const recs = await records(srv, s.externalId, "out");
    assert.deepEqual(recs.map((x) => x.seqNum), [0, 1, 3]);
    assert.deepEqual(recs[1], {
      data: "",
      id: "",
      seqNum: 1,
      headers: [["trigger-control", "turn-complete"], ["public-access-token", "eyJ.x.y"], ["session-in-event-id", "3"]],
    });
    assert.equal("headers" in recs[0], false, "data records carry no headers");
    assert.deepEqual(await records(srv, s.externalId, "out", { after: 1 }), [recs[2]]);
    assert.deepEqual(await records(srv, s.externalId, "out", { after: 3 }), []);
    assert.deepEqual(await records(srv, s.externalId, "out", { after: 1000 }), []);
    assert.deepEqual(await records(srv, s.externalId, "out", { after: "9223372036854775807" }), []);
    assert.deepEqual(await records(srv, s.externalId, "out", { after: "99999999999999999999" }), [], "a huge cursor is past the tail, not the start");
    assert.deepEqual(await records(srv, s.externalId, "out", { after: "007" }), []);
  });

  // ---- SSE -----------------------------------------------------------------

  test("SSE: headers, idle end with data: [DONE], Timeout-Seconds validation", async () => {
    const s = await start(srv, uid("chat-"));
    await append(srv, s.externalId, "in", '{"a":1}');
    const r = await sseAll(srv, chan(s.externalId, "in"), { "timeout-seconds": "1", origin: "http://localhost:3000" });
    assert.equal(r.status, 200);
    assert.ok(r.ended);
    assert.ok(r.elapsed >= 900 && r.elapsed < 5000, `ended after ${r.elapsed} ms`);
    assert.match(r.headers["content-type"], /^text\/event-stream/);
    assert.equal(r.headers["cache-control"], "no-cache, no-transform");
    assert.equal(r.headers["x-stream-version"], "v2");
    const expose = String(r.headers["access-control-expose-headers"]).toLowerCase().split(/\s*,\s*/);
    assert.ok(expose.includes("*") || (expose.includes("x-stream-version") && expose.includes("x-session-settled")), `expose: ${expose}`);
    assert.ok(r.headers["access-control-allow-origin"], "CORS on the SSE response");
    assert.ok(r.text.endsWith("data: [DONE]\n\n"), JSON.stringify(r.text.slice(-60)));
    assert.equal(r.recs.length, 1);
    assert.equal(r.recs[0].seq_num, 0);
    assert.deepEqual(JSON.parse(r.recs[0].body), { data: '{"a":1}', id: JSON.parse(r.recs[0].body).id });
    for (const bad of ["0", "601", "abc", "10abc", "1.5", "-3"]) {
      const b = await sseAll(srv, chan(s.externalId, "in"), { "timeout-seconds": bad }, 3000);
      assert.equal(b.status, 400, `Timeout-Seconds ${bad}: ${b.status} ${b.text.slice(0, 80)}`);
    }
    for (const ok of ["1", "600"]) {
      const o = await openSse(srv, chan(s.externalId, "in"), { "timeout-seconds": ok });
      assert.equal(o.status, 200, `Timeout-Seconds ${ok}`);
      o.close();
    }
    const head = await api(srv, "HEAD", chan(s.externalId, "in"));
    expectStatus(head, 200);
    assert.equal(head.headers.get("x-last-chunk-index"), "0");
  });

  test("SSE: Last-Event-ID resume while records keep coming: nothing lost, nothing doubled; beyond the tail clamps", async () => {
    const s = await start(srv, uid("chat-"));
    for (let i = 0; i < 5; i++) await append(srv, s.externalId, "out", JSON.stringify({ i }));
    let r = await sseAll(srv, chan(s.externalId, "out"), { "last-event-id": "2", "timeout-seconds": "1" });
    assert.deepEqual(r.recs.map((x) => x.seq_num), [3, 4]);
    // unparsable cursor: from the start
    r = await sseAll(srv, chan(s.externalId, "out"), { "last-event-id": "x", "timeout-seconds": "1" });
    assert.deepEqual(r.recs.map((x) => x.seq_num), [0, 1, 2, 3, 4]);
    // a live reader, cut off and resumed from the last seq it saw, with appends in between
    const seen = [];
    let last = -1;
    let next = 5;
    for (let round = 0; round < 4; round++) {
      const sub = await openSse(srv, chan(s.externalId, "out"), last >= 0 ? { "last-event-id": String(last), "timeout-seconds": "5" } : { "timeout-seconds": "5" });
      assert.equal(sub.status, 200);
      for (let k = 0; k < 3; k++) {
        await append(srv, s.externalId, "out", JSON.stringify({ i: next++ }));
      }
      await waitFor(() => batchRecords(sub.text()).some((x) => x.seq_num === next - 1), { timeout: 5000, what: `seq ${next - 1} delivered` });
      sub.close();
      const recs = batchRecords(sub.text());
      seen.push(...recs.map((x) => x.seq_num));
      last = recs.at(-1).seq_num;
      // appends while nobody is connected
      await append(srv, s.externalId, "out", JSON.stringify({ i: next++ }));
    }
    const tail = await sseAll(srv, chan(s.externalId, "out"), { "last-event-id": String(last), "timeout-seconds": "1" });
    seen.push(...tail.recs.map((x) => x.seq_num));
    assert.deepEqual(seen, Array.from({ length: next }, (_, i) => i));
    // beyond the tail: clamped to the tail, so the next record (and only it) arrives
    const sub = await openSse(srv, chan(s.externalId, "out"), { "last-event-id": "100000", "timeout-seconds": "3" });
    await sleep(200);
    const a = await append(srv, s.externalId, "out", '{"late":true}');
    await waitFor(() => batchRecords(sub.text()).length > 0, { timeout: 4000, what: "the clamped reader sees the next record" }).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(sub.text())} ${JSON.stringify(a.json)}`);
    });
    sub.close();
    assert.deepEqual(batchRecords(sub.text()).map((x) => x.seq_num), [a.json.seq]);
    // a huge Last-Event-ID clamps the same way
    const huge = await sseAll(srv, chan(s.externalId, "out"), { "last-event-id": "99999999999999999999", "timeout-seconds": "1" });
    assert.equal(huge.status, 200);
    assert.deepEqual(huge.recs, [], "a huge Last-Event-ID must not restart from 0");
  });

  test("SSE: X-Peek-Settled with a turn-complete newest (trims skipped) ends at once with X-Session-Settled: true", async () => {
    const s = await start(srv, uid("chat-"));
    const h = await coords(srv, s.externalId, "out");
    const put = (recs) => s2append(srv, h["x-s2-access-token"], h["x-s2-stream-name"], recs);
    const tc = { body: "", headers: [["trigger-control", "turn-complete"], ["session-in-event-id", "0"]] };
    const peek = (extra = {}) => sseAll(srv, chan(s.externalId, "out"), { "x-peek-settled": "1", "timeout-seconds": "2", ...extra }, 8000);
    // empty stream: not settled
    let r = await peek();
    assert.equal(r.headers["x-session-settled"], undefined);
    assert.ok(r.elapsed >= 1800, `empty stream waited ${r.elapsed} ms`);
    await append(srv, s.externalId, "out", '{"type":"text-delta"}');
    expectStatus({ status: (await put([tc])).status, text: "" }, 200, "turn-complete");
    r = await peek({ "timeout-seconds": "60" });
    assert.equal(r.headers["x-session-settled"], "true");
    assert.ok(r.ended && r.elapsed < 1500, `settled read ended after ${r.elapsed} ms`);
    assert.ok(r.text.endsWith("data: [DONE]\n\n"));
    assert.deepEqual(r.recs.map((x) => x.seq_num), [0, 1]);
    assert.deepEqual(r.recs[1].headers, tc.headers);
    assert.equal("body" in r.recs[1], false, "control records have no body key");
    // resuming past the turn-complete: nothing, still settled, immediately
    r = await peek({ "last-event-id": "1", "timeout-seconds": "60" });
    assert.equal(r.headers["x-session-settled"], "true");
    assert.deepEqual(r.recs, []);
    assert.ok(r.elapsed < 1500);
    // a trim after it is skipped by the peek
    await s2trim(h, 0);
    r = await peek({ "timeout-seconds": "60" });
    assert.equal(r.headers["x-session-settled"], "true");
    assert.ok(r.elapsed < 1500);
    // without the header, or on .in: a normal following read
    r = await sseAll(srv, chan(s.externalId, "out"), { "timeout-seconds": "1" });
    assert.equal(r.headers["x-session-settled"], undefined);
    assert.ok(r.elapsed >= 900);
    r = await sseAll(srv, chan(s.externalId, "in"), { "x-peek-settled": "1", "timeout-seconds": "1" });
    assert.equal(r.headers["x-session-settled"], undefined);
    // upgrade-required is not settled; a data record after turn-complete is not either
    expectStatus({ status: (await put([{ body: "", headers: [["trigger-control", "upgrade-required"]] }])).status, text: "" }, 200, "upgrade");
    r = await peek();
    assert.equal(r.headers["x-session-settled"], undefined);
    await put([tc]);
    await append(srv, s.externalId, "out", '{"type":"start"}');
    r = await peek();
    assert.equal(r.headers["x-session-settled"], undefined);
    assert.ok(r.elapsed >= 1800);
    // X-Peek-Settled values other than "1" are ignored
    await put([tc]);
    r = await peek({ "x-peek-settled": "true" });
    assert.equal(r.headers["x-session-settled"], undefined);
  });

  // ---- CORS ------------------------------------------------------------------

  test("CORS preflight allows the browser transport's headers on every channel route", async () => {
    const s = await start(srv, uid("chat-"));
    const want = "authorization, content-type, x-part-id, x-trigger-source, last-event-id, timeout-seconds, x-peek-settled";
    for (const [m, p] of [
      ["POST", chan(s.externalId, "in", "/append")],
      ["GET", chan(s.externalId, "out")],
      ["GET", chan(s.externalId, "out", "/records")],
      ["PUT", chan(s.externalId, "in")],
      ["POST", "/api/v1/sessions"],
      ["GET", `/realtime/v1/sessions/${s.externalId}/channels/notes/out`],
    ]) {
      const r = await fetch(srv.url + p, {
        method: "OPTIONS",
        headers: { origin: "http://localhost:3000", "access-control-request-method": m, "access-control-request-headers": want },
      });
      await r.arrayBuffer();
      assert.ok(r.status === 200 || r.status === 204, `OPTIONS ${p}: ${r.status}`);
      const origin = r.headers.get("access-control-allow-origin");
      assert.ok(origin === "*" || origin === "http://localhost:3000", `allow-origin ${origin}`);
      const allowed = (r.headers.get("access-control-allow-headers") ?? "").toLowerCase();
      if (allowed !== "*") for (const h of want.split(", ")) assert.ok(allowed.split(/\s*,\s*/).includes(h), `${p}: ${h} not in ${allowed}`);
      const methods = (r.headers.get("access-control-allow-methods") ?? "").toUpperCase();
      assert.ok(methods === "*" || methods.includes(m), `${p}: ${m} not in ${methods}`);
    }
    // the append's answer is readable cross-origin
    const a = await append(srv, s.externalId, "in", "{}", { key: s.publicAccessToken, headers: { origin: "http://localhost:3000", "x-trigger-source": "sdk", "x-part-id": uid() } });
    expectStatus(a, 200);
    assert.ok(a.headers.get("access-control-allow-origin"));
  });

  // ---- session-streams/wait ---------------------------------------------------

  test("wait: a record before the wait completes it at once with the raw body; lastSeqNum past it waits", async () => {
    const s = await start(srv, uid("chat-"));
    const body = '{"kind":"message","payload":{"chatId":"x","trigger":"submit-message"}}';
    const a = await append(srv, s.externalId, "in", body, { key: s.publicAccessToken });
    let w = await sessionWait(srv, s.runId, { session: s.externalId, io: "in" });
    assert.equal(w.isCached, false);
    let wp = await waitpoint(srv, w.waitpointId);
    assert.equal(wp.status, "COMPLETED");
    assert.equal(wp.output, body);
    assert.equal(wp.outputType, "application/json");
    assert.equal(wp.outputIsError, false);
    // after the last consumed record it waits for the next one, then gets exactly it
    w = await sessionWait(srv, s.runId, { session: s.id, io: "in", lastSeqNum: a.json.seq });
    wp = await waitpoint(srv, w.waitpointId);
    assert.equal(wp.status, "WAITING");
    await append(srv, s.externalId, "in", '"second"', { key: s.publicAccessToken });
    wp = await waitpoint(srv, w.waitpointId);
    assert.equal(wp.status, "COMPLETED");
    assert.equal(wp.output, '"second"');
    // lastSeqNum 0 with two records: the race check takes the first after it
    w = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", lastSeqNum: 0 });
    assert.equal((await waitpoint(srv, w.waitpointId)).output, '"second"');
    // a duplicate part id append still wakes waiters (the real route drains on a dedup)
    w = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", lastSeqNum: 1 });
    await append(srv, s.externalId, "in", '"third"', { partId: "dup" });
    const w2 = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", lastSeqNum: 2 });
    assert.equal((await waitpoint(srv, w2.waitpointId)).status, "WAITING");
    await append(srv, s.externalId, "in", '"third again"', { partId: "dup" });
    const wp2 = await waitpoint(srv, w2.waitpointId);
    assert.equal(wp2.status, "COMPLETED");
    assert.equal(wp2.output, '"third again"');
  });

  test("wait: two waits complete on one append; waits are per session and per io", async () => {
    const a = await start(srv, uid("chat-"));
    const b = await start(srv, uid("chat-"));
    const w1 = await sessionWait(srv, a.runId, { session: a.externalId, io: "in" });
    const w2 = await sessionWait(srv, a.runId, { session: a.id, io: "in" });
    const wOut = await sessionWait(srv, a.runId, { session: a.externalId, io: "out" });
    const wb = await sessionWait(srv, b.runId, { session: b.externalId, io: "in" });
    await append(srv, b.externalId, "out", '"b out"');
    await append(srv, a.externalId, "in", '"for a"', { key: a.publicAccessToken });
    for (const w of [w1, w2]) {
      const wp = await waitpoint(srv, w.waitpointId);
      assert.equal(wp.status, "COMPLETED");
      assert.equal(wp.output, '"for a"');
    }
    assert.equal((await waitpoint(srv, wOut.waitpointId)).status, "WAITING", ".in append does not wake .out");
    assert.equal((await waitpoint(srv, wb.waitpointId)).status, "WAITING", "a's append does not wake b");
    await append(srv, a.externalId, "out", '"a out"');
    assert.equal((await waitpoint(srv, wOut.waitpointId)).output, '"a out"');
    // a named side channel's .in never wakes the chat channel's waiters
    const wSide = await sessionWait(srv, b.runId, { session: b.externalId, io: "in", lastSeqNum: -1 });
    assert.equal((await waitpoint(srv, wSide.waitpointId)).status, "WAITING");
    expectStatus(await api(srv, "POST", `/realtime/v1/sessions/${b.externalId}/channels/notes/in/append`, { body: '"side"' }), 200);
    assert.equal((await waitpoint(srv, wSide.waitpointId)).status, "WAITING");
    await append(srv, b.externalId, "in", '"b in"');
    assert.equal((await waitpoint(srv, wb.waitpointId)).output, '"b in"');
    assert.equal((await waitpoint(srv, wSide.waitpointId)).output, '"b in"');
  });

  test("wait: idempotencyKey gives the cached waitpoint; a timed-out wait then an append is not an error", async () => {
    const s = await start(srv, uid("chat-"));
    const k = uid("idem-");
    const w1 = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", idempotencyKey: k });
    const w2 = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", idempotencyKey: k });
    assert.equal(w2.waitpointId, w1.waitpointId);
    assert.equal(w2.isCached, true);
    const t = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", timeout: "1s" });
    const timedOut = await waitFor(async () => {
      const wp = await waitpoint(srv, t.waitpointId);
      return wp.status === "TIMED_OUT" ? wp : null;
    }, { timeout: 6000, what: "the wait to time out" });
    assert.equal(timedOut.outputIsError, true);
    const r = await append(srv, s.externalId, "in", '"late"');
    expectStatus(r, 200);
    assert.deepEqual(r.json, { ok: true, seq: 0 });
    const after = await waitpoint(srv, t.waitpointId);
    assert.equal(after.outputIsError, true, "the timed-out waitpoint keeps its timeout");
    assert.equal((await waitpoint(srv, w1.waitpointId)).output, '"late"');
  });

  test("wait: odd lastSeqNum values (huge, negative, fractional) neither crash nor complete on a record already consumed", async () => {
    const s = await start(srv, uid("chat-"));
    await append(srv, s.externalId, "in", '"zero"');
    await append(srv, s.externalId, "in", '"one"');
    const huge = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", lastSeqNum: 1e20 });
    assert.equal((await waitpoint(srv, huge.waitpointId)).status, "WAITING");
    const max = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", lastSeqNum: 9223372036854775807 });
    assert.equal((await waitpoint(srv, max.waitpointId)).status, "WAITING");
    const neg = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", lastSeqNum: -1 });
    assert.equal((await waitpoint(srv, neg.waitpointId)).output, '"zero"');
    const frac = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", lastSeqNum: 1.5 });
    assert.notEqual((await waitpoint(srv, frac.waitpointId)).output, '"zero"');
    await append(srv, s.externalId, "in", '"two"');
    assert.equal((await waitpoint(srv, huge.waitpointId)).output, '"two"');
    assert.equal((await waitpoint(srv, max.waitpointId)).output, '"two"');
  });

  test("input-stream wait: a huge lastSeqNum is past every record, not the start (same cursor parsing)", async () => {
    const s = await start(srv, uid("chat-"));
    expectStatus(await api(srv, "POST", `/realtime/v1/streams/${s.runId}/input/w`, { body: { data: 1 } }), 200);
    const r = await api(srv, "POST", `/api/v1/runs/${s.runId}/input-streams/wait`, { body: { streamId: "w", lastSeqNum: 1e20 } });
    expectStatus(r, 200);
    assert.equal((await waitpoint(srv, r.json.waitpointId)).status, "WAITING");
  });

  test("environments are apart: the same externalId in prod is another session, stream, wait and S2 grant", async () => {
    const ext = uid("chat-");
    const dev = await start(srv, ext);
    const prodRes = await api(srv, "POST", "/api/v1/sessions", {
      key: srv.keys.prod,
      body: { type: "chat.agent", externalId: ext, taskIdentifier: "chat-task", triggerConfig: { basePayload: { chatId: ext } } },
    });
    expectStatus(prodRes, 201, "prod create:");
    const prod = prodRes.json;
    assert.notEqual(prod.id, dev.id);
    const w = await sessionWait(srv, dev.runId, { session: ext, io: "in" });
    let r = await api(srv, "POST", chan(ext, "in", "/append"), { key: srv.keys.prod, body: '"prod"' });
    expectStatus(r, 200);
    assert.equal(r.json.seq, 0);
    assert.equal((await waitpoint(srv, w.waitpointId)).status, "WAITING", "prod's append does not wake dev's wait");
    assert.deepEqual(await records(srv, ext, "in"), []);
    // a PAT names its environment: prod's lands on prod's session
    r = await append(srv, ext, "in", "{}", { key: prod.publicAccessToken });
    assert.equal(r.json.seq, 1);
    assert.deepEqual(await records(srv, ext, "in"), []);
    r = await api(srv, "GET", chan(dev.id, "in", "/records"), { key: srv.keys.prod });
    expectStatus(r, 404, "dev session_ id from prod");
    // the prod secret key's S2 grant does not reach dev's streams
    const prodGrant = await coords(srv, ext, "out", srv.keys.prod);
    const devName = (await coords(srv, ext, "out"))["x-s2-stream-name"];
    assert.notEqual(prodGrant["x-s2-stream-name"], devName);
    const f = await s2append(srv, prodGrant["x-s2-access-token"], devName, [{ body: "cross" }]);
    assert.ok(f.status === 403 || f.status === 401, `prod S2 token on dev stream: ${f.status}`);
    await f.arrayBuffer();
    assert.deepEqual(await records(srv, ext, "out"), []);
  });

  test("wait: only the secret key may register a session wait", async () => {
    const s = await start(srv, uid("chat-"));
    const r = await api(srv, "POST", `/api/v1/runs/${s.runId}/session-streams/wait`, { body: { session: s.externalId, io: "in" }, key: s.publicAccessToken });
    assert.ok(r.status === 401 || r.status === 403, `PAT wait: ${r.status}`);
  });

  // ---- the S2 token a PAT holder gets ------------------------------------------

  test("the S2 grant from PUT .in with a PAT appends nowhere (not another stream, nor its own past the /append route)", async () => {
    const a = await start(srv, uid("chat-"));
    const b = await start(srv, uid("chat-"));
    const h = await coords(srv, a.externalId, "in", a.publicAccessToken);
    for (const k of ["x-s2-access-token", "x-s2-basin", "x-s2-stream-name", "x-s2-endpoint"]) assert.ok(h[k], `${k} present`);
    const tok = h["x-s2-access-token"];
    const mine = h["x-s2-stream-name"];
    const outName = (await coords(srv, a.externalId, "out"))["x-s2-stream-name"];
    const otherIn = (await coords(srv, b.externalId, "in"))["x-s2-stream-name"];
    const sideName = (await api(srv, "PUT", `/realtime/v1/sessions/${a.externalId}/channels/notes/in`)).headers.get("x-s2-stream-name");
    for (const name of [outName, otherIn, sideName, mine + "x", mine.replace(/\/in$/, ""), mine + "/../out", "env/" + claims(a.publicAccessToken).sub + "/runs/x/y"]) {
      const r = await s2append(srv, tok, name, [{ body: "forged" }]);
      assert.ok(r.status === 403 || r.status === 401, `append to ${name} with a's .in grant: ${r.status}`);
      await r.arrayBuffer();
    }
    // its own .in: a direct write would skip the part dedup, the webhook
    // strip and the wake of waiting runs, so the grant does not append there either
    const forged = JSON.stringify({ data: JSON.stringify({ kind: "message", payload: { trigger: "action", actionSource: "webhook" } }), id: "d1" });
    let r = await s2append(srv, tok, mine, [{ body: forged }]);
    assert.equal(r.status, 403, await r.text());
    await assert.rejects(s2trim(h, 0), "nor trim it");
    assert.equal((await records(srv, a.externalId, "out")).length, 0);
    assert.equal((await records(srv, b.externalId, "in")).length, 0);
    assert.equal((await records(srv, a.externalId, "in")).length, 0);
    // the S2 token is no API credential, and a session PAT is no S2 token
    expectStatus(await append(srv, a.externalId, "in", "{}", { key: tok }), 403, "S2 token on the append route");
    expectStatus(await api(srv, "GET", `/api/v1/sessions/${a.externalId}`, { key: tok }), 403, "S2 token on the sessions API");
    r = await s2append(srv, a.publicAccessToken, mine, [{ body: "x" }]);
    assert.ok(r.status === 403 || r.status === 401, `session PAT as S2 token: ${r.status}`);
    await r.arrayBuffer();
    // the secret key's grant (the agent's) still writes the channel
    const sk = await coords(srv, a.externalId, "in");
    r = await s2append(srv, sk["x-s2-access-token"], sk["x-s2-stream-name"], [{ body: JSON.stringify({ data: '"direct"', id: "d2" }) }]);
    assert.equal(r.status, 200, await r.text());
    assert.deepEqual((await records(srv, a.externalId, "in")).map((x) => [x.seqNum, x.data, x.id]), [[0, '"direct"', "d2"]]);
  });
});

describe("session channels across a restart", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await stopServer(srv);
  });

  test("restart between the wait and the append: the waitpoint still completes; seq and part ids survive", async () => {
    const s = await start(srv, uid("chat-"));
    const a0 = await append(srv, s.externalId, "in", '"one"', { partId: "keep" });
    assert.equal(a0.json.seq, 0);
    const w = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", lastSeqNum: 0 });
    const wt = await sessionWait(srv, s.runId, { session: s.externalId, io: "in", lastSeqNum: 0, timeout: "1h" });
    await srv.restart();
    assert.equal((await waitpoint(srv, w.waitpointId)).status, "WAITING");
    const dup = await append(srv, s.externalId, "in", '"one"', { partId: "keep" });
    assert.deepEqual(dup.json, { ok: true }, "the part claim survived the restart");
    // the duplicate drained the waiters (as the real route does): both are done
    for (const id of [w.waitpointId, wt.waitpointId]) {
      const wp = await waitpoint(srv, id);
      assert.equal(wp.status, "COMPLETED");
      assert.equal(wp.output, '"one"');
    }
    const w2 = await sessionWait(srv, s.runId, { session: s.id, io: "in", lastSeqNum: 0 });
    await srv.restart("SIGKILL");
    const a1 = await append(srv, s.externalId, "in", '"two"', { key: s.publicAccessToken });
    assert.equal(a1.json.seq, 1);
    const wp2 = await waitpoint(srv, w2.waitpointId);
    assert.equal(wp2.status, "COMPLETED");
    assert.equal(wp2.output, '"two"');
    assert.deepEqual((await records(srv, s.externalId, "in")).map((r) => r.seqNum), [0, 1]);
    await assertHealthy(srv);
  });
});
