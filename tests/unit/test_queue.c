/*
 * Unit tests for engine/queue.c: dequeue order with priorities.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "engine/queue.h"

Test(queue, earlier_queued_run_is_taken_first_without_priority)
{
    cr_assert_lt(queue_order_key(1000, 0), queue_order_key(2000, 0));
}

Test(queue, priority_lets_a_later_run_overtake_runs_queued_less_than_that_before_it)
{
    /* queued 5 s later but with priority 10 s: taken first */
    int64_t a = queue_order_key(100000, 0);
    int64_t b = queue_order_key(105000, queue_priority_ms(10));
    cr_assert_lt(b, a);
}

Test(queue, priority_does_not_overtake_runs_queued_longer_ago_than_the_priority)
{
    int64_t a = queue_order_key(100000, 0);
    int64_t b = queue_order_key(120000, queue_priority_ms(10));
    cr_assert_lt(a, b);
}

Test(queue, priority_converts_seconds_to_ms_and_clamps)
{
    cr_assert_eq(queue_priority_ms(1.5), 1500);
    cr_assert_eq(queue_priority_ms(0), 0);
    cr_assert_eq(queue_priority_ms(-5), 0);
    cr_assert_eq(queue_priority_ms(NAN), 0);
    cr_assert_eq(queue_priority_ms(INFINITY), 0);
    cr_assert_eq(queue_priority_ms(1e12), 30LL * 24 * 3600 * 1000);
}

static int cmp(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

Test(queue, sorting_by_key_orders_a_mixed_queue_as_the_priority_doc_describes)
{
    /* run 0 at t=0, run 1 at t=1s prio 0, run 2 at t=2s prio 5s, run 3 at t=3s prio 1s */
    int64_t keys[4] = {
        queue_order_key(0, 0),
        queue_order_key(1000, 0),
        queue_order_key(2000, queue_priority_ms(5)),
        queue_order_key(3000, queue_priority_ms(1)),
    };
    int64_t sorted[4];
    for (int i = 0; i < 4; i++)
        sorted[i] = keys[i];
    qsort(sorted, 4, sizeof *sorted, cmp);
    cr_assert_eq(sorted[0], keys[2]); /* -3000 */
    cr_assert_eq(sorted[1], keys[0]); /* 0 */
    cr_assert_eq(sorted[2], keys[1]); /* 1000 */
    cr_assert_eq(sorted[3], keys[3]); /* 2000 */
}

Test(queue, a_paused_queue_has_limit_zero_whatever_its_override)
{
    store_queue_limit_t l = {.limit = 5, .paused = 1, .override = 10};
    cr_assert_eq(queue_effective_limit(&l), 0);
    l.limit = -1;
    l.override = -1;
    cr_assert_eq(queue_effective_limit(&l), 0);
}

Test(queue, an_override_replaces_the_declared_limit_and_none_keeps_it)
{
    store_queue_limit_t l = {.limit = 1, .paused = 0, .override = 4};
    cr_assert_eq(queue_effective_limit(&l), 4);
    l.override = 0; /* an override of 0 takes nothing, as a pause */
    cr_assert_eq(queue_effective_limit(&l), 0);
    l.override = -1;
    cr_assert_eq(queue_effective_limit(&l), 1);
    l.limit = -1; /* no declared limit: the environment's applies */
    cr_assert_eq(queue_effective_limit(&l), -1);
}
