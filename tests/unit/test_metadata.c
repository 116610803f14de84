/*
 * Unit tests for engine/metadata.c: metadata operations applied as
 * @trigger.dev/core 4.5.0's applyMetadataOperations applies them.
 *
 * Every row of CASES is one test, and all rows also run through the real SDK
 * when TD_SDK_NODE_PATH names a node_modules directory holding
 * @trigger.dev/core@4.5.0 (with its zod and @jsonhero/path), e.g.
 *   mkdir -p /tmp/core && cd /tmp/core && npm init -y && npm i @trigger.dev/core@4.5.0
 *   TD_SDK_NODE_PATH=/tmp/core/node_modules ./test_metadata
 * JSON in the rows uses ' for " to stay readable.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/metadata.h"

/* Expected results other than JSON: rejected as the SDK's parse or code
 * rejects it, or only by us (no SDK comparison). */
#define INVALID "!invalid"
#define FORBIDDEN "!forbidden"
#define TOO_LARGE "!too-large"

#define CASES(X)                                                                                   \
    /* set */                                                                                      \
    X(set_assigns_a_top_level_key, "{}", "[{'type':'set','key':'a','value':1}]", "{'a':1}")        \
    X(set_replaces_a_value_where_it_stands, "{'a':1,'b':2}",                                       \
      "[{'type':'set','key':'a','value':{'x':[1,null]}}]", "{'a':{'x':[1,null]},'b':2}")           \
    X(a_key_without_the_dollar_dot_prefix_is_one_literal_member, "{}",                             \
      "[{'type':'set','key':'a.b','value':2},{'type':'set','key':'$a','value':3}]",                \
      "{'a.b':2,'$a':3}")                                                                          \
    X(set_through_a_path_writes_into_an_existing_parent, "{'a':{'z':0}}",                          \
      "[{'type':'set','key':'$.a.b','value':1}]", "{'a':{'z':0,'b':1}}")                           \
    X(set_through_a_path_does_not_create_missing_parents, "{}",                                    \
      "[{'type':'set','key':'$.a.b','value':1}]", "{}")                                            \
    X(set_through_a_path_never_overwrites_a_null, "{'a':null}",                                    \
      "[{'type':'set','key':'$.a','value':1}]", "{'a':null}")                                      \
    X(set_through_a_path_below_a_scalar_does_nothing, "{'a':5,'s':'x'}",                           \
      "[{'type':'set','key':'$.a.b','value':1},{'type':'set','key':'$.s.0','value':1}]",           \
      "{'a':5,'s':'x'}")                                                                           \
    X(a_path_index_past_the_end_pads_the_array_with_nulls, "{'a':[1]}",                            \
      "[{'type':'set','key':'$.a.3','value':1},{'type':'set','key':'$.a.2','value':2}]",           \
      "{'a':[1,null,2,1]}")                                                                        \
    X(setting_an_array_length_through_a_path_truncates_it, "{'a':[1,2,3]}",                        \
      "[{'type':'set','key':'$.a.length','value':'1'}]", "{'a':[1]}")                              \
    X(setting_an_invalid_array_length_is_rejected, "{'a':[1,2,3]}",                                \
      "[{'type':'set','key':'$.a.length','value':-1}]", INVALID)                                   \
    X(a_non_index_key_on_an_array_is_not_written_out, "{'a':[1]}",                                 \
      "[{'type':'set','key':'$.a.x','value':1}]", "{'a':[1]}")                                     \
    X(a_wildcard_sets_every_member, "{'a':{'x':1,'y':2},'l':[1,2]}",                               \
      "[{'type':'set','key':'$.a.*','value':0},{'type':'set','key':'$.l.*','value':'z'}]",         \
      "{'a':{'x':0,'y':0},'l':['z','z']}")                                                         \
    X(a_value_set_through_a_wildcard_is_one_value_shared_by_all, "{'a':[{},{'y':2}]}",             \
      "[{'type':'set','key':'$.a.*.x','value':{'k':1}},"                                           \
      "{'type':'set','key':'$.a.0.x.k','value':5}]",                                               \
      "{'a':[{'x':{'k':5}},{'y':2,'x':{'k':5}}]}")                                                 \
    X(a_wildcard_reaching_a_null_and_reading_on_is_rejected, "{'a':[1,null,3]}",                   \
      "[{'type':'set','key':'$.a.*.x','value':1}]", INVALID)                                       \
    X(an_open_slice_selects_the_tail_of_an_array, "{'a':[1,2,3,4]}",                               \
      "[{'type':'set','key':'$.a.[1:]','value':0}]", "{'a':[1,0,0,0]}")                            \
    X(a_negative_slice_end_counts_from_the_end, "{'a':[1,2,3,4]}",                                 \
      "[{'type':'set','key':'$.a.[1:-1]','value':0}]", "{'a':[1,0,0,4]}")                          \
    X(a_slice_ending_in_a_bare_minus_selects_nothing, "{'a':[1,2,3,4]}",                           \
      "[{'type':'set','key':'$.a.[1:-]','value':0}]", "{'a':[1,2,3,4]}")                           \
    X(an_escaped_dot_reads_the_dotted_member_but_writes_through_the_split_path,                    \
      "{'a.b':1,'a':{}}", "[{'type':'set','key':'$.a\\\\.b','value':2}]", "{'a.b':1,'a':{'b':2}}") \
    X(an_escaped_dot_without_the_split_parent_is_rejected, "{'a.b':1}",                            \
      "[{'type':'set','key':'$.a\\\\.b','value':2}]", INVALID)                                     \
    X(the_root_path_fails_without_a_path_member, "{}", "[{'type':'set','key':'$.','value':0}]",    \
      INVALID)                                                                                     \
    X(the_root_path_does_nothing_with_a_plain_path_member, "{'path':'x'}",                         \
      "[{'type':'set','key':'$.','value':0},{'type':'increment','key':'$..','value':1}]",          \
      "{'path':'x'}")                                                                              \
    X(a_non_index_property_of_an_array_is_read_back_within_the_list, "{'a':[1],'o':{}}",           \
      "[{'type':'set','key':'$.a.x','value':7},{'type':'increment','key':'$.*.x','value':1}]",     \
      "{'a':[1],'o':{'x':8}}")                                                                     \
    X(writing_a_read_only_property_of_a_function_is_rejected, "{'':{'constructor':[1]}}",          \
      "[{'type':'increment','key':'$.*.*.length','value':1}]", INVALID)                            \
    /* delete */                                                                                   \
    X(delete_removes_a_key_and_ignores_a_missing_one, "{'a':1,'b':2}",                             \
      "[{'type':'delete','key':'a'},{'type':'delete','key':'zz'}]", "{'b':2}")                     \
    X(delete_takes_a_dollar_key_literally, "{'$.a':1,'a':2}", "[{'type':'delete','key':'$.a'}]",   \
      "{'a':2}")                                                                                   \
    /* append */                                                                                   \
    X(append_to_a_missing_key_makes_a_one_item_array, "{}",                                        \
      "[{'type':'append','key':'l','value':{'x':1}}]", "{'l':[{'x':1}]}")                          \
    X(append_pushes_onto_an_array, "{'l':[1]}",                                                    \
      "[{'type':'append','key':'l','value':2},{'type':'append','key':'l','value':[3]}]",           \
      "{'l':[1,2,[3]]}")                                                                           \
    X(append_to_a_non_array_makes_a_two_item_array, "{'s':'a','z':null}",                          \
      "[{'type':'append','key':'s','value':'b'},{'type':'append','key':'z','value':1}]",           \
      "{'s':['a','b'],'z':[null,1]}")                                                              \
    X(append_to_an_inherited_method_name_keeps_the_function_as_null, "{}",                         \
      "[{'type':'append','key':'toString','value':0}]", "{'toString':[null,0]}")                   \
    X(append_through_a_path_to_a_missing_leaf_makes_a_one_item_array, "{'a':{}}",                  \
      "[{'type':'append','key':'$.a.l','value':1},{'type':'append','key':'$.a.l','value':2}]",     \
      "{'a':{'l':[1,2]}}")                                                                         \
    X(append_through_a_path_with_a_missing_parent_does_nothing, "{}",                              \
      "[{'type':'append','key':'$.a.l','value':1}]", "{}")                                         \
    X(append_through_a_path_to_a_null_does_nothing, "{'a':null}",                                  \
      "[{'type':'append','key':'$.a','value':1}]", "{'a':null}")                                   \
    X(append_through_a_path_to_a_scalar_makes_a_two_item_array, "{'a':{'n':1}}",                   \
      "[{'type':'append','key':'$.a.n','value':2}]", "{'a':{'n':[1,2]}}")                          \
    X(append_through_a_wildcard_flattens_nested_arrays, "{'a':{'x':[[1],[2]]}}",                   \
      "[{'type':'append','key':'$.a.*','value':9}]", "{'a':{'x':[1,2,9]}}")                        \
    /* remove */                                                                                   \
    X(remove_drops_every_deep_equal_item, "{'l':[{'x':1,'y':[2]},{'x':2},{'y':[2],'x':1}]}",       \
      "[{'type':'remove','key':'l','value':{'y':[2],'x':1}}]", "{'l':[{'x':2}]}")                  \
    X(remove_compares_numbers_by_value_and_nothing_else_across_types, "{'l':[1,1.0,'1',true]}",    \
      "[{'type':'remove','key':'l','value':1}]", "{'l':['1',true]}")                               \
    X(remove_from_a_missing_or_non_array_key_changes_nothing, "{'n':5}",                           \
      "[{'type':'remove','key':'n','value':5},{'type':'remove','key':'m','value':5}]", "{'n':5}")  \
    X(remove_needs_an_equal_own_constructor_member,                                                \
      "{'l':[{'constructor':1},{'constructor':{}}]}",                                              \
      "[{'type':'remove','key':'l','value':{'constructor':1}},"                                    \
      "{'type':'remove','key':'l','value':{'constructor':{}}}]",                                   \
      "{'l':[{'constructor':{}}]}")                                                                \
    X(remove_through_a_path, "{'a':{'l':['x','y','x']}}",                                          \
      "[{'type':'remove','key':'$.a.l','value':'x'}]", "{'a':{'l':['y']}}")                        \
    /* increment */                                                                                \
    X(increment_starts_a_missing_key_at_zero, "{}",                                                \
      "[{'type':'increment','key':'n','value':2},{'type':'increment','key':'n','value':3}]",       \
      "{'n':5}")                                                                                   \
    X(increment_counts_a_non_number_as_zero, "{'s':'7','b':true}",                                 \
      "[{'type':'increment','key':'s','value':1},{'type':'increment','key':'b','value':1}]",       \
      "{'s':1,'b':1}")                                                                             \
    X(increment_by_fractions_can_give_a_whole_number, "{'n':1}",                                   \
      "[{'type':'increment','key':'n','value':1.5},{'type':'increment','key':'n','value':0.25}]",  \
      "{'n':2.75}")                                                                                \
    X(a_whole_sum_of_fractions_is_written_as_an_integer, "{'n':1}",                                \
      "[{'type':'increment','key':'n','value':1.5},{'type':'increment','key':'n','value':0.5}]",   \
      "{'n':3}")                                                                                   \
    X(decrement_is_a_negative_increment_through_a_path, "{'a':{'n':5}}",                           \
      "[{'type':'increment','key':'$.a.n','value':-2}]", "{'a':{'n':3}}")                          \
    X(increment_through_a_path_with_a_missing_parent_does_nothing, "{}",                           \
      "[{'type':'increment','key':'$.a.n','value':1}]", "{}")                                      \
    X(increment_past_the_largest_double_stays_infinite_and_is_written_as_null, "{'n':1e308}",      \
      "[{'type':'increment','key':'n','value':1e308},{'type':'increment','key':'n','value':-"      \
      "1e308}]",                                                                                   \
      "{'n':null}")                                                                                \
    X(increment_of_an_array_length_grows_it_with_nulls, "{'l':[1]}",                               \
      "[{'type':'increment','key':'$.l.length','value':2}]", "{'l':[1,null,null]}")                \
    /* update */                                                                                   \
    X(update_replaces_the_whole_object_for_the_operations_after_it, "{'a':1}",                     \
      "[{'type':'update','value':{'b':[1]}},{'type':'append','key':'b','value':2}]",               \
      "{'b':[1,2]}")                                                                               \
    X(update_drops_only_a_top_level_proto_member, "{}",                                            \
      "[{'type':'update','value':{'__proto__':1,'b':{'__proto__':2}}}]", "{'b':{'__proto__':2}}")  \
    X(set_values_lose_proto_members_at_every_depth, "{}",                                          \
      "[{'type':'set','key':'a','value':{'__proto__':1,'b':[{'__proto__':2,'c':3}]}}]",            \
      "{'a':{'b':[{'c':3}]}}")                                                                     \
    /* the result as JSON.stringify writes it */                                                   \
    X(integer_like_keys_come_first_as_in_javascript, "{'b':1,'1':2,'a':3,'0':4}",                  \
      "[{'type':'append','key':'$.*','value':9}]", "{'0':[4,9],'1':[4,9],'b':[4,9],'a':[4,9]}")    \
    X(integral_reals_are_written_as_integers, "{'n':3.0,'m':0.5}",                                 \
      "[{'type':'set','key':'x','value':1}]", "{'n':3,'m':0.5,'x':1}")                             \
    X(metadata_made_to_contain_itself_is_rejected, "{'a':{},'a.x':0}",                             \
      "[{'type':'set','key':'$.*','value':{}}]", INVALID)                                          \
    X(a_cycle_a_later_operation_removes_is_fine, "{'a':{},'a.x':0}",                               \
      "[{'type':'set','key':'$.*','value':{}},{'type':'delete','key':'a'}]", "{'a.x':0}")          \
    /* the route's parse */                                                                        \
    X(an_unknown_operation_type_is_rejected, "{}", "[{'type':'frobnicate','key':'a','value':1}]",  \
      INVALID)                                                                                     \
    X(decrement_is_not_an_operation_type, "{'n':1}", "[{'type':'decrement','key':'n','value':1}]", \
      INVALID)                                                                                     \
    X(an_operation_without_a_type_is_rejected, "{}", "[{'key':'a','value':1}]", INVALID)           \
    X(an_operation_without_a_key_is_rejected, "{}", "[{'type':'set','value':1}]", INVALID)         \
    X(a_non_string_key_is_rejected, "{}", "[{'type':'delete','key':1}]", INVALID)                  \
    X(set_without_a_value_is_rejected, "{}", "[{'type':'set','key':'a'}]", INVALID)                \
    X(increment_by_a_string_is_rejected, "{}", "[{'type':'increment','key':'a','value':'1'}]",     \
      INVALID)                                                                                     \
    X(increment_by_null_is_rejected, "{}", "[{'type':'increment','key':'a','value':null}]",        \
      INVALID)                                                                                     \
    X(update_with_an_array_is_rejected, "{}", "[{'type':'update','value':[1]}]", INVALID)          \
    X(update_with_null_is_rejected, "{}", "[{'type':'update','value':null}]", INVALID)             \
    X(an_operation_that_is_not_an_object_is_rejected, "{}", "[1]", INVALID)                        \
    X(one_malformed_operation_rejects_the_whole_list, "{'a':1}",                                   \
      "[{'type':'set','key':'a','value':2},{'type':'set'}]", INVALID)                              \
    /* ours only */                                                                                \
    X(proto_is_a_forbidden_key, "{}", "[{'type':'set','key':'__proto__','value':{}}]", FORBIDDEN)  \
    X(constructor_is_a_forbidden_key, "{}",                                                        \
      "[{'type':'increment','key':'constructor','value':1}]", FORBIDDEN)                           \
    X(prototype_is_a_forbidden_key, "{}", "[{'type':'delete','key':'prototype'}]", FORBIDDEN)      \
    X(a_forbidden_member_name_inside_a_path_is_rejected, "{'a':{}}",                               \
      "[{'type':'set','key':'$.a.__proto__.polluted','value':1}]", FORBIDDEN)                      \
    X(a_forbidden_name_as_the_first_path_member_is_rejected, "{}",                                 \
      "[{'type':'append','key':'$.constructor','value':1}]", FORBIDDEN)                            \
    X(a_path_index_beyond_any_storable_size_is_refused, "{'a':[]}",                                \
      "[{'type':'set','key':'$.a.99999999','value':1}]", TOO_LARGE)

