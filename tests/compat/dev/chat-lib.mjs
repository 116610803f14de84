// tests/compat/dev/chat-lib.mjs - what the chat compat files share: the SDK's
// chat clients loaded from the fixture's node_modules (so they match the
// CLI's SDK version), one triggerd + dev CLI session per file, and a reply
// helper that shows the CLI's log when an answer never comes.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startServer, sleep } from "../helpers.mjs";
import { startDevSession, FIXTURE } from "./cli.mjs";

const sdkDist = join(FIXTURE, "node_modules/@trigger.dev/sdk/dist/esm/v3");
const load = (f) => import(pathToFileURL(join(sdkDist, f)).href);
export const { configure, runs, sessions, auth } = await load("index.js");
export const { AgentChat, TriggerChatTransport } = await load("chat.js");
export const { chat } = await load("ai.js");

/** A fresh triggerd, the SDK pointed at it, and the dev CLI running the fixture. */
export async function startChat() {
  const srv = await startServer();
  configure({ baseURL: srv.url, accessToken: srv.keys.dev });
  const cli = await startDevSession(srv);
  return { srv, cli };
}

export async function stopChat({ srv, cli }) {
  await cli?.stop();
  await srv?.stop();
}

/** reply(agentChat, text, timeout): the whole text of the answer to text. */
export const replyWith = (getCli) =>
  async function reply(agentChat, text, timeout = 60_000) {
    const stream = await agentChat.sendMessage(text);
    return await Promise.race([
      stream.text(),
      sleep(timeout).then(() => {
        throw new Error(`no reply to "${text}" in ${timeout} ms\n${getCli()?.tail(40)}`);
      }),
    ]);
  };
