// Compat: sessions (spec/api.md 6.12) through the SDK's sessions.* API:
// start (an upsert on externalId that triggers the first run), retrieve by
// either id, update, close, list with filters and for-await pages, and the
// errors the SDK maps from the API's statuses.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, uid, rejectsApi, decodeJwt } from "./helpers.mjs";
import { sessions, runs, configure, ConflictError, NotFoundError, PermissionDeniedError } from "./sdk.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

const config = (chatId) => ({
  basePayload: { messages: [], trigger: "preload", chatId },
  tags: [`chat:${chatId}`],
  idleTimeoutInSeconds: 10,
});

test("sessions.start creates the row and its first run; a second start is cached", async () => {
  const chatId = uid("chat-");
  const s = await sessions.start({ type: "chat.agent", externalId: chatId, taskIdentifier: "agent", triggerConfig: config(chatId), metadata: { user: "u1" } });
  assert.match(s.id, /^session_/);
  assert.equal(s.isCached, false);
  assert.equal(s.externalId, chatId);
  assert.equal(s.currentRunId, s.runId);
  assert.ok(s.createdAt instanceof Date, "dates are coerced by the SDK's schema");
  assert.deepEqual(decodeJwt(s.publicAccessToken).payload.scopes, [`read:sessions:${chatId}`, `write:sessions:${chatId}`]);
  const run = await runs.retrieve(s.runId);
  assert.equal(run.taskIdentifier, "agent");
  assert.deepEqual(run.payload, { messages: [], trigger: "preload", chatId, idleTimeoutInSeconds: 10, sessionId: s.id });
  const again = await sessions.start({ type: "chat.agent", externalId: chatId, taskIdentifier: "agent", triggerConfig: config(chatId) });
  assert.equal(again.isCached, true);
  assert.equal(again.id, s.id);
  assert.equal(again.runId, s.runId);
});

test("retrieve, update and close through the SDK; a closed session cannot start again", async () => {
  const chatId = uid("chat-");
  const s = await sessions.start({ type: "chat.agent", externalId: chatId, taskIdentifier: "agent", triggerConfig: config(chatId) });
  const byExt = await sessions.retrieve(chatId);
  const byId = await sessions.retrieve(s.id);
  assert.equal(byExt.id, s.id);
  assert.equal(byId.externalId, chatId);
  const u = await sessions.update(chatId, { tags: ["vip"], metadata: { plan: "pro" } });
  assert.deepEqual(u.tags, ["vip"]);
  assert.deepEqual(u.metadata, { plan: "pro" });
  const c = await sessions.close(s.id, { reason: "user left" });
  assert.ok(c.closedAt instanceof Date);
  assert.equal(c.closedReason, "user left");
  const c2 = await sessions.close(chatId);
  assert.equal(c2.closedAt.getTime(), c.closedAt.getTime(), "close is idempotent");
  await rejectsApi(
    () => sessions.start({ type: "chat.agent", externalId: chatId, taskIdentifier: "agent", triggerConfig: config(chatId) }),
    ConflictError,
    409,
  );
  await rejectsApi(() => sessions.retrieve("session_doesnotexist"), NotFoundError, 404);
});

test("sessions.list filters by type, tag and status and pages with for await", async () => {
  const type = uid("kind-");
  const tag = uid("t-");
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const chatId = uid(`c${i}-`);
    const s = await sessions.start({ type, externalId: chatId, taskIdentifier: "agent", triggerConfig: config(chatId), tags: [tag] });
    ids.push(s.id);
  }
  await sessions.close(ids[0]);
  const all = [];
  for await (const s of sessions.list({ type, limit: 2 })) all.push(s.id);
  assert.deepEqual(all, [...ids].reverse());
  const page = await sessions.list({ tag, status: "CLOSED" });
  assert.deepEqual(page.data.map((s) => s.id), [ids[0]]);
  const active = await sessions.list({ tag, status: ["ACTIVE"] });
  assert.equal(active.data.length, 4);
});

test("a session's public token reads its own session and not another's", async () => {
  const a = uid("a-");
  const b = uid("b-");
  const sa = await sessions.start({ type: "chat.agent", externalId: a, taskIdentifier: "agent", triggerConfig: config(a) });
  await sessions.start({ type: "chat.agent", externalId: b, taskIdentifier: "agent", triggerConfig: config(b) });
  try {
    configure({ baseURL: srv.url, accessToken: sa.publicAccessToken });
    assert.equal((await sessions.retrieve(a)).id, sa.id);
    await rejectsApi(() => sessions.retrieve(b), PermissionDeniedError, 403);
    await rejectsApi(() => sessions.update(a, { tags: [] }), PermissionDeniedError, 403);
  } finally {
    configure({ baseURL: srv.url, accessToken: srv.keys.dev });
  }
});
