/*
 * engine/engine.c - engine lifetime.
 */
#include "engine/internal.h"

#include "engine/cron.h"

#include <stdlib.h>
#include <string.h>


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
    free(en);
}
