// tests/compat/dev/offline-templates.mjs - preloaded (`node --import`) into the
// `trigger.dev init` process by onboarding.test.mjs. init fetches its
// trigger.config.ts and example task templates from
// https://raw.githubusercontent.com/triggerdotdev/trigger.dev/<ref>/packages/cli-v3/templates/,
// which the test machine cannot reach (loopback only); this answers those
// requests from dev/init-templates/ and passes every other fetch through.
import { readFile } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "init-templates");
const PREFIX = /^https:\/\/raw\.githubusercontent\.com\/triggerdotdev\/trigger\.dev\/[^/]+\/packages\/cli-v3\/templates\//;
const realFetch = globalThis.fetch;

globalThis.fetch = async (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (!PREFIX.test(url)) return realFetch(input, init);
  const name = normalize(url.replace(PREFIX, ""));
  if (name.startsWith("..")) return new Response("bad template path", { status: 400 });
  try {
    return new Response(await readFile(join(DIR, name), "utf8"), { status: 200 });
  } catch {
    return new Response("no such template", { status: 404, statusText: "Not Found" });
  }
};
