// tests/integration/bad-input.test.mjs - malformed and hostile requests get
// the documented error (spec/api.md 1.7, 5) and leave the server healthy:
// after every case the test checks /healthz and an authenticated call.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  startTriggerd, api, trigger, triggerId, expectStatus, assertHealthy, rawRequest, rawSocket, uid, stopServer,
  BINARY, freePort,
} from "./helpers.mjs";

const MiB = 1024 * 1024;
const TRIGGER_LIMIT = 3 * MiB; // TASK_PAYLOAD_MAXIMUM_SIZE, spec/api.md [1]

describe("bad input", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await stopServer(srv);
  });
  afterEach(async () => {
    if (srv?.proc?.exitCode === null && srv.proc.signalCode === null) await assertHealthy(srv);
    else assert.fail(`triggerd died: ${srv?.output}`);
  });

  const TRIGGER = "/api/v1/tasks/bad-input/trigger";

  test("a background worker whose tasks lack an id is 400; the env keeps its worker", async () => {
    const path = `/api/v1/projects/${srv.projectRef}/background-workers`;
    const meta = (tasks) => ({
      body: { localOnly: true, engine: "V2",
        metadata: { packageVersion: "4.5.0", cliPackageVersion: "4.5.0", contentHash: uid("h"), tasks, queues: [] } },
    });
    const good = await api(srv, "POST", path, meta([{ id: "bad-input-ok", filePath: "t.ts", exportName: "ok" }]));
    expectStatus(good, 200);
    for (const tasks of [[1], [null], [{}], [{ id: "" }], [{ id: 7 }], [{ id: "fine" }, { filePath: "x.ts" }]]) {
      const res = await api(srv, "POST", path, meta(tasks));
      expectStatus(res, 400, `tasks ${JSON.stringify(tasks)}:`);
      assert.equal(typeof res.json?.error, "string", `tasks ${JSON.stringify(tasks)}`);
    }
    // the garbage registrations changed nothing: the env's worker still has its task
    const runId = await triggerId(srv, "bad-input-ok");
    assert.match(runId, /^run_/);
  });

  test("malformed JSON is 400 Invalid JSON", async () => {
    for (const body of ["{bad", '{"payload":', "[1,2", '{"payload":"x"} trailing', "\u0000\u0001"]) {
      const res = await api(srv, "POST", TRIGGER, { body });
      expectStatus(res, 400, `body ${JSON.stringify(body)}:`);
      assert.deepEqual(res.json, { error: "Invalid JSON" }, `body ${JSON.stringify(body)}`);
      assert.match(res.headers.get("content-type"), /^application\/json/);
    }
  });

  test("empty body is 400", async () => {
    const res = await api(srv, "POST", TRIGGER, { body: "" });
    expectStatus(res, 400, "empty body:");
    assert.equal(typeof res.json?.error, "string");
    const none = await api(srv, "POST", TRIGGER);
    expectStatus(none, 400, "no body:");
  });

  test("a JSON body of the wrong shape is 400 with a message", async () => {
    for (const body of ["[]", "42", '"x"', "null", '{"payload":"{}","options":{"tags":5}}', '{"payload":"{}","options":"x"}']) {
      const res = await api(srv, "POST", TRIGGER, { body });
      expectStatus(res, 400, `body ${body}:`);
      assert.equal(typeof res.json?.error, "string", `error message for ${body}`);
    }
  });

  test("a body over 3 MiB on trigger is 413 Request body too large", async () => {
    const big = JSON.stringify({ payload: JSON.stringify({ s: "x".repeat(TRIGGER_LIMIT + 1024) }) });
    let res;
    try {
      res = await api(srv, "POST", TRIGGER, { body: big });
    } catch (e) {
      // Some servers answer and close before reading the body; fetch then
      // reports the reset instead of the response. Retry over raw http.
      res = await rawRequest(srv, "POST", TRIGGER, {
        headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json", "content-length": Buffer.byteLength(big) },
        chunks: [big],
      });
    }
    expectStatus(res, 413, "3 MiB + 1 KiB:");
    assert.deepEqual(res.json, { error: "Request body too large" });
  });

  test("a body just under the limit is accepted", async () => {
    const payload = JSON.stringify({ s: "x".repeat(TRIGGER_LIMIT - 4096) });
    const res = await trigger(srv, uid("big-ok-"), {}, { payload });
    assert.match(res.json.id, /^run_/);
  });

  test("a Content-Length over the limit is refused without waiting for the body", async () => {
    const res = await rawRequest(srv, "POST", TRIGGER, {
      headers: {
        authorization: `Bearer ${srv.keys.dev}`,
        "content-type": "application/json",
        "content-length": String(TRIGGER_LIMIT + 1),
      },
      chunks: ['{"payload":"'], // the rest never comes
      timeout: 5000,
    }).catch((e) => ({ status: 0, text: String(e) }));
    // Either an immediate 413 or a closed connection is fine; hanging is not.
    assert.ok(res.status === 413 || res.status === 0, `got ${res.status} ${res.text}`);
    if (res.status === 413) assert.deepEqual(res.json, { error: "Request body too large" });
  });

  // spec/api.md 5 and 8.5: maxContentLength routes reject requests without
  // Content-Length, so the real API answers 413 even for a small body.
  // triggerd cannot see the framing (libh2o 2.2 drops Content-Length and
  // Transfer-Encoding after decoding) and measures the body instead: a known
  // deviation, README "Compatibility notes". Drop `todo` once it is closed.
  const CHUNKED_TODO = "known deviation (README, Compatibility notes): chunked bodies are measured, not refused";

  test("a chunked body without Content-Length on a route with a limit is 413", { todo: CHUNKED_TODO }, async () => {
    const body = JSON.stringify({ payload: '{"a":1}' });
    const res = await rawRequest(srv, "POST", TRIGGER, {
      headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json", "transfer-encoding": "chunked" },
      chunks: [body.slice(0, 10), body.slice(10)],
    });
    expectStatus(res, 413, "chunked trigger:");
    assert.deepEqual(res.json, { error: "Request body too large" });
  });

  test("a chunked body over the limit is 413", async () => {
    const chunk = "x".repeat(MiB);
    const chunks = ['{"payload":"', chunk, chunk, chunk, chunk, '"}'];
    const res = await rawRequest(srv, "POST", TRIGGER, {
      headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json", "transfer-encoding": "chunked" },
      chunks,
    }).catch((e) => ({ status: 0, text: String(e) }));
    assert.ok(res.status === 413 || res.status === 0, `chunked 4 MiB: got ${res.status} ${res.text}`);
  });

  test("NDJSON batch items with a wrong content type are 415", async () => {
    const created = await api(srv, "POST", "/api/v3/batches", { body: { runCount: 1 } });
    expectStatus(created, 202, "create batch:");
    const line = JSON.stringify({ index: 0, task: "bad-input", payload: '{"a":1}' }) + "\n";
    for (const ct of ["application/json", "text/plain"]) {
      const res = await api(srv, "POST", `/api/v3/batches/${created.json.id}/items`, {
        body: line,
        headers: { "content-type": ct },
      });
      expectStatus(res, 415, `content-type ${ct}:`);
      assert.equal(typeof res.json?.error, "string");
    }
    // The batch is untouched and still takes its item with the right type.
    const ok = await rawRequest(srv, "POST", `/api/v3/batches/${created.json.id}/items`, {
      headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/x-ndjson", "transfer-encoding": "chunked" },
      chunks: [line],
    });
    expectStatus(ok, 200, "items with application/x-ndjson:");
    assert.equal(ok.json.sealed, true);
  });

  test("an unknown route is 404 JSON", async () => {
    for (const path of ["/nope", "/api/v1/nope", "/api/v9/runs", "/api/v3/runs/x/y/z"]) {
      const res = await api(srv, "GET", path);
      expectStatus(res, 404, `${path}:`);
      assert.match(res.headers.get("content-type") ?? "", /json/, `${path} content-type`);
      assert.equal(typeof res.json?.error, "string", `${path} body`);
    }
  });

  test("a wrong method is 405 with an Allow header", async () => {
    const cases = [
      ["GET", "/api/v1/tasks/x/trigger", "POST"],
      ["DELETE", "/api/v3/runs/run_x", "GET"],
      ["PUT", "/api/v2/runs/run_x/cancel", "POST"],
      ["GET", "/api/v3/batches/batch_x/items", "POST"],
    ];
    for (const [method, path, allowed] of cases) {
      const res = await api(srv, method, path);
      expectStatus(res, 405, `${method} ${path}:`);
      const allow = res.headers.get("allow") ?? "";
      assert.ok(allow.split(/,\s*/).includes(allowed), `${method} ${path}: Allow "${allow}" lacks ${allowed}`);
      assert.deepEqual(res.json, { error: "Method not allowed" });
    }
  });

  test("missing Authorization on /api/ is 401 problem+json", async () => {
    for (const [method, path] of [["GET", "/api/v1/runs"], ["POST", TRIGGER], ["GET", "/api/v3/runs/run_x"]]) {
      const res = await api(srv, method, path, { key: null, body: method === "POST" ? { payload: "{}" } : undefined });
      expectStatus(res, 401, `${method} ${path}:`);
      assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
      const b = res.json;
      assert.equal(b.title, "Unauthorized");
      assert.equal(b.status, 401);
      assert.equal(typeof b.type, "string");
      assert.equal(b.detail, "No authorization header provided");
      assert.equal(b.error, "No authorization header provided");
    }
  });

  test("a wrong key is 401 with an error message", async () => {
    const wrong = [
      "tr_dev_" + "A".repeat(20),
      srv.keys.dev + "x",
      srv.keys.dev.slice(0, -1),
      "tr_pat_" + "a".repeat(40),
      "garbage",
      "eyJhbGciOiJIUzI1NiJ9.eyJwdWIiOnRydWV9.c2ln", // a pub:true JWT with a bad signature and no sub
    ];
    for (const key of wrong) {
      for (const [method, path] of [["GET", "/api/v1/runs"], ["POST", TRIGGER]]) {
        const res = await api(srv, method, path, { key, body: method === "POST" ? { payload: "{}" } : undefined });
        expectStatus(res, 401, `${method} ${path} with ${key}:`);
        assert.equal(typeof res.json?.error, "string", `${key}: ${res.text}`);
      }
    }
    // Not "Bearer": treated as no usable credential.
    const basic = await api(srv, "GET", "/api/v1/runs", { key: null, headers: { authorization: "Basic dXNlcjpwYXNz" } });
    expectStatus(basic, 401, "Basic auth:");
  });

  test("another environment's key does not see this environment's runs", async () => {
    const id = (await trigger(srv, uid("env-"))).json.id;
    const res = await api(srv, "GET", `/api/v3/runs/${id}`, { key: srv.keys.prod });
    expectStatus(res, 404, "prod key on a dev run:");
  });

  test("garbage on the socket and clients that vanish mid-request", async () => {
    await rawSocket(srv, "NOT HTTP AT ALL\r\n\r\n");
    await rawSocket(srv, Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]));
    await rawSocket(srv, "POST /api/v1/tasks/x/trigger HTTP/1.1\r\nHost: x\r\n"); // headers never end
    await rawSocket(
      srv,
      `POST ${TRIGGER} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${srv.keys.dev}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"payload":"`, // body cut off
    );
    await rawSocket(
      srv,
      `POST ${TRIGGER} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${srv.keys.dev}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`, // bad chunk size
    );
    await rawSocket(srv, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n");
  });

  test("clients that abort while their request is being committed", async () => {
    const task = uid("abort-");
    const aborts = Array.from({ length: 20 }, async (_, i) => {
      const ac = new AbortController();
      const p = fetch(`${srv.url}/api/v1/tasks/${task}/trigger`, {
        method: "POST",
        headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json" },
        body: JSON.stringify({ payload: JSON.stringify({ i }) }),
        signal: ac.signal,
      }).catch(() => null);
      setTimeout(() => ac.abort(), i % 4);
      return p;
    });
    await Promise.all(aborts);
  });

  test("odd but valid paths: encoded task ids, query strings, trailing slashes", async () => {
    const task = "my task/with:odd chars";
    const res = await trigger(srv, task);
    const run = (await api(srv, "GET", `/api/v3/runs/${res.json.id}?x=1`)).json;
    assert.equal(run.taskIdentifier, task);
    const bad = await api(srv, "GET", "/api/v3/runs/%zz");
    assert.ok([400, 404].includes(bad.status), `bad percent-encoding: ${bad.status} ${bad.text}`);
  });
});

