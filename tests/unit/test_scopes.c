/*
 * tests/unit/test_scopes.c - the public-token scope grammar of spec/api.md
 * 2.3, mirroring the platform's own buildJwtAbility test cases plus the
 * edges: ids with ':', empty parts, admin:<type>, "*" and "all", and the
 * anyResource / everyResource combinators.
 */
#include "auth/scopes.h"

#include <criterion/criterion.h>

static const scope_res RUNS = {"runs", NULL};
static const scope_res RUN_ABC = {"runs", "run_abc"};
static const scope_res RUN_XYZ = {"runs", "run_xyz"};
static const scope_res TASKS = {"tasks", NULL};
static const scope_res TASK_X = {"tasks", "x"};
static const scope_res TASK_Y = {"tasks", "y"};
static const scope_res BATCH = {"batch", NULL};
static const scope_res BATCH_1 = {"batch", "batch_1"};

static json_t *list(const char *a, const char *b)
{
    json_t *arr = json_array();
    if (a)
        json_array_append_new(arr, json_string(a));
    if (b)
        json_array_append_new(arr, json_string(b));
    return arr;
}

Test(scopes, collection_scope_grants_the_collection_and_every_id_in_it)
{
    cr_assert(scope_grants("read:runs", "read", &RUNS));
    cr_assert(scope_grants("read:runs", "read", &RUN_ABC));
}

Test(scopes, read_runs_id_grants_only_that_run)
{
    cr_assert(scope_grants("read:runs:run_abc", "read", &RUN_ABC));
    cr_assert_not(scope_grants("read:runs:run_abc", "read", &RUN_XYZ));
}

Test(scopes, an_id_scope_does_not_grant_the_whole_collection)
{
    cr_assert_not(scope_grants("read:runs:run_abc", "read", &RUNS));
}

Test(scopes, ids_compare_exactly)
{
    const scope_res prefix = {"runs", "run_ab"}, longer = {"runs", "run_abcd"},
                    upper = {"runs", "RUN_ABC"};
    cr_assert_not(scope_grants("read:runs:run_abc", "read", &prefix));
    cr_assert_not(scope_grants("read:runs:run_abc", "read", &longer));
    cr_assert_not(scope_grants("read:runs:run_abc", "read", &upper));
}

Test(scopes, ids_keep_everything_after_the_second_colon)
{
    const scope_res staging = {"tags", "env:staging"}, env = {"tags", "env"},
                    prod = {"tags", "env:prod"};
    cr_assert(scope_grants("read:tags:env:staging", "read", &staging));
    cr_assert_not(scope_grants("read:tags:env:staging", "read", &env));
    cr_assert_not(scope_grants("read:tags:env:staging", "read", &prod));
    const scope_res deep = {"tags", "a:b:c:"};
    cr_assert(scope_grants("read:tags:a:b:c:", "read", &deep));
}

Test(scopes, wrong_action_is_not_granted)
{
    cr_assert_not(scope_grants("read:runs", "write", &RUNS));
    cr_assert_not(scope_grants("read:runs:run_abc", "write", &RUN_ABC));
}

Test(scopes, actions_are_not_hierarchical)
{
    cr_assert_not(scope_grants("write:runs", "read", &RUNS));
    cr_assert_not(scope_grants("write:tasks:x", "trigger", &TASK_X));
    cr_assert_not(scope_grants("trigger:tasks:x", "batchTrigger", &TASK_X));
    cr_assert_not(scope_grants("batchTrigger:tasks:x", "trigger", &TASK_X));
}

Test(scopes, write_star_does_not_grant_read)
{
    /* "*" is a wildcard only in the action position */
    cr_assert_not(scope_grants("write:*", "read", &RUNS));
    cr_assert_not(scope_grants("write:*", "write", &RUNS));
}

