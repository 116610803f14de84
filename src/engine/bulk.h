/*
 * engine/bulk.h - bulk actions: cancel or replay every run of an
 * environment that matches a runs-list filter, as the platform's bulk
 * actions do (a filter, not a list of ids). The engine walks the matching
 * runs newest first in pages, one page per event-loop turn, so a large set
 * never holds the loop for long; runs created after the action started
 * (its own replays among them) are not part of the set. Jobs live in
 * memory: a restart forgets them (what they did is committed page by page).
 */
#ifndef TD_ENGINE_BULK_H
#define TD_ENGINE_BULK_H

#include "engine/engine.h"

#define ENGINE_BULK_PAGE 100

typedef enum engine_bulk_action { ENGINE_BULK_CANCEL, ENGINE_BULK_REPLAY } engine_bulk_action;

typedef struct engine_bulk_status {
    char id[40];
    engine_bulk_action action;
    bool done;
    int64_t matched;   /* runs of the filter seen so far */
    int64_t succeeded; /* cancelled / replayed */
    int64_t skipped;   /* cancel: already final */
    int64_t failed;
    int64_t created_at, finished_at;
} engine_bulk_status;

/* Starts the action on the runs of env matching f (its strings are copied;
 * its cursors and limit are ignored). *id receives the job's id. */
int engine_bulk_start(engine *en, const store_env *env, const store_run_filter *f,
                      engine_bulk_action action, int64_t now, char id[40], err_t *e);

/* The job of env named id; ERR_NOT_FOUND when there is none (or it was
 * forgotten: the latest ENGINE_BULK_KEEP jobs are kept). */
int engine_bulk_get(engine *en, const store_env *env, const char *id, engine_bulk_status *out);

/* Frees every job (engine_free calls it). */
void engine_bulk_free(engine *en);

#endif
