/*
 * tests/unit/test_jsontext.c - JSON text that JSON.parse accepts and jansson
 * alone refuses (U+0000, lone surrogates, integers past 64 bits) parses, and
 * dumps back as JSON.stringify writes it; everything else is untouched.
 * Expected texts are what node writes for JSON.stringify(JSON.parse(t)), but
 * for doubles, where jansson writes the same number in another notation.
 */
#include "util/jsontext.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Parses t, dumps it compact, and returns the text (caller frees). */
static char *round_trip(const char *t)
{
    json_error_t je;
    json_t *v = jsontext_loads(t, JSON_DECODE_ANY, &je);
    cr_assert_not_null(v, "jsontext_loads(%s): %s", t, je.text);
    char *out = jsontext_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    cr_assert_not_null(out);
    return out;
}

static void same(const char *t, const char *want)
{
    char *out = round_trip(t);
    cr_assert_str_eq(out, want, "%s round-tripped to %s, want %s", t, out, want);
    free(out);
}

Test(jsontext, nul_in_a_string_round_trips)
{
    same("\"a\\u0000b\"", "\"a\\u0000b\"");
    same("{\"k\":\"\\u0000\"}", "{\"k\":\"\\u0000\"}");
}

Test(jsontext, nul_never_reaches_c_strings)
{
    json_t *v = jsontext_loads("\"a\\u0000b\"", JSON_DECODE_ANY, NULL);
    cr_assert_not_null(v);
    cr_assert_eq(strlen(json_string_value(v)), json_string_length(v));
    json_decref(v);
}

Test(jsontext, nul_in_an_object_key_round_trips)
{
    same("{\"a\\u0000\":1}", "{\"a\\u0000\":1}");
}

Test(jsontext, lone_surrogates_round_trip_as_escapes)
{
    same("\"\\ud800\"", "\"\\ud800\"");
    same("\"\\uDFFF\"", "\"\\udfff\"");
    same("\"x\\udbffy\"", "\"x\\udbffy\"");
    same("[\"\\ud800\\ud800\"]", "[\"\\ud800\\ud800\"]");
    same("\"\\udc00\\ud800\"", "\"\\udc00\\ud800\""); /* low then high: two lone ones */
    same("\"\\ud800\\u0041\"", "\"\\ud800A\"");
}

Test(jsontext, surrogate_pairs_are_decoded_as_before)
{
    same("\"\\ud83d\\ude00\"", "\"\xF0\x9F\x98\x80\"");
}

Test(jsontext, an_escaped_backslash_is_not_an_escape)
{
    same("\"\\\\u0000\"", "\"\\\\u0000\"");
    same("\"\\\\ud800\"", "\"\\\\ud800\"");
    same("\"\\\\\\u0000\"", "\"\\\\\\u0000\"");
}

Test(jsontext, escapes_in_text_inside_a_string_stay_text)
{
    /* a serialized payload inside a request body */
    same("{\"payload\":\"{\\\"a\\\":\\\"\\\\u0000\\\\ud800\\\"}\"}",
         "{\"payload\":\"{\\\"a\\\":\\\"\\\\u0000\\\\ud800\\\"}\"}");
}

Test(jsontext, text_without_special_characters_is_unchanged)
{
    same("{\"a\":[1,2.5,\"x\",true,null,{\"b\":\"\xC3\xA9\"}]}",
         "{\"a\":[1,2.5,\"x\",true,null,{\"b\":\"\xC3\xA9\"}]}");
}

Test(jsontext, a_noncharacter_alone_passes_through)
{
    same("\"\xEF\xB7\x90x\"", "\"\xEF\xB7\x90x\"");
    same("\"\\ufdd0\"", "\"\xEF\xB7\x90\"");
}

Test(jsontext, integers_past_64_bits_read_as_doubles)
{
    same("100000000000000000000", "1e20");
    same("[-123456789012345678901]", "[-1.2345678901234568e20]");
    same("9007199254740993", "9007199254740993");
}

