// Compat: the rest of issue 10's chat scenarios, with the real `trigger.dev
// dev` CLI (cli.mjs) and the agents of fixture/src/trigger/chat.ts; the SDK's
// clients are loaded from the fixture's node_modules (4.5.0, or 4.8.3 with
// TRIGGER_SDK=latest), like chat.test.mjs:
//   chat.requestUpgrade() in onTurnStart hands the same message to a new run;
//   after the turn, the next message is answered by a new run (4.8.3 hands
//   over at once through end-and-continue)
//   resume of .out from Last-Event-ID mid-reply: raw SSE and the transport's
//   reconnectToStream, nothing lost or repeated
//   a stale token refreshed through the transport's accessToken callback
//   (append 401 and SSE 401)
//   a 25-turn chat whose .in/append bodies stay under 5 KB (and .out stays trimmed)
//   close: appends refused (409 session_closed), the externalId not reusable
//   transport.preload boots the run before the first message
//   onChatStart once per chat, onBoot on every run
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { sleep, uid } from "../helpers.mjs";
import { FINAL, latest } from "./cli.mjs";
import { runs, sessions, auth, AgentChat, TriggerChatTransport, chat, startChat, stopChat } from "./chat-lib.mjs";


let srv;
let cli;

before(async () => ({ srv, cli } = await startChat()));
after(() => stopChat({ srv, cli }));

const withTimeout = (p, what, timeout = 60_000) =>
  Promise.race([
    p,
    sleep(timeout).then(() => {
      throw new Error(`${what}: nothing in ${timeout} ms\n${cli.tail(40)}`);
    }),
  ]);

async function reply(agentChat, text, timeout = 60_000) {
  const stream = await agentChat.sendMessage(text);
  return await withTimeout(stream.text(), `reply to "${text}"`, timeout);
}

const currentRun = async (chatId) => (await sessions.retrieve(chatId)).currentRunId;

async function waitFor(pred, what, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await pred();
    if (last) return last;
    await sleep(250);
  }
  throw new Error(`never ${what}\n${cli.tail(40)}`);
}

const waitRun = (id, pred, what, timeout = 60_000) =>
  waitFor(async () => {
    const r = await runs.retrieve(id);
    return pred(r) ? r : null;
  }, `run ${id} ${what}`, timeout);

const sessionToken = (chatId) =>
  auth.createPublicToken({ scopes: { read: { sessions: chatId }, write: { sessions: chatId } } });

function transportFor(task, extra = {}) {
  const startSession = chat.createStartSessionAction(task);
  return new TriggerChatTransport({
    task,
    baseURL: srv.url,
    startSession: ({ chatId, clientData }) => startSession({ chatId, clientData }),
    accessToken: ({ chatId }) => sessionToken(chatId),
    ...extra,
  });
}

const userMsg = (id, text) => ({ id, role: "user", parts: [{ type: "text", text }] });

/** Reads a UIMessageChunk stream to its end; returns the text deltas joined and the chunk types. */
async function drain(stream, timeout = 60_000) {
  const reader = stream.getReader();
  let text = "";
  const types = [];
  const deadline = Date.now() + timeout;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`stream not done in ${timeout} ms (${text})\n${cli.tail(40)}`);
    const { value, done } = await Promise.race([reader.read(), sleep(left).then(() => ({ timedOut: true }))]);
    if (done) break;
    if (!value) continue;
    types.push(value.type);
    if (value.type === "text-delta") text += value.delta;
  }
  return { text, types };
}

const send = (transport, chatId, messages, signal = new AbortController().signal) =>
  transport.sendMessages({ trigger: "submit-message", chatId, messageId: undefined, messages, abortSignal: signal });

/** The .out records of a chat (GET …/out/records, secret key). */
async function outRecords(chatId) {
  const res = await fetch(`${srv.url}/realtime/v1/sessions/${chatId}/out/records`, {
    headers: { authorization: `Bearer ${srv.keys.dev}` },
  });
  assert.equal(res.status, 200);
  return (await res.json()).records;
}

const controlOf = (rec) => (rec.headers ?? []).find(([k]) => k === "trigger-control")?.[1];

/* ---- 1. chat.requestUpgrade() ---- */

