// Browser: a chat page (page/chat.jsx: AI SDK useChat + the real
// useTriggerChatTransport) in Debian's chromium, talking to chat.agent agents
// (tests/compat/dev/fixture/src/trigger/chat.ts, a mock model that answers
// "echo:<text>|users:<user messages seen>") run by the real `trigger.dev dev`
// CLI against a triggerd. This process is the app's server: it serves the
// bundle and mints the session (chat.createStartSessionAction) and session
// tokens (auth.createPublicToken) the page asks for. Shared by chat.test.mjs
// (SDK + CLI 4.5.0) and chat-latest.test.mjs (4.8.3, TRIGGER_SDK=latest).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";
import { startTriggerd, freePort } from "../lib/triggerd.mjs";
import { startDevSession, CLI_VERSION, latest } from "../compat/dev/cli.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SDK = latest ? "sdk-latest" : "@trigger.dev/sdk";
const { configure, auth } = await import(SDK);
const { chat } = await import(`${SDK}/ai`);

let srv, cli, browser, web, webUrl, js;
const calls = { start: [], token: [] }; // chatIds the page asked a session / a token for

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uid = (p) => p + Math.random().toString(36).slice(2, 10);

async function bundle() {
  const out = await esbuild.build({
    entryPoints: [join(here, "page/chat.jsx")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    alias: latest ? { "@trigger.dev/sdk": "sdk-latest" } : {},
    external: ["node:*"],
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}

async function readJson(req) {
  let s = "";
  for await (const d of req) s += d;
  return JSON.parse(s || "{}");
}

/** The app server: the page, its bundle, and the two server actions the transport calls. */
async function handle(req, res) {
  const u = new URL(req.url, "http://x");
  const reply = (status, type, body) => {
    res.writeHead(status, { "content-type": type });
    res.end(body);
  };
  if (req.method === "POST" && u.pathname === "/start-session") {
    const { agent, chatId, clientData } = await readJson(req);
    calls.start.push(chatId);
    const session = await chat.createStartSessionAction(agent)({ chatId, clientData });
    return reply(200, "application/json", JSON.stringify(session));
  }
  if (req.method === "POST" && u.pathname === "/token") {
    const { chatId } = await readJson(req);
    calls.token.push(chatId);
    const token = await auth.createPublicToken({ scopes: { read: { sessions: chatId }, write: { sessions: chatId } } });
    return reply(200, "application/json", JSON.stringify({ token }));
  }
  if (u.pathname === "/chat.js") return reply(200, "text/javascript", js);
  reply(200, "text/html", `<!doctype html><html><body><div id="root"></div><script type="module" src="/chat.js"></script></body></html>`);
}

before(async () => {
  srv = await startTriggerd();
  configure({ baseURL: srv.url, accessToken: srv.keys.dev });
  js = await bundle();
  web = createServer((req, res) =>
    handle(req, res).catch((e) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(e?.stack ?? e));
    }),
  );
  const port = await freePort();
  await new Promise((r) => web.listen(port, "127.0.0.1", r));
  webUrl = `http://127.0.0.1:${port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  cli = await startDevSession(srv);
});

after(async () => {
  await browser?.close();
  web?.close();
  await cli?.stop();
  await srv?.stop();
});

async function openChat(agent, chatId = uid("ui-")) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${webUrl}/?${new URLSearchParams({ chat: chatId, agent, api: srv.url })}`);
  return { page, chatId, errors };
}

async function send(page, text) {
  await page.fill("#input", text);
  await page.click("#send");
}

/** The texts of the page's messages, by role. */
const messages = (page) =>
  page.$$eval("#messages li", (els) => els.map((e) => ({ role: e.className, text: e.textContent })));

/** Waits until the page's messages satisfy pred; fails with what it last saw. */
async function waitMessages(page, pred, what, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await messages(page);
    if (pred(last)) return last;
    await sleep(100);
  }
  const err = await page.textContent("#error");
  assert.fail(`${what}: messages are ${JSON.stringify(last)} (page error: ${JSON.stringify(err)})\n${cli.tail(30)}`);
}

