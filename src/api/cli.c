/*
 * api/cli.c - what the `trigger.dev` CLI asks of the platform outside `dev`:
 * the login flow (authorization code, token poll, and triggerd's own page
 * that approves a code), and the project and organization calls of `init`
 * (list, get by ref, mark initialized). triggerd has one organization with
 * one project, so creating either is refused with the reason.
 *
 * Response shapes follow the CLI's zod schemas (core v3 schemas/api.ts,
 * schemas/tokens.ts); dates are ISO strings the schemas coerce.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/login.h"
#include "http/router.h"
#include "util/timefmt.h"

/* ---- login: JSON endpoints --------------------------------------------- */

/* POST /api/v1/authorization-code -> {authorizationCode, url}. No `approval`
 * field: the CLI (4.8: "a server that predates approval codes") then polls
 * /api/v1/token with the code alone, as 4.5 always does. The 4.8 body
 * (codeChallenge, callbackPort) is not needed for that and is ignored. */
void api_login_code_create(http_ctx *c)
{
    char code[LOGIN_CODE_LEN + 1];
    if (login_code_new(c->app->st, c->now, code) != 0) {
        http_reply_error(c, 400, "Failed to create authorization code");
        return;
    }
    http_reply_json(
        c, 200,
        json_pack("{s:s,s:s}", "authorizationCode", code, "url",
                  http_sprintf(c, "%s/account/authorization-code/%s", http_origin(c), code)));
}

/* POST /api/v1/token {authorizationCode} -> {token: null} while pending,
 * {token: {token, obfuscatedToken}} once approved; 400 for an unknown or
 * expired code (the CLI stops polling on any error but 429). */
