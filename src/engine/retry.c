/*
 * engine/retry.c - the out-of-memory retry: an attempt whose task process
 * ran out of memory is not retried by the task's ordinary retry settings
 * but, when the task's `retry.outOfMemory.machine` names another preset,
 * once more on that machine (the platform's retryOutcomeFromCompletion and
 * isOOMRunError, @trigger.dev/core v3/errors.js; docs/deploy.md §3).
 */
#include "engine/retry.h"

#include <math.h>
#include <string.h>

static bool has(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

bool engine_error_is_oom(json_t *err)
{
    const char *type = json_string_value(json_object_get(err, "type"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (type && strcmp(type, "INTERNAL_ERROR") == 0) {
        const char *code = json_string_value(json_object_get(err, "code"));
        if (!code)
            return false;
        if (strcmp(code, "TASK_PROCESS_OOM_KILLED") == 0 ||
            strcmp(code, "TASK_PROCESS_MAYBE_OOM_KILLED") == 0)
            return true;
        /* a task process killed by the kernel (SIGKILL), or aborted by V8 at
         * its heap limit: the message says "code -1 after signal ..." */
        if (strcmp(code, "TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE") != 0 || !has(msg, "-1"))
            return false;
        if (has(msg, "SIGKILL"))
            return true;
        const char *st = json_string_value(json_object_get(err, "stackTrace"));
        return has(msg, "SIGABRT") &&
               (has(st, "JavaScript heap out of memory") || has(st, "Reached heap limit"));
    }
    if (type && strcmp(type, "BUILT_IN_ERROR") == 0)
        return has(msg, "ffmpeg was killed with signal SIGKILL") ||
               (msg && strcmp(msg, "MANUAL_OOM_KILL_ERROR") == 0);
    return false;
}

static double num_or(json_t *o, const char *k, double dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

int64_t engine_oom_retry(json_t *retry, const char *machine, int64_t attempt, double rand01,
                         const char **to_machine)
{
    *to_machine = NULL;
    const char *m = json_string_value(json_object_get(json_object_get(retry, "outOfMemory"),
                                                      "machine"));
    if (!json_is_object(retry) || !m || (machine && strcmp(machine, m) == 0))
        return -1;
    /* calculateNextRetryDelay with the SDK's defaultRetryOptions */
    double max_attempts = num_or(retry, "maxAttempts", 3);
    if ((double)attempt >= max_attempts)
        return -1;
    double factor = num_or(retry, "factor", 2), lo = num_or(retry, "minTimeoutInMs", 1000),
           hi = num_or(retry, "maxTimeoutInMs", 60000);
    json_t *rz = json_object_get(retry, "randomize");
    double random = (rz == NULL || json_is_true(rz)) ? rand01 + 1 : 1;
    double ms = fmin(hi, random * lo * pow(factor, (double)attempt - 1));
    *to_machine = m;
    return ms > 0 ? (int64_t)llround(ms) : 0;
}
