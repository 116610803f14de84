// Values every JavaScript client can send survive the round trip: strings
// holding U+0000 or a lone surrogate, which JSON.stringify writes as "\u0000"
// and "\ud800" and JSON.parse reads back, and integers past 64 bits. The real
// server parses and stringifies with JSON.parse/JSON.stringify, so whatever
// goes in as a payload, metadata or token output comes back equal.
// (util/jsontext.h; outputs of tasks are checked through the dev CLI in
// dev/data.test.mjs.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { tasks, runs, wait } from "./sdk.mjs";
import { startServer, uid, apiClient } from "./helpers.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

// Each awkward string in a few positions: alone, inside text, as a key.
const AWKWARD = {
  nul: "a\u0000b",
  onlyNul: "\u0000",
  high: "\ud800",
  low: "x\udfffy",
  reversed: "\udc00\ud800",
  pair: "\ud83d\ude00",
  noncharacter: "\ufdd0",
  escapedLooking: "\\u0000 \\ud800",
  "key\u0000with nul": 1,
  "key\ud800lone": 2,
  list: ["\u0000", "\udbff", { deep: "\u0000\ud800" }],
};

test("a payload with U+0000 and lone surrogates comes back equal from runs.retrieve", async () => {
  const payload = { ...AWKWARD, big: 1e20, negBig: -123456789012345680000 };
  const h = await tasks.trigger(uid("compat-str-payload-"), payload);
  const run = await runs.retrieve(h.id);
  assert.deepEqual(run.payload, payload);
  // the list endpoint serves the same run
  const page = await runs.list({ taskIdentifier: run.taskIdentifier });
  assert.equal(page.data[0].id, h.id);
});

test("a string payload with U+0000 and a lone surrogate comes back equal", async () => {
  const payload = "text \u0000 and \ud800";
  const h = await tasks.trigger(uid("compat-str-text-"), payload);
  assert.equal((await runs.retrieve(h.id)).payload, payload);
});

test("trigger-time metadata with U+0000 and lone surrogates comes back equal", async () => {
  const h = await tasks.trigger(uid("compat-str-md-"), {}, { metadata: AWKWARD });
  assert.deepEqual((await runs.retrieve(h.id)).metadata, AWKWARD);
  assert.deepEqual((await apiClient().getRunMetadata(h.id)).metadata, AWKWARD);
});

test("metadata updates with U+0000 and lone surrogates are accepted and stored", async () => {
  // runs' metadata.set/replace use this ApiClient call (outside a task the SDK offers none).
  const h = await tasks.trigger(uid("compat-str-mdput-"), {});
  const res = await apiClient().updateRunMetadata(h.id, { metadata: AWKWARD });
  assert.deepEqual(res.metadata, AWKWARD);
  assert.deepEqual((await runs.retrieve(h.id)).metadata, AWKWARD);
  const ops = await apiClient().updateRunMetadata(h.id, {
    operations: [
      { type: "set", key: "added\u0000", value: "\ud800\u0000" },
      { type: "append", key: "list", value: "\udfff" },
    ],
  });
  const want = { ...AWKWARD, "added\u0000": "\ud800\u0000", list: [...AWKWARD.list, "\udfff"] };
  assert.deepEqual(ops.metadata, want);
  assert.deepEqual((await runs.retrieve(h.id)).metadata, want);
});

test("a token completed with U+0000 and lone surrogates in its data returns them", async () => {
  const t = await wait.createToken({ timeout: "1m" });
  await wait.completeToken(t.id, AWKWARD);
  const r = await wait.retrieveToken(t.id);
  assert.equal(r.status, "COMPLETED");
  assert.deepEqual(r.output, AWKWARD);
});

test("a tag with a lone surrogate comes back as sent", async () => {
  const tag = "tag\ud800";
  const h = await tasks.trigger(uid("compat-str-tag-"), {}, { tags: [tag] });
  assert.deepEqual((await runs.retrieve(h.id)).tags, [tag]);
});
