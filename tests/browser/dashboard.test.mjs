// Browser: triggerd's own dashboard (src/dash), opened in Debian's chromium
// through playwright-core against build/triggerd with a `trigger.dev dev`
// CLI (4.5.0, tests/compat/dev/fixture) executing the runs. Login with the
// personal access token (a wrong one refused), nothing reachable without the
// session cookie (pages and data endpoints, by plain fetch too), the CSRF
// header on every action, the runs list live (a run triggered from the SDK
// and its status change show without a reload), a run executed by the dev
// CLI with payload, output, logs and spans, cancel from the UI, the
// schedules and keys pages, no console errors anywhere. Writes screenshots
// of the main pages to docs/screenshots/ (README.md shows them).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { request } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { configure, tasks, runs } from "@trigger.dev/sdk";
import { startTriggerd } from "../lib/triggerd.mjs";
import { startDevSession } from "../compat/dev/cli.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(here, "../../docs/screenshots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
// axe-core (pinned in package.json): the accessibility rules every page must pass
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const a11yChecked = new Set();

/** Runs axe-core on the page as it is now (evaluated over CDP: the page's
 * CSP does not apply) and fails on any violation of the WCAG 2.1 A/AA and
 * best-practice rules, labels, names and roles among them. */
async function a11y(page, what) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  });
  a11yChecked.add(what);
  assert.deepEqual(found, [], `accessibility of ${what}`);
}

// a task that schedules may target (imperative schedules, no cron of its own)
const SCHEDULED = `import { schedules } from "@trigger.dev/sdk";
export const dashScheduled = schedules.task({ id: "dash-scheduled", run: async () => ({ ok: true }) });
`;

// a task that logs, writes an output stream slowly, and logs again
const STREAMING = `import { logger, streams, task } from "@trigger.dev/sdk";
const out = streams.define<string>({ id: "dash-out" });
export const dashStream = task({
  id: "dash-stream",
  run: async (p: { n: number; delayMs: number }) => {
    logger.info("dash-stream start");
    const src = new ReadableStream<string>({
      async start(c) {
        for (let i = 0; i < p.n; i++) {
          c.enqueue("chunk-" + i);
          await new Promise((r) => setTimeout(r, p.delayMs));
        }
        c.close();
      },
    });
    const { waitUntilComplete } = out.pipe(src);
    await waitUntilComplete();
    logger.info("dash-stream end");
    return { chunks: p.n };
  },
});
`;

let srv, dev, browser, ctx;
const consoleErrors = [];

before(async () => {
  srv = await startTriggerd();
  configure({ baseURL: srv.url, accessToken: srv.keys.dev });
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  ctx = await browser.newContext({ viewport: { width: 1360, height: 860 } });
});

after(async () => {
  if (srv?.proc && (srv.proc.exitCode !== null || srv.proc.signalCode !== null))
    console.log(`# triggerd exited (${srv.proc.exitCode ?? srv.proc.signalCode}):\n${srv.output.slice(-6000)}`);
  await browser?.close();
  await dev?.stop();
  await srv?.stop();
});

/** A page of the logged-in context that records console errors. */
async function newPage(c = ctx) {
  const page = await c.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => consoleErrors.push(`${page.url()}: ${e}`));
  return page;
}

