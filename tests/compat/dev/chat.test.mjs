// Compat: chat agents on Sessions (issue 10), run by the real `trigger.dev
// dev` CLI (cli.mjs) with the agents of fixture/src/trigger/chat.ts (a mock
// model that answers "echo:<last user text>|users:<user messages seen>").
// Driven from Node by the SDK's own clients, loaded from the fixture's
// node_modules so they match the CLI's SDK version:
//   AgentChat (server-side): streamed replies; a second turn sees the first;
//   the run suspends between turns and the next message resumes it; a run
//   that ended boots a continuation that still has the whole history
//   TriggerChatTransport + chat.createStartSessionAction with session-scoped
//   tokens (the browser path without a browser): a streamed reply; another
//   chat's token is refused
//   two chats in parallel never mix; stop mid-reply ends the turn
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { sleep, uid } from "../helpers.mjs";
import { FINAL } from "./cli.mjs";
import { runs, sessions, auth, AgentChat, TriggerChatTransport, chat, startChat, stopChat, replyWith } from "./chat-lib.mjs";


let srv;
let cli;

before(async () => ({ srv, cli } = await startChat()));
after(() => stopChat({ srv, cli }));

const reply = replyWith(() => cli);

async function currentRun(chatId) {
  return (await sessions.retrieve(chatId)).currentRunId;
}

async function waitRun(id, pred, what, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  let run;
  while (Date.now() < deadline) {
    run = await runs.retrieve(id);
    if (pred(run)) return run;
    await sleep(250);
  }
  throw new Error(`run ${id} never ${what}: ${run?.status}\n${cli.tail(40)}`);
}

test("AgentChat: streamed replies, a second turn sees the first, one run for both", async () => {
  const id = uid("chat-");
  const c = new AgentChat({ agent: "chat-echo", id });
  assert.equal(await reply(c, "hello"), "echo:hello|users:1");
  const run1 = await currentRun(id);
  assert.equal(await reply(c, "again"), "echo:again|users:2");
  assert.equal(await currentRun(id), run1, "the same run answered both turns");
});

test("AgentChat: a run suspended between turns resumes on the next message", async () => {
  const id = uid("chat-");
  const c = new AgentChat({ agent: "chat-echo", id });
  assert.equal(await reply(c, "one"), "echo:one|users:1");
  const run = await currentRun(id);
  // idleTimeoutInSeconds 2: the agent then blocks on a session-stream
  // waitpoint (a dev run is not checkpointed, so it stays EXECUTING)
  await sleep(4000);
  assert.equal((await runs.retrieve(run)).status, "EXECUTING");
  assert.equal(await reply(c, "two"), "echo:two|users:2");
  assert.equal(await currentRun(id), run, "resumed in the same run");
});

test("AgentChat: after the run ends, the next message boots a continuation with the whole history", async () => {
  const id = uid("chat-");
  const c = new AgentChat({ agent: "chat-short", id });
  assert.equal(await reply(c, "first"), "echo:first|users:1");
  const run1 = await currentRun(id);
  await waitRun(run1, (r) => FINAL.has(r.status), "finished", 60_000);
  assert.equal(await reply(c, "second"), "echo:second|users:2");
  const run2 = await currentRun(id);
  assert.notEqual(run2, run1);
  const r2 = await runs.retrieve(run2);
  assert.equal(r2.payload.continuation, true);
  assert.equal(r2.payload.previousRunId, run1);
});

test("two chats in parallel never mix", async () => {
  const a = new AgentChat({ agent: "chat-echo", id: uid("pa-") });
  const b = new AgentChat({ agent: "chat-echo", id: uid("pb-") });
  const [ra, rb] = await Promise.all([reply(a, "alpha"), reply(b, "beta")]);
  assert.equal(ra, "echo:alpha|users:1");
  assert.equal(rb, "echo:beta|users:1");
});

/** Reads a UIMessageChunk stream to its end; returns the text deltas joined and the chunk types. */
async function drain(stream, timeout = 60_000) {
  const reader = stream.getReader();
  let text = "";
  const types = [];
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const { value, done } = await Promise.race([reader.read(), sleep(timeout).then(() => ({ done: true, timedOut: true }))]);
    if (done) break;
    types.push(value.type);
    if (value.type === "text-delta") text += value.delta;
  }
  return { text, types };
}

test("TriggerChatTransport with createStartSessionAction and session tokens", async () => {
  const chatId = uid("tr-");
  const startSession = chat.createStartSessionAction("chat-echo");
  const transport = new TriggerChatTransport({
    task: "chat-echo",
    baseURL: srv.url,
    startSession: ({ chatId, clientData }) => startSession({ chatId, clientData }),
    accessToken: ({ chatId }) => auth.createPublicToken({ scopes: { read: { sessions: chatId }, write: { sessions: chatId } } }),
  });
  const stream = await transport.sendMessages({
    trigger: "submit-message",
    chatId,
    messageId: undefined,
    messages: [{ id: "u1", role: "user", parts: [{ type: "text", text: "via transport" }] }],
    abortSignal: new AbortController().signal,
  });
  const { text, types } = await drain(stream);
  assert.equal(text, "echo:via transport|users:1");
  assert.ok(types.includes("start") && types.includes("finish"), JSON.stringify(types));
  // the session's token cannot reach another chat
  const other = uid("other-");
  await new AgentChat({ agent: "chat-echo", id: other }).sendMessage("x").then((s) => s.text());
  const tok = (await startSession({ chatId })).publicAccessToken;
  const res = await fetch(`${srv.url}/realtime/v1/sessions/${other}/in/append`, {
    method: "POST",
    headers: { authorization: `Bearer ${tok}`, "content-type": "application/json" },
    body: JSON.stringify({ kind: "message", payload: { chatId: other, trigger: "submit-message" } }),
  });
  assert.equal(res.status, 403);
});

test("stop mid-reply ends the turn early; the next message is answered", async () => {
  const id = uid("stop-");
  const c = new AgentChat({ agent: "chat-slow", id });
  const stream = await c.sendMessage("a long answer please");
  const reader = stream.stream.getReader();
  let got = "";
  while (got.length < 6) {
    const { value, done } = await reader.read();
    if (done) break;
    if (value.type === "text-delta") got += value.delta;
  }
  await c.stop();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (value.type === "text-delta") rest += value.delta;
  }
  const full = "echo:a long answer please|users:1";
  assert.ok((got + rest).length < full.length, `the reply was cut short: ${got + rest}`);
  const next = await reply(c, "after stop");
  assert.match(next, /^echo:after stop\|users:2$/);
});
