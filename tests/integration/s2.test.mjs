// tests/integration/s2.test.mjs - triggerd's own S2 append API (spec/s2.md)
// driven by the REAL @s2-dev/streamstore clients the SDKs ship (0.22.10 with
// SDK 4.5.0, 0.25.0 with 4.8.3): append sessions over h2c (op C), unary JSON
// (op A) and protobuf trim (op B) appends; contiguous sequence numbers across
// all of them and the server's own /append; the client's ack invariants;
// and the failure paths with a raw HTTP/2 client: bad frames, bad tokens,
// wrong paths, oversize batches, a client that vanishes mid-session, and a
// restart between sessions. HTTP/1.1 on the same port keeps working
// (pipelined requests, big bodies).
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { startTriggerd, api, triggerId, expectStatus, assertHealthy, stopServer, uid, sleep } from "./helpers.mjs";

const CLIENTS = {
  "0.22.10": "../compat/node_modules/@s2-dev/streamstore/dist/esm/index.js",
  "0.25.0": "../compat/node_modules/sdk-latest/node_modules/@s2-dev/streamstore/dist/esm/index.js",
};
const ss = {};
for (const [v, p] of Object.entries(CLIENTS)) ss[v] = await import(new URL(p, import.meta.url).href);

/** PUT a v2 run stream: the S2 coordinates, as the SDK reads them. */
async function coords(srv, run, key) {
  const r = await api(srv, "PUT", `/realtime/v1/streams/${run}/self/${key}`, {
    headers: { "x-trigger-realtime-streams-version": "v2" },
  });
  expectStatus(r, 202);
  assert.deepEqual(r.json, { version: "v2" });
  return Object.fromEntries(r.headers);
}

function client(v, h) {
  const s2 = new ss[v].S2({ accessToken: h["x-s2-access-token"], endpoints: { account: h["x-s2-endpoint"], basin: h["x-s2-endpoint"] } });
  return { s2, stream: s2.basin(h["x-s2-basin"]).stream(h["x-s2-stream-name"]) };
}

const rec = (v, body, headers) => ss[v].AppendRecord.string(headers ? { body, headers } : { body });
const input = (v, recs) => ss[v].AppendInput.create(recs);

/** Every record of a v2 run stream, from the SSE route (S2 format). */
async function readAll(srv, run, key, headers = {}) {
  const r = await fetch(`${srv.url}/realtime/v1/streams/${run}/${key}`, {
    headers: { authorization: `Bearer ${srv.keys.dev}`, "timeout-seconds": "1", "x-trigger-realtime-streams-version": "v2", ...headers },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("x-stream-version"), "v2");
  const text = await r.text();
  const recs = [];
  for (const ev of text.split("\n\n")) {
    const lines = ev.split("\n");
    if (!lines.includes("event: batch")) continue;
    const data = lines.find((l) => l.startsWith("data: "));
    recs.push(...JSON.parse(data.slice(6)).records);
  }
  assert.ok(text.trimEnd().endsWith("data: [DONE]"), text.slice(-200));
  return recs;
}

/** One raw HTTP/2 request: the response status, headers and whole body. */
function h2(srv, path, { method = "POST", headers = {}, body = [], keepOpen = false } = {}) {
  return new Promise((resolve, reject) => {
    const c = http2.connect(srv.url);
    c.on("error", reject);
    const req = c.request({ ":method": method, ":path": path, ...headers });
    const chunks = [];
    let head;
    req.on("response", (h) => (head = h));
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => {
      c.close();
      resolve({ status: head?.[":status"], headers: head, body: Buffer.concat(chunks) });
    });
    req.on("error", reject);
    for (const b of body) req.write(b);
    if (!keepOpen) req.end();
  });
}

function frame(payload, flags = 0) {
  const len = payload.length + 1;
  return Buffer.concat([Buffer.from([len >> 16, (len >> 8) & 255, len & 255, flags]), payload]);
}

/** A protobuf AppendInput of body-only records. */
function appendInput(bodies) {
  const parts = [];
  for (const b of bodies) {
    const body = Buffer.from(b);
    const r = Buffer.concat([Buffer.from([0x1a, body.length]), body]); // assumes < 128 bytes
    parts.push(Buffer.from([0x0a, r.length]), r);
  }
  return Buffer.concat(parts);
}

/** Parses S2S response frames: [{flags, payload}]. */
function frames(buf) {
  const out = [];
  let o = 0;
  while (o + 4 <= buf.length) {
    const len = (buf[o] << 16) | (buf[o + 1] << 8) | buf[o + 2];
    out.push({ flags: buf[o + 3], payload: buf.subarray(o + 4, o + 3 + len) });
    o += 3 + len;
  }
  return out;
}

