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
