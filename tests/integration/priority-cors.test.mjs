// tests/integration/priority-cors.test.mjs - the `priority` trigger option is
// accepted and validated while run lists stay ordered by creation (newest
// first), and CORS (spec/api.md 1.6): preflights on CORS routes, headers on
// their responses, none on routes without CORS.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, api, trigger, triggerId, retrieve, expectStatus, uid, stopServer } from "./helpers.mjs";

describe("priority", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await stopServer(srv);
  });

  test("priority values are accepted; the list stays newest-first by creation", async () => {
    const task = uid("prio-");
    const ids = [];
    for (const priority of [0, 3600, 10, 1.5, 86400 * 30, -5]) {
      ids.push(await triggerId(srv, task, { priority }));
    }
    ids.push(await triggerId(srv, task, { priority: null }));
    for (const id of ids) assert.equal((await retrieve(srv, id)).status, "QUEUED");

    const res = await api(srv, "GET", `/api/v1/runs?filter[taskIdentifier]=${task}&page[size]=100`);
    expectStatus(res, 200, "list:");
    assert.deepEqual(res.json.data.map((r) => r.id), [...ids].reverse(), "newest first, priority ignored");
    const created = res.json.data.map((r) => Date.parse(r.createdAt));
    for (let i = 1; i < created.length; i++) assert.ok(created[i - 1] >= created[i], "createdAt descending");
  });

  test("paging through the list keeps creation order across priorities", async () => {
    const task = uid("prio-page-");
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push(await triggerId(srv, task, { priority: (i * 37) % 5 }));
    const seen = [];
    let after;
    for (let guard = 0; guard < 10; guard++) {
      const q = `filter[taskIdentifier]=${task}&page[size]=3${after ? `&page[after]=${encodeURIComponent(after)}` : ""}`;
      const res = await api(srv, "GET", `/api/v1/runs?${q}`);
      expectStatus(res, 200, "page:");
      seen.push(...res.json.data.map((r) => r.id));
      after = res.json.pagination.next;
      if (!after) break;
    }
    assert.deepEqual(seen, [...ids].reverse());
  });

  test("a non-numeric priority is 400", async () => {
    for (const priority of ["high", true, {}, [1]]) {
      const res = await trigger(srv, uid("prio-bad-"), { priority }, { expect: 400 });
      assert.equal(typeof res.json.error, "string", `priority ${JSON.stringify(priority)}`);
    }
  });
});

describe("CORS", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await stopServer(srv);
  });

  function preflight(path, method = "POST") {
    return fetch(srv.url + path, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example.com",
        "access-control-request-method": method,
        "access-control-request-headers": "authorization,content-type,x-trigger-api-version",
      },
    });
  }

  test("OPTIONS preflight on /api/v1/tasks/x/trigger is 204 with CORS headers, no auth needed", async () => {
    const r = await preflight("/api/v1/tasks/x/trigger");
    assert.equal(r.status, 204);
    assert.equal(await r.text(), "");
    const origin = r.headers.get("access-control-allow-origin");
    assert.ok(origin === "*" || origin === "https://app.example.com", `allow-origin "${origin}"`);
    const methods = r.headers.get("access-control-allow-methods") ?? "";
    assert.ok(methods.split(/,\s*/).includes("POST"), `allow-methods "${methods}"`);
    const allowHeaders = (r.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["authorization", "content-type"]) {
      assert.ok(allowHeaders === "*" || allowHeaders.includes(h), `allow-headers "${allowHeaders}" lacks ${h}`);
    }
    assert.equal(r.headers.get("access-control-max-age"), "300");
  });

  test("preflights on other CORS routes (runs retrieve, runs list, batches, idempotency reset)", async () => {
    for (const [path, method] of [
      ["/api/v3/runs/run_abc", "GET"],
      ["/api/v1/runs", "GET"],
      ["/api/v3/batches", "POST"],
      ["/api/v2/batches/batch_abc", "GET"],
      ["/api/v1/idempotencyKeys/k/reset", "POST"],
    ]) {
      const r = await preflight(path, method);
      await r.arrayBuffer();
      assert.equal(r.status, 204, `${path}`);
      assert.ok(r.headers.get("access-control-allow-origin"), `${path}: allow-origin`);
    }
  });

  test("responses of CORS routes carry allow-origin and expose the token headers", async () => {
    const t = await trigger(srv, uid("cors-"), {}, { headers: { origin: "https://app.example.com" } });
    assert.ok(t.headers.get("access-control-allow-origin"), "trigger response allow-origin");
    const expose = (t.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    assert.ok(expose.includes("x-trigger-jwt") && expose.includes("x-trigger-jwt-claims"), `expose "${expose}"`);
    const g = await api(srv, "GET", `/api/v3/runs/${t.json.id}`, { headers: { origin: "https://app.example.com" } });
    assert.ok(g.headers.get("access-control-allow-origin"), "retrieve response allow-origin");
    // Errors on CORS routes too, so a browser can read them.
    const e = await api(srv, "POST", "/api/v1/tasks/x/trigger", { body: "{bad", headers: { origin: "https://app.example.com" } });
    expectStatus(e, 400, "bad body:");
    assert.ok(e.headers.get("access-control-allow-origin"), "400 response allow-origin");
  });

  test("routes without CORS send no CORS headers", async () => {
    const id = await triggerId(srv, uid("nocors-"));
    const c = await api(srv, "POST", `/api/v2/runs/${id}/cancel`, { headers: { origin: "https://app.example.com" } });
    expectStatus(c, 200, "cancel:");
    assert.equal(c.headers.get("access-control-allow-origin"), null, "cancel is not a CORS route");
    const h = await fetch(`${srv.url}/healthz`, { headers: { origin: "https://app.example.com" } });
    await h.arrayBuffer();
    assert.equal(h.headers.get("access-control-allow-origin"), null, "healthz");

    const p = await preflight(`/api/v2/runs/${id}/cancel`);
    await p.arrayBuffer();
    assert.notEqual(p.status, 204, "no preflight answer for a non-CORS route");
    assert.equal(p.headers.get("access-control-allow-origin"), null);
    const unknown = await preflight("/api/v1/nope");
    await unknown.arrayBuffer();
    assert.equal(unknown.status, 404);
  });
});
