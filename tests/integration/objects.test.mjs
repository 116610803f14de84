// tests/integration/objects.test.mjs - the built-in object store's routes
// (/objects/...), whose reads and writes now run off the event loop with
// the request parked (docs/store.md "Objects"): many at once come back
// whole and in any order, clients that go away while their object is read
// or written leave the server healthy (h2o mostly notices the close only when
// it answers, so the parked request's "gone" path is rarely taken here), and
// an object written is durable across a restart.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startTriggerd, api, assertHealthy, stopServer, uid } from "./helpers.mjs";

let srv;
before(async () => {
  srv = await startTriggerd({ keepData: false });
});
after(async () => {
  await stopServer(srv);
});

const MiB = 1024 * 1024;
const url = async (method, name) =>
  (await api(srv, method, `/api/${method === "PUT" ? "v2" : "v1"}/packets/${name}`)).json.presignedUrl;

test("parallel writes and reads of the folder come back whole, each its own", async () => {
  const names = Array.from({ length: 12 }, (_, i) => `${uid("par-")}-${i}.json`);
  const body = (i) => JSON.stringify({ i, fill: String(i % 10).repeat(MiB / 4 + i) });
  const puts = await Promise.all(names.map(async (n, i) =>
    (await fetch(await url("PUT", n), { method: "PUT", headers: { "content-type": "application/json" }, body: body(i) })).status));
  assert.deepEqual(puts, names.map(() => 200));
  const gets = await Promise.all(names.map(async (n) => {
    const r = await fetch(await url("GET", n));
    return [r.status, r.headers.get("content-type"), await r.text()];
  }));
  gets.forEach(([st, ct, text], i) => {
    assert.equal(st, 200);
    assert.equal(ct, "application/json");
    assert.equal(text, body(i));
  });
  const missing = await fetch(await url("GET", `${uid("none-")}.json`));
  assert.equal(missing.status, 404);
});

// Sends a whole request on a raw socket and closes it at once.
function sendAndLeave(target, method, bytes = Buffer.alloc(0)) {
  const u = new URL(target);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname, () => {
      s.write(`${method} ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\n` +
        `content-length: ${bytes.length}\r\ncontent-type: application/octet-stream\r\n\r\n`);
      s.end(bytes, () => { s.destroy(); resolve(); });
    });
    s.on("error", resolve);
  });
}

test("clients that leave while their object is being written or read leave the server healthy", async () => {
  const name = `${uid("gone-")}.bin`;
  const big = Buffer.alloc(4 * MiB, 1);
  const put = await url("PUT", name);
  assert.equal((await fetch(put, { method: "PUT", body: big })).status, 200);
  const get = await url("GET", name);
  const leavers = [];
  for (let i = 0; i < 10; i++) {
    leavers.push(sendAndLeave(get, "GET"));
    leavers.push(sendAndLeave(await url("PUT", `${uid("gone-put-")}.bin`), "PUT", big));
  }
  await Promise.all(leavers);
  await assertHealthy(srv);
  const r = await fetch(get);
  assert.equal(r.status, 200);
  assert.equal((await r.arrayBuffer()).byteLength, big.length);
});

test("an object acknowledged is there after a restart", async () => {
  const name = `${uid("durable-")}.json`;
  assert.equal((await fetch(await url("PUT", name), { method: "PUT", body: '{"kept":true}' })).status, 200);
  await srv.restart();
  const r = await fetch(await url("GET", name));
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { kept: true });
});
