// bench/chat.mjs - see bench/chat. Starts triggerd and one `trigger.dev dev`
// session on tests/compat/dev's fixture, then times AgentChat.sendMessage ->
// the reply's first text-delta for each kind of turn and prints p50/p99.
// AgentChat comes from the fixture's own SDK, so client and CLI match.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startServer, sleep, uid } from "../tests/compat/helpers.mjs";
import { startDevSession, CLI_VERSION, FIXTURE, FINAL } from "../tests/compat/dev/cli.mjs";
import { percentile } from "../tests/compat/dev/latency.mjs";

const sdkDist = join(FIXTURE, "node_modules/@trigger.dev/sdk/dist/esm/v3");
const load = (f) => import(pathToFileURL(join(sdkDist, f)).href);
const { configure, runs, sessions } = await load("index.js");
const { AgentChat } = await load("chat.js");

const n = Number(process.argv[2] ?? 20);
const few = Math.min(n, 10);

/** One turn: ms from sendMessage to the first text-delta; the reply is read to its end and checked. */
async function turn(c, text, users) {
  const t0 = performance.now();
  const stream = await c.sendMessage(text);
  const reader = stream.stream.getReader();
  let first, got = "";
  const deadline = setTimeout(() => reader.cancel(new Error(`no reply to "${text}" in 60 s`)), 60_000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value.type !== "text-delta") continue;
      first ??= performance.now() - t0;
      got += value.delta;
    }
  } finally {
    clearTimeout(deadline);
  }
  const want = `echo:${text}|users:${users}`;
  if (got !== want) throw new Error(`reply ${JSON.stringify(got)}, not ${JSON.stringify(want)}\n${cli.tail(30)}`);
  return Math.round(first);
}

async function waitRunEnded(chatId) {
  const id = (await sessions.retrieve(chatId)).currentRunId;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (FINAL.has((await runs.retrieve(id)).status)) return;
    await sleep(200);
  }
  throw new Error(`run ${id} of ${chatId} never ended\n${cli.tail(30)}`);
}

const row = (what, xs) =>
  console.log(`${what.padEnd(46)} p50 ${String(percentile(xs, 50)).padStart(6)} ms   p99 ${String(percentile(xs, 99)).padStart(6)} ms   (n=${xs.length})`);

const srv = await startServer();
configure({ baseURL: srv.url, accessToken: srv.keys.dev });
const cli = await startDevSession(srv);
try {
  console.log(`trigger.dev ${CLI_VERSION} dev, chat.agent with a mock model, ${n} samples (${few} for the slow kinds)`);
  await turn(new AgentChat({ agent: "chat-echo", id: uid("warmup-") }), "warm-up", 1); // the first build's first process

  const cold = [];
  for (let i = 0; i < few; i++) cold.push(await turn(new AgentChat({ agent: "chat-echo", id: uid("cold-") }), "hi", 1));
  row("new chat: session start + first run", cold);

  const warm = [];
  const c = new AgentChat({ agent: "chat-echo", id: uid("warm-") });
  await turn(c, "t0", 1);
  for (let i = 0; i < n; i++) warm.push(await turn(c, `t${i + 1}`, i + 2));
  row("warm run (second turn onward)", warm);

  // chat-echo's idleTimeoutInSeconds is 2: past it the run waits on a session-stream waitpoint
  const idle = [];
  const s = new AgentChat({ agent: "chat-echo", id: uid("idle-") });
  await turn(s, "s0", 1);
  for (let i = 0; i < few; i++) {
    await sleep(2500);
    idle.push(await turn(s, `s${i + 1}`, i + 2));
  }
  row("run suspended between turns (idle > 2 s)", idle);

  // chat-short ends its run 3 s after a turn: the next message boots a continuation
  const cont = [];
  const k = new AgentChat({ agent: "chat-short", id: uid("cont-") });
  await turn(k, "k0", 1);
  for (let i = 0; i < few; i++) {
    await waitRunEnded(k.id);
    cont.push(await turn(k, `k${i + 1}`, i + 2));
  }
  row("continuation boot (the chat's run had ended)", cont);
} finally {
  await cli.stop();
  await srv.stop();
}
