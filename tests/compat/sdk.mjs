// tests/compat/sdk.mjs - loads the SDK under test, so one suite runs against
// both pinned versions:
//
//   TRIGGER_SDK unset     -> @trigger.dev/sdk 4.5.0 (the version spec/api.md catalogues)
//   TRIGGER_SDK=latest    -> sdk-latest, an npm alias of the newest 4.x
//
// Both packages export the same entry "./v3" (also "."). The SDK keeps its
// ApiClient behind @trigger.dev/core's apiClientManager; a few operations
// (tags.add, metadata.*) only work inside a running task, so tests call the
// ApiClient directly for those. That must be the *same* core module instance
// the chosen SDK imports (each SDK version has its own nested core), hence the
// resolution from the SDK's own package directory below.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const latest = process.env.TRIGGER_SDK === "latest";
export const SDK_PACKAGE = latest ? "sdk-latest" : "@trigger.dev/sdk";

const sdk = latest ? await import("sdk-latest/v3") : await import("@trigger.dev/sdk/v3");

const require = createRequire(import.meta.url);
const sdkDir = dirname(require.resolve(`${SDK_PACKAGE}/package.json`));
const sdkRequire = createRequire(join(sdkDir, "package.json"));
const coreDir = dirname(sdkRequire.resolve("@trigger.dev/core/package.json"));
const core = await import(pathToFileURL(join(coreDir, "dist/esm/v3/index.js")).href);

export const SDK_VERSION = require(`${SDK_PACKAGE}/package.json`).version;
export const CORE_VERSION = sdkRequire("@trigger.dev/core/package.json").version;

export { sdk, core };
export const {
  configure,
  auth,
  tasks,
  batch,
  runs,
  idempotencyKeys,
  wait,
  envvars,
  sessions,
  schedules,
  queues,
  ApiError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  PermissionDeniedError,
  UnprocessableEntityError,
  ConflictError,
} = sdk;
export const { apiClientManager } = core;
