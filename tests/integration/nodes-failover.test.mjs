// tests/integration/nodes-failover.test.mjs - a node of two on one
// PostgreSQL database killed with SIGKILL under load (issue 15, "Failure
// tests"): the timers it would have fired (delays, TTLs, token timeouts)
// fire on the other node, the run it was executing goes on there, nothing
// it acknowledged is lost, and no run completes twice. PostgreSQL only
// (scripts/test.sh's pg lane).
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { api, retrieve, waitFor, waitForStatus, uid, sleep } from "./helpers.mjs";
import { FakeWorker } from "./worker.mjs";
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

test("a node killed with SIGKILL: its delays, TTLs and token timeouts fire on the other node, its executing run goes on there, nothing acknowledged is lost, no run completes twice", { skip }, async () => {
  const c = await startNodes(2);
  clusters.push(c);
  const [a, b] = c.nodes;
  const wa = new FakeWorker(a), wb = new FakeWorker(b);
  workers.push(wa, wb);
  const task = uid("fo-");
  await wa.register([{ id: task }]);
  wb.workers = wa.workers;
  wb.current = wa.current;

  // a run executing through a, blocked on a token that times out in 2s
  const running = await wa.trigger(task);
  await wa.run(running);
  wa.keepAlive(running);
  const token = await wa.createToken({ timeout: "2s" });
  assert.equal((await wa.waitToken(running, token)).status, 200);
  // timers a alone has seen written: delays, a TTL (on a task nobody polls)
  const delayed = [];
  for (let i = 0; i < 4; i++) delayed.push(await wa.trigger(task, { delay: "1500ms" }));
  const ttlRes = await api(a, "POST", `/api/v1/tasks/${uid("nobody-")}/trigger`,
    { body: { payload: "{}", options: { ttl: "1s" } } });
  assert.equal(ttlRes.status, 200, ttlRes.text);
  // triggers through a under load until it dies: each one acknowledged must survive
  const acked = [];
  let load = true;
  const loader = (async () => {
    while (load) {
      try {
        const r = await wa.triggerRaw(task);
        if (r.status === 200) acked.push(r.json.id);
      } catch {}
    }
  })();
  await sleep(300);
  await a.kill("SIGKILL");
  load = false;
  await loader;
  wa.stopAll();
  wb.keepAlive(running); // the worker goes on through b
  assert.ok(acked.length > 0, "some triggers were acknowledged before the kill");

  for (const id of acked) assert.equal((await retrieve(b, id)).id, id, `${id} acknowledged by the dead node`);
  await waitForStatus(b, ttlRes.json.id, "EXPIRED", 10000);
  for (const id of delayed)
    await waitFor(async () => (await retrieve(b, id)).status !== "DELAYED", { timeout: 10000, what: `${id} undelayed by b` });
  const ex = await wb.waitSnapshot(running, (e) => e.snapshot.executionStatus === "EXECUTING",
    { what: "the token timed out on b", timeout: 10000 });
  const wp = ex.completedWaitpoints.find((x) => (x.friendlyId ?? x.id) === token);
  assert.ok(wp, `token ${token} among the completed waitpoints: ${JSON.stringify(ex.completedWaitpoints)}`);
  assert.equal(wp.outputIsError, true, "a timed out token completes with an error");

  // everything left is drained through b, each run once, each completes once
  const all = [running, ...delayed, ...acked];
  assert.equal((await wb.succeed(running, { r: 1 })).status, 200);
  const got = new Map();
  await waitFor(async () => {
    for (const m of await wb.dequeue({ maxRuns: 9 })) {
      const id = m.run.friendlyId;
      got.set(id, (got.get(id) ?? 0) + 1);
      wb.dequeued.delete(id);
      await wb.start(id, m.snapshot.friendlyId);
      assert.equal((await wb.succeed(id)).status, 200);
    }
    return all.slice(1).every((id) => got.has(id));
  }, { timeout: 20000, interval: 20, what: "every run drained through b" });
  assert.deepEqual([...got].filter(([, n]) => n !== 1), []);
  const again = await wb.succeed(running, { r: 2 });
  assert.ok(again.status >= 400, `a second completion of ${running}: ${again.status}`);
  const r = await retrieve(b, running);
  assert.equal(r.status, "COMPLETED");
  assert.deepEqual(r.output, { r: 1 });
});