Test(scopes, star_action_matches_any_action_on_its_type)
{
    cr_assert(scope_grants("*:runs", "read", &RUN_ABC));
    cr_assert(scope_grants("*:runs", "write", &RUNS));
    cr_assert(scope_grants("*:tasks:x", "trigger", &TASK_X));
    cr_assert_not(scope_grants("*:runs", "read", &TASKS));
    cr_assert_not(scope_grants("*:tasks:x", "trigger", &TASK_Y));
}

Test(scopes, type_all_matches_any_type_for_its_action)
{
    cr_assert(scope_grants("read:all", "read", &RUNS));
    cr_assert(scope_grants("read:all", "read", &TASK_X));
    cr_assert(scope_grants("read:all", "read", &BATCH_1));
    cr_assert_not(scope_grants("read:all", "write", &RUNS));
    cr_assert(scope_grants("*:all", "batchTrigger", &TASK_X));
}

Test(scopes, type_all_ignores_a_trailing_id_like_the_platform)
{
    cr_assert(scope_grants("read:all:whatever", "read", &RUN_XYZ));
}

Test(scopes, bare_admin_is_universal)
{
    cr_assert(scope_grants("admin", "read", &RUNS));
    cr_assert(scope_grants("admin", "write", &RUN_ABC));
    cr_assert(scope_grants("admin", "trigger", &TASK_X));
    const scope_res dep = {"deployments", NULL};
    cr_assert(scope_grants("admin", "write", &dep));
}

Test(scopes, admin_with_an_empty_type_counts_as_bare_admin)
{
    /* parseScope turns an empty type into "absent" */
    cr_assert(scope_grants("admin:", "read", &RUNS));
}

Test(scopes, admin_runs_is_not_universal)
{
    cr_assert_not(scope_grants("admin:runs", "read", &RUNS));
    cr_assert_not(scope_grants("admin:runs", "write", &RUN_ABC));
    cr_assert_not(scope_grants("admin:sessions", "admin", &RUNS));
}

Test(scopes, admin_type_grants_only_the_admin_action_on_that_type)
{
    const scope_res ses = {"sessions", NULL}, ses_abc = {"sessions", "ses_abc"},
                    ses_xyz = {"sessions", "ses_xyz"};
    cr_assert(scope_grants("admin:sessions", "admin", &ses));
    cr_assert(scope_grants("admin:sessions", "admin", &ses_abc));
    cr_assert(scope_grants("admin:sessions:ses_abc", "admin", &ses_abc));
    cr_assert_not(scope_grants("admin:sessions:ses_abc", "admin", &ses_xyz));
    cr_assert_not(scope_grants("admin:sessions:ses_abc", "read", &ses_abc));
}

Test(scopes, an_empty_id_is_collection_wide)
{
    cr_assert(scope_grants("read:runs:", "read", &RUN_XYZ));
}

Test(scopes, scopes_without_a_type_grant_nothing)
{
    cr_assert_not(scope_grants("read", "read", &RUNS));
    cr_assert_not(scope_grants("read:", "read", &RUNS));
    cr_assert_not(scope_grants("*", "read", &RUNS));
    cr_assert_not(scope_grants("read::run_abc", "read", &RUN_ABC));
}

Test(scopes, empty_or_missing_scopes_grant_nothing)
{
    cr_assert_not(scope_grants("", "read", &RUNS));
    cr_assert_not(scope_grants(":runs", "read", &RUNS));
    cr_assert_not(scope_grants(NULL, "read", &RUNS));
    cr_assert_not(scope_grants("read:runs", NULL, &RUNS));
    cr_assert_not(scope_grants("read:runs", "read", NULL));
}

Test(scopes, type_must_match_exactly)
{
    const scope_res run_singular = {"run", NULL};
    cr_assert_not(scope_grants("read:runs", "read", &run_singular));
    cr_assert_not(scope_grants("read:Runs", "read", &RUNS));
    cr_assert_not(scope_grants("read:runs", "read", &TASKS));
}