/* s with every ' turned into ". Caller frees. */
static char *dq(const char *s)
{
    char *t = strdup(s);
    cr_assert_not_null(t);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    return t;
}

static json_t *load(const char *text)
{
    char *t = dq(text);
    json_error_t je;
    json_t *v = json_loads(t, 0, &je);
    cr_assert_not_null(v, "bad JSON in a test: %s (%s)", t, je.text);
    free(t);
    return v;
}

/* Applies ops to md (JSON texts); *out gets the result as compact JSON, or
 * NULL on failure. Caller frees *out. */
static int apply(const char *md, const char *ops, char **out, err_t *e)
{
    json_t *m = load(md), *o = load(ops);
    int rc = metadata_apply(m, o, e);
    *out = rc ? NULL : json_dumps(m, JSON_COMPACT);
    json_decref(m);
    json_decref(o);
    return rc;
}

static void expect(const char *md, const char *ops, const char *want)
{
    err_t e = {0};
    char *got;
    int rc = apply(md, ops, &got, &e);
    if (want[0] != '!') {
        char *w = dq(want);
        cr_assert_eq(rc, 0, "failed: %s", e.msg);
        cr_assert_str_eq(got, w);
        free(w);
    } else {
        int code = strcmp(want, TOO_LARGE) == 0 ? ERR_TOO_LARGE : ERR_INVALID;
        cr_assert_eq(rc, code, "got %d (%s), want %s", rc, got ? got : e.msg, want);
        cr_assert_eq(e.code, code);
        cr_assert_neq(e.msg[0], '\0', "an error needs a message");
        if (strcmp(want, FORBIDDEN) == 0)
            cr_assert(strstr(e.msg, "not allowed"), "message: %s", e.msg);
    }
    free(got);
}

