// tests/compat/s3.test.mjs - the object store in S3 (--object-store-url,
// docs/store.md "Objects"): npm's s3rver (tests/s3) behind a proxy that
// checks every request's SigV4 signature with AWS's own signer
// (@smithy/signature-v4: s3rver itself does not check V4 signatures), so a
// request triggerd signs wrongly fails here as it would on AWS. The SDK
// offloads a large payload to the presigned S3 URL and reads it back; the
// AWS SDK for JavaScript reads the same object key; the server-side PUT
// (deployment upload) and GET (session transcript) go through S3 too, in
// path-style and virtual-host style; the bucket going away answers clean
// 5xx and the node recovers when it returns.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHash, createHmac } from "node:crypto";
import { createRequire } from "node:module";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tasks, runs } from "./sdk.mjs";
import { startServer, uid, recordFetch } from "./helpers.mjs";
import { api, freePort, waitFor } from "../integration/helpers.mjs";

const s3req = createRequire(new URL("../s3/package.json", import.meta.url));
const S3rver = s3req("s3rver");
const { S3Client, GetObjectCommand, ListObjectsV2Command, HeadObjectCommand } = s3req("@aws-sdk/client-s3");
const { SignatureV4 } = s3req("@smithy/signature-v4");

const KEY = "S3RVER"; // s3rver's built-in account
const BUCKET = "triggerd";
const VHOST = "vh.localhost"; // s3rver names a virtual-host bucket by the whole host
const KiB = 1024;

class Sha256 {
  constructor(secret) {
    this.h = secret ? createHmac("sha256", Buffer.from(secret)) : createHash("sha256");
  }
  update(d) {
    this.h.update(typeof d === "string" ? d : Buffer.from(d));
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}
const signer = new SignatureV4({ credentials: { accessKeyId: KEY, secretAccessKey: KEY },
  region: "us-east-1", service: "s3", sha256: Sha256, uriEscapePath: false });

const amzDate = (s) => new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`);

// The signature the request should carry, by AWS's signer; null if unsigned.
async function expectedSignature(req, body) {
  const u = new URL(req.url, "http://x");
  const rawPath = req.url.split("?")[0];
  const auth = req.headers.authorization;
  if (auth) {
    const names = auth.match(/SignedHeaders=([^,]+)/)[1].split(";");
    const headers = Object.fromEntries(names.map((n) => [n, req.headers[n]]));
    if (headers["x-amz-content-sha256"] !== createHash("sha256").update(body).digest("hex"))
      return { bad: "payload hash" };
    const signed = await signer.sign({ method: req.method, protocol: "http:", hostname: req.headers.host,
      path: rawPath, query: {}, headers, body }, { signingDate: amzDate(req.headers["x-amz-date"]) });
    return { want: signed.headers.authorization, got: auth };
  }
  if (u.searchParams.get("X-Amz-Signature")) {
    const query = {};
    for (const [k, v] of u.searchParams) if (k !== "X-Amz-Signature") query[k] = v;
    const unsigned = new Set(["x-amz-content-sha256"]);
    const p = await signer.presign({ method: req.method, protocol: "http:", hostname: req.headers.host,
      path: rawPath, query, headers: { host: req.headers.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" } },
    { signingDate: amzDate(query["X-Amz-Date"]), expiresIn: Number(query["X-Amz-Expires"]),
      unsignableHeaders: unsigned, unhoistableHeaders: unsigned });
    const expires = amzDate(query["X-Amz-Date"]).getTime() + 1000 * Number(query["X-Amz-Expires"]);
    if (Date.now() > expires) return { bad: "expired" };
    return { want: p.query["X-Amz-Signature"], got: u.searchParams.get("X-Amz-Signature") };
  }
  return null;
}

let s3, s3dir, s3port, proxy, proxyPort, srv, srvVhost, client;
const seen = { verified: 0, refused: [] };

async function startS3() {
  s3 = new S3rver({ address: "127.0.0.1", port: s3port, silent: true, directory: s3dir,
    configureBuckets: [{ name: BUCKET }, { name: VHOST }] });
  await s3.run();
}

before(async () => {
  s3dir = mkdtempSync(join(tmpdir(), "triggerd-s3rver-"));
  s3port = await freePort();
  await startS3();
  proxyPort = await freePort();
  proxy = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const check = await expectedSignature(req, body);
    if (check && (check.bad || check.want !== check.got)) {
      seen.refused.push(`${req.method} ${req.url}: ${check.bad ?? `${check.got} != ${check.want}`}`);
      res.writeHead(403, { "content-type": "application/xml" });
      res.end("<Error><Code>SignatureDoesNotMatch</Code></Error>");
      return;
    }
    if (check) seen.verified++;
    const up = http.request({ host: "127.0.0.1", port: s3port, method: req.method, path: req.url,
      headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    up.end(body);
  }).listen(proxyPort, "127.0.0.1");
  const env = { OBJECT_STORE_ACCESS_KEY_ID: KEY, OBJECT_STORE_SECRET_ACCESS_KEY: KEY,
    OBJECT_STORE_REGION: "us-east-1", TRIGGERD_OBJECT_STORE_BACKOFF_MS: "20" };
  srvVhost = await startServer({ env: { ...env, OBJECT_STORE_BASE_URL: `http://${VHOST}:${proxyPort}` } });
  // last: the SDK is configured for the one started last
  srv = await startServer({ env, args: ["--object-store-url", `http://127.0.0.1:${proxyPort}/${BUCKET}`] });
  client = new S3Client({ endpoint: `http://127.0.0.1:${s3port}`, forcePathStyle: true, region: "us-east-1",
    credentials: { accessKeyId: KEY, secretAccessKey: KEY } });
});

