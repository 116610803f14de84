// Authentication and authorization as the SDK sees them: secret keys, public
// access tokens (auth.createPublicToken, used from a second client), one-time
// trigger tokens, and broken tokens. spec/api.md 2 (auth), 5 (errors), 6.11;
// docs realtime/auth.mdx.
//
// "Second client": auth.withAuth({accessToken}, fn) scopes the SDK's client
// config to fn (both SDK versions); one test also uses new TriggerClient(...).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  sdk,
  auth,
  tasks,
  batch,
  runs,
  SDK_PACKAGE,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  UnprocessableEntityError,
} from "./sdk.mjs";
import { startServer, uid, rejectsApi, decodeJwt, signJwt, claims, listIds, waitFor, apiClient } from "./helpers.mjs";

let srv;
let sub; // the dev environment id, learned from a token the SDK signs
before(async () => {
  srv = await startServer();
  sub = decodeJwt(await auth.createPublicToken({ scopes: { read: { runs: true } } })).payload.sub;
});
after(async () => {
  await srv?.stop();
});

const as = (accessToken, fn) => auth.withAuth({ accessToken }, fn);
const FORBIDDEN = "Unauthorized"; // 403 body {"error":"Unauthorized","code":"unauthorized",...}

test("auth.createPublicToken: HS256 JWT with the server's claims (sub, pub) and flattened scopes", async () => {
  const token = await auth.createPublicToken({ scopes: { read: { runs: ["run_a", "run_b"], tags: "t1" } } });
  const { header, payload } = decodeJwt(token);
  assert.equal(header.alg, "HS256");
  assert.equal(payload.pub, true);
  assert.equal(typeof payload.sub, "string");
  assert.ok(payload.sub.length > 0);
  assert.deepEqual(payload.scopes, ["read:runs:run_a", "read:runs:run_b", "read:tags:t1"]);
  assert.equal(payload.iss, "https://id.trigger.dev");
  assert.equal(payload.aud, "https://api.trigger.dev");
  assert.equal(payload.exp - payload.iat, 15 * 60); // SDK default 15m

  const raw = await apiClient().generateJWTClaims();
  assert.deepEqual(raw, { sub: payload.sub, pub: true });
});

test("read:runs:<id> token: retrieve that run; other run, list, cancel and trigger are 403", async () => {
  const task = uid("compat-auth-");
  const mine = await tasks.trigger(task, { mine: true });
  const other = await tasks.trigger(task, { mine: false });
  const token = await auth.createPublicToken({ scopes: { read: { runs: [mine.id] } } });

  await as(token, async () => {
    const run = await runs.retrieve(mine.id);
    assert.equal(run.id, mine.id);
    assert.deepEqual(run.payload, { mine: true });
    await rejectsApi(runs.retrieve(other.id), PermissionDeniedError, 403, FORBIDDEN);
    await rejectsApi(runs.list(), PermissionDeniedError, 403);
    await rejectsApi(runs.cancel(mine.id), PermissionDeniedError, 403);
    await rejectsApi(tasks.trigger(task, {}), PermissionDeniedError, 403);
  });
  // the scope ended with withAuth: the secret key is back
  assert.equal((await runs.retrieve(other.id)).id, other.id);
});

test("a second client (new TriggerClient) with a scoped token behaves the same", async () => {
  const mine = await tasks.trigger(uid("compat-auth-client-"), {});
  const other = await tasks.trigger(uid("compat-auth-client-"), {});
  const token = await auth.createPublicToken({ scopes: { read: { runs: [mine.id] } } });
  const client = new sdk.TriggerClient({ baseURL: srv.url, accessToken: token });
  assert.equal((await client.runs.retrieve(mine.id)).id, mine.id);
  await rejectsApi(client.runs.retrieve(other.id), PermissionDeniedError, 403);
  await rejectsApi(client.runs.list(), PermissionDeniedError, 403);
});

