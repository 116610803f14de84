/*
 * engine/engine.c - engine lifetime and the shared queueing step.
 */
#include "engine/internal.h"

#include <stdlib.h>
#include <string.h>

#include "engine/queue.h"
#include "engine/status.h"

char *engine_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

engine *engine_new(store *st, uv_loop_t *loop)
{
    engine *en = calloc(1, sizeof *en);
    if (!en)
        return NULL;
    en->st = st;
    en->loop = loop;
    return en;
}

void engine_free(engine *en)
{
    if (!en)
        return;
    if (en->timer_started)
        uv_close((uv_handle_t *)&en->timer, NULL);
    free(en);
}

void engine_enqueue(engine *en, const store_env *env, store_run *r, int64_t now)
{
    (void)env;
    r->status = RUN_PENDING;
    r->queued_at = now;
    r->queue_ts = queue_order_key(now, r->priority_ms);
    r->delay_until = 0;
    if (r->ttl_ms > 0) {
        r->expire_at = now + r->ttl_ms;
        engine_arm(en, r->expire_at);
    } else {
        r->expire_at = 0;
    }
}
