// Compat: a new user's first hour with the real `trigger.dev` CLI against
// build/triggerd (4.5.0 from dev/fixture, or with TRIGGER_SDK=latest 4.8.3 from
// dev/fixture-latest): `login --api-url --profile --no-browser` approved on
// triggerd's own page (with the personal access token, and with a one-time
// link from `triggerd login-link`), then `whoami`, `list-profiles`, `switch`,
// `logout` on the saved profiles, and `init --yes --project-ref` in an empty
// package followed by `dev` running the example task init wrote.
//
// The page is driven over HTTP (GET the URL the CLI prints, POST its form).
// Every CLI runs with stdin closed, no TTY, a private XDG_CONFIG_HOME (never
// the user's profiles) and a minimal environment (no TRIGGER_*, no CI
// variables: the CLI refuses browser logins under CI). init fetches its
// templates from GitHub, which this machine cannot reach, so its process
// preloads offline-templates.mjs to serve dev/init-templates/; it installs
// @trigger.dev/sdk and @trigger.dev/build with npm (prefer-offline, from the
// cache the fixture's `npm ci` filled).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { startServer, sleep } from "../helpers.mjs";
import { BINARY } from "../../lib/triggerd.mjs";
import { tasks, runs } from "../sdk.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const latest = process.env.TRIGGER_SDK === "latest";
const FIXTURE = join(here, latest ? "fixture-latest" : "fixture");
const CLI = join(FIXTURE, "node_modules/trigger.dev/dist/esm/index.js");
const CLI_VERSION = JSON.parse(readFileSync(join(FIXTURE, "node_modules/trigger.dev/package.json"), "utf8")).version;
const TEMPLATES = pathToFileURL(join(here, "offline-templates.mjs")).href;

let srv;
let home; // private XDG_CONFIG_HOME, the init'd project, logs
const children = new Set(); // CLI processes still running (killed as groups in after())

/** Resolves after ms without keeping the process alive (for races against an exit). */
const timer = (ms) => new Promise((r) => setTimeout(r, ms).unref());

const stripAnsi = (s) => s.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)/g, "");

/** The CLI's environment: only what a shell gives a user, plus the private config dir. */
function cliEnv(extra = {}) {
  // Not the npm_config_* of an `npm test` around us (local_prefix would point npm at tests/compat).
  const keep = ["PATH", "HOME", "USER", "LANG", "TMPDIR", "TERM", "SHELL", "npm_config_cache", "npm_config_registry"];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => keep.includes(k)));
  return { ...env, XDG_CONFIG_HOME: join(home, "config"), FORCE_COLOR: "0", NO_COLOR: "1", ...extra };
}

/** Starts `node [nodeArgs] CLI args`; .out collects output, .done resolves {code, signal}. */
function startCli(args, { cwd = home, env = cliEnv(), nodeArgs = [] } = {}) {
  const proc = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const cli = { proc, out: "", exited: null };
  children.add(cli);
  const onData = (d) => (cli.out += d);
  proc.stdout.on("data", onData);
  proc.stderr.on("data", onData);
  cli.done = new Promise((resolve) =>
    proc.on("exit", (code, signal) => {
      cli.exited = { code, signal };
      children.delete(cli);
      resolve(cli.exited);
    }),
  );
  cli.text = () => stripAnsi(cli.out);
  return cli;
}

/** Polls until re matches the CLI's output (or it exits, or timeout); the match. */
async function waitOutput(cli, re, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const m = cli.text().match(re);
    if (m) return m;
    if (cli.exited) break;
    await sleep(100);
  }
  assert.fail(`no ${re} in the CLI's output (exit ${JSON.stringify(cli.exited)}):\n${cli.text().slice(-3000)}`);
}

/** Waits for a CLI to exit (bounded) and returns its output; fails on a non-zero exit. */
async function finishes(cli, timeout = 60_000) {
  const res = await Promise.race([cli.done, timer(timeout).then(() => null)]);
  assert.ok(res, `the CLI did not exit within ${timeout} ms:\n${cli.text().slice(-3000)}`);
  assert.equal(res.code, 0, `the CLI exited ${JSON.stringify(res)}:\n${cli.text().slice(-3000)}`);
  return cli.text();
}

/** Runs a short CLI command to completion; its output. */
const cliRun = (args, opts) => finishes(startCli(args, opts));

function killGroup(cli, signal = "SIGTERM") {
  try {
    process.kill(-cli.proc.pid, signal);
  } catch {}
}

