// Compat: waitpoint tokens (spec/api.md 6.8) through the SDK's wait.* API:
// create (idempotency, tags, timeout), retrieve, complete (secret key, the
// token's own public access token, the callback URL), list, timeouts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, uid, sleep, waitFor, rejectsApi, decodeJwt } from "./helpers.mjs";
import { wait, auth, NotFoundError, AuthenticationError, PermissionDeniedError } from "./sdk.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

test("wait.createToken returns an id, a callback URL and a token scoped to it", async () => {
  const t = await wait.createToken({ tags: ["order:1"] });
  assert.match(t.id, /^waitpoint_[0-9a-z]{25}$/);
  assert.equal(t.isCached, false);
  assert.match(t.url, new RegExp(`/api/v1/waitpoints/tokens/${t.id}/callback/[0-9a-f]{64}$`));
  const claims = decodeJwt(t.publicAccessToken).payload;
  assert.deepEqual(claims.scopes, [`write:waitpoints:${t.id}`]);
  assert.equal(claims.pub, true);
  const r = await wait.retrieveToken(t.id);
  assert.equal(r.status, "WAITING");
  assert.deepEqual(r.tags, ["order:1"]);
  assert.equal(r.output, undefined);
});

test("the same idempotencyKey returns the same token with isCached", async () => {
  const key = uid("tok-");
  const a = await wait.createToken({ idempotencyKey: key, idempotencyKeyTTL: "1h" });
  const b = await wait.createToken({ idempotencyKey: key });
  assert.equal(b.id, a.id);
  assert.equal(b.isCached, true);
  const c = await wait.createToken({ idempotencyKey: uid("tok-") });
  assert.notEqual(c.id, a.id);
});

test("completeToken stores the data; completing again is still a success", async () => {
  const t = await wait.createToken({});
  await wait.completeToken(t.id, { approved: true, by: "ada" });
  const r = await wait.retrieveToken(t.id);
  assert.equal(r.status, "COMPLETED");
  assert.deepEqual(r.output, { approved: true, by: "ada" });
  assert.ok(r.completedAt instanceof Date);
  await wait.completeToken(t.id, { approved: false }); // no-op
  assert.deepEqual((await wait.retrieveToken(t.id)).output, { approved: true, by: "ada" });
});

test("the token's publicAccessToken completes it from a second client; not another token", async () => {
  const t = await wait.createToken({});
  const other = await wait.createToken({});
  await auth.withAuth({ accessToken: t.publicAccessToken }, async () => {
    await wait.completeToken(t.id, { ok: 1 });
    await rejectsApi(() => wait.completeToken(other.id, { ok: 2 }), PermissionDeniedError, 403);
  });
  assert.equal((await wait.retrieveToken(t.id)).status, "COMPLETED");
  assert.equal((await wait.retrieveToken(other.id)).status, "WAITING");
});

test("POST to the callback URL completes the token with the JSON body; a bad hash is 401", async () => {
  const t = await wait.createToken({});
  const bad = await fetch(t.url.replace(/[0-9a-f]$/, (c) => (c === "0" ? "1" : "0")), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(bad.status, 401);
  assert.deepEqual(await bad.json(), { error: "Invalid URL, hash doesn't match" });
  const res = await fetch(t.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ from: "webhook" }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { success: true });
  const r = await wait.retrieveToken(t.id);
  assert.equal(r.status, "COMPLETED");
  assert.deepEqual(r.output, { from: "webhook" });
});

test("a token past its timeout is TIMED_OUT with the SDK's timeout error", async () => {
  const t = await wait.createToken({ timeout: "1s" });
  const r = await waitFor(
    async () => {
      const x = await wait.retrieveToken(t.id);
      return x.status === "TIMED_OUT" ? x : null;
    },
    { timeout: 10000, what: "token timeout" }
  );
  assert.ok(r.timeoutAt instanceof Date);
  assert.match(String(r.error?.message), /Waitpoint timed out at/);
});

test("a token timeout survives a restart", async () => {
  const t = await wait.createToken({ timeout: "2s" });
  await srv.restart();
  await sleep(2500);
  const r = await waitFor(
    async () => {
      const x = await wait.retrieveToken(t.id);
      return x.status === "TIMED_OUT" ? x : null;
    },
    { timeout: 10000, what: "token timeout after restart" }
  );
  assert.equal(r.status, "TIMED_OUT");
});

test("listTokens filters by status and tag and pages with a cursor", async () => {
  const tag = uid("lt-");
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await wait.createToken({ tags: [tag] })).id);
  await wait.completeToken(ids[0], {});
  const waiting = [];
  for await (const t of wait.listTokens({ tags: [tag], status: "WAITING", limit: 2 })) waiting.push(t.id);
  assert.deepEqual(waiting, ids.slice(1).reverse());
  const done = await wait.listTokens({ tags: [tag], status: ["COMPLETED"] });
  assert.deepEqual(done.data.map((t) => t.id), [ids[0]]);
});

test("retrieving an unknown token is a 404; a wrong key is 401", async () => {
  await rejectsApi(() => wait.retrieveToken("waitpoint_cnotfound000000000000000000"), NotFoundError, 404);
  await auth.withAuth({ accessToken: "tr_dev_wrongwrongwrongwrong" }, async () => {
    await rejectsApi(() => wait.createToken({}), AuthenticationError, 401);
  });
});
