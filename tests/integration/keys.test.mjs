// tests/integration/keys.test.mjs - `triggerd keys` and `triggerd
// rotate-key`: after a rotation the new key works and the old one keeps
// working within its 24 h grace (spec/api.md 2.1), for secret-key calls and
// for public tokens signed with the old key (2.3), across restarts.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { promisify } from "node:util";
import { startTriggerd, BINARY, api, triggerId, expectStatus, waitFor, sleep, uid, stopServer } from "./helpers.mjs";

const run = promisify(execFile);

/** Runs the binary with a subcommand; resolves {code, stdout, stderr}. */
async function cli(args) {
  try {
    const { stdout, stderr } = await run(BINARY, args, { timeout: 20000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function keysJson(srv) {
  const r = await cli(["keys", "--data", srv.dataDir, "--json"]);
  assert.equal(r.code, 0, `keys --json: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function rotate(srv, env, extra = []) {
  const r = await cli(["rotate-key", "--data", srv.dataDir, "--env", env, ...extra]);
  assert.equal(r.code, 0, `rotate-key --env ${env}: ${r.stderr}`);
  const key = r.stdout.trim();
  assert.match(key, new RegExp(`^tr_${env}_[0-9A-Za-z]{20,24}$`), `printed key "${key}"`);
  return key;
}

async function works(srv, key, what) {
  const r = await api(srv, "GET", "/api/v1/runs?page[size]=1", { key });
  expectStatus(r, 200, `${what}:`);
  return r;
}

async function refused(srv, key, what) {
  const r = await api(srv, "GET", "/api/v1/runs?page[size]=1", { key });
  expectStatus(r, 401, `${what}:`);
}

describe("keys and key rotation", () => {
  let srv;
  const rotated = {}; // env -> [old keys..., current]
  before(async () => {
    srv = await startTriggerd();
    for (const env of ["dev", "stg", "prod"]) rotated[env] = [srv.keys[env]];
  });
  after(async () => {
    await stopServer(srv);
  });

  test("`keys --json` prints the bootstrap values from the environment", async () => {
    const k = await keysJson(srv);
    assert.equal(k.projectRef, srv.projectRef);
    assert.deepEqual(k.secretKeys, { dev: srv.keys.dev, stg: srv.keys.stg, prod: srv.keys.prod });
    assert.equal(k.accessToken, srv.pat);
    const plain = await cli(["keys", "--data", srv.dataDir]);
    assert.equal(plain.code, 0);
    for (const v of [srv.projectRef, srv.keys.dev, srv.keys.stg, srv.keys.prod, srv.pat]) {
      assert.ok(plain.stdout.includes(v), `plain output lists ${v}`);
    }
  });

  test("rotate while stopped: after the restart the new and the old key both work", async () => {
    const task = uid("rot-");
    const before = await triggerId(srv, task);
    // A public token minted with the old key (the trigger response's x-trigger-jwt).
    const trig = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: "{}" } });
    expectStatus(trig, 200, "trigger:");
    const oldJwt = trig.headers.get("x-trigger-jwt");
    const oldClaims = await api(srv, "POST", "/api/v1/auth/jwt/claims");

    await srv.kill();
    const fresh = await rotate(srv, "dev");
    assert.notEqual(fresh, srv.keys.dev);
    rotated.dev.push(fresh);
    // The helper restarts with TRIGGERD_DEV_SECRET_KEY still set to the old
    // key: bootstrap values apply to an empty data dir only.
    await srv.start();

    const k = await keysJson(srv);
    assert.equal(k.secretKeys.dev, fresh, "keys shows the new dev key");
    assert.equal(k.secretKeys.stg, srv.keys.stg, "stg untouched");
    assert.equal(k.secretKeys.prod, srv.keys.prod, "prod untouched");

    await works(srv, fresh, "new key");
    await works(srv, srv.keys.dev, "old key within its grace");
    await refused(srv, fresh + "x", "a key that was never issued");

    // Same environment behind both keys.
    const viaNew = await api(srv, "GET", `/api/v3/runs/${before}`, { key: fresh });
    expectStatus(viaNew, 200, "run from before the rotation via the new key:");
    const claimsNew = await api(srv, "POST", "/api/v1/auth/jwt/claims", { key: fresh });
    expectStatus(claimsNew, 200, "claims via the new key:");
    assert.equal(claimsNew.json.sub, oldClaims.json.sub);
    const afterId = await triggerId(srv, task, {}, { key: fresh });
    expectStatus(await api(srv, "GET", `/api/v3/runs/${afterId}`, { key: srv.keys.dev }), 200, "new run via the old key:");

    // A token signed with the old key verifies within the grace (spec/api.md 2.3).
    const viaOldJwt = await api(srv, "GET", `/api/v3/runs/${trig.json.id}`, { key: oldJwt });
    expectStatus(viaOldJwt, 200, "public token signed with the old key:");
    // And the server now mints tokens with the new key.
    const t2 = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: "{}" }, key: fresh });
    const newJwt = t2.headers.get("x-trigger-jwt");
    expectStatus(await api(srv, "GET", `/api/v3/runs/${t2.json.id}`, { key: newJwt }), 200, "token minted after rotation:");
  });

  test("rotate while running: the rotation holds after a restart, and every key in grace works", async () => {
    const fresh = await rotate(srv, "dev");
    rotated.dev.push(fresh);
    // The running server picks the rotation up without a restart (it follows
    // the store's data version on every request).
    await waitFor(
      async () => (await api(srv, "GET", "/api/v1/runs?page[size]=1", { key: fresh })).status === 200,
      { timeout: 5000, interval: 200, what: "the running server to accept the new key" },
    );
    await works(srv, rotated.dev[0], "original key on the running server");
    await srv.restart();
    for (const [i, key] of rotated.dev.entries()) await works(srv, key, `dev key #${i}`);
    assert.equal((await keysJson(srv)).secretKeys.dev, fresh);
    // A SIGKILL does not undo it either.
    await srv.restart("SIGKILL");
    for (const [i, key] of rotated.dev.entries()) await works(srv, key, `dev key #${i} after SIGKILL`);
  });

  test("rotating one environment leaves the others alone; keys stay environment-bound", async () => {
    const fresh = await rotate(srv, "prod");
    await srv.restart();
    await works(srv, fresh, "new prod key");
    await works(srv, srv.keys.prod, "old prod key");
    await works(srv, srv.keys.stg, "stg key");
    const devRun = await triggerId(srv, uid("envbound-"), {}, { key: rotated.dev.at(-1) });
    expectStatus(await api(srv, "GET", `/api/v3/runs/${devRun}`, { key: fresh }), 404, "a dev run via the prod key:");
    expectStatus(await api(srv, "GET", `/api/v3/runs/${devRun}`, { key: srv.keys.prod }), 404, "a dev run via the old prod key:");
  });

  test("rotations under load: requests with keys in grace never fail, bogus keys never pass", async () => {
    const task = uid("rot-load-");
    let stop = false;
    const failures = [];
    let ok = 0;
    const load = async (w) => {
      for (let i = 0; !stop; i++) {
        const key = rotated.dev[i % rotated.dev.length];
        const r = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: "{}" }, key });
        if (r.status === 200) ok++;
        else failures.push(`${r.status} ${r.text} with key #${i % rotated.dev.length}`);
        // Unknown keys make the server reload its keyring while others use it.
        const bogus = await api(srv, "GET", "/api/v1/runs?page[size]=1", { key: `tr_dev_bogus${w}x${i}` });
        if (bogus.status !== 401) failures.push(`bogus key got ${bogus.status}`);
      }
    };
    const workers = Array.from({ length: 4 }, (_, w) => load(w));
    for (let n = 0; n < 3; n++) {
      await sleep(300);
      const fresh = await rotate(srv, "dev");
      // Wait until the server accepts it before handing it to the workers.
      await waitFor(
        async () => (await api(srv, "GET", "/api/v1/runs?page[size]=1", { key: fresh })).status === 200,
        { timeout: 5000, interval: 100, what: "the new key to be accepted" },
      );
      rotated.dev.push(fresh);
    }
    await sleep(300);
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(failures, []);
    assert.ok(ok > 0);
  });

  test("rotate-key with an unknown environment fails and changes nothing", async () => {
    const before = await keysJson(srv);
    for (const args of [["--env", "nope"], []]) {
      const r = await cli(["rotate-key", "--data", srv.dataDir, ...args]);
      assert.notEqual(r.code, 0, `rotate-key ${args.join(" ")} should fail`);
    }
    assert.deepEqual(await keysJson(srv), before);
  });
});

