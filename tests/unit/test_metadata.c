/*
 * Unit tests for engine/metadata.c: the SDK's metadata operations.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/metadata.h"

/* Applies ops (JSON text) to md (JSON text); returns the result as text. */
static char *apply(const char *md, const char *ops, int *rc)
{
    json_t *m = json_loads(md, 0, NULL);
    json_t *o = json_loads(ops, 0, NULL);
    err_t e = {0};
    *rc = metadata_apply(m, o, &e);
    char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m);
    json_decref(o);
    return s;
}

#define EXPECT(md, ops, want)                                                                      \
    do {                                                                                           \
        int rc_;                                                                                   \
        char *got_ = apply(md, ops, &rc_);                                                         \
        cr_assert_eq(rc_, 0);                                                                      \
        cr_assert_str_eq(got_, want);                                                              \
        free(got_);                                                                                \
    } while (0)

Test(metadata, set_writes_a_top_level_key)
{
    EXPECT("{}", "[{\"type\":\"set\",\"key\":\"a\",\"value\":1}]", "{\"a\":1}");
}

Test(metadata, set_with_a_json_path_creates_missing_parents)
{
    EXPECT("{}", "[{\"type\":\"set\",\"key\":\"$.a.b\",\"value\":\"x\"}]", "{\"a\":{\"b\":\"x\"}}");
}

Test(metadata, a_key_without_the_dollar_prefix_is_literal)
{
    EXPECT("{}", "[{\"type\":\"set\",\"key\":\"a.b\",\"value\":2}]", "{\"a.b\":2}");
}

Test(metadata, delete_removes_a_key_and_ignores_a_missing_one)
{
    EXPECT("{\"a\":1,\"b\":2}",
           "[{\"type\":\"delete\",\"key\":\"a\"},{\"type\":\"delete\",\"key\":\"zz\"}]",
           "{\"b\":2}");
}

Test(metadata, append_creates_an_array_then_grows_it)
{
    EXPECT("{}",
           "[{\"type\":\"append\",\"key\":\"l\",\"value\":1},"
           "{\"type\":\"append\",\"key\":\"l\",\"value\":2}]",
           "{\"l\":[1,2]}");
}

Test(metadata, append_to_a_scalar_makes_a_two_item_array)
{
    EXPECT("{\"l\":\"a\"}", "[{\"type\":\"append\",\"key\":\"l\",\"value\":\"b\"}]",
           "{\"l\":[\"a\",\"b\"]}");
}

Test(metadata, remove_drops_deep_equal_items)
{
    EXPECT("{\"l\":[{\"x\":1},{\"x\":2},{\"x\":1}]}",
           "[{\"type\":\"remove\",\"key\":\"l\",\"value\":{\"x\":1}}]", "{\"l\":[{\"x\":2}]}");
}

Test(metadata, remove_on_a_non_array_is_left_unapplied)
{
    EXPECT("{\"l\":5}", "[{\"type\":\"remove\",\"key\":\"l\",\"value\":5}]", "{\"l\":5}");
}

Test(metadata, increment_treats_missing_and_non_numbers_as_zero)
{
    EXPECT("{\"s\":\"x\"}",
           "[{\"type\":\"increment\",\"key\":\"n\",\"value\":2},"
           "{\"type\":\"increment\",\"key\":\"n\",\"value\":3},"
           "{\"type\":\"increment\",\"key\":\"s\",\"value\":1}]",
           "{\"n\":5,\"s\":1}");
}

Test(metadata, increment_by_a_negative_number_decrements)
{
    EXPECT("{\"n\":5}", "[{\"type\":\"increment\",\"key\":\"$.n\",\"value\":-2}]", "{\"n\":3}");
}

Test(metadata, update_replaces_the_whole_object)
{
    EXPECT("{\"a\":1}", "[{\"type\":\"update\",\"value\":{\"b\":2}}]", "{\"b\":2}");
}

Test(metadata, unknown_operation_types_are_skipped)
{
    EXPECT("{\"a\":1}", "[{\"type\":\"frobnicate\",\"key\":\"a\"}]", "{\"a\":1}");
}

Test(metadata, forbidden_keys_are_rejected)
{
    int rc;
    free(apply("{}", "[{\"type\":\"set\",\"key\":\"__proto__\",\"value\":1}]", &rc));
    cr_assert_eq(rc, ERR_INVALID);
    free(apply("{}", "[{\"type\":\"set\",\"key\":\"constructor\",\"value\":1}]", &rc));
    cr_assert_eq(rc, ERR_INVALID);
}

Test(metadata, malformed_operations_are_rejected)
{
    int rc;
    free(apply("{}", "[{\"type\":\"set\",\"value\":1}]", &rc));
    cr_assert_eq(rc, ERR_INVALID);
    free(apply("{}", "[{\"key\":\"a\"}]", &rc));
    cr_assert_eq(rc, ERR_INVALID);
    free(apply("{}", "[{\"type\":\"increment\",\"key\":\"a\",\"value\":\"x\"}]", &rc));
    cr_assert_eq(rc, ERR_INVALID);
    free(apply("{}", "[1]", &rc));
    cr_assert_eq(rc, ERR_INVALID);
}