after(async () => {
  await srv?.stop();
  await srvVhost?.stop();
  proxy?.close();
  await s3?.close().catch(() => {});
  client?.destroy();
  if (s3dir) rmSync(s3dir, { recursive: true, force: true });
});

test("a payload over the packet threshold goes to S3 via a SigV4-presigned URL and comes back through the SDK", async () => {
  const task = uid("s3-big-");
  const payload = { blob: "s".repeat(200 * KiB), unicode: "héllo ✓" };
  const before = seen.verified;
  const [handle, calls] = await recordFetch(() => tasks.trigger(task, payload));
  const upload = calls.find((c) => c.method === "PUT" && !c.url.includes("/api/v2/packets/"));
  assert.ok(upload, calls.map((c) => `${c.method} ${c.url}`).join(", "));
  assert.ok(upload.url.startsWith(`http://127.0.0.1:${proxyPort}/${BUCKET}/packets/`), upload.url);
  assert.match(upload.url, /X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S3RVER%2F\d{8}%2Fus-east-1%2Fs3%2Faws4_request/);

  const run = await runs.retrieve(handle.id);
  assert.ok(run.payloadPresignedUrl.startsWith(`http://127.0.0.1:${proxyPort}/${BUCKET}/packets/`));
  assert.deepEqual(run.payload, payload);
  assert.ok(seen.verified >= before + 2, "the PUT and the GET were checked by AWS's signer");
  assert.deepEqual(seen.refused, []);
  assert.equal(existsSync(join(srv.dataDir, "objects")), false, "nothing in the data dir");

  // the object, read with the AWS SDK for JavaScript straight from the bucket
  const key = decodeURIComponent(new URL(upload.url).pathname).slice(`/${BUCKET}/`.length);
  assert.match(key, /^packets\/[^/]+\/.+\.json$/);
  const list = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: key }));
  assert.deepEqual(list.Contents.map((o) => o.Key), [key]);
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  assert.match(got.ContentType, /^application\/super\+json/);
  assert.deepEqual(JSON.parse(await got.Body.transformToString()).json, payload);
});

test("a presigned URL with a tampered signature or key is refused by the signature check", async () => {
  const run = await runs.retrieve((await tasks.trigger(uid("s3-tamper-"), { b: "t".repeat(140 * KiB) })).id);
  const url = run.payloadPresignedUrl;
  assert.equal((await fetch(url)).status, 200);
  const n = seen.refused.length;
  assert.equal((await fetch(url.replace(/X-Amz-Signature=[0-9a-f]{4}/, "X-Amz-Signature=0000"))).status, 403);
  assert.equal((await fetch(url.replace("/payload", "/other"))).status, 403);
  assert.equal(seen.refused.length, n + 2);
  seen.refused.length = n;
});

// A deployment upload goes through triggerd's own /objects/ route (a form
// POST) and triggerd PUTs it to S3; a session transcript is a GET by triggerd.
const sessionBody = (ext) => ({ type: "chat.agent", externalId: ext, taskIdentifier: "chat",
  triggerConfig: { basePayload: { messages: [], trigger: "preload", chatId: ext }, maxAttempts: 1 } });

async function uploadArtifact(server, bytes) {
  const a = await api(server, "POST", "/api/v1/artifacts", { key: server.keys.prod,
    body: { type: "deployment_context", contentType: "application/gzip", contentLength: bytes.length } });
  assert.equal(a.status, 200, a.text);
  assert.ok(a.json.uploadUrl.startsWith(server.url), "the form POST goes to triggerd");
  const form = new FormData();
  form.append("file", new Blob([bytes], { type: "application/gzip" }), "deployment.tar.gz");
  return { key: a.json.artifactKey, res: await fetch(a.json.uploadUrl, { method: "POST", body: form }) };
}

