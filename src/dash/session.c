/*
 * dash/session.c - the dashboard's login: a form with one field, the
 * personal access token triggerd prints at first start, which buys a
 * session cookie (HttpOnly, SameSite=Strict, Secure behind https). Sessions
 * live in memory (a restart logs everyone out); each has a CSRF token the
 * pages send in a header on every mutating request, on top of SameSite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "auth/login.h"
#include "dash/dash.h"
#include "http/router.h"
#include "util/crypto.h"
#include "util/id.h"

#define DASH_MAX_SESSIONS 256
/* Failed logins: DASH_LOGIN_FAILS per client address per window, then the
 * form answers 429 until the window ends (whatever the token), so the
 * token cannot be guessed at speed. The data endpoints have no limit: they
 * need a session, and the API's rate limit is for API clients. */
#define DASH_LOGIN_FAILS 10
#define DASH_LOGIN_WINDOW_MS (60 * 1000)
#define DASH_LOGIN_SLOTS 256

typedef struct dash_sess {
    char id[65];   /* the cookie's value, hex */
    char csrf[65]; /* hex */
    int64_t expires_at;
} dash_sess;

typedef struct login_fails {
    char addr[64]; /* the client's address, "" = unused */
    int64_t window_start;
    int n;
} login_fails;

struct dash {
    dash_sess s[DASH_MAX_SESSIONS];
    login_fails f[DASH_LOGIN_SLOTS];
};

int dash_new(app *a)
{
    a->dash = calloc(1, sizeof *a->dash);
    return a->dash ? 0 : ERR_NOMEM;
}

void dash_free(app *a)
{
    free(a->dash);
    a->dash = NULL;
}

static void random_hex(char out[65])
{
    unsigned char b[32];
    id_random_bytes(b, sizeof b);
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The value of cookie `name` in the request (pool memory) or NULL. */
static const char *cookie(http_ctx *c, const char *name)
{
    const char *h = http_header(c, "cookie");
    size_t nl = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        const char *end = strchr(h, ';');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        if (len > nl && memcmp(h, name, nl) == 0 && h[nl] == '=')
            return http_sprintf(c, "%.*s", (int)(len - nl - 1), h + nl + 1);
        h = end;
    }
    return NULL;
}

static dash_sess *find(http_ctx *c)
{
    const char *id = cookie(c, DASH_COOKIE);
    if (!c->app->dash || !id || strlen(id) != 64)
        return NULL;
    for (size_t i = 0; i < DASH_MAX_SESSIONS; i++) {
        dash_sess *s = &c->app->dash->s[i];
        if (s->expires_at > c->now && crypto_equal(s->id, id, 64))
            return s;
    }
    return NULL;
}

const char *dash_session(http_ctx *c)
{
    dash_sess *s = find(c);
    return s ? s->csrf : NULL;
}

static bool safe_method(http_ctx *c)
{
    h2o_iovec_t m = c->req->method;
    return h2o_memis(m.base, m.len, H2O_STRLIT("GET")) ||
           h2o_memis(m.base, m.len, H2O_STRLIT("HEAD"));
}

bool dash_guard(http_ctx *c)
{
    const char *csrf = dash_session(c);
    if (!csrf) {
        http_reply_error(c, 401, "Log in to the dashboard first");
        return false;
    }
    if (safe_method(c))
        return true;
    const char *sent = http_header(c, DASH_CSRF_HEADER);
    if (!sent || strlen(sent) != 64 || !crypto_equal(sent, csrf, 64)) {
        http_reply_error(c, 403, "Missing or wrong CSRF token");
        return false;
    }
    return true;
}

/* Served over TLS (a proxy in front says so, or the public URL does). */
static bool secure(http_ctx *c)
{
    const char *p = http_header(c, "x-forwarded-proto");
    return (p && !strcasecmp(p, "https")) || !strncmp(c->app->cfg.public_url, "https:", 6);
}

