// tests/integration/ratelimit.test.mjs - the /api/* rate limiter
// (spec/api.md 1.7): x-ratelimit-* headers on every API response, 429
// problem+json when an environment's bucket is empty, exempt paths, and the
// bucket refilling so that waiting until x-ratelimit-reset is enough.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, api, trigger, expectStatus, waitFor, sleep, uid, stopServer } from "./helpers.mjs";

/** Asserts the three headers and returns them as numbers. */
function rateHeaders(res, what) {
  const limit = res.headers.get("x-ratelimit-limit");
  const remaining = res.headers.get("x-ratelimit-remaining");
  const reset = res.headers.get("x-ratelimit-reset");
  assert.match(limit ?? "", /^\d+$/, `${what}: x-ratelimit-limit "${limit}"`);
  assert.match(remaining ?? "", /^\d+$/, `${what}: x-ratelimit-remaining "${remaining}"`);
  assert.match(reset ?? "", /^\d{13}$/, `${what}: x-ratelimit-reset "${reset}" is a ms epoch`);
  const r = Number(reset);
  // A ms epoch near now: not seconds (10 digits) and not a duration.
  assert.ok(r > Date.now() - 60_000 && r < Date.now() + 60 * 60_000, `${what}: reset ${r} near now (${Date.now()})`);
  return { limit: Number(limit), remaining: Number(remaining), reset: r };
}

describe("rate-limit headers with the default limit", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await stopServer(srv);
  });

  test("every /api/ response carries x-ratelimit-limit, -remaining and -reset (ms epoch)", async () => {
    const task = uid("rl-");
    const triggered = await trigger(srv, task);
    const h = rateHeaders(triggered, "trigger");
    assert.equal(h.limit, 3000, "default limit is 3000 per 10 s");
    assert.ok(h.remaining <= h.limit);
    rateHeaders(await api(srv, "GET", `/api/v3/runs/${triggered.json.id}`), "retrieve");
    rateHeaders(await api(srv, "GET", "/api/v1/runs"), "list");
    rateHeaders(await api(srv, "GET", "/api/v3/runs/run_unknown000000000000000000"), "404 retrieve");
    rateHeaders(await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: "{bad" }), "400 trigger");
  });

  test("non-API paths carry no rate-limit headers", async () => {
    const r = await fetch(`${srv.url}/healthz`);
    await r.arrayBuffer();
    assert.equal(r.headers.get("x-ratelimit-limit"), null);
  });
});

describe("--rate-limit 5", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd({ args: ["--rate-limit", "5"] });
  });
  after(async () => {
    await stopServer(srv);
  });

  test("the 6th quick request gets 429 problem+json; exempt paths, other envs and /healthz still work", async () => {
    const seen = [];
    for (let i = 0; i < 5; i++) {
      const r = await api(srv, "GET", "/api/v1/runs?page[size]=1");
      expectStatus(r, 200, `request ${i + 1}:`);
      seen.push(rateHeaders(r, `request ${i + 1}`));
    }
    assert.equal(seen[0].limit, 5);
    assert.ok(seen[0].remaining >= seen[4].remaining, `remaining goes down: ${seen.map((s) => s.remaining)}`);
    assert.ok(seen[4].remaining <= 1, `remaining after 5 requests: ${seen[4].remaining}`);

    const limited = await api(srv, "GET", "/api/v1/runs?page[size]=1");
    expectStatus(limited, 429, "6th request:");
    assert.match(limited.headers.get("content-type") ?? "", /^application\/problem\+json/);
    const h = rateHeaders(limited, "429");
    assert.equal(h.remaining, 0);
    assert.ok(h.reset > Date.now() - 1000, "reset is in the future");
    const b = limited.json;
    assert.equal(b.title, "Rate Limit Exceeded");
    assert.equal(b.status, 429);
    assert.equal(typeof b.type, "string");
    assert.equal(typeof b.detail, "string");
    assert.equal(typeof b.error, "string");
    assert.equal(b.limit, 5);
    assert.equal(b.remaining, 0);
    assert.equal(typeof b.reset, "number");
    assert.equal(typeof b.secondsUntilReset, "number");
    assert.ok(b.secondsUntilReset >= 0 && b.secondsUntilReset <= 11, `secondsUntilReset ${b.secondsUntilReset}`);

    // A trigger is limited too, and nothing is created.
    const task = uid("rl5-");
    const t = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: "{}" } });
    expectStatus(t, 429, "trigger while limited:");

    // Exempt paths (spec/api.md 1.7) are not limited.
    const claims = await api(srv, "POST", "/api/v1/auth/jwt/claims");
    expectStatus(claims, 200, "exempt /api/v1/auth/jwt/claims:");
    // The bucket is per environment.
    const prod = await api(srv, "GET", "/api/v1/runs?page[size]=1", { key: srv.keys.prod });
    expectStatus(prod, 200, "prod key while dev is limited:");
    // Not an /api/ path.
    const health = await fetch(`${srv.url}/healthz`);
    assert.equal(health.status, 200);
    await health.arrayBuffer();

    // Waiting until the advertised reset is enough (the SDK does exactly this, spec/api.md 1.3).
    await sleep(Math.max(0, Math.min(h.reset - Date.now(), 11_000)) + 200);
    const after = await waitFor(
      async () => {
        const r = await api(srv, "GET", "/api/v1/runs?page[size]=1");
        return r.status === 200 ? r : null;
      },
      { timeout: 5000, interval: 250, what: "a request to pass after the reset" },
    );
    rateHeaders(after, "after reset");

    // The limited trigger left no run behind.
    const list = await api(srv, "GET", `/api/v1/runs?filter[taskIdentifier]=${task}`);
    expectStatus(list, 200, "list:");
    assert.equal(list.json.data.length, 0);
  });

  test("a missing Authorization is 401, not 429, even when the bucket is empty", async () => {
    for (let i = 0; i < 7; i++) await api(srv, "GET", "/api/v1/runs?page[size]=1");
    const r = await api(srv, "GET", "/api/v1/runs", { key: null });
    expectStatus(r, 401, "no auth:");
    assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
  });
});

describe("--rate-limit 0", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd({ args: ["--rate-limit", "0"] });
  });
  after(async () => {
    await stopServer(srv);
  });

  test("turns the limiter off", async () => {
    for (let i = 0; i < 30; i++) {
      const r = await api(srv, "GET", "/api/v1/runs?page[size]=1");
      expectStatus(r, 200, `request ${i + 1}:`);
    }
  });
});