const readConfig = () => JSON.parse(readFileSync(join(home, "config/trigger/config.json"), "utf8"));

/** POSTs the approval form of the CLI's login page. */
const approve = (url, credential) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ credential }).toString(),
  });

/** `login --api-url --profile --no-browser` up to the URL it prints; {cli, url}. */
async function startLogin(profile) {
  const cli = startCli(["login", "--api-url", srv.url, "--profile", profile, "--no-browser", "--skip-telemetry"]);
  const esc = srv.url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const [url] = await waitOutput(cli, new RegExp(`${esc}/account/authorization-code/[0-9a-z]+`));
  return { cli, url };
}

before(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm --prefix ${FIXTURE} ci`);
  home = mkdtempSync(join(tmpdir(), "triggerd-onboarding-"));
  srv = await startServer();
  console.log(`# trigger.dev ${CLI_VERSION}, config and project under ${home}`);
});

after(async () => {
  for (const cli of [...children]) {
    killGroup(cli);
    await Promise.race([cli.done, timer(10_000)]);
    if (!cli.exited) killGroup(cli, "SIGKILL");
  }
  await reapWatchdog(join(home, "project"));
  await srv?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

test(`trigger.dev ${CLI_VERSION} login is approved on triggerd's page with the access token`, { timeout: 90_000 }, async () => {
  const { cli, url } = await startLogin("td-pat");

  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /^text\/html/);
  const html = await page.text();
  assert.match(html, /<form method="post">/);
  assert.match(html, /name="credential"/);

  const wrong = await approve(url, "tr_pat_notarealtoken000000000000000000000000");
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /not valid/);
  assert.equal(cli.exited, null, "a wrong token leaves the CLI waiting");

  const ok = await approve(url, srv.pat);
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.match(await ok.text(), /return to your terminal/);

  const out = await finishes(cli);
  assert.match(out, /Logged in successfully/);
  const cfg = readConfig();
  assert.equal(cfg.profiles["td-pat"].accessToken, srv.pat);
  assert.equal(cfg.profiles["td-pat"].apiUrl, srv.url);
  assert.equal(cfg.currentProfile, "td-pat");

  const again = await fetch(url);
  assert.equal(again.status, 404, "the code was exchanged for its token once");
  assert.match(await again.text(), /expired/);
});

test("whoami shows the account of the saved profile", { timeout: 60_000 }, async () => {
  const out = await cliRun(["whoami", "--profile", "td-pat", "--skip-telemetry"]);
  assert.match(out, /Account details \[td-pat\]/);
  assert.match(out, /dev@triggerd\.local/);
  assert.ok(out.includes(srv.url), out);
});

test("login approved with a one-time link from `triggerd login-link`; the link works once", { timeout: 90_000 }, async () => {
  const { stdout } = await promisify(execFile)(BINARY, [
    "login-link", "--data", srv.dataDir, "--listen", `127.0.0.1:${srv.port}`,
  ]);
  const link = stdout.trim();
  assert.match(link, new RegExp(`^${srv.url.replace(/[.]/g, "\\.")}/account/login-link/[0-9A-Za-z]{32}$`));
  const info = await fetch(link);
  assert.equal(info.status, 200, "opening the link only explains it");

  const { cli, url } = await startLogin("td-link");
  const ok = await approve(url, link);
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.match(await finishes(cli), /Logged in successfully/);
  assert.equal(readConfig().profiles["td-link"].accessToken, srv.pat);

  const second = await startLogin("td-reuse");
  const reused = await approve(second.url, link);
  assert.equal(reused.status, 401, "a used link is refused");
  assert.match(await reused.text(), /works once|not valid/);
  killGroup(second.cli);
  await second.cli.done;
});

test("list-profiles, switch and logout work on the saved profiles", { timeout: 60_000 }, async () => {
  const list = await cliRun(["list-profiles", "--skip-telemetry"]);
  for (const p of ["td-pat", "td-link"]) assert.match(list, new RegExp(`${p} - ${srv.url.replace(/[.]/g, "\\.")}`));

  // the last login made td-link the current profile
  assert.equal(readConfig().currentProfile, "td-link");
  assert.match(await cliRun(["switch", "td-pat", "--skip-telemetry"]), /Switched to td-pat/);
  assert.equal(readConfig().currentProfile, "td-pat");
  assert.match(await cliRun(["whoami", "--skip-telemetry"]), /Account details \[td-pat\]/);

  await cliRun(["logout", "--profile", "td-link", "--skip-telemetry"]);
  assert.equal(readConfig().profiles["td-link"], undefined);
  const after = startCli(["whoami", "--profile", "td-link", "--skip-telemetry"]);
  await Promise.race([after.done, timer(30_000)]);
  assert.match(after.text(), /You must login first/);
});

