// tests/integration/dashboard-http.mjs - plain-HTTP helpers shared by the
// dashboard's integration tests: a raw request (any headers, no redirects
// followed, the body parsed on demand) and a login with the personal
// access token that returns the session cookie and its CSRF token.
import assert from "node:assert/strict";
import { request } from "node:http";

/** A raw request to srv (any headers, no redirects followed). */
export function dashRaw(srv, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(`${srv.url}${path}`, { method, headers }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Logs in with srv's personal access token: the cookie, the CSRF token, and headers for an action. */
export async function dashLogin(srv) {
  const res = await dashRaw(srv, "POST", "/login", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${srv.pat}` });
  assert.equal(res.status, 303, res.text);
  const cookie = res.headers["set-cookie"][0].split(";")[0];
  const { csrf } = (await dashRaw(srv, "GET", "/dashboard/api/session", { headers: { cookie } })).json();
  return { cookie, csrf, h: { cookie, "x-csrf-token": csrf, "content-type": "application/json" } };
}