test("server-side PUT (deployment upload) and GET (transcript) in path-style and virtual-host style", async () => {
  for (const [server, bucket] of [[srv, BUCKET], [srvVhost, VHOST]]) {
    const bytes = Buffer.from(`archive for ${bucket} ${uid()}`);
    const { key, res } = await uploadArtifact(server, bytes);
    assert.equal(res.status, 204, await res.text());
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(head.ContentType, "application/gzip");
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.deepEqual(Buffer.from(await got.Body.transformToByteArray()), bytes);
  }
  // a deployment's build reads its archive back from the bucket: a bad
  // archive fails in tar (it was found), not as "not uploaded"
  const { key } = await uploadArtifact(srv, Buffer.from("not a tgz"));
  const d = await api(srv, "POST", "/api/v1/deployments", { key: srv.keys.prod,
    body: { contentHash: "-", isNativeBuild: true, artifactKey: key, type: "MANAGED", runtime: "node" } });
  assert.equal(d.status, 200, d.text);
  let end;
  await waitFor(async () => {
    end = (await api(srv, "GET", `/api/v1/deployments/${d.json.id}`, { key: srv.keys.prod })).json;
    return ["FAILED", "DEPLOYED"].includes(end?.status);
  }, { timeout: 20000, what: "the build to end" });
  assert.equal(end.status, "FAILED");
  assert.match(end.errorData.stderr ?? "", /gzip|tar/i, JSON.stringify(end.errorData));
  // a transcript read by triggerd from the snapshot the client PUT to S3
  const s = await api(srvVhost, "POST", "/api/v1/sessions", { key: srvVhost.keys.dev,
    body: sessionBody(uid("s3-tx-")) });
  assert.equal(s.status, 201, s.text);
  const tx = () => api(srvVhost, "GET", `/api/v1/sessions/${s.json.id}/transcript`, { key: srvVhost.keys.dev });
  assert.deepEqual((await tx()).json, { messages: [] }, "no snapshot yet (a 404 from S3)");
  const put = await api(srvVhost, "PUT", `/api/v1/sessions/${s.json.id}/snapshot-url`, { key: srvVhost.keys.dev });
  const putUrl = new URL(put.json.presignedUrl);
  assert.equal(putUrl.host, `${VHOST}:${proxyPort}`);
  // node cannot resolve *.localhost: send it to 127.0.0.1 with the signed Host
  const msg = { id: "a", role: "user", parts: [{ type: "text", text: "hi" }] };
  const blob = `${JSON.stringify({ v: 2, savedAt: 1, lastOutEventId: "1", lastInEventId: "1" })}\n` +
    `${JSON.stringify({ id: "a", final: true, message: msg })}\n`;
  const status = await new Promise((resolve, reject) => {
    const r = http.request({ host: "127.0.0.1", port: proxyPort, method: "PUT", path: putUrl.pathname + putUrl.search,
      headers: { host: putUrl.host, "content-type": "application/x-ndjson" } }, (x) => { x.resume(); resolve(x.statusCode); });
    r.on("error", reject);
    r.end(blob);
  });
  assert.equal(status, 200);
  assert.deepEqual((await tx()).json.messages, [msg]);
  assert.deepEqual(seen.refused, []);
});

test("the bucket failing, then unreachable: clean 503s from the routes that touch it, no crash; recovery when it returns", async () => {
  const listen = () => new Promise((r) => proxy.listen(proxyPort, "127.0.0.1", r));
  await s3.close(); // the proxy answers 502: S3 failing
  let proxyDown = false;
  try {
    const { res } = await uploadArtifact(srv, Buffer.from("while down"));
    assert.equal(res.status, 503, await res.text());
    const s = await api(srv, "POST", "/api/v1/sessions", { body: sessionBody(uid("s3-down-")) });
    assert.equal(s.status, 201, s.text);
    await new Promise((r) => { proxy.close(r); proxy.closeAllConnections(); }); // nothing listens: unreachable
    proxyDown = true;
    const t0 = Date.now();
    const tx = await api(srv, "GET", `/api/v1/sessions/${s.json.id}/transcript`);
    assert.equal(tx.status, 503, tx.text);
    assert.ok(Date.now() - t0 < 3000, "retries are short");
    // presigning needs no bucket: the SDK gets its URL, the bucket refuses the bytes
    assert.equal((await api(srv, "PUT", "/api/v2/packets/down/payload.json")).status, 200);
    assert.equal((await api(srv, "GET", "/healthz")).status, 200, "the node is up");
    assert.match(srv.output, /object store PUT \/triggerd\/artifacts\/.*: HTTP 502/);
    assert.match(srv.output, /object store GET \/triggerd\/packets\/.*snapshot\.json: no answer after 3 attempt/);
  } finally {
    if (proxyDown) await listen();
    await startS3();
  }
  await waitFor(async () => (await uploadArtifact(srv, Buffer.from("back"))).res.status === 204,
    { timeout: 10000, what: "uploads work again" });
  const run = await runs.retrieve((await tasks.trigger(uid("s3-back-"), { b: "r".repeat(150 * KiB) })).id);
  assert.equal(run.payload.b.length, 150 * KiB);
  assert.deepEqual(seen.refused, []);
});