async function api(method, path, body) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json", "x-trigger-api-version": "2025-07-16" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A POST with headers fetch() would not send (Origin, Sec-Fetch-Site). */
function rawPost(path, body, headers) {
  return new Promise((resolve, reject) => {
    const req = request(`${srv.url}${path}`, { method: "POST", headers }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function until(what, fn, timeout = 30000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out: ${what} (last: ${JSON.stringify(last)})`);
}

async function login(page, token) {
  await page.goto(`${srv.url}/`);
  assert.match(page.url(), /\/login$/, "without a session / leads to the login page");
  await page.getByLabel("Personal access token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForLoadState("load");
}

/** Logs the context in when the login test did not run (a --test-name-pattern run). */
async function ensureLogin() {
  if ((await ctx.cookies()).length) return;
  const page = await ctx.newPage();
  await login(page, srv.pat);
  await page.close();
}

test("login: a wrong token is refused, the right one gets an HttpOnly SameSite=Strict session", async () => {
  // not newPage(): the browser reports the refused login's 401 on the console, as it should
  const page = await ctx.newPage();
  await login(page, "tr_pat_thisisnotthetokenatall000000000000000");
  assert.match(page.url(), /\/login$/);
  assert.match(await page.textContent("#login-error"), /not valid/);
  assert.equal((await ctx.cookies()).length, 0, "no cookie for a wrong token");
  // a secret key is not a personal access token
  await page.getByLabel("Personal access token").fill(srv.keys.dev);
  await page.getByRole("button", { name: "Log in" }).click();
  assert.match(await page.textContent("#login-error"), /not valid/);
  await page.screenshot({ path: join(SHOTS, "login.png") });
  await a11y(page, "login");

  await page.getByLabel("Personal access token").fill(srv.pat);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForSelector("nav[aria-label=Main]");
  assert.equal(new URL(page.url()).pathname, "/");
  const [cookie] = await ctx.cookies();
  assert.equal(cookie.name, "triggerd_session");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(cookie.secure, false, "plain http: no Secure flag");
  await page.close();
});

test("no page or data endpoint answers without the session cookie, no action without the CSRF header", async () => {
  const { id } = await api("POST", "/api/v1/tasks/dash-secret/trigger", { payload: { secret: "s3cr3t" }, options: { delay: "1h" } });
  const anon = async (path, init = {}) => fetch(`${srv.url}${path}`, { redirect: "manual", ...init });
  const root = await anon("/");
  assert.equal(root.status, 302);
  assert.equal(root.headers.get("location"), "/login");
  for (const path of [
    "/dashboard/api/session",
    "/dashboard/api/keys",
    "/dashboard/api/env/dev/tasks",
    "/dashboard/api/env/dev/live",
    "/dashboard/api/env/dev/api/v1/runs",
    `/dashboard/api/env/dev/api/v3/runs/${id}`,
    `/dashboard/api/env/dev/api/v1/runs/${id}/events`,
    "/dashboard/api/env/prod/api/v1/schedules",
  ]) {
    for (const headers of [{}, { cookie: "triggerd_session=" + "0".repeat(64) }, { authorization: `Bearer ${srv.keys.dev}` }, { authorization: `Bearer ${srv.pat}` }]) {
      const res = await anon(path, { headers });
      const text = await res.text();
      assert.equal(res.status, 401, `${path} with ${JSON.stringify(headers)}: ${res.status} ${text}`);
      assert.ok(!text.includes(id) && !text.includes("s3cr3t") && !text.includes(srv.keys.dev), `${path} leaks nothing`);
    }
  }
  const cancel = await anon(`/dashboard/api/env/dev/api/v2/runs/${id}/cancel`, { method: "POST" });
  assert.equal(cancel.status, 401);
  // with the browser's cookie but no CSRF header (what a cross-site form could send at best)
  const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  assert.ok(cookie, "logged in by the first test");
  const ok = await anon("/dashboard/api/session", { headers: { cookie } });
  assert.equal(ok.status, 200);
  const { csrf } = await ok.json();
  for (const headers of [{ cookie }, { cookie, "x-csrf-token": "f".repeat(64) }]) {
    const res = await anon(`/dashboard/api/env/dev/api/v2/runs/${id}/cancel`, { method: "POST", headers });
    assert.equal(res.status, 403, await res.text());
  }
  const rotate = await anon("/dashboard/api/env/dev/rotate-key", { method: "POST", headers: { cookie } });
  assert.equal(rotate.status, 403);
  assert.equal((await runs.retrieve(id)).status, "DELAYED", "nothing was cancelled");
  // a login form posted from another site is refused
  for (const headers of [{ origin: "https://evil.example" }, { "sec-fetch-site": "cross-site" }, { origin: "null" }]) {
    const forged = await rawPost("/login", `token=${srv.pat}`, { "content-type": "application/x-www-form-urlencoded", ...headers });
    assert.equal(forged.status, 403, JSON.stringify(headers));
    assert.equal(forged.headers["set-cookie"], undefined);
  }
  // with the header it works; a logged-out session is dead
  const good = await anon(`/dashboard/api/env/dev/api/v2/runs/${id}/cancel`, { method: "POST", headers: { cookie, "x-csrf-token": csrf } });
  assert.equal(good.status, 200, await good.text());
});

test("the runs list shows a run triggered from the SDK, and its status change, without a reload", async () => {
  const page = await newPage();
  await page.goto(`${srv.url}/#/dev/runs`);
  await page.waitForSelector("#runs-list");
  await page.evaluate(() => (window.__noReload = true));
  const handle = await tasks.trigger("dash-live", { hello: "list" }, { delay: "1h", tags: ["dash-live"] });
  const row = `a[data-run-id="${handle.id}"]`;
  await page.waitForSelector(row, { timeout: 15000 });
  const status = () => page.locator(`tr:has(${row}) [data-status]`).getAttribute("data-status");
  assert.equal(await status(), "DELAYED");
  await runs.cancel(handle.id);
  await until("the row turns CANCELED", async () => (await status()) === "CANCELED");
  assert.equal(await page.evaluate(() => window.__noReload), true, "the page was not reloaded");
  // bulk cancel of a filtered set
  const bulk = await Promise.all([1, 2, 3].map((n) => tasks.trigger("dash-bulk", { n }, { delay: "1h", tags: ["dash-bulk"] })));
  await page.getByLabel("Tag").fill("dash-bulk");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await until("the filter shows the 3 runs", async () => (await page.locator("#runs-list tbody tr").count()) === 3);
  await page.getByRole("button", { name: "Cancel matching runs…" }).click();
  await page.getByRole("button", { name: "Yes, cancel" }).click();
  await until("bulk cancel reports", async () => /Cancelled 3 runs/.test(await page.textContent("#bulk-status")));
  for (const b of bulk) assert.equal((await runs.retrieve(b.id)).status, "CANCELED");
  // a filter: the tag narrows the list to that run
  await page.getByLabel("Tag").fill("dash-live");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await until("the tag filter applies", async () => (await page.locator("#runs-list tbody tr").count()) === 1);
  await page.close();
});

test("the dev CLI's run: payload, output, logs and spans on the run page; schedules and keys pages", async () => {
  dev = await startDevSession(srv, { extraFiles: { "src/trigger/scheduled.ts": SCHEDULED, "src/trigger/dashstream.ts": STREAMING } });
  const marker = `m${Date.now()}`;
  const handle = await tasks.trigger("dev-logs", { marker });
  const done = await until("dev-logs completes", async () => {
    const r = await runs.retrieve(handle.id);
    return r.status === "COMPLETED" && r;
  }, 90000);
  assert.deepEqual(done.output, { logged: 6 });
  // the OTLP export may trail the completion
  await until("the run's logs are stored", async () => {
    const { events } = await api("GET", `/api/v1/runs/${handle.id}/events`);
    return events.some((e) => e.message.includes(`dev-log error ${marker}`));
  });
  const page = await newPage();
  await page.goto(`${srv.url}/#/dev/run/${handle.id}`);
  await page.waitForSelector("#run-payload");
  assert.match(await page.textContent("#run-status"), /COMPLETED/);
  assert.match(await page.textContent("#run-payload"), new RegExp(marker));
  assert.match(await page.textContent("#run-output"), /"logged": 6/);
  const logs = await page.textContent("#logs");
  for (const l of ["one", "two", "three", "warn", "error"]) assert.match(logs, new RegExp(`dev-log ${l} ${marker}`));
  assert.ok((await page.locator("#spans .span").count()) >= 1, "the trace has spans");
  await page.screenshot({ path: join(SHOTS, "run.png"), fullPage: true });
  await a11y(page, "run");

  // a run that fails: its error and stack trace
  const failing = await tasks.trigger("dev-always-fails", {});
  await until("dev-always-fails fails", async () => (await runs.retrieve(failing.id)).status === "FAILED", 90000);
  await page.goto(`${srv.url}/#/dev/run/${failing.id}`);
  await page.waitForSelector("#run-error");
  assert.match(await page.textContent("#run-error"), /boom on attempt 2/);
  await until("both attempts are listed", async () => (await page.locator("#attempts li").count()) === 2);
  assert.match(await page.textContent("#attempts"), /Attempt 1[\s\S]*failed[\s\S]*Attempt 2[\s\S]*failed/);
  await a11y(page, "failed run");

  // a run waiting on a token: the run page names the waitpoint; the tokens page completes it
  const token = await api("POST", "/api/v1/waitpoints/tokens", { timeout: "1h" });
  const waiting = await tasks.trigger("dev-token-wait", { tokenId: token.id });
  await page.goto(`${srv.url}/#/dev/run/${waiting.id}`);
  await until("the run page shows what it waits on, live", async () => {
    const box = page.locator("section[aria-labelledby=wait-h]");
    return (await box.count()) && (await box.textContent()).includes(token.id);
  }, 60000);
  // (a dev run blocked on a token keeps its process: the run stays EXECUTING)
  assert.match(await page.textContent("#run-status"), /EXECUTING|WAITING/);
  await page.screenshot({ path: join(SHOTS, "run-waiting.png") });
  await a11y(page, "waiting run");
  await page.goto(`${srv.url}/#/dev/tokens`);
  await page.getByLabel("Output for “Complete” (JSON)").fill('{"approved":true}');
  await page.getByRole("button", { name: `Complete ${token.id}` }).click();
  const resumed = await until("the waiting run completes", async () => {
    const r = await runs.retrieve(waiting.id);
    return r.status === "COMPLETED" && r;
  }, 60000);
  assert.deepEqual(resumed.output, { ok: true, output: { approved: true } });

  await page.goto(`${srv.url}/#/dev/runs`);
  await page.waitForSelector(`a[data-run-id="${handle.id}"]`);
  await page.screenshot({ path: join(SHOTS, "runs.png") });

  await page.goto(`${srv.url}/#/dev/tasks`);
  await page.waitForSelector("text=dev-logs");
  await page.screenshot({ path: join(SHOTS, "tasks.png") });

  // schedules: an imperative schedule shows with its next run; deactivate from the UI
  const sched = await api("POST", "/api/v1/schedules", { task: "dash-scheduled", cron: "0 * * * *", deduplicationKey: "dash-test", externalId: "dash-user" });
  await page.goto(`${srv.url}/#/dev/schedules`);
  await page.waitForSelector(`text=${sched.id}`);
  const schedText = await page.textContent("#schedules");
  assert.match(schedText, /0 \* \* \* \*/);
  assert.match(schedText, /dash-user/);
  await page.screenshot({ path: join(SHOTS, "schedules.png") });
  await page.getByRole("button", { name: `Deactivate ${sched.id}` }).click();
  await until("the schedule is inactive", async () => (await api("GET", `/api/v1/schedules/${sched.id}`)).active === false);
  await page.getByRole("button", { name: `Activate ${sched.id}` }).waitFor();
  await page.close();
});

test("the keys page shows, copies and rotates the secret keys", async () => {
  const page = await newPage();
  await page.goto(`${srv.url}/#/dev/keys`);
  await page.waitForSelector("#key-dev");
  assert.ok(!(await page.textContent("#keys")).includes(srv.keys.dev), "keys are masked until shown");
  await page.getByRole("button", { name: "Show the dev key" }).click();
  assert.equal(await page.textContent("#key-dev"), srv.keys.dev);
  await page.getByRole("button", { name: "Show the prod key" }).press("Enter"); // keyboard works too
  assert.equal(await page.textContent("#key-prod"), srv.keys.prod);
  await page.screenshot({ path: join(SHOTS, "keys.png") });
  await a11y(page, "keys, shown");
  await page.getByRole("button", { name: "Rotate the stg key" }).click();
  await page.getByRole("button", { name: "Yes, rotate" }).click();
  const fresh = await until("the stg key changes", async () => {
    const k = await page.locator("#key-stg").getAttribute("data-key");
    return k && k !== srv.keys.stg && k;
  });
  assert.match(fresh, /^tr_stg_/);
  for (const key of [fresh, srv.keys.stg]) {
    const res = await fetch(`${srv.url}/api/v1/runs`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200, "the new key works, the old one within its grace");
  }
  await page.close();
});

test("cancel from the run page cancels the run", async () => {
  const handle = await tasks.trigger("dash-cancel", { n: 1 }, { delay: "1h" });
  const page = await newPage();
  await page.goto(`${srv.url}/#/dev/run/${handle.id}`);
  await page.waitForSelector("#run-cancel");
  assert.match(await page.textContent("#run-status"), /DELAYED/);
  await page.getByRole("button", { name: "Cancel run" }).click();
  await until("the run is cancelled", async () => (await runs.retrieve(handle.id)).status === "CANCELED");
  await until("the page shows it", async () => /CANCELED/.test(await page.textContent("#run-status")));
  assert.equal(await page.locator("#run-cancel").isDisabled(), true);
  await page.close();
});

test("the queues page pauses a queue: no dequeues until resumed", async (t) => {
  const probe = await fetch(`${srv.url}/api/v1/queues`, { headers: { authorization: `Bearer ${srv.keys.dev}` } });
  if (probe.status === 404) return t.todo("the queues API (branch api14) is not in this build");
  const page = await newPage();
  await page.goto(`${srv.url}/#/dev/queues`);
  await page.waitForSelector("#queues table");
  const q = "dev-hello"; // a task's queue, named without its task/ prefix
  await page.getByRole("button", { name: `Pause ${q}` }).click();
  await page.getByRole("button", { name: `Resume ${q}` }).waitFor();
  const handle = await tasks.trigger("dev-hello", { paused: true });
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal((await runs.retrieve(handle.id)).status, "QUEUED", "a paused queue hands out no run");
  await page.screenshot({ path: join(SHOTS, "queues.png") });
  await a11y(page, "queues, paused");
  await page.getByRole("button", { name: `Resume ${q}` }).click();
  await until("the run completes once resumed", async () => (await runs.retrieve(handle.id)).status === "COMPLETED", 60000);
  await page.close();
});

test("the run page is live while the run executes: status, its output stream, attempts and logs", async () => {
  dev ??= await startDevSession(srv, { extraFiles: { "src/trigger/scheduled.ts": SCHEDULED, "src/trigger/dashstream.ts": STREAMING } });
  await ensureLogin();
  const page = await newPage();
  await page.goto(`${srv.url}/#/dev/runs`);
  await page.waitForSelector("#runs-list");
  await page.evaluate(() => (window.__noReload = true));
  const N = 15;
  const handle = await tasks.trigger("dash-stream", { n: N, delayMs: 500 });
  await page.evaluate((id) => (location.hash = `#/dev/run/${id}`), handle.id); // no reload
  await page.waitForSelector("#run-status");
  const seen = () => page.evaluate(() => ({
    status: document.querySelector("#run-status")?.textContent,
    text: document.querySelector("#stream-dash-out")?.textContent ?? "",
    logs: document.querySelector("#logs")?.textContent ?? "",
    attempts: document.querySelectorAll("#attempts li").length,
  }));
  await until("chunks show while the run executes", async () => {
    const x = await seen();
    return x.status === "EXECUTING" && x.text.includes("chunk-1\n") && !x.text.includes(`chunk-${N - 1}`) && x;
  }, 60000);
  await page.screenshot({ path: join(SHOTS, "run-stream.png"), fullPage: true });
  await until("the page turns COMPLETED", async () => (await seen()).status === "COMPLETED", 60000);
  const done = await until("the whole stream, the attempt and the last log line show", async () => {
    const x = await seen();
    return x.text.includes(`chunk-${N - 1}`) && x.logs.includes("dash-stream end") && x.attempts >= 1 && x;
  }, 30000);
  assert.deepEqual(done.text.trim().split("\n"), Array.from({ length: N }, (_, i) => `chunk-${i}`), "each chunk once, in order");
  assert.match(done.logs, /dash-stream start/);
  assert.equal(await page.evaluate(() => window.__noReload), true, "the page was not reloaded");
  // a finished run's stream is read once more from the start after a reload
  await page.reload();
  await until("the stream again, whole", async () => (await seen()).text.trim().split("\n").length === N);
  await a11y(page, "run with a stream");
  await page.close();
});

test("keyboard only: the skip link, Tab to the tag filter and Enter; Space on a button", async () => {
  await tasks.trigger("dash-keys", {}, { delay: "1h", tags: ["dash-kbd"] });
  await ensureLogin();
  const page = await newPage();
  await page.goto(`${srv.url}/#/dev/runs`);
  await page.waitForSelector("#runs-list table");
  const focused = (sel) => page.evaluate((s) => !!document.activeElement?.matches(s), sel);
  const tabTo = async (sel, max = 80) => {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press("Tab");
      if (await focused(sel)) return;
    }
    assert.fail(`Tab never reaches ${sel}`);
  };
  await page.keyboard.press("Tab");
  assert.ok(await focused("a.skip"), "the first Tab reaches the skip link");
  await page.keyboard.press("Enter");
  assert.ok(await focused("#main"), "the skip link moves focus to the content");
  await tabTo("#filter-tag");
  await page.keyboard.type("dash-kbd");
  await tabTo("button[type=submit]");
  await page.keyboard.press("Enter");
  await until("the filter applies", async () => page.url().includes("tag=dash-kbd") && (await page.locator("#runs-list tbody tr").count()) === 1);
  // a run's page through its link, by keyboard
  await tabTo("#runs-list a[data-run-id]");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#run-status");
  // Space presses a button
  await page.goto(`${srv.url}/#/dev/keys`);
  await page.waitForSelector("#key-dev");
  await tabTo('[aria-label="Show the dev key"]');
  await page.keyboard.press("Space");
  assert.equal(await page.textContent("#key-dev"), srv.keys.dev);
  // the rotate confirmation takes the focus; "No" by keyboard puts the button back
  await tabTo('[aria-label="Rotate the prod key"]');
  await page.keyboard.press("Enter");
  assert.ok(await focused("#rotate-confirm-prod"), "the confirmation has the focus");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Rotate the prod key" }).waitFor();
  assert.equal(await page.locator("#key-prod").getAttribute("data-key"), srv.keys.prod, "nothing rotated");
  await page.close();
});

test("every page renders without console errors, and logout ends the session", async () => {
  const page = await newPage();
  for (const p of ["runs", "tasks", "deployments", "queues", "schedules", "tokens", "batches", "sessions", "envvars", "keys"]) {
    await page.goto(`${srv.url}/#/dev/${p}`);
    await page.waitForSelector(`nav a[aria-current=page][data-page=${p}]`);
    await page.waitForFunction(() => document.querySelector("#main")?.children.length > 0);
    await page.waitForTimeout(300);
    await a11y(page, p);
  }
  // the environment switcher
  await page.getByLabel("Environment").selectOption("prod");
  await page.waitForFunction(() => location.hash.startsWith("#/prod/"));
  await page.goto(`${srv.url}/#/dev/envvars`);
  await page.getByLabel("Name", { exact: true }).fill("DASH_VAR");
  await page.getByLabel("Value", { exact: true }).fill("one");
  await page.getByRole("button", { name: "Add variable" }).click();
  await page.getByLabel("Value of DASH_VAR").waitFor();
  await page.getByLabel("Value of DASH_VAR").fill("two");
  await page.getByRole("button", { name: "Save DASH_VAR" }).click();
  await until("the variable is updated", async () => {
    const vars = await api("GET", `/api/v1/projects/${srv.projectRef}/envvars/dev`);
    return vars.some((v) => v.name === "DASH_VAR" && v.value === "two");
  });
  assert.deepEqual(consoleErrors, []);
  for (const p of ["login", "runs", "run", "failed run", "tasks", "deployments", "queues", "schedules", "tokens", "batches", "sessions", "envvars", "keys"])
    assert.ok(a11yChecked.has(p), `axe ran on ${p}`);

  const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login$/);
  const res = await fetch(`${srv.url}/dashboard/api/session`, { headers: { cookie } });
  assert.equal(res.status, 401, "the old cookie is dead after logout");
  await page.close();
});
