// tests/integration/nodes.test.mjs - many triggerd nodes on one PostgreSQL
// database (issue 15 item 2, docs/store.md "Many nodes, one database"):
// nodes started together on an empty database, dequeue through two nodes
// (no run handed to two workers, a limit-1 queue never runs two at once),
// idempotency across nodes. PostgreSQL only (scripts/test.sh's pg lane).
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { api, triggerId, retrieve, waitFor, uid, sleep } from "./helpers.mjs";
import { FakeWorker, drainCounting } from "./worker.mjs";
import { startNodes, onPg } from "../lib/nodes.mjs";

const skip = !onPg && "needs TRIGGERD_STORE=pg (the pg lane of scripts/test.sh)";
let clusters = [];
let workers = [];
afterEach(async () => {
  for (const w of workers) w.stopAll();
  workers = [];
  for (const c of clusters) await c.stop();
  clusters = [];
});

async function nodes(n = 2) {
  const c = await startNodes(n);
  clusters.push(c);
  return c;
}

/** One FakeWorker per node, all of one registered worker (registered via node 0). */
async function workersOn(c, tasks, opts) {
  const ws = c.nodes.map((s) => new FakeWorker(s));
  workers.push(...ws);
  await ws[0].register(tasks, opts);
  for (const w of ws.slice(1)) {
    w.workers = ws[0].workers;
    w.current = ws[0].current;
  }
  return ws;
}

test("nodes started together on an empty database: one project, every node serves the other's runs", { skip }, async () => {
  const c = await nodes(3);
  const [a, b, d] = c.nodes;
  const task = uid("together-");
  const ids = [await triggerId(a, task), await triggerId(b, task), await triggerId(d, task)];
  for (const srv of c.nodes)
    for (const id of ids) assert.equal((await retrieve(srv, id)).id, id);
  // one project among them (the bootstrap happened once)
  const p = await api(a, "GET", "/api/v1/projects", { key: c.pat });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.length, 1, p.text);
});

test("a limit-1 queue polled by four workers through two nodes never runs two at once, and each run starts once", { skip }, async () => {
  const c = await nodes(2);
  const task = uid("lim1-");
  const [wa, wb] = await workersOn(c, [{ id: task, queue: { name: `q-${task}`, concurrencyLimit: 1 } }]);
  const N = 8;
  const ids = [];
  for (let i = 0; i < N; i++) ids.push(await (i % 2 ? wb : wa).trigger(task));
  const starts = new Map(); // run -> dequeues seen
  let holding = null, overlaps = [], done = 0;
  const poller = async (w) => {
    const deadline = Date.now() + 30000;
    while (done < N && Date.now() < deadline) {
      const msgs = await w.dequeue();
      for (const m of msgs) {
        const id = m.run.friendlyId;
        starts.set(id, (starts.get(id) ?? 0) + 1);
        if (holding) overlaps.push(`${id} dequeued while ${holding} ran`);
        holding = id;
        w.dequeued.delete(id);
        await w.start(id, m.snapshot.friendlyId);
        await sleep(30);
        holding = null; // before the completion frees the slot
        const r = await w.succeed(id, { id });
        assert.equal(r.status, 200, r.text);
        done++;
      }
      if (!msgs.length) await sleep(10);
    }
  };
  await Promise.all([poller(wa), poller(wb), poller(wa), poller(wb)]);
  assert.deepEqual(overlaps, []);
  assert.equal(done, N);
  for (const id of ids) assert.equal(starts.get(id), 1, `${id} dequeued ${starts.get(id)} times`);
  for (const id of ids) assert.equal((await retrieve(c.nodes[1], id)).status, "COMPLETED");
});

test("many runs drained through two nodes by four pollers: each run handed out exactly once", { skip }, async () => {
  const c = await nodes(2);
  const task = uid("drain-");
  const [wa, wb] = await workersOn(c, [{ id: task }]);
  const N = 60;
  const ids = await Promise.all(Array.from({ length: N }, (_, i) => (i % 2 ? wb : wa).trigger(task)));
  const got = await drainCounting([wa, wb, wa, wb], (g) => [...g.values()].reduce((a, b) => a + b, 0) >= N);
  const twice = [...got].filter(([, n]) => n !== 1);
  assert.deepEqual(twice, []);
  assert.equal(got.size, N);
  for (const id of ids) assert.equal(got.get(id), 1);
});

test("one idempotency key triggered on both nodes at once names one run", { skip }, async () => {
  const c = await nodes(2);
  const task = uid("idem-");
  for (let round = 0; round < 5; round++) {
    const key = uid("k-");
    const res = await Promise.all(c.nodes.flatMap((s) => [0, 1].map(() =>
      api(s, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: "{}", options: { idempotencyKey: key } } }))));
    for (const r of res) assert.equal(r.status, 200, r.text);
    assert.equal(new Set(res.map((r) => r.json.id)).size, 1, `round ${round}: ${res.map((r) => r.json.id)}`);
  }
});