/** True when the JWT's HS256 signature was made with key. */
function signedWith(jwt, key) {
  const [h, p, sig] = jwt.split(".");
  return createHmac("sha256", key).update(`${h}.${p}`).digest("base64url") === sig;
}

describe("a rotation on a running server, with a short grace", () => {
  let srv;
  before(async () => {
    srv = await startTriggerd();
  });
  after(async () => {
    await stopServer(srv);
  });

  test("new tokens are signed with the new key at once, and the old key stops when its grace ends", async () => {
    const old = srv.keys.dev;
    const task = uid("grace-");
    const before = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: "{}" } });
    expectStatus(before, 200, "trigger before the rotation:");
    const oldJwt = before.headers.get("x-trigger-jwt");
    assert.ok(signedWith(oldJwt, old), "the token minted before the rotation is signed with the old key");

    const fresh = await rotate(srv, "dev", ["--key-grace", "3000"]);
    // Right after the rotation, before anyone used the new key: requests with
    // the old key (in grace) get tokens signed with the new one.
    const trig = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: "{}" }, key: old });
    expectStatus(trig, 200, "trigger with the old key in grace:");
    assert.ok(signedWith(trig.headers.get("x-trigger-jwt"), fresh), "x-trigger-jwt is signed with the new key");
    const minted = await api(srv, "POST", "/api/v1/auth/jwt", { body: { claims: { scopes: ["read:runs"] } }, key: old });
    expectStatus(minted, 200, "POST /api/v1/auth/jwt with the old key in grace:");
    assert.ok(signedWith(minted.json.token, fresh), "a minted public token is signed with the new key");
    expectStatus(await api(srv, "GET", `/api/v3/runs/${before.json.id}`, { key: oldJwt }), 200, "old-key token in grace:");

    // Past the grace window the old key and its tokens stop working, without a restart.
    await waitFor(
      async () => (await api(srv, "GET", "/api/v1/runs?page[size]=1", { key: old })).status === 401,
      { timeout: 15000, interval: 250, what: "the old key to stop working after its 3 s grace" },
    );
    await refused(srv, old, "old key past its grace");
    expectStatus(await api(srv, "GET", `/api/v3/runs/${before.json.id}`, { key: oldJwt }), 401, "old-key token past the grace:");
    await works(srv, fresh, "new key");
    expectStatus(await api(srv, "GET", `/api/v3/runs/${trig.json.id}`, { key: trig.headers.get("x-trigger-jwt") }), 200,
      "token minted in grace, signed with the new key:");
    // And still after a restart.
    await srv.restart();
    await refused(srv, old, "old key past its grace, after a restart");
    await works(srv, fresh, "new key after a restart");
  });

  test("rotate-key refuses a malformed --key-grace", async () => {
    const r = await cli(["rotate-key", "--data", srv.dataDir, "--env", "dev", "--key-grace", "soon"]);
    assert.notEqual(r.code, 0);
  });
});
