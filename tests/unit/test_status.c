/*
 * Unit tests for engine/status.c: the vocabularies of spec/api.md section 4.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/status.h"

Test(status, pending_is_queued_in_both_vocabularies)
{
    cr_assert_str_eq(status_api_name(RUN_PENDING, true), "QUEUED");
    cr_assert_str_eq(status_api_name(RUN_PENDING, false), "QUEUED");
}

Test(status, dequeued_is_executing_only_in_the_legacy_vocabulary)
{
    cr_assert_str_eq(status_api_name(RUN_DEQUEUED, true), "DEQUEUED");
    cr_assert_str_eq(status_api_name(RUN_DEQUEUED, false), "EXECUTING");
}

Test(status, waiting_statuses_map_to_waiting_or_frozen)
{
    cr_assert_str_eq(status_api_name(RUN_WAITING_TO_RESUME, true), "WAITING");
    cr_assert_str_eq(status_api_name(RUN_PAUSED, false), "FROZEN");
    cr_assert_str_eq(status_api_name(RUN_RETRYING_AFTER_FAILURE, false), "REATTEMPTING");
    cr_assert_str_eq(status_api_name(RUN_WAITING_FOR_DEPLOY, true), "PENDING_VERSION");
    cr_assert_str_eq(status_api_name(RUN_WAITING_FOR_DEPLOY, false), "WAITING_FOR_DEPLOY");
}

Test(status, expired_and_timed_out_are_not_completed_on_rest)
{
    cr_assert_not(status_is_completed(RUN_EXPIRED));
    cr_assert_not(status_is_completed(RUN_TIMED_OUT));
    cr_assert(status_is_final(RUN_EXPIRED));
    cr_assert(status_is_completed(RUN_CANCELED));
    cr_assert(status_is_failed(RUN_CANCELED));
    cr_assert_not(status_is_failed(RUN_COMPLETED_SUCCESSFULLY));
}

Test(status, db_names_round_trip)
{
    for (int s = 0; s < RUN_STATUS_COUNT; s++)
        cr_assert_eq(status_from_db_name(status_db_name((run_status)s)), s);
    cr_assert_eq(status_from_db_name("NOPE"), -1);
}

Test(status, filter_maps_api_names_to_db_statuses)
{
    run_status out[2];
    cr_assert_eq(status_filter_to_db("QUEUED", out), 1);
    cr_assert_eq(out[0], RUN_PENDING);
    cr_assert_eq(status_filter_to_db("FROZEN", out), 2);
    cr_assert_eq(out[0], RUN_PAUSED);
    cr_assert_eq(out[1], RUN_WAITING_TO_RESUME);
    cr_assert_eq(status_filter_to_db("COMPLETED", out), 1);
    cr_assert_eq(out[0], RUN_COMPLETED_SUCCESSFULLY);
    cr_assert_eq(status_filter_to_db("CANCELED", out), 1);
    cr_assert_eq(out[0], RUN_CANCELED);
    cr_assert_eq(status_filter_to_db("bogus", out), 0);
}