void api_login_token(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    const char *code = json_string_value(json_object_get(body, "authorizationCode"));
    if (!code) {
        http_reply_error(c, 422, "Required at \"authorizationCode\"");
        return;
    }
    char *token = NULL;
    int rc = login_code_poll(c->app->st, code, c->now, &token);
    if (rc == ERR_NOT_FOUND) {
        http_reply_error(c, 400, "Invalid authorization code, or code expired");
        return;
    }
    if (rc) {
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    if (!token) {
        http_reply_json(c, 200, json_pack("{s:n}", "token"));
        return;
    }
    char obf[32];
    login_obfuscate(token, obf);
    http_reply_json(c, 200,
                    json_pack("{s:{s:s,s:s}}", "token", "token", token, "obfuscatedToken", obf));
    free(token);
}

/* ---- login: the page the CLI sends the user to ------------------------- */

/* Replies with a small self-contained HTML page. title and main are HTML. */
static void page(http_ctx *c, int status, const char *title, const char *main)
{
    char *html = http_sprintf(
        c,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<title>%s · triggerd</title><style>"
        "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f6f7;color:#1b1b1f}"
        "main{max-width:34rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;"
        "box-shadow:0 1px 3px #0002}h1{font-size:1.3rem;margin-top:0}"
        "label{display:block;font-weight:600;margin:1rem 0 .3rem}"
        "input{width:100%%;box-sizing:border-box;padding:.5rem;font:inherit}"
        "button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit;cursor:pointer}"
        "code{background:#eee;padding:0 .25rem;border-radius:3px}.err{color:#b00020}"
        ".fine{color:#666;font-size:.85rem}</style></head><body><main><h1>%s</h1>%s</main>"
        "</body></html>",
        title, title, main);
    http_add_header(c, "content-security-policy",
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                    "frame-ancestors 'none'");
    http_add_header(c, "x-frame-options", "DENY");
    http_add_header(c, "cache-control", "no-store");
    http_add_header(c, "referrer-policy", "no-referrer");
    http_reply_raw(c, status, "text/html; charset=utf-8", html, strlen(html));
}

static void approve_form(http_ctx *c, int status, const char *error)
{
    const char *main = http_sprintf(
        c,
        "<p>A <code>trigger.dev login</code> is waiting for this page. Paste the personal access "
        "token triggerd printed when it first started (<code>triggerd keys --data DIR</code> "
        "prints it again), or a one-time link from <code>triggerd login-link --data DIR</code>."
        "</p>%s%s%s<form method=\"post\"><label for=\"credential\">Personal access token or "
        "login link</label><input id=\"credential\" name=\"credential\" type=\"password\" "
        "autocomplete=\"off\" required autofocus placeholder=\"tr_pat_… or "
        "http://…" LOGIN_LINK_PATH "…\"><button type=\"submit\">Approve this login</button>"
        "</form><p class=\"fine\">The CLI stops waiting after about a minute (4.5) or five "
        "(4.8); this page is good for ten.</p>",
        error ? "<p class=\"err\">" : "", error ? http_html_escape(c, error) : "", error ? "</p>" : "");
    page(c, status, "Log in the Trigger.dev CLI", main);
}

static void gone_page(http_ctx *c)
{
    page(c, 404, "This login has expired",
         "<p>The code is unknown, expired or already used. Run <code>trigger.dev login</code> "
         "again and open the new URL it prints.</p>");
}

static void approved_page(http_ctx *c)
{
    page(c, 200, "The CLI is logged in",
         "<p>You can close this page and return to your terminal.</p>");
}

/* GET /account/authorization-code/{code} */
void api_login_page(http_ctx *c)
{
    bool approved;
    if (!login_code_live(c->app->st, http_param(c, 0), c->now, &approved))
        gone_page(c);
    else if (approved)
        approved_page(c);
    else
        approve_form(c, 200, NULL);
}

/* The value of field `name` in an application/x-www-form-urlencoded body
 * (pool memory, leading and trailing spaces trimmed), or NULL. */
static char *form_field(http_ctx *c, const char *name)
{
    h2o_iovec_t b = http_body(c);
    size_t nl = strlen(name);
    const char *p = b.base, *end = b.base + b.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = (size_t)(stop - p) - nl - 1;
            char *raw = h2o_mem_alloc_pool(&c->req->pool, vl + 1);
            memcpy(raw, p + nl + 1, vl);
            raw[vl] = 0;
            if (strstr(raw, "%00"))
                return NULL; /* a NUL would cut the value short where C reads it */
            for (size_t i = 0; i < vl; i++)
                if (raw[i] == '+')
                    raw[i] = ' ';
            char *v = router_decode(&c->req->pool, raw, vl);
            if (!v)
                return NULL;
            while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
                v++;
            size_t n = strlen(v);
            while (n &&
                   (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
                v[--n] = 0;
            return v;
        }
        p = stop + 1;
    }
    return NULL;
}

/* POST /account/authorization-code/{code}, form field `credential`. */
void api_login_approve(http_ctx *c)
{
    const char *cred = form_field(c, "credential");
    if (!cred || !*cred) {
        approve_form(c, 400, "Paste a personal access token or a login link.");
        return;
    }
    err_t e = {0};
    int rc = login_approve(c->app->st, c->app->au, http_param(c, 0), cred, c->now, &e);
    if (rc == 0)
        approved_page(c);
    else if (rc == ERR_NOT_FOUND)
        gone_page(c);
    else if (rc == ERR_UNAUTHORIZED)
        approve_form(c, 401, e.msg);
    else
        page(c, 500, "Something went wrong", "<p>Try again.</p>");
}

/* GET /account/login-link/{secret}: the link is pasted into the login page,
 * not followed, so opening it only says so (and does not spend it). */
void api_login_link_page(http_ctx *c)
{
    page(c, 200, "A one-time login link",
         "<p>Paste this page's address into the login page that <code>trigger.dev login</code> "
         "opened. It works once, within 15 minutes of <code>triggerd login-link</code>.</p>");
}

/* ---- projects and organizations (PAT) ---------------------------------- */

static json_t *iso(int64_t ms)
{
    char buf[32];
    time_format_iso(ms, buf);
    return json_string(buf);
}

static json_t *org_json(const store_project *p, int64_t created)
{
    return json_pack("{s:s,s:s,s:s,s:o}", "id", p->org_id, "title", p->org_title, "slug",
                     p->org_slug, "createdAt", iso(created));
}

/* A GetProjectResponseBody. */
static json_t *project_json(http_ctx *c, const store_project *p)
{
    int64_t created = 0, initialized = 0;
    store_project_times(c->app->st, p->ref, &created, &initialized);
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:n,s:n,s:o}", "id", p->id, "externalRef", p->ref,
                     "name", p->name, "slug", p->slug, "createdAt", iso(created), "defaultRegion",
                     "defaultRuntime", "organization", org_json(p, created));
}

