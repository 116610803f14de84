/*
 * engine/schedules.h - cron schedules: imperative ones made through the API
 * ([25]-[32]), declarative ones synced from a worker's manifest, and the
 * firing of their ticks (engine/schedules.c). Never sees HTTP.
 */
#ifndef TD_ENGINE_SCHEDULES_H
#define TD_ENGINE_SCHEDULES_H

#include <jansson.h>
#include <stdbool.h>

#include "engine/engine.h"
#include "store/schedules.h"

/* POST /api/v1/schedules (friendly_id NULL) or PUT /api/v1/schedules/{id}
 * (friendly_id = the path key, a sched_ id or a dedup key); strings
 * borrowed. origin is the server's public origin (the timezone error
 * message points at its /timezones page). */
typedef struct schedule_upsert_opts {
    const char *friendly_id;
    const char *task;
    const char *cron;
    const char *dedup_key;
    const char *external_id;
    const char *timezone;
    const char *origin;
} schedule_upsert_opts;

/* UpsertTaskScheduleService: validates (422 messages of CheckScheduleService),
 * creates or updates the schedule (by friendly id or by the project's dedup
 * key) with an instance in env, and (re)computes its next tick. A
 * DECLARATIVE schedule is refused ("Cannot update a declarative schedule").
 * *out is the row after (caller clears). */
int engine_schedule_upsert(engine *en, const store_env *env, const schedule_upsert_opts *o,
                           int64_t now, store_schedule *out, err_t *e);

/* The schedule of env's project that key addresses; 404 "Schedule not found". */
int engine_schedule_get(engine *en, const store_env *env, const char *key, store_schedule *out,
                        err_t *e);

/* Deletes it (its ticks stop at once); fid receives its friendly id. */
int engine_schedule_delete(engine *en, const store_env *env, const char *key, char fid[64],
                           err_t *e);

/* activate / deactivate. */
int engine_schedule_set_active(engine *en, const store_env *env, const char *key, bool active,
                               int64_t now, store_schedule *out, err_t *e);

/* The schedule's next occurrence after now (0 when the expression never
 * matches). */
int64_t engine_schedule_next_run(engine *en, const store_schedule *s, int64_t now);

/* The environments a schedule has instances in, as the API shows them:
 * [{id, type}] (new reference). */
json_t *engine_schedule_environments(engine *en, const store_schedule *s);

/* syncDeclarativeSchedules: the tasks (a manifest's TaskResource array,
 * borrowed) of a worker env just registered become its DECLARATIVE
 * schedules: created, updated, removed, honouring schedule.environments.
 * A schedule the platform refuses fails the registration with ERR_INVALID
 * (the route's 400) and CheckScheduleService's message; `origin` (borrowed,
 * may be NULL) goes into the time zone message. */
int engine_schedules_sync(engine *en, const store_env *env, json_t *tasks, const char *origin,
                          int64_t now, err_t *e);

/* Fires the instances whose tick is due at now (the timer calls it);
 * *next is the earliest tick left (0 none), *more when a batch limit left
 * due ticks for the next turn. */
int engine_schedules_tick(engine *en, int64_t now, int64_t *next, bool *more);

/* The dev CLI of env polled (it is connected): dev schedules fire only
 * while it is. */
void engine_dev_seen(engine *en, const char *env_id, int64_t now);

#endif