#define AS_TEST(name, md, ops, want)                                                               \
    Test(metadata, name)                                                                           \
    {                                                                                              \
        expect(md, ops, want);                                                                     \
    }
CASES(AS_TEST)

Test(metadata, failures_leave_the_metadata_untouched)
{
    static const char *const bad[] = {
        "[{'type':'set','key':'a','value':2},{'type':'increment','key':'a','value':'x'}]",
        "[{'type':'set','key':'a','value':2},{'type':'set','key':'$.l.length','value':'x'}]",
        "[{'type':'delete','key':'l'},{'type':'set','key':'$.*','value':{}}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *m = load("{'a':1,'l':[1,2],'a.x':0}"), *o = load(bad[i]);
        json_t *before = json_deep_copy(m);
        err_t e = {0};
        cr_assert_eq(metadata_apply(m, o, &e), ERR_INVALID, "case %zu", i);
        cr_assert(json_equal(m, before), "case %zu changed the metadata", i);
        json_decref(m);
        json_decref(o);
        json_decref(before);
    }
}

Test(metadata, no_operations_change_nothing)
{
    json_t *m = load("{'b':1.5,'a':3.0}"), *o = json_array();
    err_t e = {0};
    cr_assert_eq(metadata_apply(m, NULL, &e), 0);
    cr_assert_eq(metadata_apply(m, o, &e), 0);
    cr_assert_eq(json_real_value(json_object_get(m, "a")), 3.0, "left as it was");
    json_decref(m);
    json_decref(o);
}

