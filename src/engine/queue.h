/*
 * engine/queue.h - the order in which queued runs are taken.
 *
 * Priority is a time offset (runs/priority.mdx): a run triggered with
 * priority N seconds is taken as if it had been queued N seconds earlier,
 * so it overtakes runs queued less than N seconds before it.
 */
#ifndef TD_ENGINE_QUEUE_H
#define TD_ENGINE_QUEUE_H

#include <stdint.h>

/* The dequeue key of a run queued at queued_at_ms with priority_ms. Lower
 * keys are taken first. */
int64_t queue_order_key(int64_t queued_at_ms, int64_t priority_ms);

/* Converts the API's `priority` (seconds, any number) to ms, clamped to
 * [0, 30 days]; negative and non-finite values become 0. */
int64_t queue_priority_ms(double priority_s);

#endif