Test(jsontext, invalid_json_is_still_refused)
{
    const char *bad[] = {"", "{", "\"\\u00\"", "\"abc", "[1,]", "\\u0000", "{\"a\":\"\\x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_null(jsontext_loads(bad[i], JSON_DECODE_ANY, NULL), "accepted %s", bad[i]);
}

Test(jsontext, loadb_reads_only_len_bytes)
{
    json_t *v = jsontext_loadb("\"\\ud800\"garbage", 8, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(v);
    char *out = jsontext_dumps(v, JSON_ENCODE_ANY);
    cr_assert_str_eq(out, "\"\\ud800\"");
    free(out);
    json_decref(v);
}

/* ---- raw text of any depth (jsontext_valid, _member, _dumps_spliced) ---- */

static char *nest(size_t depth, const char *inner)
{
    size_t n = strlen(inner);
    char *s = malloc(2 * depth + n + 1);
    cr_assert_not_null(s);
    memset(s, '[', depth);
    memcpy(s + depth, inner, n);
    memset(s + depth + n, ']', depth);
    s[2 * depth + n] = 0;
    return s;
}

static bool valid(const char *t)
{
    return jsontext_valid(t, strlen(t));
}

Test(jsontext, valid_accepts_what_json_parse_accepts)
{
    const char *ok[] = {"1",
                        "-0",
                        "0.5e-3",
                        "1E+2",
                        " true ",
                        "false",
                        "null",
                        "\"\"",
                        "\"a\\u00e9\\n\\\"\\\\\\/\"",
                        "[]",
                        "{}",
                        " [ 1 , [ ] , { } ] ",
                        "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":\"x\"}",
                        "12345678901234567890"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_assert(valid(ok[i]), "%s should be valid", ok[i]);
}

Test(jsontext, valid_refuses_what_json_parse_refuses)
{
    const char *bad[] = {"",           " ",           "01",       "1.",         ".5",    "-",
                         "1e",         "+1",          "tru",      "nul",        "[1,]",  "[,1]",
                         "{\"a\"}",    "{\"a\":}",    "{a:1}",    "{\"a\":1,}", "[1 2]", "\"abc",
                         "\"\\x\"",    "\"\\u12g4\"", "\"a\tb\"", "[1]]",       "[[1]",  "1 2",
                         "{\"a\":1}}", "'a'",         "[1,{]}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!valid(bad[i]), "%s should be invalid", bad[i]);
}

Test(jsontext, valid_has_no_depth_limit)
{
    char *deep = nest(100000, "{\"a\":[1,{}]}");
    cr_assert(valid(deep));
    cr_assert_null(jsontext_loads(deep, JSON_DECODE_ANY, NULL), "jansson refuses it");
    deep[strlen(deep) - 1] = 0; /* one bracket short */
    cr_assert(!valid(deep));
    free(deep);
}

Test(jsontext, member_finds_a_top_level_value_span)
{
    const char *t = " { \"meta\" : {\"json\":1} , \"json\" : [ [2] ] } ";
    size_t off = 0, len = 0;
    cr_assert(jsontext_member(t, strlen(t), "json", &off, &len));
    cr_assert_eq(len, strlen("[ [2] ]"));
    cr_assert(strncmp(t + off, "[ [2] ]", len) == 0);
    cr_assert(!jsontext_member(t, strlen(t), "js", &off, &len));
    cr_assert(!jsontext_member("[1]", 3, "json", &off, &len));
    cr_assert(!jsontext_member("{}", 2, "json", &off, &len));
}

Test(jsontext, spliced_dump_writes_the_text_in_place_of_its_placeholder)
{
    json_t *o =
        json_pack("{s:s,s:s,s:s}", "a", "PH1", "b", "keep PH1", "c", "\xEF\xB7\x90\xEE\xA0\x80");
    const char *raw = "[[\"x\xEF\xB7\x90\xEE\x80\x80\"]]"; /* a lone \ud800 held as its pair */
    jsontext_splice sp = {.placeholder = "PH1", .text = raw, .len = strlen(raw)};
    char *out = jsontext_dumps_spliced(o, JSON_COMPACT | JSON_PRESERVE_ORDER, &sp, 1);
    cr_assert_str_eq(out, "{\"a\":[[\"x\\ud800\"]],\"b\":\"keep PH1\",\"c\":\"\\u0000\"}");
    free(out);
    json_decref(o);
}
