// tests/integration/cli-login.test.mjs - the routes `trigger.dev login` and
// `trigger.dev init` call, over plain HTTP (the real CLI drives the same flow
// in tests/compat/dev/onboarding.test.mjs): authorization code, token poll,
// the approval page (PAT, one-time link, wrong input), a restart in the
// middle of a login, and the project / organization calls.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startTriggerd, api, BINARY } from "./helpers.mjs";

const run = promisify(execFile);

let srv;
before(async () => {
  srv = await startTriggerd();
});
after(async () => {
  await srv?.stop();
});

const newCode = async () => {
  const r = await api(srv, "POST", "/api/v1/authorization-code", { key: null, apiVersion: false });
  assert.equal(r.status, 200, r.text);
  return r.json;
};
const poll = (authorizationCode) =>
  api(srv, "POST", "/api/v1/token", { key: null, apiVersion: false, body: { authorizationCode } });
const form = (code, body) =>
  api(srv, "POST", `/account/authorization-code/${code}`, {
    key: null,
    apiVersion: false,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
  });
const loginLink = async () =>
  (await run(BINARY, ["login-link", "--data", srv.dataDir, "--listen", `127.0.0.1:${srv.port}`])).stdout.trim();

describe("login: authorization codes", () => {
  test("a code comes with the URL of triggerd's page, and polls null until approved", async () => {
    const { authorizationCode, url, approval } = await newCode();
    assert.match(authorizationCode, /^[0-9a-z]{40}$/);
    assert.equal(url, `${srv.url}/account/authorization-code/${authorizationCode}`);
    assert.equal(approval, undefined, "no approval field: the CLI polls with the code alone");
    const p = await poll(authorizationCode);
    assert.equal(p.status, 200);
    assert.deepEqual(p.json, { token: null });
  });

  test("the 4.8 request body (PKCE challenge, callback port) is accepted", async () => {
    const r = await api(srv, "POST", "/api/v1/authorization-code", {
      key: null,
      body: { codeChallenge: "x".repeat(43), codeChallengeMethod: "S256", callbackPort: 4567 },
    });
    assert.equal(r.status, 200, r.text);
  });

  test("approving with the PAT hands the token out once, obfuscated as well", async () => {
    const { authorizationCode: code } = await newCode();
    const page = await api(srv, "GET", `/account/authorization-code/${code}`, { key: null });
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type"), /^text\/html/);
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    assert.match(page.text, /name="credential"/);

    const ok = await form(code, `credential=${encodeURIComponent(` ${srv.pat} `)}`);
    assert.equal(ok.status, 200, ok.text);
    const p = await poll(code);
    assert.equal(p.status, 200);
    assert.equal(p.json.token.token, srv.pat);
    assert.equal(p.json.token.obfuscatedToken, `${srv.pat.slice(0, 11)}****${srv.pat.slice(-4)}`);
    const again = await poll(code);
    assert.equal(again.status, 400);
    assert.deepEqual(again.json, { error: "Invalid authorization code, or code expired" });
    assert.equal((await api(srv, "GET", `/account/authorization-code/${code}`, { key: null })).status, 404);
  });

  test("a wrong token, an empty form and a secret key are refused and leave the code pending", async () => {
    const { authorizationCode: code } = await newCode();
    for (const body of ["credential=tr_pat_nope", "credential=", "other=1", `credential=${srv.keys.dev}`, "%zz"]) {
      const r = await form(code, body);
      assert.ok(r.status === 400 || r.status === 401, `${body}: ${r.status}`);
      assert.match(r.text, /class="err"/, body);
    }
    assert.deepEqual((await poll(code)).json, { token: null });
  });

  test("a login link from `triggerd login-link` approves one login and no second", async () => {
    const link = await loginLink();
    assert.match(link, /\/account\/login-link\/[0-9A-Za-z]{32}$/);
    const a = (await newCode()).authorizationCode;
    const b = (await newCode()).authorizationCode;
    assert.equal((await form(a, `credential=${encodeURIComponent(link)}`)).status, 200);
    assert.equal((await poll(a)).json.token.token, srv.pat);
    const reused = await form(b, `credential=${encodeURIComponent(link.split("/").pop())}`);
    assert.equal(reused.status, 401);
    assert.match(reused.text, /links work once/);
  });

  test("unknown codes: 404 page, 400 poll; a poll without a code is 422", async () => {
    assert.equal((await api(srv, "GET", "/account/authorization-code/nope", { key: null })).status, 404);
    assert.equal((await form("nope", `credential=${srv.pat}`)).status, 404);
    assert.equal((await poll("nope")).status, 400);
    const r = await api(srv, "POST", "/api/v1/token", { key: null, body: {} });
    assert.equal(r.status, 422);
    const bad = await api(srv, "POST", "/api/v1/token", { key: null, body: "{" });
    assert.equal(bad.status, 400);
  });

  test("a login survives a restart between code and approval", async () => {
    const { authorizationCode: code } = await newCode();
    await srv.restart("SIGKILL");
    assert.equal((await form(code, `credential=${srv.pat}`)).status, 200);
    await srv.restart();
    assert.equal((await poll(code)).json.token.token, srv.pat);
  });
});

