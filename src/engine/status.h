/*
 * engine/status.h - run statuses: the DB vocabulary the engine stores and
 * the two API vocabularies it is presented in (spec/api.md section 4).
 */
#ifndef TD_ENGINE_STATUS_H
#define TD_ENGINE_STATUS_H

#include <stdbool.h>

typedef enum run_status {
    RUN_DELAYED,
    RUN_PENDING,
    RUN_PENDING_VERSION,
    RUN_WAITING_FOR_DEPLOY,
    RUN_DEQUEUED,
    RUN_EXECUTING,
    RUN_RETRYING_AFTER_FAILURE,
    RUN_WAITING_TO_RESUME,
    RUN_PAUSED,
    RUN_CANCELED,
    RUN_COMPLETED_SUCCESSFULLY,
    RUN_COMPLETED_WITH_ERRORS,
    RUN_INTERRUPTED,
    RUN_CRASHED,
    RUN_SYSTEM_FAILURE,
    RUN_EXPIRED,
    RUN_TIMED_OUT,
    RUN_STATUS_COUNT
} run_status;

/* The DB name ("PENDING", ...). */
const char *status_db_name(run_status s);

/* Parses a DB name; returns -1 if unknown. */
int status_from_db_name(const char *name);

/* The API name for the current vocabulary (x-trigger-api-version 2025-07-16)
 * or the legacy one. */
const char *status_api_name(run_status s, bool current_api);

/* Final statuses never change again. */
bool status_is_final(run_status s);

/* The REST boolean helpers, computed from the API status. */
bool status_is_queued(run_status s);
bool status_is_executing(run_status s);
bool status_is_waiting(run_status s);
bool status_is_completed(run_status s);
bool status_is_success(run_status s);
bool status_is_failed(run_status s);

/* Maps one filter[status] value (either vocabulary) to DB statuses; writes up
 * to 2 into out and returns how many, 0 if the name is unknown. */
int status_filter_to_db(const char *api_name, run_status out[2]);

#endif
