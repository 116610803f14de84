/*
 * dash/live.c - what keeps the dashboard's pages live: a long-poll on the
 * change hub (realtime/) for the runs of one environment. The answer names
 * the runs that changed after the client's change number (and their new
 * status); the page then reloads what it shows through the ordinary data
 * endpoints, so one feed serves every filter. Offsets are the store's
 * run change numbers, as in the Electric feeds, so nothing is missed
 * between two polls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dash/dash.h"
#include "engine/status.h"
#include "realtime/realtime.h"

#define LIVE_HOLD_MS (20 * 1000)
#define LIVE_MAX_ROWS 200

typedef struct live_req {
    http_ctx *c;
    realtime_sub *sub;
    int64_t after;
} live_req;

static json_t *change_json(const char *id, const char *status)
{
    return json_pack("{s:s,s:s?}", "id", id, "status", status);
}

static void reply(http_ctx *c, int64_t offset, json_t *changes)
{
    http_add_header(c, "cache-control", "no-store");
    http_reply_json(c, 200,
                    json_pack("{s:I,s:o}", "offset", (json_int_t)offset, "changes", changes));
}

static void on_delivery(void *ud, const realtime_change *ch, size_t n, realtime_memo *memo)
{
    (void)memo;
    live_req *q = ud;
    http_unpark(q->c);
    int64_t offset = q->after;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (ch[i].change_seq > offset)
            offset = ch[i].change_seq;
        json_array_append_new(
            arr,
            change_json(ch[i].run_id, json_string_value(json_object_get(ch[i].value, "status"))));
    }
    reply(q->c, offset, arr);
    free(q);
}

static void on_gone(void *ud)
{
    live_req *q = ud;
    if (q->sub && q->c->app->rt)
        realtime_unsubscribe(q->c->app->rt, q->sub);
    free(q);
}

void dash_live(http_ctx *c)
{
    if (!dash_guard(c))
        return;
    const store_env *env = dash_env(c, 0);
    if (!env)
        return;
    const char *a = http_query(c, "after");
    if (!a || !*a || !strcmp(a, "-1")) { /* where to start from: now */
        reply(c, store_change_seq_head(c->app->st), json_array());
        return;
    }
    char *end = NULL;
    errno = 0;
    long long after = strtoll(a, &end, 10);
    if (!end || *end || after < 0 || errno == ERANGE) {
        http_reply_error(c, 400, "Invalid after");
        return;
    }
    store_run *runs = NULL;
    size_t n = 0;
    if (store_run_changed_since(c->app->st, env->id, after, LIVE_MAX_ROWS, &runs, &n) != 0) {
        http_reply_error(c, 500, "Something went wrong");
        return;
    }
    if (n || !c->app->rt) {
        json_t *arr = json_array();
        int64_t offset = after;
        for (size_t i = 0; i < n; i++) {
            offset = runs[i].change_seq;
            json_array_append_new(arr,
                                  change_json(runs[i].friendly_id,
                                              status_api_name((run_status)runs[i].status, true)));
            store_run_clear(&runs[i]);
        }
        free(runs);
        reply(c, offset, arr);
        return;
    }
    free(runs);
    live_req *q = calloc(1, sizeof *q);
    if (!q)
        abort();
    q->c = c;
    q->after = after;
    feed_filter f = {.kind = FEED_TAGS};
    snprintf(f.env_id, sizeof f.env_id, "%s", env->id);
    http_park(c, on_gone, q);
    q->sub = realtime_subscribe(c->app->rt, &f, after, c->now + LIVE_HOLD_MS, on_delivery, q);
}
