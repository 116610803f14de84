/*
 * api/devpush.c - the /dev-worker push channel (see devpush.h).
 *
 * Engine.IO v4 over WebSocket only (the CLI passes transports:
 * ["websocket"]), no polling, no upgrades. The key comes in the upgrade's
 * Authorization header and is checked when the client joins the
 * namespace, as the platform's namespace middleware does: a bad key gets a
 * CONNECT_ERROR, not a dropped connection. Each socket keeps the runs it
 * subscribed to with the last snapshot id it was told about; the change
 * hub tells us of durable changes, and a run whose snapshot id moved gets
 * run:notify. The first change after a subscribe always notifies (we do
 * not know which snapshot the CLI has; one spare snapshot read is cheap).
 *
 * Each notify is sent again 25, 100, 400, 1200 and 2500 ms later, while the
 * run stays subscribed: the CLI drops a snapshot that arrives while it still
 * handles the previous one (DevRunController's handleSnapshotChangeLock),
 * e.g. a token completed right after the run blocked on it, and would
 * otherwise wait for its 5 s poll. Handling EXECUTING_WITH_WAITPOINTS awaits
 * the task process's cleanup, which took over a second on a loaded machine
 * (CI), hence the later repeats. Each costs the CLI one snapshot read it
 * skips as unchanged.
 */
#include "api/devpush.h"

#include <stdlib.h>
#include <string.h>

#include "deploy/deploy.h"
#include "http/eio.h"
#include "http/ws.h"
#include "realtime/realtime.h"
#include "util/id.h"
#include "util/timefmt.h"

#define NSP "/dev-worker"
#define NSP_WORKLOAD "/workload" /* deployed worker processes (docs/deploy.md) */
#define WORKLOAD_AUTH "Workload " /* http/ws.c's stand-in for their runner-id header */
#define MAX_SUBS 1000     /* per socket; the CLI holds at most maxConcurrentRuns */
#define MAX_PAYLOAD 1000000
#define TICK_MIN_MS 10
static const int64_t repeats_ms[] = {25, 100, 400, 1200, 2500}; /* after the first notify */
#define N_REPEATS ((int)(sizeof repeats_ms / sizeof *repeats_ms))

typedef struct sub {
    char run[64];
    char *snapshot; /* last notified snapshot id, NULL: none yet */
    int64_t notified_at; /* ms epoch of the first notify of this snapshot */
    int repeats;         /* repeats still to send */
} sub;

typedef struct dsock {
    devpush *dp;
    http_ws *ws;
    char sid[21];
    char *token; /* the upgrade's bearer token, until the namespace connect */
    bool connected;
    const char *nsp; /* the namespace it joined: NSP or NSP_WORKLOAD */
    bool workload;   /* joined NSP_WORKLOAD: a deployed worker process */
    char env_id[32];
    int64_t next_ping, pong_deadline; /* ms epoch; pong_deadline 0: none due */
    sub *subs;
    size_t n_subs, cap_subs;
    struct dsock *prev, *next;
} dsock;

struct devpush {
    app *a;
    dsock *socks;
    uv_timer_t tick;
    uv_timer_t repeat; /* the notifies' repeats */
    int64_t interval, timeout;
    devpush_stats st;
    bool dying;       /* devpush_free was called; freed when the last socket is */
    int closing; /* timers still closing after devpush_free */
};