Test(metadata, metadata_must_be_an_object_and_operations_an_array)
{
    json_t *arr = json_array(), *obj = json_object(), *op = load("{'type':'delete','key':'a'}");
    err_t e = {0};
    cr_assert_eq(metadata_apply(arr, arr, &e), ERR_INVALID);
    cr_assert_eq(metadata_apply(obj, op, &e), ERR_INVALID);
    cr_assert_eq(metadata_apply(obj, op, NULL), ERR_INVALID, "a NULL err_t is fine");
    json_decref(arr);
    json_decref(obj);
    json_decref(op);
}

Test(metadata, a_forbidden_key_is_named_in_the_message)
{
    err_t e = {0};
    char *got;
    cr_assert_eq(apply("{}", "[{'type':'set','key':'$.x.prototype','value':1}]", &got, &e),
                 ERR_INVALID);
    cr_assert(strstr(e.msg, "prototype"), "message: %s", e.msg);
    cr_assert(strstr(e.msg, "operations[0]"), "message: %s", e.msg);
}

Test(metadata, a_malformed_operation_is_located_in_the_message)
{
    err_t e = {0};
    char *got;
    cr_assert_eq(
        apply("{}", "[{'type':'delete','key':'a'},{'type':'increment','key':'a'}]", &got, &e),
        ERR_INVALID);
    cr_assert(strstr(e.msg, "operations[1].value"), "message: %s", e.msg);
}