test("requestUpgrade in onTurnStart: the same message is answered by a new run", async () => {
  const id = uid("up-");
  const c = new AgentChat({ agent: "chat-upgrade", id });
  assert.equal(await reply(c, "hi"), "echo:hi|users:1");
  const run1 = await currentRun(id);
  // the marker makes run 1 skip run(), call end-and-continue and write
  // upgrade-required; the new run finds the message in the .in tail
  assert.equal(await reply(c, "upgrade-now please"), "echo:upgrade-now please|users:2");
  const run2 = await currentRun(id);
  assert.notEqual(run2, run1, "sessions.retrieve shows the new currentRunId");
  const recs = await outRecords(id);
  const up = recs.findIndex((r) => controlOf(r) === "upgrade-required");
  assert.ok(up >= 0, `an upgrade-required record on .out: ${JSON.stringify(recs.map(controlOf))}`);
  assert.ok(recs.slice(up).some((r) => controlOf(r) === "turn-complete"), "the new run's turn-complete follows it");
  const r2 = await runs.retrieve(run2);
  assert.equal(r2.payload.continuation, true);
  assert.equal(r2.payload.previousRunId, run1);
  await waitRun(run1, (r) => FINAL.has(r.status), "finished");
  // the new run goes on with the whole history
  assert.equal(await reply(c, "after"), "echo:after|users:3");
  assert.equal(await currentRun(id), run2);
});

test("requestUpgrade after the turn: the next message is answered by a new run", async () => {
  const id = uid("up2-");
  const c = new AgentChat({ agent: "chat-upgrade", id });
  assert.equal(await reply(c, "upgrade-after this"), "echo:upgrade-after this|users:1");
  const run1 = await currentRun(id);
  await waitRun(run1, (r) => FINAL.has(r.status), "finished");
  if (latest) {
    // 4.8.3 hands over at once (end-and-continue after the turn)
    const run2 = await waitFor(async () => {
      const r = await currentRun(id);
      return r !== run1 ? r : null;
    }, "swapped currentRunId after the turn");
    assert.equal((await runs.retrieve(run2)).payload.previousRunId, run1);
  } else {
    // 4.5.0 just exits; the run stays current until the next append
    assert.equal(await currentRun(id), run1);
  }
  assert.equal(await reply(c, "next"), "echo:next|users:2");
  const run2 = await currentRun(id);
  assert.notEqual(run2, run1);
  const r2 = await runs.retrieve(run2);
  assert.equal(r2.payload.continuation, true);
  assert.equal(r2.payload.previousRunId, run1);
});

/* ---- 2. resume of .out from Last-Event-ID ---- */

/**
 * Reads the .out SSE of `chatId` (S2 batch events) from `lastEventId`; calls
 * onRecord(record) for each record until it returns true, then aborts.
 */