/* The project, when ref (NULL: any) is ours; else replies 404. */
static bool our_project(http_ctx *c, const char *ref, store_project *p)
{
    if (store_project_get(c->app->st, p) == 0 && (!ref || strcmp(p->ref, ref) == 0))
        return true;
    http_reply_error(c, 404, "Project not found");
    return false;
}

/* GET /api/v1/projects */
void api_projects_list(http_ctx *c)
{
    store_project p = {0};
    if (store_project_get(c->app->st, &p) != 0) {
        http_reply_json(c, 200, json_array());
        return;
    }
    http_reply_json(c, 200, json_pack("[o]", project_json(c, &p)));
}

/* GET /api/v1/projects/{ref} */
void api_project_get(http_ctx *c)
{
    store_project p = {0};
    if (our_project(c, http_param(c, 0), &p))
        http_reply_json(c, 200, project_json(c, &p));
}

/* POST /api/v1/projects/{ref}/init -> {id, initializedAt} (the first init's time). */
void api_project_init(http_ctx *c)
{
    store_project p = {0};
    if (!our_project(c, http_param(c, 0), &p))
        return;
    int64_t created = 0, initialized = 0;
    if (store_project_set_initialized(c->app->st, p.ref, c->now) != 0 ||
        store_project_times(c->app->st, p.ref, &created, &initialized) != 0) {
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    http_reply_json(c, 200, json_pack("{s:s,s:o}", "id", p.id, "initializedAt", iso(initialized)));
}

/* GET /api/v1/orgs */
void api_orgs_list(http_ctx *c)
{
    store_project p = {0};
    if (store_project_get(c->app->st, &p) != 0) {
        http_reply_json(c, 200, json_array());
        return;
    }
    int64_t created = 0, initialized = 0;
    store_project_times(c->app->st, p.ref, &created, &initialized);
    http_reply_json(c, 200, json_pack("[o]", org_json(&p, created)));
}

/* POST /api/v1/orgs: the real server answers this 404 unless
 * ORG_CREATION_API_ENABLED, and the CLI then says organization creation is
 * disabled on this instance. triggerd has its one organization. */
void api_orgs_create(http_ctx *c)
{
    http_reply_error(c, 404, "Not found");
}

/* The org named by {orgParam} (id or slug) when it is ours; else 404. */
static bool our_org(http_ctx *c, store_project *p)
{
    const char *o = http_param(c, 0);
    if (store_project_get(c->app->st, p) == 0 &&
        (strcmp(p->org_id, o) == 0 || strcmp(p->org_slug, o) == 0))
        return true;
    http_reply_error(c, 404, "Organization not found");
    return false;
}

/* GET /api/v1/orgs/{orgParam}/projects */
void api_org_projects_list(http_ctx *c)
{
    store_project p = {0};
    if (our_org(c, &p))
        http_reply_json(c, 200, json_pack("[o]", project_json(c, &p)));
}

/* POST /api/v1/orgs/{orgParam}/projects {name}: triggerd serves one project
 * per data dir, so this names it instead of making another. `init` only
 * offers to create a project when the account has none, which never happens
 * here. */
void api_org_projects_create(http_ctx *c)
{
    store_project p = {0};
    if (!our_org(c, &p))
        return;
    json_t *body = http_json(c);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!name || !*name || strlen(name) > 255) {
        http_reply_error(c, 400, "Name is required");
        return;
    }
    http_reply_error(c, 400,
                     http_sprintf(c,
                                  "triggerd serves one project per data dir; use %s (\"%s\") or "
                                  "start another triggerd with its own --data",
                                  p.ref, p.name));
}

/* POST /api/v1/profile/complete {name}: 4.8's `login --name`. triggerd keeps
 * no user profile, so nothing changes. */
void api_profile_complete(http_ctx *c)
{
    json_t *body = http_json(c);
    if (!body)
        return;
    http_reply_json(c, 200, json_pack("{s:b}", "updated", 0));
}
