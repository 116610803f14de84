// deploy/build.mjs - the build step of a deployment, run by triggerd
// (deploy/build.c) with node after the archive is unpacked into <work>/src
// and its dependencies installed. It builds the project with the CLI of the
// project's own `trigger.dev` dependency, as the platform's build server
// does (target "deploy"), into <work>/out, installs the bundle's externals
// there, then runs the bundle's index controller, which registers the
// deployment's background worker with triggerd. The run controller's path
// is left in <work>/entry.json for the supervisor (deploy/supervisor.c).
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const work = process.argv[2];
const configRel = process.env.TRIGGERD_CONFIG_FILE || "";
const project = configRel ? join(work, "src", dirname(configRel)) : join(work, "src");
const out = join(work, "out");

function run(cmd, args, cwd) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: "inherit" });
    p.on("error", reject);
    p.on("exit", (code, sig) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code ?? sig}`)),
    );
  });
}

async function cliModule(rel) {
  const base = join(project, "node_modules/trigger.dev/dist/esm");
  try {
    return await import(pathToFileURL(join(base, rel)).href);
  } catch (err) {
    throw new Error(`the project has no usable trigger.dev dependency (${rel}): ${err.message}`);
  }
}

const { loadConfig } = await cliModule("config.js");
const { buildWorker } = await cliModule("build/buildWorker.js");
const config = await loadConfig({
  cwd: project,
  overrides: { project: process.env.TRIGGER_PROJECT_REF },
  configFile: configRel ? join(work, "src", configRel) : undefined,
});
console.log(`Building ${config.project} for ${process.env.TRIGGERD_ENV_SLUG}`);
const manifest = await buildWorker({
  target: "deploy",
  environment: process.env.TRIGGERD_ENV_SLUG,
  destination: out,
  resolvedConfig: config,
  rewritePaths: false, // the bundle runs where it is built, not under /app
  envVars: {},
  forcedExternals: [],
  plain: true,
  listener: {},
});
const pkg = JSON.parse(await readFile(join(out, "package.json"), "utf8"));
if (Object.keys(pkg.dependencies ?? {}).length) {
  console.log("Installing the bundle's external packages");
  await run("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--no-package-lock", "--prefer-offline"], out);
}
if (!manifest.indexControllerEntryPoint || !manifest.runControllerEntryPoint)
  throw new Error("the build has no managed entry points (is the project's trigger.dev 4.x?)");
console.log("Indexing");
await run(process.execPath, [manifest.indexControllerEntryPoint], out);
await writeFile(
  join(work, "entry.json"),
  JSON.stringify({ runController: manifest.runControllerEntryPoint, contentHash: manifest.contentHash }),
);
console.log("Build complete");
