// tests/integration/statuses.test.mjs - run status vocabularies (spec/api.md
// 4): the API status depends on x-trigger-api-version; PENDING reads QUEUED in
// both vocabularies, and the boolean helpers and filter[status] follow the
// table. Only states reachable without a worker are covered: DELAYED,
// PENDING, EXPIRED and CANCELED.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, api, triggerId, retrieve, waitForStatus, expectStatus, uid, stopServer } from "./helpers.mjs";

// Booleans per spec/api.md 4 (REST): isCompleted leaves out EXPIRED.
const HELPERS = {
  QUEUED: { isQueued: true, isExecuting: false, isWaiting: false, isCompleted: false, isSuccess: false, isFailed: false, isCancelled: false },
  DELAYED: { isQueued: true, isExecuting: false, isWaiting: false, isCompleted: false, isSuccess: false, isFailed: false, isCancelled: false },
  EXPIRED: { isQueued: false, isExecuting: false, isWaiting: false, isCompleted: false, isSuccess: false, isFailed: false, isCancelled: false },
  CANCELED: { isQueued: false, isExecuting: false, isWaiting: false, isCompleted: true, isSuccess: false, isFailed: true, isCancelled: true },
};

function pickHelpers(run) {
  return Object.fromEntries(Object.keys(HELPERS.QUEUED).map((k) => [k, run[k]]));
}

describe("status vocabularies", () => {
  let srv;
  const runs = {}; // expected API status -> run id
  let task;

  before(async () => {
    srv = await startTriggerd();
    task = uid("status-");
    runs.QUEUED = await triggerId(srv, task);
    runs.DELAYED = await triggerId(srv, task, { delay: "1h" });
    runs.CANCELED = await triggerId(srv, task, { delay: "1h" });
    expectStatus(await api(srv, "POST", `/api/v2/runs/${runs.CANCELED}/cancel`), 200, "cancel:");
    runs.EXPIRED = await triggerId(srv, task, { ttl: "1s" });
    await waitForStatus(srv, runs.EXPIRED, "EXPIRED", 15000);
  });
  after(async () => {
    await stopServer(srv);
  });

  const vocabularies = [
    ["x-trigger-api-version: 2025-07-16", {}],
    ["no x-trigger-api-version header", { apiVersion: false }],
    ["another x-trigger-api-version value", { apiVersion: "2024-01-01" }],
  ];

  for (const [name, opts] of vocabularies) {
    test(`retrieve with ${name}: PENDING reads QUEUED, the others keep their names`, async () => {
      for (const [status, id] of Object.entries(runs)) {
        const run = await retrieve(srv, id, opts);
        assert.equal(run.status, status, `${id} (${status})`);
        assert.deepEqual(pickHelpers(run), HELPERS[status], `helpers of a ${status} run`);
      }
    });

    test(`runs list with ${name}: same statuses as retrieve`, async () => {
      const res = await api(srv, "GET", `/api/v1/runs?filter[taskIdentifier]=${task}&page[size]=100`, opts);
      expectStatus(res, 200, "list:");
      const byId = Object.fromEntries(res.json.data.map((r) => [r.id, r]));
      for (const [status, id] of Object.entries(runs)) {
        assert.ok(byId[id], `${id} listed`);
        assert.equal(byId[id].status, status, `${id} in the list`);
        assert.deepEqual(pickHelpers(byId[id]), HELPERS[status], `list helpers of a ${status} run`);
      }
    });
  }

  test("a PENDING run never shows the DB name", async () => {
    for (const opts of [{}, { apiVersion: false }]) {
      const r = await api(srv, "GET", `/api/v3/runs/${runs.QUEUED}`, opts);
      assert.ok(!r.text.includes('"PENDING"'), r.text);
    }
  });

  test("filter[status] takes API names and maps QUEUED to the PENDING runs", async () => {
    async function filtered(status, opts = {}) {
      const res = await api(srv, "GET", `/api/v1/runs?filter[taskIdentifier]=${task}&filter[status]=${status}&page[size]=100`, opts);
      expectStatus(res, 200, `filter[status]=${status}:`);
      return res.json.data.map((r) => r.id).sort();
    }
    for (const status of Object.keys(runs)) {
      assert.deepEqual(await filtered(status), [runs[status]], `filter[status]=${status}`);
      assert.deepEqual(await filtered(status, { apiVersion: false }), [runs[status]], `filter[status]=${status} (legacy)`);
    }
    assert.deepEqual(await filtered("QUEUED,DELAYED"), [runs.QUEUED, runs.DELAYED].sort());
    // Names from either vocabulary are accepted even when nothing matches.
    for (const status of ["EXECUTING", "FROZEN", "REATTEMPTING", "WAITING", "COMPLETED", "FAILED", "CRASHED", "TIMED_OUT"]) {
      assert.deepEqual(await filtered(status), [], `filter[status]=${status}`);
    }
  });

  test("an unknown filter[status] value is a 400 Query Error", async () => {
    const res = await api(srv, "GET", `/api/v1/runs?filter[status]=NOT_A_STATUS`);
    expectStatus(res, 400, "bad status filter:");
    assert.equal(res.json.error, "Query Error");
  });

  test("statuses survive a restart unchanged", async () => {
    await srv.restart();
    for (const [status, id] of Object.entries(runs)) {
      assert.equal((await retrieve(srv, id)).status, status);
      assert.equal((await retrieve(srv, id, { apiVersion: false })).status, status);
    }
  });
});