Test(metadata, operations_too_costly_to_apply_are_refused)
{
    /* each remove copies the whole array: 2^23 items copied at most */
    json_t *m = json_pack("{s:[]}", "l"), *o = json_array();
    for (int i = 0; i < 100000; i++)
        json_array_append_new(json_object_get(m, "l"), json_integer(i));
    for (int i = 0; i < 100; i++)
        json_array_append_new(
            o, json_pack("{s:s,s:s,s:i}", "type", "remove", "key", "l", "value", -1));
    err_t e = {0};
    cr_assert_eq(metadata_apply(m, o, &e), ERR_TOO_LARGE);
    cr_assert(strstr(e.msg, "too costly"), "message: %s", e.msg);
    cr_assert_eq(json_array_size(json_object_get(m, "l")), 100000, "left as it was");
    json_decref(m);
    json_decref(o);
}

/* ---- the same rows through the real SDK ------------------------------- */

/* Mirrors the server: the route's zod parse, then applyMetadataOperations,
 * then JSON.stringify. One {md, ops} per input line, one result per output
 * line. The slice regex's shared lastIndex is reset per case (see
 * metadata.c). */
static const char sdk_script[] =
    "const { applyMetadataOperations, RunMetadataChangeOperation } = "
    "require('@trigger.dev/core/v3');\n"
    "const { z } = require('zod');\n"
    "const Slice = require('@jsonhero/path/lib/path/slice-path-component').SlicePathComponent;\n"
    "const Ops = z.array(RunMetadataChangeOperation);\n"
    "require('readline').createInterface({ input: process.stdin }).on('line', (line) => {\n"
    "  Slice.regex.lastIndex = 0;\n"
    "  const c = JSON.parse(line);\n"
    "  const p = Ops.safeParse(c.ops);\n"
    "  let out;\n"
    "  if (!p.success) out = { error: 'invalid' };\n"
    "  else try { out = { ok: JSON.parse(JSON.stringify(\n"
    "    applyMetadataOperations(c.md, p.data).newMetadata)) }; }\n"
    "  catch (e) { out = { error: String(e.message) }; }\n"
    "  console.log(JSON.stringify(out));\n"
    "});\n";

