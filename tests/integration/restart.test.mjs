// tests/integration/restart.test.mjs - a restart in the middle: runs,
// delays and TTLs survive SIGTERM and SIGKILL, timers that fall due while
// the server is down fire on the next start, and every write the server
// acknowledged is still there afterwards (README "Durability").
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startTriggerd, api, trigger, triggerId, retrieve, waitForStatus, expectStatus, sleep, uid, stopServer,
} from "./helpers.mjs";

/** Fires `n` triggers `parallel` at a time until `stop()` says so; returns the acknowledged ids. */
async function triggerStream(srv, task, { parallel = 8, stop }) {
  const acked = [];
  let failures = 0;
  const worker = async (w) => {
    for (let i = 0; !stop(acked.length); i++) {
      try {
        const r = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, {
          body: { payload: JSON.stringify({ w, i }), options: { tags: [`w${w}`] } },
        });
        if (r.status === 200) acked.push({ id: r.json.id, w, i });
        else failures++;
      } catch {
        // connection refused/reset once the server is gone: not acknowledged
        failures++;
        await sleep(20);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, (_, w) => worker(w)));
  return { acked, failures };
}

/** Every acknowledged run exists with the payload it was triggered with. */
async function assertAllExist(srv, acked) {
  for (const { id, w, i } of acked) {
    const run = await retrieve(srv, id);
    assert.deepEqual(run.payload, { w, i }, `payload of ${id}`);
    assert.deepEqual(run.tags, [`w${w}`], `tags of ${id}`);
  }
}

