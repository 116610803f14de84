// tests/integration/helpers.mjs - plain-HTTP plumbing shared by the
// integration tests: a fetch wrapper that returns status, headers and the
// parsed body, trigger/retrieve shortcuts, bounded polling, and a raw
// node:http client for requests fetch cannot make (chunked bodies, bodies
// cut off mid-way).
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { randomBytes } from "node:crypto";

export { startTriggerd, BINARY, ROOT, freePort } from "../lib/triggerd.mjs";

/** The value the SDK sends; selects the current status vocabulary (spec/api.md 4). */
export const API_VERSION = "2025-07-16";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A short unique suffix, so task names and keys never collide across tests. */
export function uid(prefix = "") {
  return prefix + Date.now().toString(36) + randomBytes(3).toString("hex");
}

/**
 * One HTTP request. `key` is the bearer credential (default: the dev secret
 * key; null sends no Authorization); `body` is JSON-encoded unless it is a
 * string or Buffer. Never throws on a status; returns
 * {status, headers, text, json} where json is undefined for non-JSON bodies.
 */
export async function api(srv, method, path, opts = {}) {
  const headers = { ...(opts.headers ?? {}) };
  const key = opts.key === undefined ? srv.keys.dev : opts.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (opts.apiVersion !== false) headers["x-trigger-api-version"] = opts.apiVersion ?? API_VERSION;
  let body = opts.body;
  if (body !== undefined && typeof body !== "string" && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
  }
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["content-type"] = "application/json";
  }
  const r = await fetch(srv.url + path, { method, headers, body });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

/** Asserts the status, with the response body in the message when it differs. */
export function expectStatus(res, status, what = "") {
  assert.equal(res.status, status, `${what} expected ${status}, got ${res.status}: ${res.text}`);
}

/**
 * POST /api/v1/tasks/{task}/trigger the way the SDK does it (serialized
 * payload string). Returns the response; asserts 200 unless `expect` says otherwise.
 */
export async function trigger(srv, task, options = {}, extra = {}) {
  const res = await api(srv, "POST", `/api/v1/tasks/${encodeURIComponent(task)}/trigger`, {
    body: { payload: extra.payload ?? '{"a":1}', options },
    headers: extra.headers,
    key: extra.key,
  });
  expectStatus(res, extra.expect ?? 200, `trigger ${task} ${JSON.stringify(options)}:`);
  return res;
}

/** Triggers and returns just the run id. */
export async function triggerId(srv, task, options = {}, extra = {}) {
  const res = await trigger(srv, task, options, extra);
  assert.match(res.json.id, /^run_/);
  return res.json.id;
}

/** GET /api/v3/runs/{id} (current vocabulary unless apiVersion:false); asserts 200, returns the body. */
export async function retrieve(srv, id, opts = {}) {
  const res = await api(srv, "GET", `/api/v3/runs/${id}`, opts);
  expectStatus(res, 200, `retrieve ${id}:`);
  return res.json;
}

/** Polls `fn` until it returns a truthy value; throws after `timeout` ms. */
export async function waitFor(fn, { timeout = 20000, interval = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(interval);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** Polls run `id` until its status is `status`; returns the run. */
export function waitForStatus(srv, id, status, timeout = 20000, key = undefined) {
  let last;
  return waitFor(
    async () => {
      last = await retrieve(srv, id, { key });
      return last.status === status ? last : null;
    },
    { timeout, interval: 100, what: `${id} to become ${status}` },
  ).catch((e) => {
    throw new Error(`${e.message}; last status ${last?.status}`);
  });
}

/** The server still answers /healthz and an authenticated API call. */
export async function assertHealthy(srv) {
  const h = await fetch(`${srv.url}/healthz`);
  assert.equal(h.status, 200, "healthz after the previous request");
  await h.arrayBuffer();
  const r = await api(srv, "GET", "/api/v1/runs?page[size]=1");
  expectStatus(r, 200, "runs list after the previous request:");
}

/**
 * A raw node:http request, for what fetch will not send: a chunked body
 * without Content-Length (`chunks` written one by one), or an explicit
 * Content-Length. Resolves {status, headers, text, json}; a connection the
 * server closes before answering rejects.
 */
export function rawRequest(srv, method, path, { headers = {}, chunks = [], timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: srv.port, method, path, headers, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => {
          let json;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(timeout, () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.on("error", reject);
    (async () => {
      for (const c of chunks) {
        // A server that already answered (413) may close the socket while
        // we are still writing; the response, if any, is what counts.
        if (req.destroyed) return;
        req.write(c);
        await sleep(5);
      }
      req.end();
    })();
  });
}

/** Writes `bytes` on a plain TCP connection and then closes it abruptly. */
export function rawSocket(srv, bytes, { linger = 50 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(srv.port, "127.0.0.1", () => {
      s.write(bytes, () => setTimeout(() => (s.resetAndDestroy?.() ?? s.destroy(), resolve()), linger));
    });
    s.on("error", () => resolve());
  });
}

/**
 * Stops a server the way every test file should in `after`: SIGTERM, which
 * must exit 0 (graceful shutdown), then the data dir goes. Fails if the
 * server's output holds a sanitizer report (CI runs this suite on an
 * ASan+UBSan build, where a report may not otherwise fail any request).
 */
export async function stopServer(srv) {
  if (!srv) return;
  const p = srv.proc;
  const wasRunning = p && p.exitCode === null && p.signalCode === null;
  await srv.stop();
  const report = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: \w+Sanitizer/.exec(srv.output);
  assert.equal(report, null, `sanitizer report in triggerd output:\n${srv.output.slice(-4000)}`);
  if (wasRunning) {
    assert.equal(p.exitCode, 0, `triggerd exit after SIGTERM: code ${p.exitCode} signal ${p.signalCode}\n${srv.output.slice(-2000)}`);
  }
}
