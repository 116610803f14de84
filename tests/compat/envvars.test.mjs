// Compat: environment variables (spec/api.md 6.6) through the SDK's
// envvars.* API with the dev secret key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, rejectsApi } from "./helpers.mjs";
import { envvars, BadRequestError, NotFoundError } from "./sdk.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

test("create, upload, list, retrieve and delete variables", async () => {
  const ref = srv.projectRef;
  assert.deepEqual(await envvars.create(ref, "dev", { name: "FOO", value: "bar" }), { success: true });
  await envvars.upload(ref, "dev", { variables: { A: "1", B: "2", FOO: "ignored" }, override: false });
  assert.deepEqual(await envvars.list(ref, "dev"), [
    { name: "A", value: "1", isSecret: false },
    { name: "B", value: "2", isSecret: false },
    { name: "FOO", value: "bar", isSecret: false },
  ]);
  await envvars.upload(ref, "dev", { variables: { FOO: "new" }, override: true });
  assert.deepEqual(await envvars.retrieve(ref, "dev", "FOO"), { name: "FOO", value: "new", isSecret: false });
  await envvars.del(ref, "dev", "A");
  assert.deepEqual((await envvars.list(ref, "dev")).map((v) => v.name), ["B", "FOO"]);
  await rejectsApi(() => envvars.retrieve(ref, "dev", "A"), NotFoundError, 404);
});

test("the key's own environment only, and a valid project ref", async () => {
  await rejectsApi(() => envvars.list(srv.projectRef, "prod"), BadRequestError, 400);
  await rejectsApi(() => envvars.list("proj_notmineatallxxxxxxx", "dev"), BadRequestError, 400);
});

test("the dev CLI's flat list carries the user variables and the OTLP endpoint", async () => {
  await envvars.create(srv.projectRef, "dev", { name: "CLI_SEES_ME", value: "yes" });
  const r = await fetch(`${srv.url}/api/v1/projects/${srv.projectRef}/envvars`, {
    headers: { authorization: `Bearer ${srv.keys.dev}` },
  });
  const { variables } = await r.json();
  assert.equal(variables.CLI_SEES_ME, "yes");
  assert.equal(variables.TRIGGER_OTEL_EXPORTER_OTLP_ENDPOINT, `${srv.url}/otel`);
});