static void maybe_free(devpush *dp)
{
    if (dp->dying && dp->closing == 0 && !dp->socks)
        free(dp);
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void send_text(dsock *s, char *text)
{
    http_ws_send(s->ws, text, strlen(text));
    free(text);
}

/* ---- subscriptions ----------------------------------------------------- */

static sub *find_sub(dsock *s, const char *run)
{
    for (size_t i = 0; i < s->n_subs; i++)
        if (strcmp(s->subs[i].run, run) == 0)
            return &s->subs[i];
    return NULL;
}

static void add_sub(dsock *s, const char *run)
{
    if (strlen(run) >= sizeof s->subs[0].run || find_sub(s, run) || s->n_subs == MAX_SUBS)
        return;
    if (s->n_subs == s->cap_subs) {
        s->cap_subs = s->cap_subs ? s->cap_subs * 2 : 8;
        s->subs = realloc(s->subs, s->cap_subs * sizeof *s->subs);
        if (!s->subs)
            abort();
    }
    sub *u = &s->subs[s->n_subs++];
    strcpy(u->run, run);
    u->snapshot = NULL;
    u->repeats = 0;
    s->dp->st.subscriptions++;
}

static void del_sub(dsock *s, const char *run)
{
    sub *u = find_sub(s, run);
    if (!u)
        return;
    free(u->snapshot);
    *u = s->subs[--s->n_subs];
    s->dp->st.subscriptions--;
}

static void clear_subs(dsock *s)
{
    while (s->n_subs)
        del_sub(s, s->subs[0].run);
}

/* The hub asks at write time: does a listening CLI hold this run? */
static bool want(void *ud, const store_run *r)
{
    devpush *dp = ud;
    if (!r->friendly_id || !r->env_id)
        return false;
    for (dsock *s = dp->socks; s; s = s->next)
        if (s->connected && strcmp(s->env_id, r->env_id) == 0 && find_sub(s, r->friendly_id))
            return true;
    return false;
}

static void notify(dsock *s, sub *u)
{
    json_t *arg = json_pack("{s:s,s:{s:s}}", "version", "1", "run", "friendlyId", u->run);
    send_text(s, sio_event(s->nsp, "run:notify", arg));
    json_decref(arg);
    s->dp->st.notifies++;
}

/* Sends the repeats that are due and arms the timer for the next one. */
static void on_repeat(uv_timer_t *t)
{
    devpush *dp = t->data;
    int64_t now = time_now_ms(), next = INT64_MAX;
    for (dsock *s = dp->socks; s; s = s->next)
        for (size_t i = 0; i < s->n_subs; i++) {
            sub *u = &s->subs[i];
            if (!u->repeats)
                continue;
            int64_t due = u->notified_at + repeats_ms[N_REPEATS - u->repeats];
            if (due <= now) {
                notify(s, u);
                if (--u->repeats == 0)
                    continue;
                due = u->notified_at + repeats_ms[N_REPEATS - u->repeats];
            }
            if (due < next)
                next = due;
        }
    if (next != INT64_MAX)
        uv_timer_start(&dp->repeat, on_repeat, (uint64_t)(next > now ? next - now : 0), 0);
}

static void seen(void *ud, const store_run *v)
{
    devpush *dp = ud;
    if (!v->friendly_id || !v->env_id || !v->snapshot_id)
        return;
    for (dsock *s = dp->socks; s; s = s->next) {
        if (!s->connected || strcmp(s->env_id, v->env_id) != 0)
            continue;
        sub *u = find_sub(s, v->friendly_id);
        if (!u || (u->snapshot && strcmp(u->snapshot, v->snapshot_id) == 0))
            continue;
        free(u->snapshot);
        u->snapshot = xstrdup(v->snapshot_id);
        notify(s, u);
        u->notified_at = time_now_ms();
        u->repeats = N_REPEATS;
        if (uv_timer_get_due_in(&dp->repeat) > (uint64_t)repeats_ms[0] ||
            !uv_is_active((uv_handle_t *)&dp->repeat))
            uv_timer_start(&dp->repeat, on_repeat, (uint64_t)repeats_ms[0], 0);
    }
}

/* ---- socket.io --------------------------------------------------------- */

static void connect_error(dsock *s, const char *nsp, const char *msg)
{
    json_t *d = json_pack("{s:s}", "message", msg);
    send_text(s, sio_encode(SIO_CONNECT_ERROR, nsp, d));
    json_decref(d);
}

/* CONNECT: the namespace middleware's check, a DEVELOPMENT env's key. */
/* CONNECT to /workload: a deployed worker process, by its runner secret. */
static void on_connect_workload(dsock *s)
{
    devpush *dp = s->dp;
    const char *secret = s->token && strncmp(s->token, WORKLOAD_AUTH, strlen(WORKLOAD_AUTH)) == 0
                             ? s->token + strlen(WORKLOAD_AUTH)
                             : NULL;
    const deploy_runner *r = deploy_runner_find(dp->a, secret);
    if (!r) {
        dp->st.auth_failures++;
        connect_error(s, NSP_WORKLOAD, "Unknown workload runner");
        return;
    }
    snprintf(s->env_id, sizeof s->env_id, "%s", r->env->id);
    s->connected = true;
    s->nsp = NSP_WORKLOAD;
    s->workload = true;
    dp->st.workload_connects++;
    char nsid[21];
    id_alnum(nsid, 20);
    json_t *d = json_pack("{s:s}", "sid", nsid);
    send_text(s, sio_encode(SIO_CONNECT, NSP_WORKLOAD, d));
    json_decref(d);
}

static void on_connect(dsock *s, const sio_packet *p)
{
    devpush *dp = s->dp;
    if (s->connected)
        return;
    if (strcmp(p->nsp, NSP_WORKLOAD) == 0) {
        on_connect_workload(s);
        return;
    }
    if (strcmp(p->nsp, NSP) != 0) {
        connect_error(s, p->nsp, "Invalid namespace");
        return;
    }
    auth_result ar = {0};
    err_t e = {0};
    bool ok = s->token && auth_resolve(dp->a->au, s->token, false, time_now_ms(), &ar, &e) == 0 &&
              ar.kind == AUTH_SECRET && ar.env && strcmp(ar.env->type, "DEVELOPMENT") == 0;
    if (ok)
        snprintf(s->env_id, sizeof s->env_id, "%s", ar.env->id);
    auth_result_clear(&ar);
    if (!ok) {
        dp->st.auth_failures++;
        connect_error(s, NSP, "Invalid API key");
        return;
    }
    s->connected = true;
    s->nsp = NSP;
    dp->st.connected++;
    dp->st.connects++;
    char nsid[21];
    id_alnum(nsid, 20);
    json_t *d = json_pack("{s:s}", "sid", nsid);
    send_text(s, sio_encode(SIO_CONNECT, NSP, d));
    json_decref(d);
}

static void on_event(dsock *s, const sio_packet *p)
{
    if (!s->connected || strcmp(p->nsp, s->nsp) != 0)
        return;
    const char *name = json_string_value(json_array_get(p->data, 0));
    if (s->workload) { /* run:start / run:stop {run: {friendlyId}, snapshot} */
        const char *run = json_string_value(
            json_object_get(json_object_get(json_array_get(p->data, 1), "run"), "friendlyId"));
        if (name && run && strcmp(name, "run:start") == 0)
            add_sub(s, run);
        else if (name && run && strcmp(name, "run:stop") == 0)
            del_sub(s, run);
        return;
    }
    json_t *ids = json_object_get(json_array_get(p->data, 1), "runFriendlyIds");
    bool subscribe = strcmp(name, "run:subscribe") == 0;
    if (!subscribe && strcmp(name, "run:unsubscribe") != 0)
        return;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (!json_is_string(v))
            continue;
        if (subscribe)
            add_sub(s, json_string_value(v));
        else
            del_sub(s, json_string_value(v));
    }
}