struct sdk_case {
    const char *name, *md, *ops, *want;
};

#define AS_ROW(name, md, ops, want) {#name, md, ops, want},
static const struct sdk_case sdk_cases[] = {CASES(AS_ROW)};

Test(metadata, every_case_agrees_with_the_sdk_under_node)
{
    const char *modules = getenv("TD_SDK_NODE_PATH");
    if (!modules || !*modules)
        cr_skip_test("TD_SDK_NODE_PATH is not set");

    char script[] = "/tmp/td-metadata-sdk-XXXXXX.js", input[] = "/tmp/td-metadata-in-XXXXXX";
    int fd = mkstemps(script, 3);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, sdk_script, sizeof sdk_script - 1), (ssize_t)(sizeof sdk_script - 1));
    close(fd);
    FILE *in = fdopen(mkstemp(input), "w");
    cr_assert_not_null(in);
    size_t n = sizeof sdk_cases / sizeof *sdk_cases;
    for (size_t i = 0; i < n; i++) {
        json_t *line =
            json_pack("{s:o,s:o}", "md", load(sdk_cases[i].md), "ops", load(sdk_cases[i].ops));
        char *s = json_dumps(line, JSON_COMPACT);
        fprintf(in, "%s\n", s);
        free(s);
        json_decref(line);
    }
    fclose(in);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "NODE_PATH='%s' node '%s' < '%s'", modules, script, input);
    FILE *out = popen(cmd, "r");
    cr_assert_not_null(out);
    char *line = NULL;
    size_t cap = 0, compared = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sdk_case *c = &sdk_cases[i];
        cr_assert(getline(&line, &cap, out) > 0, "node gave no result for %s", c->name);
        if (strcmp(c->want, FORBIDDEN) == 0 || strcmp(c->want, TOO_LARGE) == 0)
            continue; /* the SDK accepts these */
        json_t *js = json_loads(line, 0, NULL);
        cr_assert_not_null(js, "node wrote %s", line);
        err_t e = {0};
        char *got;
        int rc = apply(c->md, c->ops, &got, &e);
        json_t *ok = json_object_get(js, "ok");
        if (ok) {
            char *want = json_dumps(ok, JSON_COMPACT);
            cr_expect_eq(rc, 0, "%s: the SDK gives %s, we fail: %s", c->name, want, e.msg);
            if (!rc)
                cr_expect_str_eq(got, want, "%s differs from the SDK", c->name);
            free(want);
        } else {
            cr_expect_eq(rc, ERR_INVALID, "%s: the SDK fails (%s), we give %s", c->name,
                         json_string_value(json_object_get(js, "error")), got);
        }
        free(got);
        json_decref(js);
        compared++;
    }
    free(line);
    cr_assert_eq(pclose(out), 0, "node failed");
    unlink(script);
    unlink(input);
    cr_log_info("compared %zu cases with the SDK", compared);
}
