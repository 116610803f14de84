// tests/integration/sessions.test.mjs - session rows (spec/api.md 6.12
// [55]-[62], spec/sessions.md 2-3): the upsert on externalId and the run it
// ensures, continuation runs after the current run died, end-and-continue's
// optimistic swap, close (idempotent, terminal), update, list filters and
// cursors, session-scoped tokens, snapshot URLs, bad input, and a restart.
//
// Invariants checked: a session has at most one live run it points at; a
// run triggered for a session that is not the winner of the claim is
// canceled; a closed session never gets a new run.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, api, expectStatus, retrieve, assertHealthy, stopServer, uid } from "./helpers.mjs";

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
}

function startBody(ext, extra = {}) {
  return {
    type: "chat.agent",
    externalId: ext,
    taskIdentifier: "chat-task",
    triggerConfig: {
      basePayload: { messages: [], trigger: "preload", chatId: ext },
      tags: [`chat:${ext}`],
      idleTimeoutInSeconds: 30,
      maxAttempts: 1,
    },
    ...extra,
  };
}

async function start(srv, ext, extra = {}, expect = 201) {
  const res = await api(srv, "POST", "/api/v1/sessions", { body: startBody(ext, extra) });
  expectStatus(res, expect, `create ${ext}:`);
  return res.json;
}

async function payloadOf(srv, runId) {
  const r = await retrieve(srv, runId);
  return typeof r.payload === "string" ? JSON.parse(r.payload) : r.payload;
}

