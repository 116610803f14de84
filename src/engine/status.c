/*
 * engine/status.c - the status tables of spec/api.md section 4.
 */
#include "engine/status.h"

#include <string.h>

static const char *const db_names[RUN_STATUS_COUNT] = {
    [RUN_DELAYED] = "DELAYED",
    [RUN_PENDING] = "PENDING",
    [RUN_PENDING_VERSION] = "PENDING_VERSION",
    [RUN_WAITING_FOR_DEPLOY] = "WAITING_FOR_DEPLOY",
    [RUN_DEQUEUED] = "DEQUEUED",
    [RUN_EXECUTING] = "EXECUTING",
    [RUN_RETRYING_AFTER_FAILURE] = "RETRYING_AFTER_FAILURE",
    [RUN_WAITING_TO_RESUME] = "WAITING_TO_RESUME",
    [RUN_PAUSED] = "PAUSED",
    [RUN_CANCELED] = "CANCELED",
    [RUN_COMPLETED_SUCCESSFULLY] = "COMPLETED_SUCCESSFULLY",
    [RUN_COMPLETED_WITH_ERRORS] = "COMPLETED_WITH_ERRORS",
    [RUN_INTERRUPTED] = "INTERRUPTED",
    [RUN_CRASHED] = "CRASHED",
    [RUN_SYSTEM_FAILURE] = "SYSTEM_FAILURE",
    [RUN_EXPIRED] = "EXPIRED",
    [RUN_TIMED_OUT] = "TIMED_OUT",
};

static const char *const api_current[RUN_STATUS_COUNT] = {
    [RUN_DELAYED] = "DELAYED",
    [RUN_PENDING] = "QUEUED",
    [RUN_PENDING_VERSION] = "PENDING_VERSION",
    [RUN_WAITING_FOR_DEPLOY] = "PENDING_VERSION",
    [RUN_DEQUEUED] = "DEQUEUED",
    [RUN_EXECUTING] = "EXECUTING",
    [RUN_RETRYING_AFTER_FAILURE] = "EXECUTING",
    [RUN_WAITING_TO_RESUME] = "WAITING",
    [RUN_PAUSED] = "WAITING",
    [RUN_CANCELED] = "CANCELED",
    [RUN_COMPLETED_SUCCESSFULLY] = "COMPLETED",
    [RUN_COMPLETED_WITH_ERRORS] = "FAILED",
    [RUN_INTERRUPTED] = "FAILED",
    [RUN_CRASHED] = "CRASHED",
    [RUN_SYSTEM_FAILURE] = "SYSTEM_FAILURE",
    [RUN_EXPIRED] = "EXPIRED",
    [RUN_TIMED_OUT] = "TIMED_OUT",
};

static const char *const api_legacy[RUN_STATUS_COUNT] = {
    [RUN_DELAYED] = "DELAYED",
    [RUN_PENDING] = "QUEUED",
    [RUN_PENDING_VERSION] = "PENDING_VERSION",
    [RUN_WAITING_FOR_DEPLOY] = "WAITING_FOR_DEPLOY",
    [RUN_DEQUEUED] = "EXECUTING",
    [RUN_EXECUTING] = "EXECUTING",
    [RUN_RETRYING_AFTER_FAILURE] = "REATTEMPTING",
    [RUN_WAITING_TO_RESUME] = "FROZEN",
    [RUN_PAUSED] = "FROZEN",
    [RUN_CANCELED] = "CANCELED",
    [RUN_COMPLETED_SUCCESSFULLY] = "COMPLETED",
    [RUN_COMPLETED_WITH_ERRORS] = "FAILED",
    [RUN_INTERRUPTED] = "INTERRUPTED",
    [RUN_CRASHED] = "CRASHED",
    [RUN_SYSTEM_FAILURE] = "SYSTEM_FAILURE",
    [RUN_EXPIRED] = "EXPIRED",
    [RUN_TIMED_OUT] = "TIMED_OUT",
};

const char *status_db_name(run_status s)
{
    return (unsigned)s < RUN_STATUS_COUNT ? db_names[s] : "PENDING";
}

int status_from_db_name(const char *name)
{
    for (int i = 0; i < RUN_STATUS_COUNT; i++)
        if (strcmp(db_names[i], name) == 0)
            return i;
    return -1;
}

const char *status_api_name(run_status s, bool current_api)
{
    if ((unsigned)s >= RUN_STATUS_COUNT)
        return "QUEUED";
    return current_api ? api_current[s] : api_legacy[s];
}

bool status_is_final(run_status s)
{
    switch (s) {
    case RUN_CANCELED:
    case RUN_COMPLETED_SUCCESSFULLY:
    case RUN_COMPLETED_WITH_ERRORS:
    case RUN_INTERRUPTED:
    case RUN_CRASHED:
    case RUN_SYSTEM_FAILURE:
    case RUN_EXPIRED:
    case RUN_TIMED_OUT:
        return true;
    default:
        return false;
    }
}

bool status_is_queued(run_status s)
{
    return s == RUN_PENDING || s == RUN_WAITING_FOR_DEPLOY || s == RUN_DELAYED ||
           s == RUN_PENDING_VERSION;
}

bool status_is_executing(run_status s)
{
    return s == RUN_EXECUTING || s == RUN_RETRYING_AFTER_FAILURE || s == RUN_DEQUEUED;
}

bool status_is_waiting(run_status s)
{
    return s == RUN_WAITING_TO_RESUME || s == RUN_PAUSED;
}

/* EXPIRED and TIMED_OUT are deliberately not "completed" on the REST API
 * (spec/api.md section 8, inconsistencies). */
bool status_is_completed(run_status s)
{
    switch (s) {
    case RUN_COMPLETED_SUCCESSFULLY:
    case RUN_CANCELED:
    case RUN_COMPLETED_WITH_ERRORS:
    case RUN_INTERRUPTED:
    case RUN_CRASHED:
    case RUN_SYSTEM_FAILURE:
        return true;
    default:
        return false;
    }
}

bool status_is_success(run_status s)
{
    return s == RUN_COMPLETED_SUCCESSFULLY;
}

bool status_is_failed(run_status s)
{
    return status_is_completed(s) && s != RUN_COMPLETED_SUCCESSFULLY;
}

int status_filter_to_db(const char *n, run_status out[2])
{
    static const struct {
        const char *api;
        run_status a;
        int b;
    } map[] = {
        {"QUEUED", RUN_PENDING, -1},
        {"REATTEMPTING", RUN_RETRYING_AFTER_FAILURE, -1},
        {"FROZEN", RUN_PAUSED, RUN_WAITING_TO_RESUME},
        {"WAITING", RUN_WAITING_TO_RESUME, -1},
        {"COMPLETED", RUN_COMPLETED_SUCCESSFULLY, -1},
        {"FAILED", RUN_COMPLETED_WITH_ERRORS, -1},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].api, n) == 0) {
            out[0] = map[i].a;
            if (map[i].b < 0)
                return 1;
            out[1] = (run_status)map[i].b;
            return 2;
        }
    }
    int s = status_from_db_name(n);
    if (s < 0)
        return 0;
    out[0] = (run_status)s;
    return 1;
}
