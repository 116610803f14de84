// tests/integration/nodes-realtime.test.mjs - realtime and worker push
// across two triggerd nodes on one PostgreSQL database (issue 15 item 2,
// docs/store.md): changes written through one node reach the Electric
// long-poll subscribers, the CLI push sockets and the held dequeues of the
// other (NOTIFY triggerd_runs, LISTENed by every node). PostgreSQL only
// (scripts/test.sh's pg lane).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { api, ROOT, uid, sleep, waitFor } from "./helpers.mjs";
import { FakeWorker } from "./worker.mjs";
import { startNodes, onPg } from "../lib/nodes.mjs";

const require = createRequire(join(ROOT, "tests/compat/dev/fixture-latest/package.json"));
const { io } = require("socket.io-client");

const skip = !onPg && "needs TRIGGERD_STORE=pg (the pg lane of scripts/test.sh)";
let c, a, b, wa, wb;
const task = uid("rt-");
before(async () => {
  if (skip) return;
  c = await startNodes(2);
  [a, b] = c.nodes;
  wa = new FakeWorker(a);
  wb = new FakeWorker(b);
  await wa.register([{ id: task }]);
  wb.workers = wa.workers;
  wb.current = wa.current;
});
after(async () => {
  wa?.stopAll();
  await c?.stop();
});

/** One Electric feed request to srv; resolves {status, handle, offset, rows, ms}. */
function poll(srv, path, { offset = "-1", handle, live = false } = {}) {
  const q = new URLSearchParams({ offset });
  if (handle) q.set("handle", handle);
  if (live) q.set("live", "true");
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(`${srv.url}${path}?${q}`), {
      headers: { authorization: `Bearer ${srv.keys.dev}`, "x-trigger-electric-version": "1.0.0-beta.1" },
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        let msgs = [];
        try { msgs = JSON.parse(body); } catch {}
        resolve({
          status: res.statusCode, handle: res.headers["electric-handle"], offset: res.headers["electric-offset"],
          rows: Array.isArray(msgs) ? msgs.filter((m) => m.value).map((m) => m.value) : [],
          ms: performance.now() - t0,
        });
      });
    });
    req.on("error", reject);
  });
}

test("a subscriber on node B sees a run triggered, changed, executed and completed through node A", { skip }, async () => {
  const id = await wa.trigger(task);
  const path = `/realtime/v1/runs/${id}`;
  const first = await poll(b, path);
  assert.equal(first.status, 200);
  assert.equal(first.rows.length, 1);
  // live: parked on b until a writes
  let live = poll(b, path, { handle: first.handle, offset: first.offset, live: true });
  await sleep(300);
  const r = await api(a, "PUT", `/api/v1/runs/${id}/metadata`, { body: { metadata: { step: 1 } } });
  assert.equal(r.status, 200, r.text);
  let got = await live;
  assert.equal(got.status, 200);
  assert.ok(got.ms < 5000, `answered after ${got.ms} ms (a long-poll without news lasts ~20 s)`);
  assert.equal(JSON.parse(got.rows.at(-1).metadata).step, 1);
  // executed and completed through a: b's subscriber follows it to the end
  let { handle, offset } = got;
  await wa.run(id);
  assert.equal((await wa.succeed(id, { done: true })).status, 200);
  const statuses = [];
  await waitFor(async () => {
    const p = await poll(b, path, { handle, offset, live: true });
    offset = p.offset;
    for (const row of p.rows) statuses.push(row.status);
    return statuses.includes("COMPLETED_SUCCESSFULLY"); // the row's (TaskRun) vocabulary
  }, { timeout: 15000, interval: 0, what: "COMPLETED_SUCCESSFULLY on b" });
});

test("a dev CLI socket on node B gets run:notify for a run started through node A", { skip }, async () => {
  const sock = io(b.url + "/dev-worker", {
    transports: ["websocket"], extraHeaders: { Authorization: `Bearer ${b.keys.dev}` }, reconnection: false,
  });
  try {
    await new Promise((res, rej) => (sock.once("connect", res), sock.once("connect_error", rej)));
    const id = await wa.trigger(task);
    const m = await wa.take(id);
    sock.emit("run:subscribe", { version: "1", runFriendlyIds: [id] });
    await waitFor(async () => (await api(b, "GET", "/engine/v1/dev/push")).json.subscriptions >= 1, { what: "subscribed on b" });
    const notified = new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error("no run:notify on b in 5 s")), 5000);
      sock.on("run:notify", (msg) => msg?.run?.friendlyId === id && (clearTimeout(t), res(msg)));
    });
    await wa.start(id, m.snapshot.friendlyId);
    assert.deepEqual(await notified, { version: "1", run: { friendlyId: id } });
    assert.equal((await wa.succeed(id)).status, 200);
  } finally {
    sock.close();
  }
});

test("a dequeue held on node B is answered with a run triggered through node A", { skip }, async () => {
  const t0 = performance.now();
  const p = wb.plain("/engine/v1/dev/dequeue", { currentWorker: wb.current.id, waitMs: 8000 });
  await sleep(300);
  const trig = performance.now();
  const id = await wa.trigger(task);
  const res = await p;
  const took = performance.now() - trig;
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.dequeuedMessages.map((m) => m.run.friendlyId), [id]);
  assert.ok(trig - t0 >= 250, "was held");
  assert.ok(took < 2000, `trigger on a -> answer on b after ${took} ms`);
});

test("a stream reader parked on node B gets the records appended through node A", { skip }, async () => {
  const id = await wa.trigger(task);
  const stream = uid("s-");
  let text = "";
  const got = new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: b.port, path: `/realtime/v1/streams/${id}/${stream}`, agent: false,
      headers: { authorization: `Bearer ${b.keys.dev}`, accept: "text/event-stream", "timeout-seconds": "20" } }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (d) => {
        text += d;
        if (text.includes("two")) (req.destroy(), resolve(text));
      });
    });
    req.on("error", (e) => (text.includes("two") ? resolve(text) : reject(e)));
    setTimeout(() => (req.destroy(), reject(new Error(`no records on b in 8 s: ${text}`))), 8000);
  });
  await sleep(300); // parked
  const t0 = performance.now();
  for (const body of ["one", "two"]) {
    const r = await api(a, "POST", `/realtime/v1/streams/${id}/self/${stream}/append`, { body, headers: { "content-type": "text/plain" } });
    assert.equal(r.status, 200, r.text);
  }
  const all = await got;
  assert.ok(all.indexOf("one") < all.indexOf("two"), all);
  assert.ok(performance.now() - t0 < 3000);
});
