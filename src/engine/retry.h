/*
 * engine/retry.h - the out-of-memory retry of an attempt (engine/retry.c).
 */
#ifndef TD_ENGINE_RETRY_H
#define TD_ENGINE_RETRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* err (a TaskRunError, borrowed) says the task process ran out of memory:
 * the platform's isOOMRunError. */
bool engine_error_is_oom(json_t *err);

/* The delay in ms before an out-of-memory attempt `attempt` (1-based) of a
 * run on `machine` is retried on the machine the task's retry settings
 * (`retry`, borrowed) name in outOfMemory.machine (*to_machine, borrowed
 * from retry), or -1: no such machine, it is the run's already, or no
 * attempts left. rand01 in [0,1) randomizes as the SDK does. */
int64_t engine_oom_retry(json_t *retry, const char *machine, int64_t attempt, double rand01,
                         const char **to_machine);

#endif