describe("sessions", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await assertHealthy(srv);
    await stopServer(srv);
  });

  test("create: 201 with a SessionItem, its first run and a session-scoped token", async () => {
    const ext = uid("chat-");
    const s = await start(srv, ext, { tags: ["a"], metadata: { m: 1 } });
    assert.match(s.id, /^session_/);
    assert.equal(s.externalId, ext);
    assert.equal(s.type, "chat.agent");
    assert.equal(s.taskIdentifier, "chat-task");
    assert.match(s.runId, /^run_/);
    assert.equal(s.currentRunId, s.runId);
    assert.equal(s.isCached, false);
    assert.deepEqual(s.tags, ["a"]);
    assert.deepEqual(s.metadata, { m: 1 });
    assert.equal(s.closedAt, null);
    assert.equal(s.expiresAt, null);
    assert.ok(Date.parse(s.createdAt) > 0);
    assert.equal(s.triggerConfig.idleTimeoutInSeconds, 30);
    const c = claims(s.publicAccessToken);
    assert.equal(c.pub, true);
    assert.deepEqual(c.scopes, [`read:sessions:${ext}`, `write:sessions:${ext}`]);
    assert.ok(c.exp - c.iat <= 3600 + 5);
    // the run: the task, basePayload + idleTimeoutInSeconds + sessionId, the config's tags
    const run = await retrieve(srv, s.runId);
    assert.equal(run.taskIdentifier, "chat-task");
    assert.deepEqual(run.tags, [`chat:${ext}`]);
    assert.deepEqual(await payloadOf(srv, s.runId), {
      messages: [],
      trigger: "preload",
      chatId: ext,
      idleTimeoutInSeconds: 30,
      sessionId: s.id,
    });
  });

  test("create again: 200 cached, the same live run, only triggerConfig updated", async () => {
    const ext = uid("chat-");
    const first = await start(srv, ext, { tags: ["first"], metadata: { v: 1 } });
    const body = startBody(ext, { tags: ["second"], metadata: { v: 2 } });
    body.triggerConfig.idleTimeoutInSeconds = 99;
    const res = await api(srv, "POST", "/api/v1/sessions", { body });
    expectStatus(res, 200);
    assert.equal(res.json.isCached, true);
    assert.equal(res.json.id, first.id);
    assert.equal(res.json.runId, first.runId, "the live run is kept");
    assert.deepEqual(res.json.tags, ["first"]);
    assert.deepEqual(res.json.metadata, { v: 1 });
    assert.equal(res.json.triggerConfig.idleTimeoutInSeconds, 99);
  });

  test("a dead current run is replaced by a continuation that names it", async () => {
    const ext = uid("chat-");
    const s = await start(srv, ext);
    expectStatus(await api(srv, "POST", `/api/v2/runs/${s.runId}/cancel`), 200);
    const again = await start(srv, ext, {}, 200);
    assert.notEqual(again.runId, s.runId);
    assert.equal(again.currentRunId, again.runId);
    const p = await payloadOf(srv, again.runId);
    assert.equal(p.continuation, true);
    assert.equal(p.previousRunId, s.runId);
    assert.equal(p.sessionId, s.id);
    assert.equal(p.chatId, ext);
    assert.equal(p.trigger, undefined, "the previous turn's trigger is dropped");
    assert.equal(p.messages, undefined);
    // and a third create keeps that live run
    const third = await start(srv, ext, {}, 200);
    assert.equal(third.runId, again.runId);
  });

  test("without externalId every create is a new session", async () => {
    const a = await start(srv, undefined);
    const b = await start(srv, undefined);
    assert.notEqual(a.id, b.id);
    assert.equal(a.externalId, null);
    const c = claims(a.publicAccessToken);
    assert.deepEqual(c.scopes, [`read:sessions:${a.id}`, `write:sessions:${a.id}`]);
  });

  test("externalId is trimmed; session_ prefix, bad config and limits are refused", async () => {
    const ext = uid("trim-");
    const s = await start(srv, `  ${ext}  `);
    assert.equal(s.externalId, ext);
    const bad = [
      [{ externalId: "session_abc" }, 400],
      [{ externalId: "" }, 400],
      [{ externalId: "x".repeat(257) }, 400],
      [{ type: "" }, 400],
      [{ type: "t".repeat(65) }, 400],
      [{ taskIdentifier: undefined }, 400],
      [{ triggerConfig: undefined }, 400],
      [{ triggerConfig: { basePayload: "no" } }, 400],
      [{ triggerConfig: { basePayload: {}, maxAttempts: 11 } }, 400],
      [{ triggerConfig: { basePayload: {}, maxAttempts: 0 } }, 400],
      [{ triggerConfig: { basePayload: {}, idleTimeoutInSeconds: 3601 } }, 400],
      [{ triggerConfig: { basePayload: {}, machine: "huge-9x" } }, 400],
      [{ triggerConfig: { basePayload: {}, queue: "q".repeat(129) } }, 400],
      [{ triggerConfig: { basePayload: {}, tags: Array.from({ length: 11 }, (_, i) => `t${i}`) } }, 400],
      [{ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, 400],
      [{ tags: ["x".repeat(129)] }, 400],
      [{ metadata: [1, 2] }, 400],
      [{ expiresAt: "not a date" }, 400],
    ];
    for (const [over, status] of bad) {
      const body = { ...startBody(uid("bad-")), ...over };
      const res = await api(srv, "POST", "/api/v1/sessions", { body });
      expectStatus(res, status, JSON.stringify(over).slice(0, 80));
      assert.equal(typeof res.json?.error, "string");
    }
    const big = startBody(uid("big-"), { metadata: { blob: "x".repeat(33 * 1024) } });
    expectStatus(await api(srv, "POST", "/api/v1/sessions", { body: big }), 413);
    expectStatus(await api(srv, "POST", "/api/v1/sessions", { body: "{not json" }), 400);
    expectStatus(await api(srv, "POST", "/api/v1/sessions", { body: startBody(uid()), key: "tr_dev_wrong" }), 401);
  });

  test("retrieve by friendly id and by externalId; unknown ids are 404", async () => {
    const ext = uid("chat-");
    const s = await start(srv, ext);
    for (const key of [s.id, ext, encodeURIComponent(ext)]) {
      const r = await api(srv, "GET", `/api/v1/sessions/${key}`);
      expectStatus(r, 200, key);
      assert.equal(r.json.id, s.id);
      assert.equal(r.json.currentRunId, s.runId);
    }
    for (const key of ["session_doesnotexist", "no-such-chat"]) {
      const r = await api(srv, "GET", `/api/v1/sessions/${key}`);
      expectStatus(r, 404);
      assert.equal(r.json.error, "Session not found");
    }
  });

  test("update: tags, metadata (null clears); externalId cannot change", async () => {
    const ext = uid("chat-");
    const s = await start(srv, ext, { metadata: { a: 1 } });
    let r = await api(srv, "PATCH", `/api/v1/sessions/${ext}`, { body: { tags: ["x", "y"], metadata: { b: 2 } } });
    expectStatus(r, 200);
    assert.deepEqual(r.json.tags, ["x", "y"]);
    assert.deepEqual(r.json.metadata, { b: 2 });
    r = await api(srv, "PATCH", `/api/v1/sessions/${s.id}`, { body: { metadata: null } });
    expectStatus(r, 200);
    assert.equal(r.json.metadata, null);
    assert.deepEqual(r.json.tags, ["x", "y"], "untouched fields stay");
    r = await api(srv, "PATCH", `/api/v1/sessions/${s.id}`, { body: { externalId: ext } });
    expectStatus(r, 200, "the same externalId is a no-op");
    r = await api(srv, "PATCH", `/api/v1/sessions/${s.id}`, { body: { externalId: uid("other-") } });
    expectStatus(r, 422);
    r = await api(srv, "PATCH", `/api/v1/sessions/${s.id}`, { body: { externalId: null } });
    expectStatus(r, 422);
    r = await api(srv, "PATCH", `/api/v1/sessions/${s.id}`, { body: { tags: "x" } });
    expectStatus(r, 400);
    r = await api(srv, "PATCH", `/api/v1/sessions/session_nope`, { body: { tags: [] } });
    expectStatus(r, 404);
  });

  test("close is idempotent and terminal: no new run, create and end-and-continue refused", async () => {
    const ext = uid("chat-");
    const s = await start(srv, ext);
    let r = await api(srv, "POST", `/api/v1/sessions/${ext}/close`, { body: { reason: "done" } });
    expectStatus(r, 200);
    assert.ok(r.json.closedAt);
    assert.equal(r.json.closedReason, "done");
    const closedAt = r.json.closedAt;
    r = await api(srv, "POST", `/api/v1/sessions/${s.id}/close`, { body: { reason: "again" } });
    expectStatus(r, 200);
    assert.equal(r.json.closedAt, closedAt, "the first close wins");
    assert.equal(r.json.closedReason, "done");
    r = await api(srv, "POST", `/api/v1/sessions/${s.id}/close`);
    expectStatus(r, 200, "an empty body is fine");
    r = await api(srv, "POST", "/api/v1/sessions", { body: startBody(ext) });
    expectStatus(r, 409);
    assert.equal(r.json.error, "Session is closed; use a different externalId to create a new session");
    r = await api(srv, "POST", `/api/v1/sessions/${ext}/end-and-continue`, { body: { callingRunId: s.runId, reason: "upgrade" } });
    expectStatus(r, 400);
    assert.equal(r.json.error, "Cannot end-and-continue a closed session");
    const after = (await api(srv, "GET", `/api/v1/sessions/${ext}`)).json;
    assert.equal(after.currentRunId, s.runId, "no run was triggered");
    r = await api(srv, "POST", `/api/v1/sessions/${ext}/close`, { body: { reason: "r".repeat(257) } });
    expectStatus(r, 400);
  });

  test("an expired session is refused like a closed one", async () => {
    const ext = uid("chat-");
    const past = new Date(Date.now() - 60_000).toISOString();
    const r = await api(srv, "POST", "/api/v1/sessions", { body: startBody(ext, { expiresAt: past }) });
    expectStatus(r, 409);
    assert.equal(r.json.error, "Session is expired; use a different externalId to create a new session");
    const got = await api(srv, "GET", `/api/v1/sessions/${ext}`);
    expectStatus(got, 200);
    assert.equal(got.json.currentRunId, null, "an expired session gets no run");
    const list = await api(srv, "GET", `/api/v1/sessions?filter[externalId]=${ext}&filter[status]=EXPIRED`);
    expectStatus(list, 200);
    assert.equal(list.json.data.length, 1);
  });

  test("end-and-continue swaps in a continuation only while the caller is current", async () => {
    const ext = uid("chat-");
    const s = await start(srv, ext);
    let r = await api(srv, "POST", `/api/v1/sessions/${ext}/end-and-continue`, { body: { callingRunId: s.runId, reason: "upgrade" } });
    expectStatus(r, 200);
    assert.equal(r.json.swapped, true);
    const next = r.json.runId;
    assert.notEqual(next, s.runId);
    const p = await payloadOf(srv, next);
    assert.equal(p.continuation, true);
    assert.equal(p.previousRunId, s.runId);
    assert.equal((await api(srv, "GET", `/api/v1/sessions/${s.id}`)).json.currentRunId, next);
    // the old run asks again: it is no longer current, so nothing is swapped
    r = await api(srv, "POST", `/api/v1/sessions/${ext}/end-and-continue`, { body: { callingRunId: s.runId, reason: "upgrade" } });
    expectStatus(r, 200);
    assert.equal(r.json.swapped, false);
    assert.equal(r.json.runId, next);
    // the run this losing call triggered was canceled: the session still owns one live run
    const runs = await api(srv, "GET", `/api/v1/runs?filter[tag]=chat:${ext}&page[size]=10`);
    expectStatus(runs, 200);
    const byId = new Map(runs.json.data.map((x) => [x.id, x.status]));
    assert.equal(byId.size, 3, JSON.stringify([...byId]));
    const losers = [...byId].filter(([id]) => id !== s.runId && id !== next);
    assert.deepEqual(losers.map(([, st]) => st), ["CANCELED"]);
    r = await api(srv, "POST", `/api/v1/sessions/${ext}/end-and-continue`, { body: { callingRunId: "run_nope", reason: "x" } });
    expectStatus(r, 404);
    assert.equal(r.json.error, "callingRunId not found in this environment");
    r = await api(srv, "POST", `/api/v1/sessions/${ext}/end-and-continue`, { body: { callingRunId: next, reason: "r".repeat(65) } });
    expectStatus(r, 400);
    r = await api(srv, "POST", `/api/v1/sessions/${ext}/end-and-continue`, { body: { reason: "x" } });
    expectStatus(r, 400);
    r = await api(srv, "POST", `/api/v1/sessions/nope-${ext}/end-and-continue`, { body: { callingRunId: next, reason: "x" } });
    expectStatus(r, 404);
  });

  test("list: filters, status and cursor pages", async () => {
    const tag = uid("tag-");
    const type = uid("type-");
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await start(srv, uid(`l${i}-`), { type, tags: [tag] }));
    await api(srv, "POST", `/api/v1/sessions/${made[1].id}/close`, { body: {} });
    let r = await api(srv, "GET", `/api/v1/sessions?filter[type]=${type}`);
    expectStatus(r, 200);
    assert.deepEqual(r.json.data.map((x) => x.id), made.map((x) => x.id).reverse(), "newest first");
    r = await api(srv, "GET", `/api/v1/sessions?filter[tags]=${tag}&filter[status]=CLOSED`);
    assert.deepEqual(r.json.data.map((x) => x.id), [made[1].id]);
    r = await api(srv, "GET", `/api/v1/sessions?filter[tags]=${tag}&filter[status]=ACTIVE`);
    assert.equal(r.json.data.length, 4);
    r = await api(srv, "GET", `/api/v1/sessions?filter[type]=${type}&filter[taskIdentifier]=other-task`);
    assert.equal(r.json.data.length, 0);
    r = await api(srv, "GET", `/api/v1/sessions?filter[externalId]=${made[3].externalId}`);
    assert.deepEqual(r.json.data.map((x) => x.id), [made[3].id]);
    // filter[createdAt]: period, from/to as ISO or epoch ms; a bad period is 400
    r = await api(srv, "GET", `/api/v1/sessions?filter[type]=${type}&filter[createdAt][period]=1h`);
    assert.equal(r.json.data.length, 5);
    const t3 = Date.parse(made[3].createdAt);
    r = await api(srv, "GET", `/api/v1/sessions?filter[type]=${type}&filter[createdAt][from]=${new Date(t3).toISOString()}`);
    assert.ok(r.json.data.every((x) => Date.parse(x.createdAt) >= t3) && r.json.data.some((x) => x.id === made[3].id));
    r = await api(srv, "GET", `/api/v1/sessions?filter[type]=${type}&filter[createdAt][to]=${Date.parse(made[0].createdAt) - 1}`);
    assert.equal(r.json.data.length, 0);
    expectStatus(await api(srv, "GET", `/api/v1/sessions?filter[createdAt][period]=soon`), 400);
    // pages of 2, forward then back
    const seen = [];
    let cursor;
    let pages = 0;
    do {
      r = await api(srv, "GET", `/api/v1/sessions?filter[type]=${type}&page[size]=2${cursor ? `&page[after]=${cursor}` : ""}`);
      expectStatus(r, 200);
      seen.push(...r.json.data.map((x) => x.id));
      cursor = r.json.pagination.next;
      pages++;
    } while (cursor && pages < 10);
    assert.deepEqual(seen, made.map((x) => x.id).reverse());
    assert.equal(pages, 3);
    const prev = r.json.pagination.previous;
    assert.ok(prev);
    r = await api(srv, "GET", `/api/v1/sessions?filter[type]=${type}&page[size]=2&page[before]=${prev}`);
    assert.deepEqual(r.json.data.map((x) => x.id), seen.slice(2, 4));
    for (const q of ["page[size]=0", "page[size]=101", "page[after]=x", "page[after]=5&page[before]=3", "filter[status]=OPEN"]) {
      expectStatus(await api(srv, "GET", `/api/v1/sessions?${q}`), 400, q);
    }
  });

  test("session-scoped tokens reach their own session only", async () => {
    const a = await start(srv, uid("a-"));
    const b = await start(srv, uid("b-"));
    const tok = a.publicAccessToken;
    for (const key of [a.externalId, a.id]) {
      expectStatus(await api(srv, "GET", `/api/v1/sessions/${key}`, { key: tok }), 200, key);
    }
    expectStatus(await api(srv, "GET", `/api/v1/sessions/${b.externalId}`, { key: tok }), 403);
    expectStatus(await api(srv, "GET", `/api/v1/sessions/${b.id}`, { key: tok }), 403);
    // update and close need admin
    expectStatus(await api(srv, "PATCH", `/api/v1/sessions/${a.externalId}`, { key: tok, body: { tags: [] } }), 403);
    expectStatus(await api(srv, "POST", `/api/v1/sessions/${a.externalId}/close`, { key: tok, body: {} }), 403);
    // listing needs the collection
    expectStatus(await api(srv, "GET", `/api/v1/sessions`, { key: tok }), 403);
    // snapshot URLs: read and write on the session
    expectStatus(await api(srv, "GET", `/api/v1/sessions/${a.id}/snapshot-url`, { key: tok }), 200);
    expectStatus(await api(srv, "PUT", `/api/v1/sessions/${a.id}/snapshot-url`, { key: tok }), 200);
    expectStatus(await api(srv, "PUT", `/api/v1/sessions/${b.id}/snapshot-url`, { key: tok }), 403);
    // write:sessions allows end-and-continue on its own session
    const r = await api(srv, "POST", `/api/v1/sessions/${a.externalId}/end-and-continue`, {
      key: tok,
      body: { callingRunId: a.runId, reason: "upgrade" },
    });
    expectStatus(r, 200);
    expectStatus(
      await api(srv, "POST", `/api/v1/sessions/${b.externalId}/end-and-continue`, { key: tok, body: { callingRunId: b.runId, reason: "upgrade" } }),
      403,
    );
    // a run-scoped token cannot create sessions; a task-scoped write can
    const claimsRes = await api(srv, "POST", "/api/v1/auth/jwt/claims", { body: {} });
    expectStatus(claimsRes, 200);
  });

  test("snapshot URL: PUT stores the bytes, GET returns them, 404 before", async () => {
    const s = await start(srv, uid("snap-"));
    const getUrl = (await api(srv, "GET", `/api/v1/sessions/${s.id}/snapshot-url`)).json.presignedUrl;
    assert.match(getUrl, /sessions\/session_[^/]+\/snapshot\.json/);
    let r = await fetch(getUrl);
    assert.equal(r.status, 404, "no snapshot yet");
    const putUrl = (await api(srv, "PUT", `/api/v1/sessions/${s.externalId}/snapshot-url`)).json.presignedUrl;
    const snap = JSON.stringify({ version: 1, messages: [{ id: "m1", role: "user", parts: [] }], lastOutEventId: "3" });
    r = await fetch(putUrl, { method: "PUT", headers: { "content-type": "application/json" }, body: snap });
    assert.ok(r.ok, `PUT ${r.status}`);
    r = await fetch(getUrl);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), snap);
    // the URL is keyed on the friendly id whichever form addressed it
    const viaExt = (await api(srv, "GET", `/api/v1/sessions/${s.externalId}/snapshot-url`)).json.presignedUrl;
    assert.equal(new URL(viaExt).pathname, new URL(getUrl).pathname);
    // a GET URL cannot be used to PUT
    r = await fetch(getUrl, { method: "PUT", body: "x" });
    assert.equal(r.status, 403);
    expectStatus(await api(srv, "GET", `/api/v1/sessions/session_nope/snapshot-url`), 404);
  });

  test("transcript (latest SDK): a page of the uploaded snapshot, secret key only", async () => {
    const s = await start(srv, uid("tx-"));
    let r = await api(srv, "GET", `/api/v1/sessions/${s.id}/transcript`);
    expectStatus(r, 200);
    assert.deepEqual(r.json, { messages: [] }, "no snapshot yet: an empty page");
    const msg = (id) => ({ id, role: "user", parts: [{ type: "text", text: id }] });
    // the NDJSON v2 blob of @trigger.dev/core 4.8.3 serializeTranscriptSnapshot
    const header = JSON.stringify({ v: 2, savedAt: 1, lastOutEventId: "9", lastInEventId: "4", state: { private: true } });
    const lines = ["a", "b", "c"].map((id) => JSON.stringify({ id, final: true, message: msg(id) }));
    const blob = `${header}\n${lines.join("\n")}\n{"ids":["a","b","c"],"offsets":[1,2,3,4]}\n#tt2:0000000000000037\n`;
    const putUrl = (await api(srv, "PUT", `/api/v1/sessions/${s.id}/snapshot-url`)).json.presignedUrl;
    assert.ok((await fetch(putUrl, { method: "PUT", headers: { "content-type": "application/vnd.trigger.transcript+ndjson" }, body: blob })).ok);
    r = await api(srv, "GET", `/api/v1/sessions/${s.externalId}/transcript?limit=2`);
    expectStatus(r, 200);
    assert.deepEqual(r.json, { messages: [msg("b"), msg("c")], nextCursor: "b", cursors: { lastOutEventId: "9", lastInEventId: "4" } });
    r = await api(srv, "GET", `/api/v1/sessions/${s.id}/transcript?limit=2&before=b`);
    assert.deepEqual(r.json.messages, [msg("a")]);
    assert.equal(r.json.nextCursor, undefined);
    expectStatus(await api(srv, "GET", `/api/v1/sessions/${s.id}/transcript?limit=x`), 400);
    expectStatus(await api(srv, "GET", `/api/v1/sessions/session_nope/transcript`), 404);
    const pat = s.publicAccessToken;
    expectStatus(await api(srv, "GET", `/api/v1/sessions/${s.id}/transcript`, { key: pat }), 401);
  });

  test("sessions and their current run survive a restart", async () => {
    const ext = uid("chat-");
    const s = await start(srv, ext);
    await api(srv, "POST", `/api/v1/sessions/${ext}/close`, { body: { reason: "bye" } });
    const other = await start(srv, uid("chat-"));
    await srv.restart();
    let r = await api(srv, "GET", `/api/v1/sessions/${ext}`);
    expectStatus(r, 200);
    assert.equal(r.json.closedReason, "bye");
    assert.equal(r.json.currentRunId, s.runId);
    r = await api(srv, "POST", "/api/v1/sessions", { body: startBody(other.externalId) });
    expectStatus(r, 200);
    assert.equal(r.json.runId, other.runId, "the live run is still the session's");
  });
});