static void leave(dsock *s)
{
    if (!s->connected)
        return;
    s->connected = false;
    if (!s->workload)
        s->dp->st.connected--;
    clear_subs(s);
}

static void on_sio(dsock *s, const char *text, size_t len)
{
    sio_packet p;
    if (sio_parse(text, len, &p) != 0) {
        sio_packet_clear(&p);
        http_ws_close(s->ws); /* socket.io servers drop a peer that sends garbage */
        return;
    }
    switch (p.type) {
    case SIO_CONNECT:
        on_connect(s, &p);
        break;
    case SIO_EVENT:
        on_event(s, &p);
        break;
    case SIO_DISCONNECT:
        if (s->connected && strcmp(p.nsp, s->nsp) == 0)
            leave(s);
        break;
    default:
        break;
    }
    sio_packet_clear(&p);
}

/* ---- Engine.IO over the WebSocket ---------------------------------------- */

static void *ws_open(void *ud, http_ws *ws, const char *path, const char *authz)
{
    devpush *dp = ud;
    (void)path; /* EIO=4&transport=websocket: the only thing a v4 client sends */
    dsock *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->dp = dp;
    s->ws = ws;
    id_alnum(s->sid, 20);
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) == 0)
            authz += 7;
        while (*authz == ' ')
            authz++;
        s->token = xstrdup(authz);
    }
    s->next_ping = time_now_ms() + dp->interval;
    s->next = dp->socks;
    if (dp->socks)
        dp->socks->prev = s;
    dp->socks = s;
    dp->st.sockets++;
    send_text(s, eio_open(s->sid, dp->interval, dp->timeout, MAX_PAYLOAD));
    return s;
}

