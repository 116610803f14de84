// tests/compat/dev/cli.mjs - runs the real `trigger.dev dev` CLI against a
// triggerd for a compat test file: a private copy of the fixture project
// (dev/fixture's sources; packages of CLI + SDK 4.5.0 from dev/fixture, or
// 4.8.3 from dev/fixture-latest with TRIGGER_SDK=latest), the CLI in its own
// process group with its output in a log file, and the helpers the tests
// poll with. Same harness as dev.test.mjs, shared by engine.test.mjs.
import { spawn } from "node:child_process";
import { cpSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "../helpers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const latest = process.env.TRIGGER_SDK === "latest";
export const FIXTURE = join(here, latest ? "fixture-latest" : "fixture");
const CLI = join(FIXTURE, "node_modules/trigger.dev/dist/esm/index.js");
export const CLI_VERSION = existsSync(join(FIXTURE, "node_modules/trigger.dev/package.json"))
  ? JSON.parse(readFileSync(join(FIXTURE, "node_modules/trigger.dev/package.json"), "utf8")).version
  : "(not installed)";

const READY_TIMEOUT_MS = 90_000; // first build + indexing take 10-20 s, +8 s offline

// API statuses that end a run (2025-07-16 vocabulary).
export const FINAL = new Set([
  "COMPLETED", "CANCELED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "INTERRUPTED", "EXPIRED", "TIMED_OUT",
]);

export const stripAnsi = (s) => s.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)/g, "");

/** A private copy of the project: dev/fixture's config and src/, the chosen fixture's package files, node_modules symlinked. */
function prepareProject(extraFiles = {}) {
  if (!existsSync(join(FIXTURE, "node_modules/trigger.dev")))
    throw new Error(`${FIXTURE}/node_modules is missing: run npm --prefix ${FIXTURE} ci`);
  const dir = join(mkdtempSync(join(tmpdir(), "triggerd-dev-")), "project");
  const src = join(here, "fixture");
  cpSync(join(src, "trigger.config.ts"), join(dir, "trigger.config.ts"));
  cpSync(join(src, "src"), join(dir, "src"), { recursive: true });
  cpSync(join(FIXTURE, "package.json"), join(dir, "package.json"));
  cpSync(join(FIXTURE, "package-lock.json"), join(dir, "package-lock.json"));
  symlinkSync(join(FIXTURE, "node_modules"), join(dir, "node_modules"), "dir");
  for (const [rel, text] of Object.entries(extraFiles)) writeFileSync(join(dir, rel), text);
  return dir;
}

/**
 * Starts the CLI against `srv` (startServer of ../helpers.mjs) and waits for
 * "Local worker ready". Returns the session: {projectDir, log(), tail(),
 * versions() (every worker version the CLI announced, in order), exited,
 * waitForVersion(n), stop()}. `extraFiles` ({path in the project: text}) adds
 * sources to this copy only (a test's own tasks, without touching the shared fixture).
 */
export async function startDevSession(srv, { extraFiles } = {}) {
  const projectDir = prepareProject(extraFiles);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("TRIGGER_") && !k.startsWith("OTEL_")),
  );
  Object.assign(env, {
    TRIGGER_ACCESS_TOKEN: srv.pat,
    TRIGGER_API_URL: (srv.peer ?? srv).url, // TRIGGERD_NODES=2: the other node
    TRIGGER_PROJECT_REF: srv.projectRef,
    XDG_CONFIG_HOME: join(dirname(projectDir), "config"), // never the user's profile
    FORCE_COLOR: "0",
    NO_COLOR: "1",
  });
  const logPath = join(mkdtempSync(join(tmpdir(), "triggerd-dev-log-")), "cli.log");
  const logFile = createWriteStream(logPath);
  const proc = spawn(
    process.execPath,
    [CLI, "dev", "--skip-update-check", "--skip-platform-notifications", "--skip-mcp-install", "--skip-rules-install", "--log-level", "debug"],
    { cwd: projectDir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  const s = {
    pid: proc.pid,
    projectDir,
    logPath,
    proc,
    exited: null,
    log: () => stripAnsi(log),
    tail(lines = 60) {
      return `--- last ${lines} lines of ${logPath} ---\n` + stripAnsi(log).split("\n").slice(-lines).join("\n");
    },
    versions() {
      return [...stripAnsi(log).matchAll(/Local worker ready[^\n]*->\s*(\S+)/g)].map((m) => m[1]);
    },
    /** Waits until the CLI announced at least `n` worker versions (a rebuild after a file change). */
    async waitForVersion(n, timeout = 60_000) {
      const deadline = Date.now() + timeout;
      while (Date.now() < deadline) {
        if (this.versions().length >= n) return this.versions();
        if (this.exited) throw new Error(`the CLI exited (${JSON.stringify(this.exited)})\n${this.tail()}`);
        await sleep(250);
      }
      throw new Error(`the CLI announced ${this.versions().length} worker versions, not ${n}, within ${timeout} ms\n${this.tail()}`);
    },
    async stop() {
      if (!this.exited) {
        const exited = new Promise((r) => proc.once("exit", r));
        try {
          process.kill(-proc.pid, "SIGTERM");
        } catch {}
        await Promise.race([exited, sleep(10_000)]);
        if (!this.exited) {
          try {
            process.kill(-proc.pid, "SIGKILL");
          } catch {}
          await exited;
        }
      }
      await reapWatchdog(projectDir);
      rmSync(dirname(projectDir), { recursive: true, force: true });
    },
  };
  const onData = (d) => {
    log += d;
    logFile.write(d);
  };
  proc.stdout.on("data", onData);
  proc.stderr.on("data", onData);
  proc.on("exit", (code, signal) => {
    s.exited = { code, signal };
    logFile.end();
  });
  console.log(`# trigger.dev ${CLI_VERSION} dev: pid ${proc.pid}, log ${logPath}`);
  try {
    await s.waitForVersion(1, READY_TIMEOUT_MS);
  } catch (e) {
    await s.stop();
    throw e;
  }
  return s;
}

/** The CLI's detached watchdog (.trigger/watchdog.pid) outlives it to send disconnect; let it finish, then end it. */
async function reapWatchdog(projectDir) {
  let pid;
  try {
    const s = readFileSync(join(projectDir, ".trigger/watchdog.pid"), "utf8");
    if (s.startsWith("trigger-watchdog:")) pid = parseInt(s.slice("trigger-watchdog:".length), 10);
  } catch {
    return;
  }
  if (!pid) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 15_000;
  while (alive() && Date.now() < deadline) await sleep(200);
  if (alive()) process.kill(pid, "SIGTERM");
}
