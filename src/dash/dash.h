/*
 * dash/dash.h - triggerd's own dashboard, served at / on the API's port:
 * the login (a personal access token buys a session cookie), the embedded
 * page assets, and the data endpoints under /dashboard/api/ that the pages
 * call. Data endpoints are thin: most forward to the public API's own
 * handlers (api/) with the session's chosen environment, so the dashboard
 * reads and writes through exactly what the SDK does.
 */
#ifndef TD_DASH_H
#define TD_DASH_H

#include <stdbool.h>

#include "http/http.h"

typedef struct dash dash;

extern const http_route dash_routes[];
extern const size_t dash_routes_count;

/* The session table on a->dash. Caller frees with dash_free. */
int dash_new(app *a);
void dash_free(app *a);

/* ---- sessions (dash/session.c) ------------------------------------------ */

#define DASH_COOKIE "triggerd_session"
#define DASH_SESSION_TTL_MS (7LL * 24 * 3600 * 1000)
#define DASH_CSRF_HEADER "x-csrf-token"

/* The CSRF token of the request's session, or NULL when it has none (no
 * cookie, an unknown or expired one). Borrowed until the session ends. */
const char *dash_session(http_ctx *c);

/* The guard of every data endpoint: a live session, and for any method but
 * GET and HEAD the session's CSRF token in DASH_CSRF_HEADER. Otherwise
 * replies 401 / 403 and returns false. */
bool dash_guard(http_ctx *c);

void dash_login_page(http_ctx *c);
void dash_login(http_ctx *c);
void dash_logout(http_ctx *c);

/* ---- live changes (dash/live.c) ------------------------------------------ */

/* GET /dashboard/api/env/:env/live?after=N: the runs of the environment
 * changed after change number N (at once, or parked until one changes). */
void dash_live(http_ctx *c);

/* ---- runs (dash/runs.c) ---------------------------------------------------- */

void dash_bulk_start(http_ctx *c);
void dash_bulk_get(http_ctx *c);
void dash_run_streams(http_ctx *c);

/* The environment named by path param i ("dev", "stg", "prod"), or NULL
 * after replying 404. */
const store_env *dash_env(http_ctx *c, size_t i);

#endif