const lastAssistant = (ms) => (ms.at(-1)?.role === "assistant" ? ms.at(-1).text : "");

const SDK_VERSION = JSON.parse(readFileSync(join(here, "node_modules", SDK, "package.json"), "utf8")).version;
const label = `SDK ${SDK_VERSION}, trigger.dev ${CLI_VERSION} dev`;

test(`useChat + useTriggerChatTransport (${label}): a streamed reply, and a second turn that sees the first`, async () => {
  const { page, chatId, errors } = await openChat("chat-echo");
  try {
    await send(page, "hello");
    await waitMessages(page, (ms) => lastAssistant(ms) === "echo:hello|users:1", "the first reply");
    await page.waitForFunction(() => document.querySelector("#status").textContent === "ready");
    await send(page, "again");
    const ms = await waitMessages(page, (ms) => lastAssistant(ms) === "echo:again|users:2", "the second reply");
    assert.deepEqual(ms, [
      { role: "user", text: "hello" },
      { role: "assistant", text: "echo:hello|users:1" },
      { role: "user", text: "again" },
      { role: "assistant", text: "echo:again|users:2" },
    ]);
    assert.deepEqual(calls.start.filter((c) => c === chatId), [chatId], "the app server started the session once");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test(`a reload in the middle of a slow reply resumes it (useChat resume, ${label})`, async () => {
  const { page, chatId, errors } = await openChat("chat-slow");
  const full = "echo:a long answer please|users:1";
  try {
    await send(page, "a long answer please");
    const before = await waitMessages(page, (ms) => lastAssistant(ms).length >= 6, "the reply's first deltas");
    assert.ok(lastAssistant(before).length < full.length, `still streaming at reload: ${lastAssistant(before)}`);
    await page.reload();
    const ms = await waitMessages(page, (ms) => lastAssistant(ms) === full, "the resumed reply");
    assert.deepEqual(ms, [
      { role: "user", text: "a long answer please" },
      { role: "assistant", text: full },
    ]);
    await page.waitForFunction(() => document.querySelector("#status").textContent === "ready");
    // the chat goes on in the same session; a reload in the second reply
    // resumes after the first turn's last event (Last-Event-ID), not from the start
    await send(page, "and then");
    const second = "echo:and then|users:2";
    const mid = await waitMessages(page, (ms) => ms.length === 4 && lastAssistant(ms).length >= 6, "the second reply's first deltas");
    assert.ok(lastAssistant(mid).length < second.length, `still streaming at reload: ${lastAssistant(mid)}`);
    await page.reload();
    await waitMessages(page, (ms) => lastAssistant(ms) === second, "the second resumed reply");
    assert.deepEqual((await messages(page)).map((m) => m.text), ["a long answer please", full, "and then", second]);
    assert.deepEqual(calls.start.filter((c) => c === chatId), [chatId], "the reload reused the stored session");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test(`a refused session token is replaced through accessToken (${label})`, async () => {
  const { page, chatId, errors } = await openChat("chat-echo");
  try {
    await send(page, "one");
    await waitMessages(page, (ms) => lastAssistant(ms) === "echo:one|users:1", "the first reply");
    await page.waitForFunction(() => document.querySelector("#status").textContent === "ready");
    // the stored token goes bad (as an expired one would); the next page load starts from it
    await page.evaluate((id) => {
      const s = JSON.parse(localStorage.getItem(`session:${id}`));
      s.publicAccessToken = "not-a-valid-token";
      localStorage.setItem(`session:${id}`, JSON.stringify(s));
    }, chatId);
    await page.reload();
    await waitMessages(page, (ms) => ms.length === 2, "the stored messages");
    await send(page, "two");
    await waitMessages(page, (ms) => lastAssistant(ms) === "echo:two|users:2", "the reply after the refresh");
    assert.ok(calls.token.includes(chatId), "the transport asked the app server for a fresh token");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
