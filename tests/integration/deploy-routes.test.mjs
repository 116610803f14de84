// tests/integration/deploy-routes.test.mjs - the deployment routes without
// the CLI (docs/deploy.md): artifact, signed form upload, initialize, the
// build failing fast on a bad archive (FAILED with its log, the previous
// state unchanged), fail/promote rules, list and current, and the workload
// routes refusing callers without a worker process's secret. The real
// CLI's whole deploy is tests/compat/dev/deploy.test.mjs.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTriggerd, api, expectStatus, stopServer, sleep, assertHealthy } from "./helpers.mjs";

/** A project archive whose install never ends (a preinstall script that sleeps). */
function stuckArchive() {
  const dir = mkdtempSync(join(tmpdir(), "triggerd-stuck-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "stuck", version: "1.0.0", scripts: { preinstall: "sleep 300" } }));
  execFileSync("tar", ["-czf", join(dir, "a.tar.gz"), "-C", dir, "package.json"]);
  const bytes = readFileSync(join(dir, "a.tar.gz"));
  rmSync(dir, { recursive: true, force: true });
  return bytes;
}

async function upload(url, bytes, field = "file") {
  const form = new FormData();
  form.append(field, new Blob([bytes], { type: "application/gzip" }), "deployment.tar.gz");
  return fetch(url, { method: "POST", body: form });
}

async function waitStatus(srv, id, statuses, ms = 20_000) {
  const deadline = Date.now() + ms;
  let r;
  while (Date.now() < deadline) {
    r = await api(srv, "GET", `/api/v1/deployments/${id}`, { key: srv.keys.prod });
    if (statuses.includes(r.json?.status)) return r.json;
    await sleep(100);
  }
  throw new Error(`deployment ${id} is ${r?.json?.status}, not ${statuses}`);
}
const waitFinal = (srv, id) => waitStatus(srv, id, ["DEPLOYED", "FAILED", "CANCELED", "TIMED_OUT"]);

/** A call with the prod secret key. */
const prodApi = (srv, method, path, body) => api(srv, method, path, { key: srv.keys.prod, body });

/** Uploads bytes as a deployment archive and creates a native-build deployment of it. */
async function deployArchiveTo(srv, bytes) {
  const a = await prodApi(srv, "POST", "/api/v1/artifacts", { type: "deployment_context", contentLength: bytes.length });
  assert.equal((await upload(a.json.uploadUrl, bytes)).status, 204);
  const d = await prodApi(srv, "POST", "/api/v1/deployments", { contentHash: "-", isNativeBuild: true, artifactKey: a.json.artifactKey });
  expectStatus(d, 200);
  return d.json;
}

describe("deployment routes", () => {
  let srv;
  const prod = (method, path, body) => prodApi(srv, method, path, body);
  const deployArchive = (bytes) => deployArchiveTo(srv, bytes);
  before(async () => {
    // builds get 4 s here: the stuck archive's build times out
    srv = await startTriggerd({ env: { TRIGGERD_DEPLOY_BUILD_TIMEOUT_MS: "4000" } });
  });
  after(async () => {
    await stopServer(srv);
  });

  test("no deployments yet: current is 404, list is empty, latest is 404", async () => {
    expectStatus(await prod("GET", "/api/v1/deployments/current"), 404);
    const l = await prod("GET", "/api/v1/deployments");
    expectStatus(l, 200);
    assert.deepEqual(l.json, { data: [], pagination: {} });
    expectStatus(await prod("GET", "/api/v1/deployments/latest"), 404);
    expectStatus(await prod("GET", "/api/v1/deployments/deployment_nope"), 404);
  });

  test("dev is not deployable", async () => {
    const r = await api(srv, "POST", "/api/v1/artifacts", {
      body: { type: "deployment_context", contentType: "application/gzip", contentLength: 10 },
    });
    expectStatus(r, 400);
    assert.match(r.json.error, /staging and prod/);
  });

  test("the Docker path is refused with a message naming --native-build-server", async () => {
    const r = await prod("POST", "/api/v1/deployments", { contentHash: "abc", type: "MANAGED", isNativeBuild: false });
    expectStatus(r, 400);
    assert.match(r.json.error, /--native-build-server/);
  });

  test("artifact upload: the signature is checked, a file part is needed, the key must be the env's", async () => {
    const a = await prod("POST", "/api/v1/artifacts", { type: "deployment_context", contentType: "application/gzip", contentLength: 3 });
    expectStatus(a, 200);
    assert.match(a.json.artifactKey, /^artifacts\//);
    assert.deepEqual(a.json.uploadFields, {});
    assert.ok(Date.parse(a.json.expiresAt) > Date.now());
    assert.equal((await upload(a.json.uploadUrl.replace(/sig=[^&]+/, "sig=00"), "abc")).status, 403);
    assert.equal((await upload(a.json.uploadUrl, "abc", "other")).status, 400);
    assert.equal((await upload(a.json.uploadUrl, "abc")).status, 204);
    const bad = await prod("POST", "/api/v1/deployments", { contentHash: "-", isNativeBuild: true, artifactKey: "artifacts/someone-else/x.tar.gz" });
    expectStatus(bad, 400);
    expectStatus(await prod("POST", "/api/v1/artifacts", { type: "other" }), 400);
    expectStatus(await prod("POST", "/api/v1/artifacts", { type: "deployment_context", contentLength: 1e12 }), 400);
    // a length that is not a whole number is checked too (JSON reals), and a negative one is refused
    for (const len of ["1000000000000.5", "-1", "\"big\""]) {
      const r = await prod("POST", "/api/v1/artifacts", `{"type":"deployment_context","contentLength":${len}}`);
      expectStatus(r, 400, `contentLength ${len}`);
    }
  });

  test("an archive the artifact route accepts (under 200 MB) can be uploaded: 129 MB", async () => {
    const bytes = Buffer.alloc(129 * 1024 * 1024, 7);
    const a = await prod("POST", "/api/v1/artifacts", { type: "deployment_context", contentLength: bytes.length });
    expectStatus(a, 200);
    const r = await upload(a.json.uploadUrl, bytes);
    assert.equal(r.status, 204, await r.text());
    await assertHealthy(srv);
  });

  test("a build of a bad archive ends FAILED with the log; fail and promote are refused after", async () => {
    const a = await prod("POST", "/api/v1/artifacts", { type: "deployment_context", contentType: "application/gzip", contentLength: 9 });
    assert.equal((await upload(a.json.uploadUrl, "not a tgz")).status, 204);
    const d = await prod("POST", "/api/v1/deployments", {
      contentHash: "-", isNativeBuild: true, artifactKey: a.json.artifactKey, type: "MANAGED", runtime: "node",
      triggeredVia: "cli:manual", gitMeta: { commitSha: "abc123" },
    });
    expectStatus(d, 200);
    assert.match(d.json.id, /^deployment_/);
    assert.match(d.json.version, /^\d{8}\.1$/);
    assert.equal(typeof d.json.shortCode, "string");
    const end = await waitFinal(srv, d.json.id);
    assert.equal(end.status, "FAILED");
    assert.match(end.errorData.message, /The build failed/);
    assert.match(end.errorData.stderr, /gzip|tar/i);
    expectStatus(await prod("POST", `/api/v1/deployments/${d.json.id}/fail`, { error: { name: "X", message: "late" } }), 409);
    const pr = await prod("POST", `/api/v1/deployments/${d.json.version}/promote`, {});
    expectStatus(pr, 400);
    assert.match(pr.json.error, /DEPLOYED/);
    expectStatus(await prod("GET", "/api/v1/deployments/current"), 404);
    // by version too
    const byVersion = await prod("GET", `/api/v1/deployments/${d.json.version}`);
    assert.equal(byVersion.json.id, d.json.id);
    const l = await prod("GET", "/api/v1/deployments");
    assert.equal(l.json.data.length, 1);
    assert.equal(l.json.data[0].status, "FAILED");
    assert.equal(l.json.data[0].git.commitSha, "abc123");
    assert.equal(l.json.data[0].error.name, "BuildError");
    // the next deployment of the day is .2
    const a2 = await prod("POST", "/api/v1/artifacts", { type: "deployment_context", contentLength: 1 });
    await upload(a2.json.uploadUrl, "x");
    const d2 = await prod("POST", "/api/v1/deployments", { contentHash: "-", isNativeBuild: true, artifactKey: a2.json.artifactKey });
    assert.match(d2.json.version, /^\d{8}\.2$/);
    await waitFinal(srv, d2.json.id);
    const page = await prod("GET", "/api/v1/deployments?page[size]=5");
    assert.equal(page.json.data[0].id, d2.json.id);
    // the status filter (with and without it: one statement, both stores)
    assert.equal((await prod("GET", "/api/v1/deployments?status=FAILED")).json.data.length, 2);
    assert.equal((await prod("GET", "/api/v1/deployments?status=DEPLOYED")).json.data.length, 0);
    expectStatus(await prod("GET", "/api/v1/deployments?page[size]=500"), 400);
  });

  test("fail validates its body; a pending deployment can be failed once", async () => {
    const a = await prod("POST", "/api/v1/artifacts", { type: "deployment_context", contentLength: 1 });
    await upload(a.json.uploadUrl, "x");
    const d = await prod("POST", "/api/v1/deployments", { contentHash: "-", isNativeBuild: true, artifactKey: a.json.artifactKey });
    expectStatus(await prod("POST", `/api/v1/deployments/${d.json.id}/fail`, { nope: 1 }), 400);
    const f = await prod("POST", `/api/v1/deployments/${d.json.id}/fail`, { error: { name: "Mine", message: "stop" } });
    if (f.status === 200) {
      const g = await prod("GET", `/api/v1/deployments/${d.json.id}`);
      assert.equal(g.json.status, "FAILED");
      assert.equal(g.json.errorData.message, "stop");
    } else expectStatus(f, 409); // the bad archive's build was faster
    await waitFinal(srv, d.json.id);
  });

  test("cancel: a queued build leaves the queue, a running one is killed; both end CANCELED, once", async () => {
    const running = await deployArchive(stuckArchive());
    const queued = await deployArchive(stuckArchive());
    await waitStatus(srv, running.id, ["BUILDING"]);
    assert.equal((await prod("GET", `/api/v1/deployments/${queued.id}`)).json.status, "PENDING");
    expectStatus(await prod("POST", `/api/v1/deployments/${queued.id}/cancel`, { reason: "x".repeat(201) }), 400);
    const c1 = await prod("POST", `/api/v1/deployments/${queued.id}/cancel`, { reason: "not this one" });
    expectStatus(c1, 204);
    // by version, and with no body at all
    const c2 = await api(srv, "POST", `/api/v1/deployments/${running.version}/cancel`, { key: srv.keys.prod });
    expectStatus(c2, 204);
    assert.equal((await prod("GET", `/api/v1/deployments/${running.id}`)).json.status, "CANCELED");
    assert.equal((await prod("GET", `/api/v1/deployments/${queued.id}`)).json.status, "CANCELED");
    const again = await prod("POST", `/api/v1/deployments/${running.id}/cancel`, {});
    expectStatus(again, 409);
    assert.match(again.json.error, /final state/);
    expectStatus(await prod("POST", `/api/v1/deployments/deployment_nope/cancel`, {}), 404);
    // the killed build let the queue go on: the next one builds (and fails fast)
    const next = await deployArchive("not a tgz");
    assert.equal((await waitFinal(srv, next.id)).status, "FAILED");
    assert.equal((await prod("GET", `/api/v1/deployments/${queued.id}`)).json.status, "CANCELED", "never built");
    // the promoted state is as before
    expectStatus(await prod("GET", "/api/v1/deployments/current"), 404);
    const l = await prod("GET", "/api/v1/deployments?status=CANCELED");
    assert.equal(l.json.data.length, 2);
  });

  test("a build that runs past its time limit is killed and ends TIMED_OUT", async () => {
    const d = await deployArchive(stuckArchive());
    await waitStatus(srv, d.id, ["BUILDING"]);
    const end = await waitStatus(srv, d.id, ["TIMED_OUT", "FAILED", "DEPLOYED"]);
    assert.equal(end.status, "TIMED_OUT", JSON.stringify(end));
    assert.equal(end.errorData.name, "TimeoutError");
    assert.match(end.errorData.message, /did not finish/);
    expectStatus(await prod("POST", `/api/v1/deployments/${d.id}/cancel`, {}), 409);
    const next = await deployArchive("not a tgz");
    assert.equal((await waitFinal(srv, next.id)).status, "FAILED");
  });

  test("the workload routes and warm starts need a worker process's secret", async () => {
    for (const [m, p] of [
      ["GET", "/warm-start"],
      ["POST", "/api/v1/workload-actions/runs/run_x/snapshots/snapshot_y/attempts/start"],
      ["POST", "/api/v1/workload-actions/runs/run_x/snapshots/snapshot_y/heartbeat"],
      ["GET", "/api/v1/workload-actions/runs/run_x/snapshots/since/snapshot_y"],
    ]) {
      const r = await fetch(srv.url + p, {
        method: m,
        headers: { "x-trigger-workload-runner-id": "0".repeat(40), "x-trigger-workload-controller-id": "0".repeat(40) },
        body: m === "POST" ? "{}" : undefined,
      });
      assert.equal(r.status, 401, `${m} ${p}`);
    }
    const c = await fetch(srv.url + "/connect");
    assert.equal(c.status, 200);
    assert.ok((await c.json()).connectionTimeoutMs > 0);
    await assertHealthy(srv);
  });

  test("4.8's deploy-settings say native", async () => {
    const r = await prod("GET", `/api/v1/projects/${srv.projectRef}/prod/deploy-settings`);
    expectStatus(r, 200);
    assert.deepEqual(r.json, { build_path: "native" });
    expectStatus(await prod("GET", `/api/v1/projects/proj_other/prod/deploy-settings`), 404);
  });
});

describe("failing a deployment while it builds", () => {
  let srv;
  const prod = (method, path, body) => prodApi(srv, method, path, body);
  const deployArchive = (bytes) => deployArchiveTo(srv, bytes);
  before(async () => {
    // no short time limit here: only the fail itself may end the stuck build
    srv = await startTriggerd({ env: { TRIGGERD_DEPLOY_BUILD_TIMEOUT_MS: "600000" } });
  });
  after(async () => {
    await stopServer(srv);
  });

  test("POST /fail of a BUILDING deployment stops its build: the next queued build runs", async () => {
    const stuck = await deployArchive(stuckArchive());
    await waitStatus(srv, stuck.id, ["BUILDING"]);
    const next = await deployArchive("not a tgz");
    const f = await prod("POST", `/api/v1/deployments/${stuck.id}/fail`, { error: { name: "CliError", message: "gave up" } });
    expectStatus(f, 200);
    const end = await waitFinal(srv, next.id);
    assert.equal(end.status, "FAILED");
    assert.match(end.errorData.message, /The build failed/);
    const s = (await prod("GET", `/api/v1/deployments/${stuck.id}`)).json;
    assert.equal(s.status, "FAILED");
    assert.equal(s.errorData.message, "gave up", "the killed build does not overwrite the reported error");
    await assertHealthy(srv);
  });
});
