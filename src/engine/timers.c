/*
 * engine/timers.c - durable timers: delayed runs become queued at their
 * time, queued runs past their TTL expire. The deadlines live in the run
 * rows, so a restart loses nothing: engine_start() catches up at once and
 * one libuv timer is re-armed for the earliest deadline left.
 */
#include "engine/internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/schedules.h"
#include "engine/status.h"
#include "util/timefmt.h"

#define TICK_BATCH 512
#define SHARED_TICK_MS 500

static void on_timer(uv_timer_t *t)
{
    engine *en = t->data;
    en->armed_at = 0;
    engine_tick(en, time_now_ms());
}

void engine_arm(engine *en, int64_t at)
{
    if (!en->timer_started || at <= 0)
        return;
    if (en->armed_at && en->armed_at <= at)
        return;
    int64_t now = time_now_ms();
    uint64_t wait = at > now ? (uint64_t)(at - now) : 0;
    en->armed_at = at;
    uv_timer_start(&en->timer, on_timer, wait, 0);
}

int engine_start(engine *en)
{
    uv_timer_init(en->loop, &en->timer);
    en->timer.data = en;
    en->timer_started = true;
    en->started_at = time_now_ms();
    return engine_tick(en, en->started_at);
}

/* A queued run past its TTL expires, through the same finish as every
 * other end: a parent waiting on it resumes with the error, its batch may
 * be done, its idempotency key is released. */
static int expire(engine *en, store_run *r, int64_t now)
{
    char msg[256];
    snprintf(msg, sizeof msg, "Run expired because the TTL (%s) was reached",
             r->ttl ? r->ttl : "");
    char *err = engine_string_error(msg);
    r->expired_at = now;
    int rc = engine_finish(en, r, RUN_EXPIRED, err, NULL, NULL, now);
    free(err);
    return rc;
}

/* A run whose timer came due: a delay that is over, or a TTL. */
static int fire(engine *en, store_run *r, int64_t now)
{
    if (r->status == RUN_DELAYED && r->delay_until <= now) {
        engine_enqueue(en, NULL, r, now);
        r->updated_at = now;
        if (r->expire_at && r->expire_at <= now)
            return expire(en, r, now);
    } else if (r->expire_at && r->expire_at <= now) {
        if (r->status == RUN_PENDING || r->status == RUN_PENDING_VERSION ||
            r->status == RUN_WAITING_FOR_DEPLOY)
            return expire(en, r, now);
        r->expire_at = 0; /* started in time: the TTL no longer applies */
    }
    return engine_save(en, r);
}

#define PURGE_EVERY_MS (3600LL * 1000)

static int tick(engine *en, int64_t now)
{    if (now - en->purged_at >= PURGE_EVERY_MS) {
        en->purged_at = now;
        if (store_request_purge(en->st, now) != 0)
            return ERR_STORE;
    }
    for (;;) {
        store_run *runs = NULL;
        size_t n = 0;
        int rc = store_run_due(en->st, now, TICK_BATCH, &runs, &n);
        if (rc)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (rc == 0)
                rc = fire(en, &runs[i], now);
            store_run_clear(&runs[i]);
        }
        free(runs);
        if (rc)
            return rc;
        if (n < TICK_BATCH)
            break;
    }
    int rc = engine_waitpoints_tick(en, now);
    if (rc == 0)
        rc = engine_stalls_tick(en, now);
    int64_t next = 0, next_wp = 0, next_stall = 0, next_sched = 0;
    bool sched_more = false;
    if (rc == 0)
        rc = engine_schedules_tick(en, now, &next_sched, &sched_more);
    if (rc == 0)
        rc = store_run_next_due(en->st, &next);
    if (rc == 0)
        rc = store_waitpoint_next_due(en->st, &next_wp);
    if (rc == 0)
        rc = store_run_next_stall(en->st, &next_stall);
    if (rc)
        return rc;
    if (next_wp && (!next || next_wp < next))
        next = next_wp;
    if (next_stall && (!next || next_stall < next))
        next = next_stall;
    /* more due ticks than one batch: the rest in the next loop turn, so
     * requests are served (and this turn committed) in between */
    if (sched_more)
        next_sched = now;
    if (next_sched && (!next || next_sched < next))
        next = next_sched;
    en->armed_at = 0;
    if (en->timer_started) {
        uv_timer_stop(&en->timer);
        int64_t purge_at = en->purged_at + PURGE_EVERY_MS;
        int64_t at = next && next < purge_at ? next : purge_at;
        /* other nodes write deadlines this one has no hint of (and one that
         * dies leaves its timers to the others): look again soon */
        if (store_shared(en->st) && at > now + SHARED_TICK_MS)
            at = now + SHARED_TICK_MS;
        engine_arm(en, at);
    }
    return 0;
}

/* On a shared database every node scans: the scans and what they fire are
 * one transaction, serialized with the other nodes', so each due row is
 * fired by one of them; a node that dies leaves its rows to the others'
 * next scans (SHARED_TICK_MS). */
int engine_tick(engine *en, int64_t now)
{
    int rc = store_claim_begin(en->st);
    if (rc == 0)
        rc = tick(en, now);
    store_claim_end(en->st);
    if (rc && store_shared(en->st) && en->timer_started) /* the database is back soon */
        engine_arm(en, now + SHARED_TICK_MS);
    return rc;
}