describe("init: projects and organizations", () => {
  const pat = () => ({ key: srv.pat });

  test("GET /api/v1/projects and /projects/{ref} give the project with its organization", async () => {
    const list = await api(srv, "GET", "/api/v1/projects", pat());
    assert.equal(list.status, 200);
    assert.equal(list.json.length, 1);
    const [p] = list.json;
    assert.equal(p.externalRef, srv.projectRef);
    assert.ok(!Number.isNaN(Date.parse(p.createdAt)));
    assert.deepEqual(Object.keys(p.organization).sort(), ["createdAt", "id", "slug", "title"]);
    const one = await api(srv, "GET", `/api/v1/projects/${srv.projectRef}`, pat());
    assert.deepEqual(one.json, p);
    const missing = await api(srv, "GET", "/api/v1/projects/proj_nope", pat());
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, { error: "Project not found" });
  });

  test("project routes want a personal access token", async () => {
    assert.equal((await api(srv, "GET", "/api/v1/projects")).status, 401);
    assert.equal((await api(srv, "GET", "/api/v1/projects", { key: null })).status, 401);
    assert.equal((await api(srv, "GET", "/api/v1/orgs", { key: "tr_pat_nope" })).status, 401);
  });

  test("POST /projects/{ref}/init keeps the first time", async () => {
    const a = await api(srv, "POST", `/api/v1/projects/${srv.projectRef}/init`, pat());
    assert.equal(a.status, 200);
    assert.ok(a.json.initializedAt);
    const b = await api(srv, "POST", `/api/v1/projects/${srv.projectRef}/init`, pat());
    assert.equal(b.json.initializedAt, a.json.initializedAt);
  });

  test("orgs: one to list; creating an org or a second project is refused with the reason", async () => {
    const orgs = await api(srv, "GET", "/api/v1/orgs", pat());
    assert.equal(orgs.json.length, 1);
    const org = orgs.json[0];
    const byId = await api(srv, "GET", `/api/v1/orgs/${org.id}/projects`, pat());
    const bySlug = await api(srv, "GET", `/api/v1/orgs/${org.slug}/projects`, pat());
    assert.deepEqual(byId.json, bySlug.json);
    assert.equal(byId.json[0].externalRef, srv.projectRef);
    assert.equal((await api(srv, "GET", "/api/v1/orgs/nope/projects", pat())).status, 404);
    const create = await api(srv, "POST", "/api/v1/orgs", { ...pat(), body: { title: "Acme" } });
    assert.equal(create.status, 404);
    const proj = await api(srv, "POST", `/api/v1/orgs/${org.id}/projects`, { ...pat(), body: { name: "x" } });
    assert.equal(proj.status, 400);
    assert.ok(proj.json.error.includes(srv.projectRef), proj.text);
    const noName = await api(srv, "POST", `/api/v1/orgs/${org.id}/projects`, { ...pat(), body: {} });
    assert.equal(noName.status, 400);
  });

  test("whoami adds project details for our ref only", async () => {
    const w = await api(srv, "GET", `/api/v2/whoami?projectRef=${srv.projectRef}`, pat());
    assert.equal(w.status, 200);
    assert.equal(w.json.project.name, "triggerd");
    assert.equal(w.json.project.url, `${srv.url}/projects/v3/${srv.projectRef}`);
    const other = await api(srv, "GET", "/api/v2/whoami?projectRef=proj_other", pat());
    assert.equal(other.json.project, undefined);
  });
});