async function readOut(chatId, lastEventId, onRecord, timeout = 60_000) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeout);
  const headers = { authorization: `Bearer ${srv.keys.dev}`, accept: "text/event-stream", "timeout-seconds": "60" };
  if (lastEventId !== undefined) headers["last-event-id"] = String(lastEventId);
  try {
    const res = await fetch(`${srv.url}/realtime/v1/sessions/${chatId}/out`, { headers, signal: ac.signal });
    assert.equal(res.status, 200);
    const dec = new TextDecoder();
    let buf = "";
    for await (const bytes of res.body) {
      buf += dec.decode(bytes, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const lines = ev.split("\n");
        if (!lines.includes("event: batch")) continue;
        const data = lines.filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        for (const rec of JSON.parse(data).records ?? []) {
          if (onRecord(rec)) {
            ac.abort();
            return;
          }
        }
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** The text delta a data record of .out carries, or "". */
function deltaOf(rec) {
  if (controlOf(rec) || !rec.body) return "";
  let chunk;
  try {
    chunk = JSON.parse(rec.body);
  } catch {
    return "";
  }
  if (chunk && typeof chunk.data === "string") chunk = JSON.parse(chunk.data);
  else if (chunk && chunk.data && typeof chunk.data === "object") chunk = chunk.data;
  return chunk?.type === "text-delta" ? chunk.delta : "";
}

test("resume of .out from Last-Event-ID mid-reply: nothing lost or repeated", async () => {
  const id = uid("res-");
  const c = new AgentChat({ agent: "chat-slow", id });
  const full = "echo:resume me please|users:1";
  const stream = await c.sendMessage("resume me please");
  const whole = withTimeout(stream.text(), "the AgentChat reply");
  // a first reader drops its connection after a few deltas
  const first = [];
  let text1 = "";
  await readOut(id, undefined, (rec) => {
    first.push(rec.seq_num);
    text1 += deltaOf(rec);
    return text1.length >= 6;
  });
  assert.ok(text1.length >= 6 && text1.length < full.length, `dropped mid-reply: ${text1}`);
  const last = first.at(-1);
  // the transport's reload path resumes from the same cursor, in parallel
  const transport = new TriggerChatTransport({
    task: "chat-slow",
    baseURL: srv.url,
    accessToken: ({ chatId }) => sessionToken(chatId),
    sessions: { [id]: { publicAccessToken: await sessionToken(id), lastEventId: String(last), isStreaming: true } },
  });
  const resumed = transport.reconnectToStream({ chatId: id }).then((s) => drain(s));
  const second = [];
  let text2 = "";
  await readOut(id, last, (rec) => {
    second.push(rec.seq_num);
    text2 += deltaOf(rec);
    return controlOf(rec) === "turn-complete";
  });
  const seqs = [...first, ...second];
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), `contiguous, no repeats: ${seqs}`);
  assert.equal(text1 + text2, full);
  assert.equal(await whole, full);
  const r = await resumed;
  assert.equal(text1 + r.text, full, "reconnectToStream resumed after the cursor");
});

/* ---- 3. stale token refreshed through accessToken ---- */

test("a stale token is refreshed through the transport's accessToken callback", async () => {
  const id = uid("tok-");
  const startSession = chat.createStartSessionAction("chat-echo");
  await startSession({ chatId: id });
  const calls = [];
  let cursor;
  const mk = (session) =>
    new TriggerChatTransport({
      task: "chat-echo",
      baseURL: srv.url,
      accessToken: async ({ chatId }) => {
        calls.push(chatId);
        return await sessionToken(chatId);
      },
      onSessionChange: (chatId, st) => {
        if (st?.lastEventId) cursor = st.lastEventId;
      },
      sessions: { [id]: session },
    });
  // a garbage token: the append's 401 makes the transport call accessToken
  const t1 = mk({ publicAccessToken: "garbage.token.value", isStreaming: false });
  const r1 = await drain(await send(t1, id, [userMsg("u1", "stale")]));
  assert.equal(r1.text, "echo:stale|users:1");
  assert.deepEqual(calls, [id]);
  const afterTurn1 = cursor;
  assert.ok(afterTurn1, "the transport reported its .out cursor");
  // an expired session token
  const expired = await auth.createPublicToken({
    scopes: { read: { sessions: id }, write: { sessions: id } },
    expirationTime: Math.floor(Date.now() / 1000) - 60,
  });
  const probe = await fetch(`${srv.url}/realtime/v1/sessions/${id}/out`, {
    headers: { authorization: `Bearer ${expired}`, "timeout-seconds": "1" },
  });
  assert.equal(probe.status, 401, "an expired token is refused with 401");
  await probe.body?.cancel();
  // on an append
  const t2 = mk({ publicAccessToken: expired, lastEventId: afterTurn1, isStreaming: false });
  const r2 = await drain(await send(t2, id, [userMsg("u1", "stale"), userMsg("u2", "expired")]));
  assert.equal(r2.text, "echo:expired|users:2");
  assert.deepEqual(calls, [id, id]);
  // on the .out SSE of a reload (reconnectToStream from turn 1's cursor)
  const t3 = mk({ publicAccessToken: expired, lastEventId: afterTurn1, isStreaming: true });
  const r3 = await drain(await t3.reconnectToStream({ chatId: id }));
  assert.equal(r3.text, "echo:expired|users:2");
  assert.deepEqual(calls, [id, id, id]);
});

/* ---- 4. 25 turns, small appends ---- */

test("a 25-turn chat: every .in/append body stays under 5 KB", async () => {
  const id = uid("long-");
  const sizes = [];
  const realFetch = globalThis.fetch;
  const spy = async (url, init) => {
    if (String(url).includes("/in/append") && String(url).includes(id)) sizes.push(Buffer.byteLength(init?.body ?? ""));
    return realFetch(url, init);
  };
  const transport = transportFor("chat-echo", { fetch: spy });
  const messages = [];
  for (let i = 1; i <= 25; i++) {
    messages.push(userMsg(`u${i}`, `turn ${i} ${"x".repeat(100)}`));
    const { text } = await drain(await send(transport, id, [...messages]));
    assert.equal(text, `echo:turn ${i} ${"x".repeat(100)}|users:${i}`);
    messages.push({ id: `a${i}`, role: "assistant", parts: [{ type: "text", text }] });
  }
  assert.ok(sizes.length >= 25, `appends seen: ${sizes.length}`);
  assert.ok(Math.max(...sizes) < 5 * 1024, `append bodies: ${sizes}`);
  // and .out stays bounded: each turn trims back to the previous turn-complete
  const recs = await outRecords(id);
  assert.ok(recs.length > 0 && recs.length < 40, `.out holds ${recs.length} records after 25 turns`);
  assert.ok(recs[0].seqNum > 100, `the early turns were trimmed (first seq ${recs[0].seqNum})`);
  // a reload whose cursor was trimmed away reads from the first surviving
  // record; the tail is a finished turn, so the answer says settled and ends
  const t0 = Date.now();
  const res = await fetch(`${srv.url}/realtime/v1/sessions/${id}/out`, {
    headers: { authorization: `Bearer ${srv.keys.dev}`, "last-event-id": "5", "x-peek-settled": "1", "timeout-seconds": "60" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-session-settled"), "true");
  const sse = await res.text();
  assert.ok(Date.now() - t0 < 5000, `a settled read ends at once (${Date.now() - t0} ms)`);
  const firstId = Number(/^id: (\d+)$/m.exec(sse)?.[1]);
  const firstSeq = Number(/"seq_num":(\d+)/.exec(sse)?.[1]);
  // (the last turn's trim may land after the records read above: no upper bound)
  assert.ok(firstSeq > 100 && firstId >= firstSeq, `resumed at the first surviving record, not 6: ${firstSeq}`);
});

/* ---- 5. close ---- */

test("close: appends are refused with 409 session_closed and the externalId is not reusable", async () => {
  const id = uid("close-");
  const c = new AgentChat({ agent: "chat-echo", id });
  assert.equal(await reply(c, "bye"), "echo:bye|users:1");
  const closed = await sessions.close(id, { reason: "done" });
  assert.ok(closed.closedAt);
  const res = await fetch(`${srv.url}/realtime/v1/sessions/${id}/in/append`, {
    method: "POST",
    headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json" },
    body: JSON.stringify({ kind: "message", payload: { chatId: id, trigger: "submit-message" } }),
  });
  assert.equal(res.status, 409);
  const body = await res.json();
  assert.equal(body.code, "session_closed");
  assert.equal(body.closedReason, "done");
  // the SDK clients fail the send
  await assert.rejects(() => c.sendMessage("again"));
  const transport = transportFor("chat-echo", {
    sessions: { [id]: { publicAccessToken: await sessionToken(id), isStreaming: false } },
  });
  await assert.rejects(() => send(transport, id, [userMsg("u2", "again")]), /409|session_closed|closed/i);
  // POST /api/v1/sessions with the same externalId is a conflict
  const again = await fetch(`${srv.url}/api/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "chat.agent", externalId: id, taskIdentifier: "chat-echo", triggerConfig: { basePayload: { chatId: id } } }),
  });
  assert.equal(again.status, 409);
  await assert.rejects(() => new AgentChat({ agent: "chat-echo", id }).sendMessage("new"));
});

/* ---- 6. preload ---- */

test("transport.preload boots the run before the first message", async () => {
  const id = uid("pre-");
  const transport = transportFor("chat-hooks");
  await transport.preload(id);
  const run = await currentRun(id);
  assert.ok(run, "preload triggered a run");
  const r = await waitRun(run, (r) => r.status === "EXECUTING" && r.metadata?.preloaded === true, "ran onPreload");
  assert.equal(r.payload.trigger, "preload");
  assert.equal(r.metadata.chatStarts, undefined, "onChatStart waits for the first message");
  const { text } = await drain(await send(transport, id, [userMsg("u1", "after preload")]));
  assert.equal(text, "echo:after preload|users:1");
  assert.equal(await currentRun(id), run, "the preloaded run answered");
  await waitRun(run, (r) => r.metadata?.chatStarts === 1, "ran onChatStart");
});

test("AgentChat.preload boots the run before the first message", async () => {
  const id = uid("pre2-");
  const c = new AgentChat({ agent: "chat-hooks", id });
  await c.preload();
  const run = await currentRun(id);
  await waitRun(run, (r) => r.status === "EXECUTING" && r.metadata?.preloaded === true, "ran onPreload");
  assert.equal(await reply(c, "hello"), "echo:hello|users:1");
  assert.equal(await currentRun(id), run, "the preloaded run answered");
});

/* ---- 7. hooks ---- */

test("onChatStart fires once per chat, onBoot on every run (across a continuation)", async () => {
  const id = uid("hooks-");
  const c = new AgentChat({ agent: "chat-hooks", id });
  assert.equal(await reply(c, "first"), "echo:first|users:1");
  const run1 = await currentRun(id);
  const r1 = await waitRun(run1, (r) => FINAL.has(r.status), "finished");
  assert.equal(r1.metadata?.boots, 1, JSON.stringify(r1.metadata));
  assert.equal(r1.metadata?.chatStarts, 1, JSON.stringify(r1.metadata));
  assert.equal(await reply(c, "second"), "echo:second|users:2");
  const run2 = await currentRun(id);
  assert.notEqual(run2, run1);
  const r2 = await waitRun(run2, (r) => FINAL.has(r.status), "finished");
  assert.equal(r2.metadata?.boots, 1, JSON.stringify(r2.metadata));
  assert.equal(r2.metadata?.continuation, true);
  assert.equal(r2.metadata?.chatStarts, undefined, "no onChatStart on a continuation");
});