test("init --yes --project-ref writes a working config and example task, and dev runs it", { timeout: 240_000 }, async () => {
  const project = join(home, "project");
  mkdirSync(project);
  // An empty npm package (`npm init -y` and the lockfile `npm install` writes): init picks its
  // package manager from the lockfile (nypm; under npx it would also recognise npx's path).
  const pkg0 = { name: "first-hour", version: "1.0.0", private: true };
  writeFileSync(join(project, "package.json"), JSON.stringify(pkg0, null, 2));
  writeFileSync(
    join(project, "package-lock.json"),
    JSON.stringify({ ...pkg0, lockfileVersion: 3, requires: true, packages: { "": pkg0 } }, null, 2),
  );

  const t0 = Date.now();
  const init = startCli(
    ["init", "--yes", "--project-ref", srv.projectRef, "--profile", "td-pat", "--skip-telemetry", "--log-level", "debug"],
    {
      cwd: project,
      nodeArgs: ["--import", TEMPLATES],
      // installs from the npm cache the fixture's `npm ci` filled where it can, and pins the
      // exact version init asks for (npm would save ^4.5.0, which resolves to the newest 4.x)
      env: cliEnv({ npm_config_prefer_offline: "true", npm_config_save_exact: "true" }),
    },
  );
  const out = await finishes(init, 150_000);
  console.log(`# init took ${Date.now() - t0} ms`);
  assert.match(out, /Project initialized successfully/);

  const config = readFileSync(join(project, "trigger.config.ts"), "utf8");
  assert.ok(config.includes(`project: "${srv.projectRef}"`), config);
  assert.ok(config.includes(`dirs: ["./src/trigger"]`), config);
  assert.ok(existsSync(join(project, "src/trigger/example.ts")), "the example task");
  const pkg = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
  assert.equal(pkg.dependencies?.["@trigger.dev/sdk"], CLI_VERSION);
  assert.equal(pkg.devDependencies?.["@trigger.dev/build"], CLI_VERSION);
  const sdkPkg = join(project, "node_modules/@trigger.dev/sdk/package.json");
  assert.equal(JSON.parse(readFileSync(sdkPkg, "utf8")).version, CLI_VERSION);
  assert.match(readFileSync(join(project, ".gitignore"), "utf8"), /\.trigger/);

  // the project is marked initialized (POST /api/v1/projects/{ref}/init, 4.8)
  const res = await fetch(`${srv.url}/api/v1/projects/${srv.projectRef}`, { headers: { authorization: `Bearer ${srv.pat}` } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).externalRef, srv.projectRef);

  const dev = startCli(
    ["dev", "--profile", "td-pat", "--skip-update-check", "--skip-platform-notifications", "--skip-mcp-install",
      "--skip-rules-install", "--skip-telemetry"],
    { cwd: project },
  );
  await waitOutput(dev, /Local worker ready/, 90_000);
  const h = await tasks.trigger("hello-world", { name: "Ada" });
  const deadline = Date.now() + 45_000;
  let run;
  while (Date.now() < deadline) {
    run = await runs.retrieve(h.id);
    if (run.isCompleted || run.status === "CRASHED" || run.status === "SYSTEM_FAILURE") break;
    await sleep(250);
  }
  assert.equal(run.status, "COMPLETED", `${run.status} ${JSON.stringify(run.error)}\n${dev.text().slice(-3000)}`);
  assert.deepEqual(run.output, { message: "Hello, Ada!", project: srv.projectRef });
  killGroup(dev);
  await Promise.race([dev.done, timer(10_000)]);
});

/** The dev CLI's detached watchdog (.trigger/watchdog.pid) outlives it; let it finish, then end it. */
async function reapWatchdog(dir) {
  let pid;
  try {
    const s = readFileSync(join(dir, ".trigger/watchdog.pid"), "utf8");
    if (s.startsWith("trigger-watchdog:")) pid = parseInt(s.slice("trigger-watchdog:".length), 10);
  } catch {
    return;
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 15_000;
  while (pid && alive() && Date.now() < deadline) await sleep(200);
  if (pid && alive()) process.kill(pid, "SIGTERM");
}