test("read:runs (collection) token: list and retrieve any run", async () => {
  const tag = uid("coll-");
  const a = await tasks.trigger(uid("compat-auth-coll-"), {}, { tags: [tag] });
  const token = await auth.createPublicToken({ scopes: { read: { runs: true } } });
  await as(token, async () => {
    assert.deepEqual(await listIds(runs, { tag }), [a.id]);
    assert.equal((await runs.retrieve(a.id)).id, a.id);
    await rejectsApi(runs.cancel(a.id), PermissionDeniedError, 403); // read does not imply write
  });
});

test("read:tags:<tag> token: retrieve runs carrying the tag only", async () => {
  const tag = uid("tagscope-");
  const tagged = await tasks.trigger(uid("compat-auth-tag-"), {}, { tags: [tag, "other"] });
  const plain = await tasks.trigger(uid("compat-auth-tag-"), {}, { tags: ["other"] });
  const token = await auth.createPublicToken({ scopes: { read: { tags: [tag] } } });
  await as(token, async () => {
    assert.equal((await runs.retrieve(tagged.id)).id, tagged.id);
    await rejectsApi(runs.retrieve(plain.id), PermissionDeniedError, 403);
  });
});

test("read:tasks:<task> token: retrieve and list that task's runs only", async () => {
  const taskA = uid("compat-auth-ta-");
  const taskB = uid("compat-auth-tb-");
  const a = await tasks.trigger(taskA, {});
  const b = await tasks.trigger(taskB, {});
  const token = await auth.createPublicToken({ scopes: { read: { tasks: [taskA] } } });
  await as(token, async () => {
    assert.equal((await runs.retrieve(a.id)).id, a.id);
    await rejectsApi(runs.retrieve(b.id), PermissionDeniedError, 403);
    // a per-task token may list when filter[taskIdentifier] is covered by its scopes
    assert.deepEqual(await listIds(runs, { taskIdentifier: taskA }), [a.id]);
    await rejectsApi(runs.list({ taskIdentifier: [taskA, taskB] }), PermissionDeniedError, 403);
    await rejectsApi(runs.list(), PermissionDeniedError, 403);
  });
});

test("read:batch:<id> token: batch.retrieve and the batch's runs; not other batches", async () => {
  const task = uid("compat-auth-batch-");
  const b1 = await tasks.batchTrigger(task, [{ payload: 1 }, { payload: 2 }]);
  const b2 = await tasks.batchTrigger(task, [{ payload: 3 }]);
  const done = await waitFor(async () => {
    const x = await batch.retrieve(b1.batchId);
    return x.runs.length === 2 ? x : null;
  }, { what: "batch runs" });
  const token = await auth.createPublicToken({ scopes: { read: { batch: b1.batchId } } });
  await as(token, async () => {
    const got = await batch.retrieve(b1.batchId);
    assert.equal(got.id, b1.batchId);
    assert.equal(got.runCount, 2);
    assert.equal((await runs.retrieve(done.runs[0])).batchId, b1.batchId);
    await rejectsApi(batch.retrieve(b2.batchId), PermissionDeniedError, 403);
  });
  // the batch handle's own token reads the batch too
  await as(b1.publicAccessToken, async () => {
    assert.equal((await batch.retrieve(b1.batchId)).id, b1.batchId);
  });
});

test("the trigger handle's publicAccessToken reads its own run only", async () => {
  const task = uid("compat-auth-handle-");
  const h = await tasks.trigger(task, { p: 1 });
  const other = await tasks.trigger(task, { p: 2 });
  const { payload } = decodeJwt(h.publicAccessToken);
  assert.equal(payload.pub, true);
  assert.equal(payload.sub, sub);
  assert.ok(payload.scopes.includes(`read:runs:${h.id}`), JSON.stringify(payload.scopes));
  assert.equal(payload.exp - payload.iat, 3600); // trigger tokens last 1 h (spec/api.md 2.4)
  await as(h.publicAccessToken, async () => {
    assert.equal((await runs.retrieve(h.id)).id, h.id);
    await rejectsApi(runs.retrieve(other.id), PermissionDeniedError, 403);
  });
});