for (const sync of ["full", "normal"]) {
  describe(`restart in the middle (--sync ${sync})`, () => {
    let srv;
    before(async () => {
      srv = await startTriggerd({ args: ["--sync", sync] });
    });
    after(async () => {
      await stopServer(srv);
    });

    test("SIGTERM exits 0 and keeps runs, delays and TTLs; timers fire after the restart", async () => {
      const task = uid("restart-");
      const plain = await triggerId(srv, task);
      const d2 = await triggerId(srv, task, { delay: "2s" });
      const d3 = await triggerId(srv, task, { delay: "3s" });
      const ttl = await triggerId(srv, task, { ttl: "2s" });
      const keyed = await triggerId(srv, task, { idempotencyKey: "restart-key" });
      const far = await triggerId(srv, task, { delay: "1h" });
      const longTtl = await triggerId(srv, task, { ttl: "1h" });
      const farBefore = await retrieve(srv, far);

      await srv.kill("SIGTERM");
      assert.equal(srv.proc.exitCode, 0, `exit code after SIGTERM; output:\n${srv.output}`);
      await srv.start();

      for (const id of [plain, d2, d3, ttl, keyed, far, longTtl]) {
        const run = await retrieve(srv, id);
        assert.equal(run.id, id);
        assert.equal(run.taskIdentifier, task);
        assert.deepEqual(run.payload, { a: 1 });
      }
      // Whatever the restart took, the delayed runs are either still waiting or already due.
      for (const id of [d2, d3]) {
        const run = await retrieve(srv, id);
        assert.ok(["DELAYED", "QUEUED"].includes(run.status), `${id} is ${run.status}`);
        assert.ok(run.delayedUntil || run.status === "QUEUED", "delayedUntil kept");
      }

      const q2 = await waitForStatus(srv, d2, "QUEUED");
      const q3 = await waitForStatus(srv, d3, "QUEUED");
      for (const run of [q2, q3]) {
        assert.equal(run.isQueued, true);
        assert.equal(run.delayedUntil, undefined, "delayedUntil cleared once enqueued");
      }
      const expired = await waitForStatus(srv, ttl, "EXPIRED");
      assert.ok(expired.expiredAt, "expiredAt set");
      assert.equal((await retrieve(srv, plain)).status, "QUEUED");
      // A restart fires only timers that are due: the far ones keep waiting.
      const farAfter = await retrieve(srv, far);
      assert.equal(farAfter.status, "DELAYED");
      assert.equal(farAfter.delayedUntil, farBefore.delayedUntil, "delayedUntil unchanged by the restart");
      assert.equal((await retrieve(srv, longTtl)).status, "QUEUED");

      // The idempotency key survived too.
      const again = await trigger(srv, task, { idempotencyKey: "restart-key" });
      assert.equal(again.json.id, keyed);
      assert.equal(again.json.isCached, true);
    });

    test("timers that fall due while the server is down fire on the next start", async () => {
      const task = uid("down-");
      const delayed = await triggerId(srv, task, { delay: "2s" });
      const ttl = await triggerId(srv, task, { ttl: "2s" });
      const canceled = await triggerId(srv, task, { delay: "2s" });
      expectStatus(await api(srv, "POST", `/api/v2/runs/${canceled}/cancel`), 200, "cancel:");
      const rescheduled = await triggerId(srv, task, { delay: "1h" });
      expectStatus(
        await api(srv, "POST", `/api/v1/runs/${rescheduled}/reschedule`, { body: { delay: "2s" } }),
        200,
        "reschedule:",
      );

      await srv.kill("SIGTERM");
      await sleep(3500); // all four timers are now in the past
      await srv.start();

      await waitForStatus(srv, delayed, "QUEUED", 10000);
      await waitForStatus(srv, rescheduled, "QUEUED", 10000);
      await waitForStatus(srv, ttl, "EXPIRED", 10000);
      await sleep(500);
      assert.equal((await retrieve(srv, canceled)).status, "CANCELED", "a canceled delayed run stays canceled");
    });

    test("SIGKILL right after acknowledged writes loses none of them", async () => {
      const task = uid("kill-");
      const acked = [];
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          api(srv, "POST", `/api/v1/tasks/${task}/trigger`, {
            body: { payload: JSON.stringify({ w: 0, i }), options: { tags: ["w0"] } },
          }),
        ),
      );
      results.forEach((r, i) => {
        expectStatus(r, 200, `trigger ${i}:`);
        acked.push({ id: r.json.id, w: 0, i });
      });
      const delayed = await triggerId(srv, task, { delay: "2s" });
      const ttl = await triggerId(srv, task, { ttl: "2s" });

      await srv.restart("SIGKILL");

      await assertAllExist(srv, acked);
      const list = await api(srv, "GET", `/api/v1/runs?filter[taskIdentifier]=${task}&page[size]=100`);
      expectStatus(list, 200, "list:");
      assert.equal(list.json.data.length, 42, "every acknowledged run is listed");
      await waitForStatus(srv, delayed, "QUEUED");
      await waitForStatus(srv, ttl, "EXPIRED");
    });

    test("SIGKILL in the middle of a stream of triggers: every acknowledged run survives", async (t) => {
      const task = uid("stream-");
      let killed = false;
      const stream = triggerStream(srv, task, { parallel: 8, stop: (n) => killed });
      // Let some writes through, then pull the plug while requests are in flight.
      while (!killed) {
        await sleep(20);
        const list = await api(srv, "GET", `/api/v1/runs?filter[taskIdentifier]=${task}&page[size]=1`).catch(() => null);
        if (list?.json?.data?.length) {
          await sleep(300);
          await srv.kill("SIGKILL");
          killed = true;
        }
      }
      const { acked, failures } = await stream;
      t.diagnostic(`${acked.length} acknowledged, ${failures} not`);
      assert.ok(acked.length > 0, "some triggers were acknowledged before the kill");
      await srv.start();
      await assertAllExist(srv, acked);
    });

    test("SIGTERM in the middle of a stream of triggers: in-flight requests finish, all acknowledged runs survive", async (t) => {
      const task = uid("term-");
      let stopping = false;
      const stream = triggerStream(srv, task, { parallel: 8, stop: () => stopping });
      await sleep(400);
      const exited = srv.kill("SIGTERM");
      stopping = true;
      await exited;
      assert.equal(srv.proc.exitCode, 0, `exit code after SIGTERM; output:\n${srv.output}`);
      const { acked, failures } = await stream;
      t.diagnostic(`${acked.length} acknowledged, ${failures} not`);
      assert.ok(acked.length > 0, "some triggers were acknowledged before SIGTERM");
      await srv.start();
      await assertAllExist(srv, acked);
    });
  });
}