static void ws_message(void *conn, const char *data, size_t len)
{
    dsock *s = conn;
    int type;
    const char *pl;
    size_t n;
    if (eio_parse(data, len, &type, &pl, &n) != 0) {
        http_ws_close(s->ws);
        return;
    }
    switch (type) {
    case EIO_PONG:
        s->pong_deadline = 0;
        break;
    case EIO_PING: /* a v3 habit; answer anyway */
        http_ws_send(s->ws, "3", 1);
        break;
    case EIO_MESSAGE:
        on_sio(s, pl, n);
        break;
    case EIO_CLOSE:
        http_ws_close(s->ws);
        break;
    default:
        break;
    }
}

static void ws_closed(void *conn)
{
    dsock *s = conn;
    devpush *dp = s->dp;
    leave(s);
    if (s->prev)
        s->prev->next = s->next;
    else
        dp->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    dp->st.sockets--;
    free(s->subs);
    free(s->token);
    free(s);
    maybe_free(dp);
}

static const http_ws_ops ops = {ws_open, ws_message, ws_closed};

/* Pings every interval; a socket that leaves one unanswered for the
 * timeout is cut (the CLI reconnects and subscribes again). */
static void on_tick(uv_timer_t *t)
{
    devpush *dp = t->data;
    int64_t now = time_now_ms();
    for (dsock *s = dp->socks, *next; s; s = next) {
        next = s->next;
        if (s->pong_deadline && now >= s->pong_deadline) {
            s->pong_deadline = 0;
            dp->st.ping_timeouts++;
            http_ws_close(s->ws);
        } else if (!s->pong_deadline && now >= s->next_ping) {
            http_ws_send(s->ws, "2", 1);
            s->pong_deadline = now + dp->timeout;
            s->next_ping = now + dp->interval;
        }
    }
}

static void on_tick_closed(uv_handle_t *h)
{
    devpush *dp = h->data;
    dp->closing--;
    maybe_free(dp);
}

devpush *devpush_new(app *a)
{
    devpush *dp = calloc(1, sizeof *dp);
    if (!dp)
        return NULL;
    dp->a = a;
    dp->interval = a->cfg.push_ping_interval_ms > 0 ? a->cfg.push_ping_interval_ms : 25000;
    dp->timeout = a->cfg.push_ping_timeout_ms > 0 ? a->cfg.push_ping_timeout_ms : 20000;
    realtime_watcher w = {want, seen, dp};
    if (!a->rt || realtime_watch(a->rt, &w) != 0) {
        free(dp);
        return NULL;
    }
    uv_timer_init(a->loop, &dp->tick);
    uv_timer_init(a->loop, &dp->repeat);
    dp->tick.data = dp->repeat.data = dp;
    int64_t step = (dp->interval < dp->timeout ? dp->interval : dp->timeout) / 10;
    if (step < TICK_MIN_MS)
        step = TICK_MIN_MS;
    if (step > 1000)
        step = 1000;
    uv_timer_start(&dp->tick, on_tick, step, step);
    uv_unref((uv_handle_t *)&dp->tick);
    http_ws_set_handler(a->http, "/socket.io/", &ops, dp);
    a->push = dp;
    return dp;
}

void devpush_free(devpush *dp)
{
    if (!dp)
        return;
    http_ws_set_handler(dp->a->http, NULL, NULL, NULL);
    if (dp->a->rt)
        realtime_unwatch(dp->a->rt, dp);
    /* a closing socket calls ws_closed later, when dp is gone: detach them */
    for (dsock *s = dp->socks; s; s = s->next)
        http_ws_close(s->ws);
    dp->a->push = NULL;
    dp->dying = true;
    dp->closing = 2;
    uv_close((uv_handle_t *)&dp->tick, on_tick_closed);
    uv_close((uv_handle_t *)&dp->repeat, on_tick_closed);
}

bool devpush_env_listening(const devpush *dp, const char *env_id)
{
    if (!dp)
        return false;
    for (const dsock *s = dp->socks; s; s = s->next)
        if (s->connected && !s->workload && strcmp(s->env_id, env_id) == 0)
            return true;
    return false;
}

void devpush_stats_get(const devpush *dp, devpush_stats *out)
{
    memset(out, 0, sizeof *out);
    if (dp)
        *out = dp->st;
}

void devpush_count_received(devpush *dp)
{
    if (dp)
        dp->st.received++;
}