Test(scopes, any_scope_in_the_list_can_grant)
{
    json_t *s = list("read:tasks:x", "read:runs:run_abc");
    cr_assert(scopes_grant(s, "read", &RUN_ABC));
    cr_assert(scopes_grant(s, "read", &TASK_X));
    cr_assert_not(scopes_grant(s, "read", &RUN_XYZ));
    json_decref(s);
}

Test(scopes, empty_missing_or_malformed_lists_grant_nothing)
{
    json_t *empty = json_array();
    cr_assert_not(scopes_grant(empty, "read", &RUNS));
    cr_assert_not(scopes_grant(NULL, "read", &RUNS));
    json_t *str = json_string("admin");
    cr_assert_not(scopes_grant(str, "read", &RUNS));
    json_t *mixed = json_pack("[i,n,{s:s},s]", 1, "admin", "x", "read:runs");
    cr_assert(scopes_grant(mixed, "read", &RUNS)); /* non-strings are skipped */
    cr_assert_not(scopes_grant(mixed, "write", &RUNS));
    json_decref(empty);
    json_decref(str);
    json_decref(mixed);
}

Test(scopes, any_resource_grants_when_one_element_passes)
{
    json_t *s = list("read:batch:batch_1", NULL);
    scope_res run_view[] = {RUN_XYZ, BATCH_1, TASK_X};
    cr_assert(scopes_grant_any(s, "read", run_view, 3));
    scope_res other[] = {RUN_XYZ, {"batch", "batch_2"}, TASK_X};
    cr_assert_not(scopes_grant_any(s, "read", other, 3));
    json_decref(s);
}

Test(scopes, any_resource_of_an_empty_list_never_grants)
{
    json_t *s = list("admin", "read:all");
    cr_assert_not(scopes_grant_any(s, "read", NULL, 0));
    json_decref(s);
}

Test(scopes, every_resource_grants_when_all_elements_pass)
{
    json_t *s = list("batchTrigger:tasks:x", "batchTrigger:tasks:y");
    scope_res both[] = {TASK_X, TASK_Y};
    scope_res alt[] = {BATCH, TASKS};
    cr_assert(scopes_grant_every(s, "batchTrigger", both, 2, alt, 2));
    json_decref(s);
}

Test(scopes, every_resource_refuses_when_one_element_fails)
{
    json_t *s = list("batchTrigger:tasks:x", NULL);
    scope_res both[] = {TASK_X, TASK_Y};
    scope_res alt[] = {BATCH, TASKS};
    cr_assert_not(scopes_grant_every(s, "batchTrigger", both, 2, alt, 2));
    json_decref(s);
}

Test(scopes, every_resource_grants_through_a_broad_alternative)
{
    json_t *s = list("batchTrigger:tasks", NULL);
    scope_res both[] = {TASK_X, TASK_Y};
    scope_res alt[] = {BATCH, TASKS};
    cr_assert(scopes_grant_every(s, "batchTrigger", both, 2, alt, 2));
    json_decref(s);
}

Test(scopes, every_resource_with_an_empty_list_never_grants_by_itself)
{
    json_t *s = list("batchTrigger:tasks:x", "read:all");
    scope_res alt[] = {BATCH, TASKS};
    cr_assert_not(scopes_grant_every(s, "batchTrigger", NULL, 0, alt, 2));
    cr_assert_not(scopes_grant_every(s, "batchTrigger", NULL, 0, NULL, 0));
    json_decref(s);
}

Test(scopes, every_resource_with_an_empty_list_still_honours_the_alternative)
{
    json_t *s = list("batchTrigger:batch", NULL);
    scope_res alt[] = {BATCH, TASKS};
    cr_assert(scopes_grant_every(s, "batchTrigger", NULL, 0, alt, 2));
    json_decref(s);
}

Test(scopes, admin_passes_every_combinator)
{
    json_t *s = list("admin", NULL);
    scope_res both[] = {TASK_X, TASK_Y};
    cr_assert(scopes_grant_any(s, "write", both, 2));
    cr_assert(scopes_grant_every(s, "write", both, 2, NULL, 0));
    json_decref(s);
}
