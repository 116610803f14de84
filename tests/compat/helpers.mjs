// tests/compat/helpers.mjs - shared plumbing for the compat suite: start a
// real build/triggerd, point the SDK under test at it, and a few assertion
// helpers (API errors, bounded polling, JWT decode/sign for forged tokens).
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { startTriggerd } from "../lib/triggerd.mjs";
import { configure, apiClientManager, SDK_PACKAGE, SDK_VERSION } from "./sdk.mjs";

// The SDK retries 404 (x-should-retry), 408, 409, 429 and 5xx with a 1 s base
// backoff and 5 attempts (spec/api.md 1.3). Same policy, shorter waits, so a
// failing test fails in well under a second instead of ~10 s.
export const FAST_RETRY = { maxAttempts: 3, minTimeoutInMs: 50, maxTimeoutInMs: 250, factor: 2 };

/** Starts a fresh triggerd and configures the SDK with the dev secret key. */
export async function startServer(opts) {
  const srv = await startTriggerd(opts);
  configure({
    baseURL: srv.url,
    accessToken: srv.keys.dev,
    requestOptions: { retry: FAST_RETRY },
  });
  return srv;
}

/** The ApiClient the SDK itself would use (for operations the SDK only exposes in-task). */
export function apiClient() {
  return apiClientManager.clientOrThrow();
}

/** A short unique suffix, so names never collide across tests of one file. */
export function uid(prefix = "") {
  return prefix + Date.now().toString(36) + randomBytes(3).toString("hex");
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws after `timeout` ms. */
export async function waitFor(fn, { timeout = 30000, interval = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(interval);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/**
 * Asserts that `promiseOrFn` rejects with an SDK ApiError of class `cls` and
 * HTTP `status`; `message` (RegExp or string) is matched against err.message,
 * which the SDK takes from the body's `error` field (spec/api.md 5).
 * Returns the error for further checks.
 */
export async function rejectsApi(promiseOrFn, cls, status, message) {
  let err;
  try {
    await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${cls.name} (${status}), but the call succeeded`);
  const got = `${err?.constructor?.name} status=${err?.status}: ${err?.message}`;
  assert.ok(err instanceof cls, `expected ${cls.name} (${status}), got ${got}`);
  assert.equal(err.status, status, `expected status ${status}, got ${got}`);
  if (message !== undefined) {
    if (message instanceof RegExp) assert.match(err.message, message);
    else assert.equal(err.message, message);
  }
  return err;
}

/** Collects every item of an SDK cursor page (auto-pagination). */
export async function collect(pagePromise) {
  const out = [];
  for await (const item of pagePromise) out.push(item);
  return out;
}

/** ids of every run matching `params`, via the SDK's auto-pagination. */
export async function listIds(runsApi, params) {
  return (await collect(runsApi.list(params))).map((r) => r.id).sort();
}

export const sorted = (a) => [...a].sort();

/** Asserts `date` is a Date within `slackMs` of `expectedMs`. */
export function near(date, expectedMs, slackMs, what) {
  assert.ok(date instanceof Date, `${what}: expected a Date, got ${date}`);
  const d = Math.abs(date.getTime() - expectedMs);
  assert.ok(d <= slackMs, `${what}: ${date.toISOString()} is ${d} ms from ${new Date(expectedMs).toISOString()}`);
}

/** Maps over `items` with at most `n` calls in flight. */
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

// --- JWTs -------------------------------------------------------------------

const b64u = (buf) => Buffer.from(buf).toString("base64url");

export function decodeJwt(token) {
  const [h, p] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString()),
    payload: JSON.parse(Buffer.from(p, "base64url").toString()),
  };
}

/** HS256-signs `payload` with `key` (for forged / foreign-key tokens). */
export function signJwt(payload, key) {
  const head = b64u(JSON.stringify({ alg: "HS256" }));
  const body = b64u(JSON.stringify(payload));
  const sig = createHmac("sha256", key).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** Standard public-token claims with `sub` and `scopes`, valid for an hour. */
export function claims(sub, scopes, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub,
    pub: true,
    scopes,
    iss: "https://id.trigger.dev",
    aud: "https://api.trigger.dev",
    iat: now,
    exp: now + 3600,
    ...extra,
  };
}

/**
 * Runs `fn` with globalThis.fetch wrapped to record every request the SDK
 * makes ({method, url, body?}); returns [result, calls].
 */
export async function recordFetch(fn) {
  const calls = [];
  const orig = globalThis.fetch;
  globalThis.fetch = async (input, init = {}) => {
    const url = typeof input === "string" ? input : input.url ?? String(input);
    calls.push({
      method: (init.method ?? "GET").toUpperCase(),
      url,
      body: typeof init.body === "string" ? init.body : undefined,
      headers: init.headers,
    });
    return orig(input, init);
  };
  try {
    return [await fn(), calls];
  } finally {
    globalThis.fetch = orig;
  }
}

export function describeSdk() {
  return `${SDK_PACKAGE}@${SDK_VERSION}`;
}
