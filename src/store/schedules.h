/*
 * store/schedules.h - schedule rows (a cron expression in a time zone for a
 * task of a project) and their instances (one per environment the schedule
 * fires in, holding that environment's next tick), store/schedules.c.
 */
#ifndef TD_STORE_SCHEDULES_H
#define TD_STORE_SCHEDULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct store_schedule {
    int64_t seq;
    char *id;          /* internal cuid */
    char *friendly_id; /* sched_<21> */
    char *project_id;
    char *type; /* DECLARATIVE, IMPERATIVE */
    char *task;
    char *cron;
    char *description;
    char *timezone;
    char *external_id;
    char *dedup_key; /* unique per project; generated when the caller gave none */
    int64_t user_dedup;
    int64_t active;
    int64_t created_at;
    int64_t updated_at;
} store_schedule;

typedef struct store_schedule_instance {
    int64_t seq;
    char *schedule_id; /* the schedule's internal id */
    char *env_id;
    int64_t next_at; /* nominal time of the next tick, 0 = none */
    int64_t last_at; /* nominal time of the last tick fired, 0 = none */
    int64_t created_at;
} store_schedule_instance;

void store_schedule_clear(store_schedule *s);
void store_schedule_instance_clear(store_schedule_instance *i);

/* Inserts s (seq set); ERR_CONFLICT when (project, dedup_key) is taken. */
int store_schedule_insert(store *st, store_schedule *s);
int store_schedule_update(store *st, const store_schedule *s);
/* Deletes a schedule and its instances. */
int store_schedule_delete(store *st, const char *id);
/* The schedule of project addressed by key: a friendly id when it starts
 * with "sched_", else a deduplication key. ERR_NOT_FOUND when none. */
int store_schedule_get(store *st, const char *project_id, const char *key, store_schedule *s);
/* By internal id. */
int store_schedule_by_id(store *st, const char *id, store_schedule *s);
/* Schedules of project with an instance in env, newest first, page of
 * limit after offset; *total counts them all. Caller clears each, frees. */
int store_schedule_list(store *st, const char *project_id, const char *env_id, int64_t offset,
                        int64_t limit, store_schedule **out, size_t *n, int64_t *total);
/* Every DECLARATIVE schedule of project. Caller clears each, frees. */
int store_schedule_declarative(store *st, const char *project_id, store_schedule **out, size_t *n);

int store_instance_insert(store *st, store_schedule_instance *i);
int store_instance_update(store *st, const store_schedule_instance *i);
int store_instance_delete(store *st, const char *schedule_id, const char *env_id);
/* The instances of a schedule, oldest first. Caller clears each, frees. */
int store_instances_of(store *st, const char *schedule_id, store_schedule_instance **out,
                       size_t *n);
/* Instances whose next tick is due (next_at <= now), earliest first, at most max. */
int store_instance_due(store *st, int64_t now, size_t max, store_schedule_instance **out,
                       size_t *n);
/* The earliest next tick of any instance, 0 if none. */
int store_instance_next_due(store *st, int64_t *at);
/* Moves an instance on from tick `expect` (compare-and-set, so one tick is
 * taken once even by several writers): *won tells whether it was still
 * at that tick. */
int store_instance_advance(store *st, int64_t seq, int64_t expect, int64_t next_at, int64_t last_at,
                           bool *won);

#endif
