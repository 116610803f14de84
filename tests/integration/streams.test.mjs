// tests/integration/streams.test.mjs - realtime streams and input streams
// (spec/api.md 6.14 [66]-[70], 6.15 [71]-[73]) against bad input: body
// limits, bad Timeout-Seconds, unknown runs and targets, malformed bodies,
// scopes, CORS; and the SSE wire format itself (ids, keepalive, the
// inactivity close). The server stays healthy after every case.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startTriggerd, api, triggerId, expectStatus, assertHealthy, stopServer, uid } from "./helpers.mjs";

const KiB = 1024;
const MiB = 1024 * KiB;

/** GET an SSE URL and collect the body until it ends or `ms` pass. */
function sse(srv, path, headers = {}, ms = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port: srv.port, path, agent: false, headers: { authorization: `Bearer ${srv.keys.dev}`, accept: "text/event-stream", ...headers } },
      (res) => {
        let text = "";
        const done = (ended) => resolve({ status: res.statusCode, headers: res.headers, text, ended });
        const t = setTimeout(() => {
          req.destroy();
          done(false);
        }, ms);
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => {
          clearTimeout(t);
          done(true);
        });
      },
    );
    req.on("error", reject);
  });
}

describe("realtime streams", () => {
  let srv;
  let run;
  before(async () => {
    srv = await startTriggerd();
    run = await triggerId(srv, uid("st-"), { delay: "1h" });
  });
  after(async () => {
    await stopServer(srv);
  });
  afterEach(async () => {
    await assertHealthy(srv);
  });

  test("unknown runs and targets: 404 in each route's shape", async () => {
    let r = await api(srv, "PUT", "/realtime/v1/streams/run_nope/self/k");
    expectStatus(r, 404);
    assert.equal(r.text, "Run not found");
    r = await api(srv, "PUT", `/realtime/v1/streams/${run}/parent/k`);
    expectStatus(r, 404);
    assert.equal(r.text, "Target not found");
    r = await api(srv, "PUT", `/realtime/v1/streams/${run}/sideways/k`);
    expectStatus(r, 400);
    r = await api(srv, "POST", "/realtime/v1/streams/run_nope/self/k/append", { body: "x" });
    expectStatus(r, 404);
    r = await api(srv, "GET", "/realtime/v1/streams/run_nope/k");
    expectStatus(r, 404);
    assert.deepEqual(r.json, { error: "Not found" });
    r = await api(srv, "POST", "/realtime/v1/streams/run_nope/input/x", { body: { data: 1 } });
    expectStatus(r, 404);
    assert.deepEqual(r.json, { ok: false, error: "Run not found" });
    r = await api(srv, "POST", "/api/v1/runs/run_nope/input-streams/wait", { body: { streamId: "x" } });
    expectStatus(r, 404);
    assert.deepEqual(r.json, { error: "Run not found" });
  });

  test("root resolves to the run itself when it has none", async () => {
    const r = await api(srv, "PUT", `/realtime/v1/streams/${run}/root/rk`);
    expectStatus(r, 202);
    assert.deepEqual(r.json, { version: "v1" });
    assert.equal(r.headers.get("x-s2-access-token"), null);
  });

  test("limits: append over 512 KiB and input over 1 MiB are 413", async () => {
    let r = await api(srv, "POST", `/realtime/v1/streams/${run}/self/big/append`, {
      body: "x".repeat(512 * KiB + 1),
      headers: { "content-type": "text/plain" },
    });
    expectStatus(r, 413);
    r = await api(srv, "POST", `/realtime/v1/streams/${run}/self/big/append`, {
      body: "x".repeat(512 * KiB - 16),
      headers: { "content-type": "text/plain" },
    });
    expectStatus(r, 200);
    assert.deepEqual(r.json, { ok: true });
    r = await api(srv, "POST", `/realtime/v1/streams/${run}/input/big`, { body: { data: "x".repeat(MiB) } });
    expectStatus(r, 413);
  });

  test("bad Timeout-Seconds is 400 plain text; bad X-Resume-From-Chunk is 400", async () => {
    for (const [v, msg] of [
      ["0", "Timeout seconds must be greater than 0"],
      ["601", "Timeout seconds must be less than 600"],
      ["abc", "Invalid timeout seconds"],
    ]) {
      const r = await api(srv, "GET", `/realtime/v1/streams/${run}/k`, { headers: { "timeout-seconds": v } });
      expectStatus(r, 400, `Timeout-Seconds ${v}`);
      assert.equal(r.text, msg);
      assert.match(r.headers.get("content-type"), /^text\/plain/);
    }
    const r = await api(srv, "POST", `/realtime/v1/streams/${run}/self/k`, {
      body: '"a"\n',
      headers: { "x-resume-from-chunk": "-1" },
    });
    expectStatus(r, 400);
    assert.equal(r.text, "Invalid X-Resume-From-Chunk header value: -1");
  });

  test("input send: malformed body is 400 {ok:false}; a JWT needs write:inputStreams:<run>", async () => {
    let r = await api(srv, "POST", `/realtime/v1/streams/${run}/input/x`, { body: "{nope" });
    expectStatus(r, 400);
    assert.deepEqual(r.json, { ok: false, error: "Invalid request body" });
    r = await api(srv, "POST", `/realtime/v1/streams/${run}/input/x`, { body: "[1]" });
    expectStatus(r, 400);
    const other = await triggerId(srv, uid("st-"), { delay: "1h" });
    const tok = await api(srv, "POST", `/api/v1/tasks/${uid("st-")}/trigger`, { body: { payload: "{}", options: { delay: "1h" } } });
    const jwt = tok.headers.get("x-trigger-jwt") ?? tok.json.publicAccessToken;
    assert.ok(jwt, "the trigger response carries the run's token");
    r = await api(srv, "POST", `/realtime/v1/streams/${other}/input/x`, { body: { data: 1 }, key: jwt });
    expectStatus(r, 403);
    r = await api(srv, "POST", `/realtime/v1/streams/${tok.json.id}/input/x`, { body: { data: 1 }, key: jwt });
    expectStatus(r, 200);
    r = await api(srv, "POST", `/api/v1/runs/${run}/input-streams/wait`, { body: { timeout: "1m" } });
    expectStatus(r, 400);
  });

  test("input wait: a record already sent completes the new waitpoint at once", async () => {
    const id = await triggerId(srv, uid("st-"), { delay: "1h" });
    let r = await api(srv, "POST", `/realtime/v1/streams/${id}/input/w`, { body: { data: { v: 1 } } });
    expectStatus(r, 200);
    r = await api(srv, "POST", `/api/v1/runs/${id}/input-streams/wait`, { body: { streamId: "w" } });
    expectStatus(r, 200);
    assert.match(r.json.waitpointId, /^waitpoint_/);
    assert.equal(r.json.isCached, false);
    let w = await api(srv, "GET", `/api/v1/waitpoints/tokens/${r.json.waitpointId}`);
    expectStatus(w, 200);
    assert.equal(w.json.status, "COMPLETED");
    // after the last seen record (lastSeqNum 0) it stays pending until the next send
    r = await api(srv, "POST", `/api/v1/runs/${id}/input-streams/wait`, { body: { streamId: "w", lastSeqNum: 0 } });
    w = await api(srv, "GET", `/api/v1/waitpoints/tokens/${r.json.waitpointId}`);
    assert.equal(w.json.status, "WAITING");
    await api(srv, "POST", `/realtime/v1/streams/${id}/input/w`, { body: { data: "next" } });
    w = await api(srv, "GET", `/api/v1/waitpoints/tokens/${r.json.waitpointId}`);
    assert.equal(w.json.status, "COMPLETED");
  });

  test("SSE v1 format: id <ms>-<seq>, data lines, Last-Event-ID, CORS, close after Timeout-Seconds", async () => {
    const id = await triggerId(srv, uid("st-"), { delay: "1h" });
    let r = await api(srv, "POST", `/realtime/v1/streams/${id}/self/f`, { body: '{"a":1}\n"b"\n\n3\n' });
    expectStatus(r, 200);
    const t0 = Date.now();
    const s = await sse(srv, `/realtime/v1/streams/${id}/f`, { "timeout-seconds": "2", origin: "http://example.com" }, 8000);
    assert.equal(s.status, 200);
    assert.ok(s.ended, "closed after the inactivity timeout");
    assert.ok(Date.now() - t0 >= 1900 && Date.now() - t0 < 6000, `closed after ${Date.now() - t0} ms`);
    assert.match(s.headers["content-type"], /^text\/event-stream/);
    assert.equal(s.headers["x-stream-version"], undefined);
    assert.ok(s.headers["access-control-allow-origin"], "CORS");
    const events = s.text.split("\n\n").filter(Boolean);
    assert.equal(events.length, 3);
    assert.match(events[0], /^id: \d+-0\ndata: \{"a":1\}$/);
    assert.match(events[2], /^id: \d+-2\ndata: 3$/);
    const last = events[0].split("\n")[0].slice(4);
    const s2 = await sse(srv, `/realtime/v1/streams/${id}/f`, { "timeout-seconds": "1", "last-event-id": last }, 5000);
    assert.deepEqual(
      s2.text.split("\n\n").filter(Boolean).map((e) => e.split("\ndata: ")[1]),
      ['"b"', "3"],
    );
    // input streams read in the S2 batch format
    await api(srv, "POST", `/realtime/v1/streams/${id}/input/i`, { body: { data: { x: 1 } } });
    const s3 = await sse(srv, `/realtime/v1/streams/${id}/input/i`, { "timeout-seconds": "1" }, 5000);
    assert.equal(s3.headers["x-stream-version"], "v2");
    const data = JSON.parse(s3.text.split("\ndata: ")[1].split("\n")[0]);
    assert.equal(data.records[0].seq_num, 0);
    assert.deepEqual(JSON.parse(JSON.parse(data.records[0].body).data), { x: 1 });
    const opt = await api(srv, "OPTIONS", `/realtime/v1/streams/${id}/f`, {
      headers: { origin: "http://example.com", "access-control-request-method": "GET" },
    });
    assert.ok(opt.status === 200 || opt.status === 204, `OPTIONS ${opt.status}`);
  });

  test("appends to a finished run are refused; its stream is replayed and ends", async () => {
    const id = await triggerId(srv, uid("st-"), { delay: "1h" });
    await api(srv, "POST", `/realtime/v1/streams/${id}/self/a/append`, { body: "one", headers: { "content-type": "text/plain" } });
    expectStatus(await api(srv, "POST", `/api/v2/runs/${id}/cancel`), 200);
    const r = await api(srv, "POST", `/realtime/v1/streams/${id}/self/a/append`, { body: "two", headers: { "content-type": "text/plain" } });
    expectStatus(r, 400);
    assert.equal(r.text, "Cannot append to a realtime stream on a completed run");
    const s = await sse(srv, `/realtime/v1/streams/${id}/a`, {}, 3000);
    assert.ok(s.ended);
    assert.match(s.text, /^id: \d+-0\ndata: "one"\n\n$/);
    const send = await api(srv, "POST", `/realtime/v1/streams/${id}/input/x`, { body: { data: 1 } });
    expectStatus(send, 400);
    assert.deepEqual(send.json, { ok: false, error: "Cannot send to input stream on a completed run" });
  });

  test("a v1 NDJSON body longer than libh2o's default 10 s request timeout is kept whole", { timeout: 30000 }, async () => {
    const id = await triggerId(srv, uid("st-"), { delay: "1h" });
    const status = await new Promise((resolve) => {
      const req = http.request(
        { host: "127.0.0.1", port: srv.port, method: "POST", path: `/realtime/v1/streams/${id}/self/long`, agent: false,
          headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json", "x-client-id": "w" } },
        (r) => {
          r.resume();
          r.on("end", () => resolve(r.statusCode));
        },
      );
      req.on("error", (e) => resolve(`error ${e.message}`));
      let i = 0;
      const iv = setInterval(() => {
        req.write(JSON.stringify(i++) + "\n");
        if (i >= 12) {
          clearInterval(iv);
          req.end();
        }
      }, 1000);
    });
    assert.equal(status, 200);
    const s = await sse(srv, `/realtime/v1/streams/${id}/long`, { "timeout-seconds": "1" }, 5000);
    assert.deepEqual(s.text.split("\n\n").filter(Boolean).map((e) => Number(e.split("\ndata: ")[1])), [...Array(12).keys()]);
  });
});
