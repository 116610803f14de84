// tests/integration/timers.test.mjs - TTL expiry, reschedule and cancel of
// delayed runs on a server that keeps running (spec/api.md [1], [15], [17]).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startTriggerd, api, triggerId, retrieve, waitForStatus, expectStatus, sleep, uid, stopServer,
} from "./helpers.mjs";

describe("timers without a restart", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await stopServer(srv);
  });

  test("a run with ttl 2s that nobody dequeues becomes EXPIRED", async () => {
    const id = await triggerId(srv, uid("ttl-"), { ttl: "2s" });
    const queued = await retrieve(srv, id);
    assert.equal(queued.status, "QUEUED");
    assert.equal(queued.ttl, "2s");

    const run = await waitForStatus(srv, id, "EXPIRED", 15000);
    assert.ok(run.expiredAt, "expiredAt set");
    assert.ok(Date.parse(run.expiredAt) >= Date.parse(run.createdAt) + 1000, "expired after the TTL, not at once");
    // spec/api.md 4: REST isCompleted does not count EXPIRED.
    assert.equal(run.isQueued, false);
    assert.equal(run.isCompleted, false);
    assert.equal(run.isSuccess, false);
    assert.equal(run.isCancelled, false);
  });

  test("a numeric ttl (seconds) expires too", async () => {
    const id = await triggerId(srv, uid("ttl-num-"), { ttl: 2 });
    await waitForStatus(srv, id, "EXPIRED", 15000);
  });

  test("a run without ttl does not expire within the same time", async () => {
    const task = uid("nottl-");
    const withTtl = await triggerId(srv, task, { ttl: "1s" });
    const without = await triggerId(srv, task);
    await waitForStatus(srv, withTtl, "EXPIRED", 15000);
    assert.equal((await retrieve(srv, without)).status, "QUEUED");
  });

  test("a delayed run becomes QUEUED at its time", async () => {
    const id = await triggerId(srv, uid("delay-"), { delay: "2s" });
    const run = await retrieve(srv, id);
    assert.equal(run.status, "DELAYED");
    assert.equal(run.isQueued, true, "DELAYED counts as queued (spec/api.md 4)");
    const until = Date.parse(run.delayedUntil);
    assert.ok(until > Date.parse(run.createdAt) + 1000, `delayedUntil ${run.delayedUntil} is ~2s after createdAt`);
    const queued = await waitForStatus(srv, id, "QUEUED", 15000);
    assert.ok(Date.now() >= until - 50, "not enqueued before delayedUntil");
    assert.equal(queued.delayedUntil, undefined);
  });

  test("a delay given as an ISO date is honoured", async () => {
    const at = new Date(Date.now() + 2000).toISOString();
    const id = await triggerId(srv, uid("delay-iso-"), { delay: at });
    const run = await retrieve(srv, id);
    assert.equal(run.status, "DELAYED");
    assert.ok(Math.abs(Date.parse(run.delayedUntil) - Date.parse(at)) < 1000, `${run.delayedUntil} vs ${at}`);
    await waitForStatus(srv, id, "QUEUED", 15000);
  });

  test("reschedule moves a delayed run's time and returns the full run", async () => {
    const id = await triggerId(srv, uid("resched-"), { delay: "1h" });
    const before = await retrieve(srv, id);
    const res = await api(srv, "POST", `/api/v1/runs/${id}/reschedule`, { body: { delay: "2s" } });
    expectStatus(res, 200, "reschedule:");
    assert.equal(res.json.id, id);
    assert.equal(res.json.status, "DELAYED");
    assert.ok(
      Date.parse(res.json.delayedUntil) < Date.parse(before.delayedUntil) - 30 * 60 * 1000,
      `delayedUntil moved from ${before.delayedUntil} to ${res.json.delayedUntil}`,
    );
    await waitForStatus(srv, id, "QUEUED", 15000);
  });

  test("reschedule to a later time keeps the run delayed past its original time", async () => {
    const id = await triggerId(srv, uid("resched-later-"), { delay: "1s" });
    const res = await api(srv, "POST", `/api/v1/runs/${id}/reschedule`, { body: { delay: "1h" } });
    expectStatus(res, 200, "reschedule:");
    await sleep(2500);
    assert.equal((await retrieve(srv, id)).status, "DELAYED", "the old timer did not fire");
  });

  test("reschedule is refused for a run that is not delayed, a bad delay and an unknown run", async () => {
    const task = uid("resched-bad-");
    const queued = await triggerId(srv, task);
    let res = await api(srv, "POST", `/api/v1/runs/${queued}/reschedule`, { body: { delay: "5s" } });
    expectStatus(res, 400, "not delayed:");
    assert.equal(res.json.error, "Cannot reschedule a run that is not delayed");

    const delayed = await triggerId(srv, task, { delay: "1h" });
    res = await api(srv, "POST", `/api/v1/runs/${delayed}/reschedule`, { body: { delay: "soon" } });
    expectStatus(res, 400, "bad delay:");
    assert.match(res.json.error, /^Invalid delay/);
    assert.equal((await retrieve(srv, delayed)).status, "DELAYED", "still delayed after a refused reschedule");

    res = await api(srv, "POST", `/api/v1/runs/run_doesnotexist0000000000000/reschedule`, { body: { delay: "5s" } });
    expectStatus(res, 404, "unknown run:");
  });

  test("cancel of a delayed run: CANCELED, and it never becomes QUEUED", async () => {
    const id = await triggerId(srv, uid("cancel-"), { delay: "2s" });
    const res = await api(srv, "POST", `/api/v2/runs/${id}/cancel`);
    expectStatus(res, 200, "cancel:");
    assert.deepEqual(res.json, { id });

    const run = await retrieve(srv, id);
    assert.equal(run.status, "CANCELED");
    assert.equal(run.isCancelled, true);
    assert.equal(run.isCompleted, true);
    assert.equal(run.isQueued, false);

    await sleep(3000); // past the original delay
    assert.equal((await retrieve(srv, id)).status, "CANCELED");

    // Canceling a finished run is a no-op that still returns 200.
    const again = await api(srv, "POST", `/api/v2/runs/${id}/cancel`);
    expectStatus(again, 200, "second cancel:");
    assert.equal((await retrieve(srv, id)).status, "CANCELED");

    // A canceled run cannot be rescheduled.
    const resched = await api(srv, "POST", `/api/v1/runs/${id}/reschedule`, { body: { delay: "1s" } });
    assert.ok(resched.status >= 400 && resched.status < 500, `reschedule of a canceled run: ${resched.status} ${resched.text}`);
    await sleep(1500);
    assert.equal((await retrieve(srv, id)).status, "CANCELED");
  });

  test("cancel of a run with a ttl: stays CANCELED, never EXPIRED", async () => {
    const id = await triggerId(srv, uid("cancel-ttl-"), { ttl: "1s" });
    expectStatus(await api(srv, "POST", `/api/v2/runs/${id}/cancel`), 200, "cancel:");
    await sleep(2500);
    const run = await retrieve(srv, id);
    assert.equal(run.status, "CANCELED");
    assert.equal(run.expiredAt, undefined);
  });

  test("cancel of an unknown run is 404", async () => {
    const res = await api(srv, "POST", `/api/v2/runs/run_doesnotexist0000000000000/cancel`);
    expectStatus(res, 404, "cancel unknown:");
    assert.equal(typeof res.json?.error, "string");
  });
});
