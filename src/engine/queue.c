/*
 * engine/queue.c - dequeue ordering (see queue.h).
 */
#include "engine/queue.h"

#include <math.h>

#define MAX_PRIORITY_MS (30LL * 24 * 3600 * 1000)

int64_t queue_order_key(int64_t queued_at_ms, int64_t priority_ms)
{
    return queued_at_ms - priority_ms;
}

int64_t queue_priority_ms(double priority_s)
{
    if (!isfinite(priority_s) || priority_s <= 0)
        return 0;
    double ms = priority_s * 1000.0;
    if (ms > (double)MAX_PRIORITY_MS)
        return MAX_PRIORITY_MS;
    return (int64_t)ms;
}