test("write:runs:<id> token: cancel that run only; write does not grant read", async () => {
  const task = uid("compat-auth-write-");
  const a = await tasks.trigger(task, {});
  const b = await tasks.trigger(task, {});
  const token = await auth.createPublicToken({ scopes: { write: { runs: [a.id] } } });
  await as(token, async () => {
    assert.deepEqual(await runs.cancel(a.id), { id: a.id });
    await rejectsApi(runs.cancel(b.id), PermissionDeniedError, 403);
    await rejectsApi(runs.retrieve(a.id), PermissionDeniedError, 403);
  });
  assert.equal((await runs.retrieve(a.id)).status, "CANCELED");
  assert.equal((await runs.retrieve(b.id)).status, "QUEUED");
});

test("a token without scopes authorizes nothing", async () => {
  const h = await tasks.trigger(uid("compat-auth-noscope-"), {});
  const token = await auth.createPublicToken();
  await as(token, async () => {
    await rejectsApi(runs.retrieve(h.id), PermissionDeniedError, 403);
  });
});

test("one-time trigger token: first trigger ok, second is 422, another task is 403", async () => {
  const task = uid("compat-otu-");
  const token = await auth.createTriggerPublicToken(task);
  assert.equal(decodeJwt(token).payload.otu, true);
  assert.deepEqual(decodeJwt(token).payload.scopes, [`trigger:tasks:${task}`]);
  let first;
  await as(token, async () => {
    first = await tasks.trigger(task, { once: 1 });
    assert.match(first.id, /^run_/);
    await rejectsApi(
      tasks.trigger(task, { once: 2 }),
      UnprocessableEntityError,
      422,
      `Cannot trigger ${task} with a one-time use token as it has already been used.`
    );
  });
  assert.deepEqual((await runs.retrieve(first.id)).payload, { once: 1 });
  assert.deepEqual(await listIds(runs, { taskIdentifier: task }), [first.id]);

  const fresh = await auth.createTriggerPublicToken(task);
  await as(fresh, async () => {
    await rejectsApi(tasks.trigger(uid("compat-otu-other-"), {}), PermissionDeniedError, 403);
  });
});

test("trigger token with multipleUse:true can be used again", async () => {
  const task = uid("compat-multi-");
  const token = await auth.createTriggerPublicToken(task, { multipleUse: true });
  assert.equal(decodeJwt(token).payload.otu, false);
  await as(token, async () => {
    const a = await tasks.trigger(task, {});
    const b = await tasks.trigger(task, {});
    assert.notEqual(a.id, b.id);
  });
});

test("one-time batch token (collection scope): first batch ok, second is 422", async () => {
  // Signed like the SDK signs (claims + dev key); the SDK's own helper only
  // makes per-task scopes, whose batch behaviour depends on the SDK version
  // (next test).
  const task = uid("compat-otu-batch-");
  const token = signJwt(claims(sub, ["batchTrigger:tasks"], { otu: true }), srv.keys.dev);
  await as(token, async () => {
    const h = await tasks.batchTrigger(task, [{ payload: 1 }, { payload: 2 }]);
    assert.match(h.batchId, /^batch_/);
    let err;
    try {
      await tasks.batchTrigger(task, [{ payload: 3 }]);
    } catch (e) {
      err = e;
    }
    assert.ok(err, "second use of a one-time batch token must fail");
    assert.ok(err.cause instanceof UnprocessableEntityError, `${err.cause?.constructor?.name}: ${err.message}`);
    assert.equal(err.cause.message, "Cannot create batch with a one-time use token as it has already been used.");
  });
});