describe("startup failures", () => {
  /** Runs the server with `args` and resolves its exit code (it must exit, not hang). */
  function exitCode(args, timeout = 10000) {
    return new Promise((resolve, reject) => {
      const p = spawn(BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (out += d));
      const t = setTimeout(() => {
        p.kill("SIGKILL");
        reject(new Error(`triggerd ${args.join(" ")} did not exit: ${out}`));
      }, timeout);
      p.on("exit", (code, signal) => {
        clearTimeout(t);
        resolve({ code, signal, out });
      });
    });
  }

  test("a data dir that is a file: non-zero exit, no crash", async () => {
    const dir = mkdtempSync(join(tmpdir(), "triggerd-bad-"));
    try {
      const file = join(dir, "not-a-dir");
      writeFileSync(file, "x");
      const r = await exitCode(["--listen", `127.0.0.1:${await freePort()}`, "--data", file]);
      assert.notEqual(r.code, 0, `--data on a file: ${r.out}`);
      assert.equal(r.signal, null, `--data on a file crashed: ${r.out}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("invalid flag values are refused, not silently replaced by a default", async () => {
    const dir = mkdtempSync(join(tmpdir(), "triggerd-bad-"));
    try {
      const cases = [
        ["--sync", "sometimes"], // would silently mean full
        ["--rate-limit", "lots"], // would silently turn the limiter off
        ["--rate-limit", "-5"],
        ["--listen", "nowhere"],
        ["--listen", "127.0.0.1:99999"],
        ["--listen", "127.0.0.1:4012x"],
        ["--bogus", "x"],
      ];
      const accepted = [];
      for (const args of cases) {
        const listen = args[0] === "--listen" ? [] : ["--listen", `127.0.0.1:${await freePort()}`];
        // A server that took the flag starts and keeps running; 5 s is plenty to exit otherwise.
        const r = await exitCode([...listen, ...args, "--data", join(dir, "d")], 5000).catch(() => null);
        if (r === null || r.code === 0) accepted.push(args.join(" "));
        else assert.equal(r.signal, null, `${args.join(" ")} crashed: ${r.out}`);
      }
      assert.deepEqual(accepted, [], "flags with invalid values were accepted");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a port already in use: non-zero exit, the running server is unharmed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "triggerd-bad-"));
    const srv = await startTriggerd();
    try {
      const r = await exitCode(["--listen", `127.0.0.1:${srv.port}`, "--data", join(dir, "d")]);
      assert.notEqual(r.code, 0, `port in use: ${r.out}`);
      assert.equal(r.signal, null, `port in use crashed: ${r.out}`);
      await assertHealthy(srv);
    } finally {
      await stopServer(srv);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