describe("S2 append API", () => {
  let srv;
  let run;
  before(async () => {
    srv = await startTriggerd();
    run = await triggerId(srv, uid("s2-"), { delay: "1h" });
  });
  after(async () => {
    await stopServer(srv);
  });
  afterEach(async () => {
    await assertHealthy(srv);
  });

  for (const v of Object.keys(CLIENTS)) {
    test(`${v}: append session over h2c: one ack per batch, in order, contiguous, with tail`, async () => {
      const key = uid("sess-");
      const { stream } = client(v, await coords(srv, run, key));
      const sess = await stream.appendSession({ maxInflightBytes: 10 * 1024 * 1024 });
      const tickets = [];
      for (let i = 0; i < 20; i++) {
        const n = 1 + (i % 4);
        const recs = Array.from({ length: n }, (_, j) => rec(v, JSON.stringify({ data: `${i}.${j}`, id: `${i}-${j}` })));
        tickets.push({ n, t: await sess.submit(input(v, recs)) });
      }
      let expect = 0;
      for (const { n, t } of tickets) {
        const a = await t.ack();
        assert.equal(a.start.seqNum, expect);
        assert.equal(a.end.seqNum, expect + n);
        assert.equal(a.tail.seqNum, a.end.seqNum);
        expect += n;
      }
      await sess.close();
      const recs = await readAll(srv, run, key);
      assert.deepEqual(recs.map((r) => r.seq_num), [...Array(expect).keys()]);
      assert.equal(JSON.parse(recs[0].body).data, "0.0");
    });

    test(`${v}: unary JSON append and protobuf trim share the stream's sequence with sessions and /append`, async () => {
      const key = uid("mix-");
      const h = await coords(srv, run, key);
      const { stream } = client(v, h);
      let a = await stream.append(input(v, [rec(v, "", [["trigger-control", "turn-complete"]]), rec(v, "b1")]));
      assert.equal(a.start.seqNum, 0);
      assert.equal(a.end.seqNum, 2);
      const sess = await stream.appendSession();
      a = await (await sess.submit(input(v, [rec(v, "s1")]))).ack();
      assert.equal(a.start.seqNum, 2);
      await sess.close();
      const r = await api(srv, "POST", `/realtime/v1/streams/${run}/self/${key}/append`, {
        body: "server part",
        headers: { "content-type": "text/plain", "x-part-id": "p1", "x-trigger-realtime-streams-version": "v2" },
      });
      expectStatus(r, 200);
      a = await stream.append(input(v, [ss[v].AppendRecord.trim(2)]));
      assert.equal(a.start.seqNum, 4);
      assert.equal(a.end.seqNum, 5);
      const recs = await readAll(srv, run, key);
      // below the trim point is gone; the trim record itself is a record
      assert.deepEqual(recs.map((x) => x.seq_num), [2, 3, 4]);
      assert.equal(recs[0].body, "s1");
      assert.deepEqual(JSON.parse(recs[1].body), { data: "server part", id: "p1" });
      assert.deepEqual(recs[2].headers, [["", "trim"]]);
      assert.equal(recs[2].body.length, 8);
    });

    test(`${v}: a wrong or foreign token is refused (401/403), not retried`, async () => {
      const key = uid("tok-");
      const h = await coords(srv, run, key);
      const bad = client(v, { ...h, "x-s2-access-token": "nope" });
      await assert.rejects(bad.stream.append(input(v, [rec(v, "x")])), (e) => e.status === 401);
      const sess = await bad.stream.appendSession();
      const sub = sess.submit(input(v, [rec(v, "x")]));
      await assert.rejects(sub.then((t) => t.ack()), (e) => e.status === 401);
      await sess.close().catch(() => {});
      // a token of another environment (prod) does not grant dev's streams
      const prun = await triggerId(srv, uid("s2p-"), { delay: "1h" }, { key: srv.keys.prod }).catch(() => null);
      if (prun) {
        const ph = Object.fromEntries(
          (await api(srv, "PUT", `/realtime/v1/streams/${prun}/self/k`, { key: srv.keys.prod, headers: { "x-trigger-realtime-streams-version": "v2" } })).headers,
        );
        const foreign = client(v, { ...h, "x-s2-access-token": ph["x-s2-access-token"] });
        await assert.rejects(foreign.stream.append(input(v, [rec(v, "x")])), (e) => e.status === 403);
      }
      assert.deepEqual(await readAll(srv, run, key), []);
    });
  }

  test("unary errors: bad JSON 400, oversize batch or record 422, in S2's {code,message}", async () => {
    const key = uid("lim-");
    const h = await coords(srv, run, key);
    const url = `${srv.url}/v1/streams/${encodeURIComponent(h["x-s2-stream-name"])}/records`;
    const hdr = { authorization: `Bearer ${h["x-s2-access-token"]}`, "s2-basin": "trigger-local", "content-type": "application/json" };
    let r = await fetch(url, { method: "POST", headers: hdr, body: "{nope" });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).code, "bad_json");
    const many = { records: Array.from({ length: 1001 }, () => ({ body: "x" })) };
    r = await fetch(url, { method: "POST", headers: hdr, body: JSON.stringify(many) });
    assert.equal(r.status, 422);
    assert.deepEqual(Object.keys(await r.json()), ["code", "message"]);
    r = await fetch(url, { method: "POST", headers: hdr, body: JSON.stringify({ records: [{ body: "x".repeat(1024 * 1024) }] }) });
    assert.equal(r.status, 422);
    r = await fetch(url, { method: "POST", headers: hdr, body: JSON.stringify({ records: [{ body: "x", headers: [["", "x"], ["a", "b"]] }] }) });
    assert.equal(r.status, 422);
    r = await fetch(url, { method: "POST", headers: { ...hdr, "content-type": "application/protobuf" }, body: Buffer.from([0x0a, 0x05, 0x1a]) });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).code, "bad_proto");
    // nothing of the refused batches was stored; the next append starts at 0
    r = await fetch(url, { method: "POST", headers: hdr, body: JSON.stringify({ records: [{ body: "ok" }] }) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/json");
    const ack = await r.json();
    assert.equal(ack.start.seq_num, 0);
    assert.equal(ack.end.seq_num, 1);
    assert.equal(ack.tail.seq_num, 1);
  });

  test("h2c: wrong path 404, other methods 405, no token 401, all JSON; unary appends work over h2 too", async () => {
    let r = await h2(srv, "/nope", { method: "GET" });
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).code, "bad_path");
    r = await h2(srv, "/v1/streams/x/records", { method: "GET" });
    assert.equal(r.status, 405);
    assert.ok(JSON.parse(r.body).message);
    r = await h2(srv, "/v1/streams/x/records", { headers: { "content-type": "s2s/proto" } });
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).code, "authn");
    const key = uid("h2u-");
    const h = await coords(srv, run, key);
    const path = `/v1/streams/${encodeURIComponent(h["x-s2-stream-name"])}/records`;
    const auth = { authorization: `Bearer ${h["x-s2-access-token"]}` };
    r = await h2(srv, path, { headers: { ...auth, "content-type": "application/json" }, body: ["{}"] });
    assert.equal(r.status, 422);
    r = await h2(srv, path, { headers: { ...auth, "content-type": "application/json" }, body: ['{"records":[{"body":"a"},', '{"body":"b"}]}'] });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body).end, { seq_num: 2, timestamp: JSON.parse(r.body).end.timestamp });
    r = await h2(srv, path, { headers: { ...auth, "content-type": "application/protobuf" }, body: [appendInput(["c"])] });
    assert.equal(r.status, 200);
    assert.equal(r.body[0], 0x0a); // AppendAck.start
    assert.deepEqual((await readAll(srv, run, key)).map((x) => x.body), ["a", "b", "c"]);
  });

  test("h2c: bad frames end the session with a terminal frame (status + ErrorInfo)", async () => {
    const key = uid("bad-");
    const h = await coords(srv, run, key);
    const path = `/v1/streams/${encodeURIComponent(h["x-s2-stream-name"])}/records`;
    const headers = { "content-type": "s2s/proto", authorization: `Bearer ${h["x-s2-access-token"]}`, "s2-basin": "trigger-local" };
    const cases = [
      [Buffer.from([0, 0, 0, 0]), 400, "bad_frame"], // length 0
      [frame(appendInput(["a"]), 0x20), 400, "bad_frame"], // zstd flag
      [frame(Buffer.from([0x0a, 0x09, 0x1a])), 400, "bad_proto"],
      [frame(Buffer.alloc(0)), 422, "invalid"], // no records
    ];
    for (const [bytes, status, code] of cases) {
      // a good batch first: acked, then the bad one ends the session
      const r = await h2(srv, path, { headers, body: [frame(appendInput(["ok"])), bytes] });
      assert.equal(r.status, 200);
      const fr = frames(r.body);
      assert.equal(fr.length, 2, r.body.toString("hex"));
      assert.equal(fr[0].flags, 0);
      assert.equal(fr[1].flags, 0x80);
      assert.equal(fr[1].payload.readUInt16BE(0), status);
      assert.equal(JSON.parse(fr[1].payload.subarray(2)).code, code);
    }
    const recs = await readAll(srv, run, key);
    assert.deepEqual(recs.map((x) => x.body), ["ok", "ok", "ok", "ok"]);
  });

  test("h2c: a client that vanishes mid-session loses nothing acked, and the server carries on", async () => {
    const key = uid("gone-");
    const h = await coords(srv, run, key);
    const path = `/v1/streams/${encodeURIComponent(h["x-s2-stream-name"])}/records`;
    const c = http2.connect(srv.url);
    c.on("error", () => {});
    const req = c.request({ ":method": "POST", ":path": path, "content-type": "s2s/proto", authorization: `Bearer ${h["x-s2-access-token"]}` });
    req.on("error", () => {});
    const acked = new Promise((res) => req.once("data", res));
    req.write(frame(appendInput(["one", "two"])));
    await acked;
    req.write(frame(appendInput(["three"])));
    req.write(Buffer.from([0, 0, 9, 0, 0x0a])); // half a frame
    await sleep(100);
    c.destroy();
    await sleep(200);
    const recs = await readAll(srv, run, key);
    assert.deepEqual(recs.slice(0, 2).map((x) => x.body), ["one", "two"]);
    assert.ok(recs.length === 2 || recs.length === 3);
  });

  test("triggerd restarted between sessions: seq continues, nothing lost, tokens still valid", async () => {
    const key = uid("rs-");
    const h = await coords(srv, run, key);
    for (const v of Object.keys(CLIENTS)) {
      const { stream } = client(v, h);
      const sess = await stream.appendSession();
      const t = await sess.submit(input(v, [rec(v, `${v}-a`), rec(v, `${v}-b`)]));
      await t.ack();
      await sess.close();
      await srv.restart();
    }
    const { stream } = client("0.25.0", h);
    const a = await stream.append(input("0.25.0", [rec("0.25.0", "after")]));
    assert.equal(a.start.seqNum, 4);
    const recs = await readAll(srv, run, key);
    assert.deepEqual(recs.map((x) => x.body), ["0.22.10-a", "0.22.10-b", "0.25.0-a", "0.25.0-b", "after"]);
    assert.deepEqual(recs.map((x) => x.seq_num), [0, 1, 2, 3, 4]);
  });

  test("h2c flow control: 12 MiB through one session (beyond every window), acks all in order", async () => {
    const v = "0.25.0";
    const key = uid("flow-");
    const { stream } = client(v, await coords(srv, run, key));
    const sess = await stream.appendSession({ maxInflightBytes: 10 * 1024 * 1024 });
    const big = "x".repeat(100 * 1024);
    const tickets = [];
    for (let i = 0; i < 12; i++) {
      tickets.push(await sess.submit(input(v, Array.from({ length: 10 }, () => rec(v, big)))));
    }
    let expect = 0;
    for (const t of tickets) {
      const a = await t.ack();
      assert.equal(a.start.seqNum, expect);
      expect += 10;
    }
    await sess.close();
    assert.equal(expect, 120);
    // (a whole 12 MiB read would pass the SSE reader's 4 MiB buffer and be cut to resume)
    const tail = await readAll(srv, run, key, { "last-event-id": "115" });
    assert.deepEqual(tail.map((r) => r.seq_num), [116, 117, 118, 119]);
    assert.equal(tail[3].body, big);
  });

  test("an idle h2c connection is closed with GOAWAY", async () => {
    const s2 = await startTriggerd({ env: { TRIGGERD_H2C_IDLE_MS: "300" } });
    try {
      const c = http2.connect(s2.url);
      const goaway = new Promise((res) => c.on("goaway", (code) => res(code)));
      c.on("error", () => {});
      await new Promise((res) => c.on("connect", res));
      const t0 = Date.now();
      assert.equal(await goaway, 0); // NO_ERROR
      assert.ok(Date.now() - t0 < 5000);
      await new Promise((res) => (c.closed ? res() : c.on("close", res)));
    } finally {
      await stopServer(s2);
    }
  });

  test("HTTP/1.1 on the same port: pipelined requests and a big body still work", async () => {
    const text = await new Promise((resolve, reject) => {
      const s = net.connect(srv.port, "127.0.0.1", () => {
        s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      });
      let out = "";
      s.on("data", (d) => (out += d));
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.equal(text.match(/HTTP\/1\.1 200/g)?.length, 2, text);
    // one byte at a time: the sniffer waits for more than a preface prefix
    const slow = await new Promise((resolve, reject) => {
      const s = net.connect(srv.port, "127.0.0.1", async () => {
        for (const ch of "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") {
          s.write(ch);
          await sleep(1);
        }
      });
      let out = "";
      s.on("data", (d) => (out += d));
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.match(slow, /^HTTP\/1\.1 200/);
    const key = uid("big-");
    const h = await coords(srv, run, key);
    const body = JSON.stringify({ records: Array.from({ length: 10 }, (_, i) => ({ body: String(i).repeat(100 * 1000) })) });
    const r = await fetch(`${srv.url}/v1/streams/${encodeURIComponent(h["x-s2-stream-name"])}/records`, {
      method: "POST",
      headers: { authorization: `Bearer ${h["x-s2-access-token"]}`, "content-type": "application/json" },
      body,
    });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).end.seq_num, 10);
  });
});