test("auth.createBatchTriggerPublicToken (per-task scope) with this SDK version", async () => {
  const task = uid("compat-batch-token-");
  const token = await auth.createBatchTriggerPublicToken(task);
  assert.deepEqual(decodeJwt(token).payload.scopes, [`batchTrigger:tasks:${task}`]);
  await as(token, async () => {
    if (SDK_PACKAGE === "sdk-latest") {
      // newer SDKs send taskIdentifiers with the batch, so a per-task token is enough
      const h = await tasks.batchTrigger(task, [{ payload: 1 }]);
      assert.match(h.batchId, /^batch_/);
      let err;
      try {
        await tasks.batchTrigger(task, [{ payload: 2 }]);
      } catch (e) {
        err = e;
      }
      assert.ok(err?.cause instanceof UnprocessableEntityError, `second use: ${err?.message}`);
    } else {
      // 4.5.0 omits taskIdentifiers: the server checks batchTrigger at
      // collection level, which a per-task token does not grant (fails closed)
      let err;
      try {
        await tasks.batchTrigger(task, [{ payload: 1 }]);
      } catch (e) {
        err = e;
      }
      assert.ok(err?.cause instanceof PermissionDeniedError, `expected 403, got ${err?.cause?.constructor?.name}: ${err?.message}`);
    }
  });
});

test("a wrong secret key is a 401 AuthenticationError", async () => {
  const wrong = "tr_dev_" + "A".repeat(20);
  await as(wrong, async () => {
    await rejectsApi(runs.list(), AuthenticationError, 401);
    await rejectsApi(tasks.trigger(uid("compat-wrong-"), {}), AuthenticationError, 401);
    await rejectsApi(auth.createPublicToken({ scopes: { read: { runs: true } } }), AuthenticationError, 401);
  });
  await as("not-a-key-at-all", async () => {
    await rejectsApi(runs.list(), AuthenticationError, 401);
  });
});

test("another environment's key does not see dev runs", async () => {
  const h = await tasks.trigger(uid("compat-env-"), {});
  await as(srv.keys.prod, async () => {
    await rejectsApi(runs.retrieve(h.id), NotFoundError, 404);
    assert.deepEqual((await runs.list()).data, []);
  });
});

test("tampered, expired or foreign public tokens are 401", async () => {
  const h = await tasks.trigger(uid("compat-badjwt-"), {});
  const good = await auth.createPublicToken({ scopes: { read: { runs: [h.id] } } });
  await as(good, async () => assert.equal((await runs.retrieve(h.id)).id, h.id));

  const [head, body, sig] = good.split(".");
  const flip = (s) => (s[0] === "A" ? "B" : "A") + s.slice(1);
  const widened = Buffer.from(
    JSON.stringify({ ...decodeJwt(good).payload, scopes: ["read:all", "admin"] })
  ).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const expired = await auth.createPublicToken({
    scopes: { read: { runs: [h.id] } },
    expirationTime: now - 60, // a number is a unix timestamp
  });

  const bad = {
    "signature changed": `${head}.${body}.${flip(sig)}`,
    "payload changed, old signature": `${head}.${widened}.${sig}`,
    expired,
    "signed with another env's key": signJwt(claims(sub, [`read:runs:${h.id}`]), srv.keys.prod),
    "unknown sub": signJwt(claims("cl_nosuchenvironment000000", [`read:runs:${h.id}`]), srv.keys.dev),
    "wrong audience": signJwt(claims(sub, [`read:runs:${h.id}`], { aud: "https://example.com" }), srv.keys.dev),
  };
  for (const [what, token] of Object.entries(bad)) {
    await as(token, async () => {
      const err = await rejectsApi(runs.retrieve(h.id), AuthenticationError, 401).catch((e) => {
        e.message = `${what}: ${e.message}`;
        throw e;
      });
      assert.equal(typeof err.message, "string");
    });
  }
});

test("a request without Authorization is a 401 problem+json", async () => {
  const res = await fetch(`${srv.url}/api/v1/runs`);
  assert.equal(res.status, 401);
  assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
  const body = await res.json();
  assert.equal(body.status, 401);
  assert.equal(body.error, "No authorization header provided");
});
