// Browser: a React page using the real @trigger.dev/react-hooks, bundled with
// esbuild, served from its own origin (so CORS is exercised) and opened in
// Debian's chromium through playwright-core. The page follows one run with
// useRealtimeRun while the test changes it over the API: the initial row,
// live metadata, the final status; and a run's stream with useRealtimeStream
// while the test appends to it; every run of a tag (useRealtimeRunsWithTag,
// with a public token scoped to the tag) and of a batch (useRealtimeBatch,
// with the batch's own token) as runs join and change. Runs twice: react-hooks 4.5.0 (with core
// 4.5.0) and the latest 4.x (hooks-latest).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";
import { auth, configure } from "@trigger.dev/sdk";
import { startTriggerd, freePort } from "../lib/triggerd.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

let srv, browser, web, webUrl;
const bundles = {};

async function bundle(hooksPackage) {
  const out = await esbuild.build({
    entryPoints: [join(here, "page/app.jsx")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    alias: { "@trigger.dev/react-hooks": hooksPackage },
    // the S2 client imports node:http2 only under Node; a browser bundle leaves it out
    external: ["node:*"],
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}

before(async () => {
  srv = await startTriggerd();
  configure({ accessToken: srv.keys.dev, baseURL: srv.url });
  bundles["4.5.0"] = await bundle("@trigger.dev/react-hooks");
  bundles.latest = await bundle("hooks-latest");
  web = createServer((req, res) => {
    const u = new URL(req.url, "http://x");
    const js = bundles[u.pathname.slice(1).replace(/\.js$/, "")];
    if (js) {
      res.writeHead(200, { "content-type": "text/javascript" });
      return res.end(js);
    }
    const app = u.searchParams.get("hooks") ?? "4.5.0";
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><html><body><div id="root"></div><script type="module" src="/${app}.js"></script></body></html>`);
  });
  const port = await freePort();
  await new Promise((r) => web.listen(port, "127.0.0.1", r));
  webUrl = `http://127.0.0.1:${port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  web?.close();
  await srv?.stop();
});

async function api(method, path, body) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
  return res;
}

/** Waits until the element's text satisfies pred (or fails with what it last saw). */
async function textOf(page, sel, pred, what, timeout = 20000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await page.textContent(sel);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  const err = await page.textContent("#error");
  assert.fail(`${what}: ${sel} is ${JSON.stringify(last)} (page error: ${JSON.stringify(err)})`);
}

for (const hooks of ["4.5.0", "latest"]) {
  test(`useRealtimeRun (react-hooks ${hooks}) shows the run live, from its own public token`, async () => {
    const res = await api("POST", `/api/v1/tasks/browser-task/trigger`, {
      payload: { n: 1 },
      options: { delay: "1h", metadata: { step: 0 } },
    });
    const { id } = await res.json();
    const token = res.headers.get("x-trigger-jwt");
    assert.ok(token, "the trigger response carries the run's public token");

    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const q = new URLSearchParams({ hooks, run: id, token, api: srv.url });
    await page.goto(`${webUrl}/?${q}`);
    try {
      await textOf(page, "#status", (t) => t === "DELAYED", "the initial row");
      await textOf(page, "#metadata", (t) => t === '{"step":0}', "the trigger-time metadata");
      await api("PUT", `/api/v1/runs/${id}/metadata`, { metadata: { step: 1, text: "live" } });
      await textOf(page, "#metadata", (t) => t.includes('"step":1'), "live metadata");
      await api("POST", `/api/v2/runs/${id}/cancel`);
      await textOf(page, "#status", (t) => t === "CANCELED", "the final status");
      await textOf(page, "#finished", (t) => t === "yes", "finishedAt");
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
}

for (const hooks of ["4.5.0", "latest"]) {
  test(`useRealtimeStream (react-hooks ${hooks}) shows a run's stream as it is written`, async () => {
    const res = await api("POST", `/api/v1/tasks/browser-task/trigger`, { payload: {}, options: { delay: "1h" } });
    const { id } = await res.json();
    const token = res.headers.get("x-trigger-jwt");
    const append = (part) =>
      fetch(`${srv.url}/realtime/v1/streams/${id}/self/answer/append`, {
        method: "POST",
        headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "text/plain" },
        body: part,
      }).then((r) => assert.equal(r.status, 200));
    await append("Hello");
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const q = new URLSearchParams({ hooks, run: id, token, api: srv.url, view: "stream", stream: "answer" });
    await page.goto(`${webUrl}/?${q}`);
    try {
      await textOf(page, "#text", (t) => t === "Hello", "the part written before the page opened");
      for (const part of [", ", "streamed ", "world"]) {
        await append(part);
        await new Promise((r) => setTimeout(r, 100));
      }
      await textOf(page, "#text", (t) => t === "Hello, streamed world", "the live parts, in order");
      assert.equal(await page.textContent("#count"), "4");
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
}

/** Opens the page on view with params; runs fn(page) and checks no page errors. */
async function withPage(hooks, params, fn) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${webUrl}/?${new URLSearchParams({ hooks, api: srv.url, ...params })}`);
  try {
    await fn(page);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
}

const rows = (runs) =>
  runs
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((r) => `${r.id}=${r.status}`)
    .join("\n");

for (const hooks of ["4.5.0", "latest"]) {
  test(`useRealtimeRunsWithTag (react-hooks ${hooks}) follows every run of a tag, new ones included`, async () => {
    const tag = `browser-tag-${hooks}-${Date.now()}`;
    const trigger = async (t = tag) =>
      (await (await api("POST", `/api/v1/tasks/browser-task/trigger`, { payload: {}, options: { delay: "1h", tags: [t] } })).json()).id;
    const a = await trigger();
    const b = await trigger();
    await trigger(`${tag}-other`); // another tag: never shown
    const token = await auth.createPublicToken({ scopes: { read: { tags: tag } } });
    await withPage(hooks, { view: "tag", tag, token }, async (page) => {
      const want = [{ id: a, status: "DELAYED" }, { id: b, status: "DELAYED" }];
      await textOf(page, "#runs", (t) => t === rows(want), "the tag's runs");
      const c = await trigger();
      want.push({ id: c, status: "DELAYED" });
      await textOf(page, "#runs", (t) => t === rows(want), "a run tagged after the page opened");
      await api("POST", `/api/v2/runs/${a}/cancel`);
      want[0].status = "CANCELED";
      await textOf(page, "#runs", (t) => t === rows(want), "a status change");
      assert.equal(await page.textContent("#count"), "3");
    });
  });

  test(`useRealtimeBatch (react-hooks ${hooks}) follows the runs of a batch to their end, with the batch's token`, async () => {
    const res = await api("POST", `/api/v1/tasks/batch`, {
      items: [0, 1, 2].map((i) => ({ task: "browser-task", payload: { i }, options: { delay: "1h" } })),
    });
    const body = await res.json();
    const token = res.headers.get("x-trigger-jwt");
    assert.ok(token, "the batch response carries the batch's public token");
    const want = body.runs.map((r) => ({ id: r.id, status: "DELAYED" }));
    await withPage(hooks, { view: "batch", batch: body.id, token }, async (page) => {
      await textOf(page, "#runs", (t) => t === rows(want), "the batch's runs");
      for (const r of want) {
        await api("POST", `/api/v2/runs/${r.id}/cancel`);
        r.status = "CANCELED";
      }
      await textOf(page, "#runs", (t) => t === rows(want), "every run of the batch ended");
    });
  });
}