/* A browser form from another site (login CSRF): its Origin is not ours. */
static bool cross_site(http_ctx *c)
{
    const char *site = http_header(c, "sec-fetch-site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return true;
    const char *origin = http_header(c, "origin");
    if (!origin)
        return false; /* not a browser form (curl, scripts), or an old browser: SameSite holds */
    h2o_iovec_t host = c->req->authority; /* h2o keeps Host here, not in the headers */
    const char *o = strstr(origin, "://");
    return !o || strlen(o + 3) != host.len || strncasecmp(o + 3, host.base, host.len) != 0;
}

static void login_form(http_ctx *c, int status, const char *error)
{
    http_add_header(c, "cache-control", "no-store");
    http_add_header(c, "x-frame-options", "DENY");
    http_add_header(c, "content-security-policy",
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    char *html = http_sprintf(
        c,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>Log in - triggerd</title><link rel=\"icon\" href=\"data:,\">"
        "<link rel=\"stylesheet\" href=\"/dashboard/assets/app.css\"></head>"
        "<body class=\"login\"><main class=\"login-box\">"
        "<h1>triggerd</h1><p>Log in with the personal access token triggerd printed at its first "
        "start (<code>triggerd keys --data DIR</code> prints it again).</p>%s"
        "<form method=\"post\" action=\"/login\">"
        "<label for=\"token\">Personal access token</label>"
        "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" "
        "placeholder=\"tr_pat_…\" required autofocus>"
        "<button type=\"submit\">Log in</button></form></main></body></html>",
        error ? http_sprintf(c, "<p class=\"error\" role=\"alert\" id=\"login-error\">%s</p>",
                             http_html_escape(c, error))
              : "");
    http_reply_raw(c, status, "text/html; charset=utf-8", html, strlen(html));
}

static void redirect(http_ctx *c, int status, const char *to)
{
    http_add_header(c, "location", to);
    http_add_header(c, "cache-control", "no-store");
    http_reply_raw(c, status, "text/plain; charset=utf-8", "", 0);
}

void dash_login_page(http_ctx *c)
{
    if (dash_session(c))
        redirect(c, 302, "/");
    else
        login_form(c, 200, NULL);
}

/* The form field `name` of an x-www-form-urlencoded body (pool memory,
 * trimmed), or NULL. */
static const char *form_field(http_ctx *c, const char *name)
{
    h2o_iovec_t b = http_body(c);
    size_t nl = strlen(name);
    const char *p = b.base, *end = b.base + b.len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            char *raw = http_sprintf(c, "%.*s", (int)(stop - p - (ptrdiff_t)nl - 1), p + nl + 1);
            for (char *q = raw; *q; q++)
                if (*q == '+')
                    *q = ' ';
            if (strstr(raw, "%00"))
                return NULL; /* a NUL would cut the value short where C reads it */
            char *v = router_decode(&c->req->pool, raw, strlen(raw));
            if (!v)
                return NULL;
            while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
                v++;
            size_t n = strlen(v);
            while (n && strchr(" \t\r\n", v[n - 1]))
                v[--n] = 0;
            return v;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static dash_sess *slot(dash *d)
{
    dash_sess *oldest = &d->s[0];
    for (size_t i = 0; i < DASH_MAX_SESSIONS; i++) {
        if (d->s[i].expires_at < oldest->expires_at)
            oldest = &d->s[i];
    }
    return oldest; /* an unused or expired slot sorts first */
}

/* The client's address (the TCP peer: a proxy's X-Forwarded-For could be
 * anyone's) into out. */
static void peer(http_ctx *c, char out[64])
{
    struct sockaddr_storage ss;
    out[0] = 0;
    h2o_conn_t *conn = c->req->conn;
    if (!conn || !conn->callbacks->get_peername ||
        conn->callbacks->get_peername(conn, (struct sockaddr *)&ss) == 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, 64);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, 64);
}

/* The failure count of addr (a slot taken for it, the stalest when all are
 * used), its window restarted when over. */
static login_fails *fails_of(http_ctx *c, const char *addr)
{
    login_fails *free_slot = NULL, *stalest = &c->app->dash->f[0];
    for (size_t i = 0; i < DASH_LOGIN_SLOTS; i++) {
        login_fails *f = &c->app->dash->f[i];
        if (f->addr[0] && !strcmp(f->addr, addr)) {
            if (c->now - f->window_start >= DASH_LOGIN_WINDOW_MS) {
                f->window_start = c->now;
                f->n = 0;
            }
            return f;
        }
        if (!f->addr[0] && !free_slot)
            free_slot = f;
        if (f->window_start < stalest->window_start)
            stalest = f;
    }
    login_fails *f = free_slot ? free_slot : stalest;
    snprintf(f->addr, sizeof f->addr, "%s", addr);
    f->window_start = c->now;
    f->n = 0;
    return f;
}

/* POST /login, form field `token`. */
void dash_login(http_ctx *c)
{
    char addr[64];
    peer(c, addr);
    login_fails *fails = fails_of(c, addr);
    if (fails->n >= DASH_LOGIN_FAILS) {
        int64_t wait = (fails->window_start + DASH_LOGIN_WINDOW_MS - c->now + 999) / 1000;
        http_add_header(c, "retry-after", http_sprintf(c, "%lld", (long long)wait));
        login_form(c, 429,
                   http_sprintf(c, "Too many failed logins from your address: try again in %lld s.",
                                (long long)wait));
        return;
    }
    if (cross_site(c)) {
        login_form(c, 403, "This form only works from triggerd's own page.");
        return;
    }
    const char *tok = form_field(c, "token");
    err_t e = {0};
    if (!tok || !*tok) {
        login_form(c, 400, "Paste your personal access token.");
        return;
    }
    if (strncmp(tok, "tr_pat_", 7) != 0 || auth_resolve_pat(c->app->au, tok, &e) != 0) {
        fails->n++;
        login_form(c, 401, "That personal access token is not valid.");
        return;
    }
    dash_sess *s = slot(c->app->dash);
    random_hex(s->id);
    random_hex(s->csrf);
    s->expires_at = c->now + DASH_SESSION_TTL_MS;
    http_add_header(c, "set-cookie",
                    http_sprintf(c, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
                                 DASH_COOKIE, s->id, DASH_SESSION_TTL_MS / 1000,
                                 secure(c) ? "; Secure" : ""));
    redirect(c, 303, "/");
}

/* POST /logout (a data endpoint: session and CSRF header). */
void dash_logout(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    dash_sess *s = find(c);
    if (s)
        memset(s, 0, sizeof *s);
    http_add_header(c, "set-cookie",
                    http_sprintf(c, "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                                 DASH_COOKIE, secure(c) ? "; Secure" : ""));
    http_reply_json(c, 200, json_pack("{s:b}", "ok", 1));
}
