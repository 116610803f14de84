/*
 * engine/engine.c - engine lifetime.
 */
#include "engine/internal.h"

#include "engine/bulk.h"
#include "engine/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


char *engine_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

int engine_day_version(engine *en, const store_env *env, int64_t now,
                       int (*count)(store *st, const char *env_id, const char *prefix,
                                    int64_t *n),
                       char out[32])
{
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y%m%d.", &tm);
    int64_t n = 0;
    int rc = count(en->st, env->id, day, &n);
    if (rc == 0)
        snprintf(out, 32, "%.9s%lld", day, (long long)(n + 1) % 1000000);
    return rc;
}

engine *engine_new(store *st, uv_loop_t *loop)
{
    engine *en = calloc(1, sizeof *en);
    if (!en)
        return NULL;
    en->st = st;
    en->loop = loop;
    en->zones = cron_zones_new();
    return en;
}

void engine_free(engine *en)
{
    if (!en)
        return;
    if (en->timer_started)
        uv_close((uv_handle_t *)&en->timer, NULL);
    free(en->envs);
    for (size_t i = 0; i < sizeof en->wtasks / sizeof en->wtasks[0]; i++) {
        free(en->wtasks[i].id);
        json_decref(en->wtasks[i].tasks);
    }
    cron_zones_free(en->zones);
    engine_bulk_free(en);
    free(en);
}
