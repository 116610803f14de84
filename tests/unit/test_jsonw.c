/*
 * tests/unit/test_jsonw.c - the JSON writer writes, byte for byte, what
 * jansson's json_dumps(JSON_COMPACT) followed by jsontext's escape-pair
 * rewriting wrote before it: tricky strings (control characters, U+2028,
 * noncharacters, escape pairs, astral characters), invalid UTF-8 (refused
 * by both), reals, integer limits, and random trees of all of them.
 */
#include "util/jsonw.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the reference: jansson, then the escape pairs as escapes ---------- */

static unsigned bmp3(const unsigned char *s)
{
    if ((s[0] & 0xF0) != 0xE0 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
        return 0;
    return ((unsigned)(s[0] & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
}

/* What jsontext_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) returned before
 * the writer: json_dumps, then every U+FDD0 U+E000..U+E800 as its escape.
 * Caller frees; NULL when jansson fails. */
static char *reference(const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t)
        return NULL;
    size_t n = strlen(t);
    char *out = malloc(n * 2 + 1), *o = out;
    for (size_t i = 0; i < n;) {
        const unsigned char *s = (const unsigned char *)t + i;
        unsigned cp = i + 6 <= n && s[0] == 0xEF && s[1] == 0xB7 && s[2] == 0x90 ? bmp3(s + 3) : 0;
        if (cp >= 0xE000 && cp <= 0xE800) {
            o += sprintf(o, "\\u%04x", cp == 0xE800 ? 0 : cp - 0xE000 + 0xD800);
            i += 6;
        } else {
            *o++ = t[i++];
        }
    }
    *o = 0;
    free(t);
    return out;
}

static char *written(const json_t *v)
{
    jsonw w;
    jsonw_init(&w);
    jsonw_value(&w, v);
    return jsonw_finish(&w, NULL);
}

static void same_as_jansson(const json_t *v)
{
    char *want = reference(v), *got = written(v);
    if (!want)
        cr_assert_null(got, "jansson refused, the writer wrote %s", got);
    else
        cr_assert_str_eq(got ? got : "(null)", want);
    free(want);
    free(got);
}

/* Strings that exercise every branch of the escaping. */
static const char *const TRICKY[] = {
    "",
    "plain",
    "\"quoted\"",
    "back\\slash",
    "a/b</script>",
    "\b\f\n\r\t",
    "\x01\x02\x1f\x7f",
    "caf\xC3\xA9",
    "line\xE2\x80\xA8sep\xE2\x80\xA9para",     /* U+2028, U+2029: raw, as JSON.stringify */
    "\xEF\xBF\xBF\xEF\xBB\xBF",                /* U+FFFF, BOM */
    "emoji \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF", /* astral, U+10FFFF */
    "\xEF\xB7\x90",                            /* U+FDD0 alone */
    "\xEF\xB7\x90"
    "A",                                    /* U+FDD0 before a non-pair */
    "\xEF\xB7\x90\xEE\x80\x80",             /* pair: lone U+D800 */
    "x\xEF\xB7\x90\xEE\x8F\xBFy",           /* pair: lone U+DBFF */
    "\xEF\xB7\x90\xEE\xA0\x80",             /* pair: U+0000 */
    "\xEF\xB7\x90\xEE\xA0\x81",             /* U+E801: not a pair */
    "\xEF\xB7\x90\xEF\xB7\x90\xEE\x80\x80", /* a mark, then a pair */
    "\xEF\xB7\x90raw-placeholderish",
};

Test(jsonw, tricky_strings_are_escaped_as_jansson_escapes_them)
{
    for (size_t i = 0; i < sizeof TRICKY / sizeof *TRICKY; i++) {
        json_t *s = json_string(TRICKY[i]);
        cr_assert_not_null(s, "%zu", i);
        same_as_jansson(s);
        json_t *o = json_pack("{s:O}", TRICKY[i], s); /* as a key too */
        same_as_jansson(o);
        json_decref(o);
        json_decref(s);
    }
}

Test(jsonw, control_characters_use_short_escapes_or_uppercase_hex)
{
    for (unsigned c = 0; c < 0x20; c++) {
        char s[3] = {'a', (char)c, 0};
        json_t *v = json_stringn(s, 2);
        same_as_jansson(v);
        json_decref(v);
    }
    jsonw w = {0};
    jsonw_strn(&w, "\x00\x1f", 2);
    char *t = jsonw_finish(&w, NULL);
    cr_assert_str_eq(t, "\"\\u0000\\u001F\"");
    free(t);
}

Test(jsonw, invalid_utf8_fails_as_jansson_fails)
{
    static const char *const BAD[] = {
        "\x80",             /* a stray continuation byte */
        "\xC0\x80",         /* overlong NUL */
        "\xC1\xBF",         /* overlong */
        "\xE0\x80\x80",     /* overlong */
        "\xED\xA0\x80",     /* U+D800 encoded: a surrogate */
        "\xED\xBF\xBF",     /* U+DFFF */
        "\xF4\x90\x80\x80", /* past U+10FFFF */
        "\xF5\x80\x80\x80",
        "\xE2\x82",       /* truncated */
        "ok\xF0\x9F\x98", /* truncated at the end */
        "\xFE",
        "\xFF",
        "\xEF\xB7\x90\xED\xA0\x80", /* a mark before a surrogate */
    };
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        cr_assert_null(json_string(BAD[i]), "jansson takes %zu", i);
        json_t *v = json_string_nocheck(BAD[i]);
        same_as_jansson(v); /* both NULL */
        json_t *a = json_pack("[i,o]", 1, v);
        same_as_jansson(a);
        json_decref(a);
        jsonw w = {0};
        jsonw_obj(&w);
        jsonw_kstr(&w, "k", BAD[i]);
        jsonw_obj_end(&w);
        cr_assert_null(jsonw_finish(&w, NULL), "%zu", i);
    }
}

Test(jsonw, reals_are_formatted_as_jansson_formats_them)
{
    static const double R[] = {0.0,
                               -0.0,
                               0.1,
                               1.5,
                               -2.25,
                               100.0,
                               1e20,
                               1e21,
                               1e22,
                               1e-7,
                               1e-100,
                               1e100,
                               1e300,
                               5e-324,
                               1.7976931348623157e308,
                               123456789012345678.0,
                               0.3333333333333333,
                               2.5e-5,
                               -1e-10,
                               9007199254740993.0};
    for (size_t i = 0; i < sizeof R / sizeof *R; i++) {
        json_t *v = json_real(R[i]);
        same_as_jansson(v);
        json_decref(v);
    }
}

Test(jsonw, direct_reals_match_the_tree_form)
{
    static const double R[] = {0.25, 0.5, 1, 2, 4, 8, 16, 1e21, -3.5e-9};
    for (size_t i = 0; i < sizeof R / sizeof *R; i++) {
        jsonw w = {0};
        jsonw_real(&w, R[i]);
        char *got = jsonw_finish(&w, NULL);
        json_t *v = json_real(R[i]);
        char *want = reference(v);
        cr_assert_str_eq(got, want);
        free(got);
        free(want);
        json_decref(v);
    }
}

Test(jsonw, integers_at_the_limits)
{
    static const json_int_t I[] = {0, 1, -1, 9, 10, -10, INT64_MAX, INT64_MIN, 1000000007};
    for (size_t i = 0; i < sizeof I / sizeof *I; i++) {
        json_t *v = json_integer(I[i]);
        same_as_jansson(v);
        json_decref(v);
    }
}

Test(jsonw, containers_and_commas)
{
    json_t *v = json_pack("{s:[],s:{},s:[[],{},[1,[2,{s:null}]]],s:b,s:b,s:{s:{s:[s]}}}", "a", "b",
                          "c", "x", "d", 1, "e", 0, "f", "g", "h", "i");
    same_as_jansson(v);
    json_decref(v);
}

Test(jsonw, object_keys_keep_insertion_order_and_replacement_position)
{
    json_t *o = json_object();
    json_object_set_new(o, "z", json_integer(1));
    json_object_set_new(o, "a", json_integer(2));
    json_object_set_new(o, "m", json_integer(3));
    json_object_set_new(o, "z", json_string("again")); /* replaced in place */
    json_object_del(o, "a");
    json_object_set_new(o, "a", json_true());
    same_as_jansson(o);
    json_decref(o);
}

/* ---- random trees ------------------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static json_t *random_value(int depth)
{
    switch (next() % (depth > 4 ? 5 : 7)) {
    case 0:
        return json_string(TRICKY[next() % (sizeof TRICKY / sizeof *TRICKY)]);
    case 1: {
        uint64_t u = ((uint64_t)next() << 32 | next()) >> (next() % 64);
        return json_integer((json_int_t)u); /* negative ones too: the top bit kept */
    }
    case 2: {
        double d = (double)(int32_t)next() / (double)(next() | 1);
        return json_real(next() % 2 ? d : d * 1e15);
    }
    case 3:
        return json_boolean(next() % 2);
    case 4:
        return json_null();
    case 5: {
        json_t *a = json_array();
        for (unsigned i = next() % 5; i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = next() % 5; i > 0; i--) {
            char k[64];
            snprintf(k, sizeof k, "%s%u", TRICKY[next() % (sizeof TRICKY / sizeof *TRICKY)],
                     next() % 4);
            json_object_set_new(o, k, random_value(depth + 1));
        }
        return o;
    }
    }
}

Test(jsonw, random_trees_match_jansson)
{
    for (int i = 0; i < 3000; i++) {
        json_t *v = random_value(0);
        same_as_jansson(v);
        json_decref(v);
    }
}

Test(jsonw, jsontext_dumps_goes_through_the_writer_and_still_matches)
{
    for (int i = 0; i < 500; i++) {
        json_t *v = random_value(0);
        char *want = reference(v), *got = jsontext_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        cr_assert_str_eq(got, want);
        free(want);
        free(got);
        json_decref(v);
    }
    /* without JSON_ENCODE_ANY, a scalar is refused as jansson refuses it */
    json_t *s = json_string("x");
    cr_assert_null(jsontext_dumps(s, JSON_COMPACT));
    json_decref(s);
}

/* ---- the direct API ---------------------------------------------------- */

Test(jsonw, direct_writes_match_the_tree_they_describe)
{
    jsonw w = {0};
    jsonw_obj(&w);
    jsonw_kstr(&w, "id", "run_1\n");
    jsonw_kbool(&w, "isCached", false);
    jsonw_key(&w, "list");
    jsonw_arr(&w);
    jsonw_int(&w, -5);
    jsonw_str(&w, NULL);
    jsonw_str(&w, TRICKY[8]);
    jsonw_obj(&w);
    jsonw_obj_end(&w);
    jsonw_arr_end(&w);
    jsonw_kint(&w, "n", INT64_MIN);
    jsonw_obj_end(&w);
    size_t len;
    char *got = jsonw_finish(&w, &len);
    json_t *v = json_pack("{s:s,s:b,s:[i,n,s,{}],s:I}", "id", "run_1\n", "isCached", 0, "list", -5,
                          TRICKY[8], "n", (json_int_t)INT64_MIN);
    char *want = reference(v);
    cr_assert_str_eq(got, want);
    cr_assert_eq(len, strlen(want));
    free(got);
    free(want);
    json_decref(v);
}

Test(jsonw, raw_text_keeps_its_form_but_writes_escape_pairs_as_escapes)
{
    jsonw w = {0};
    jsonw_arr(&w);
    const char *t = "{ \"a\" : [1, 2.50e3] , \"s\":\"\xEF\xB7\x90\xEE\x80\x80|\xEF\xB7\x90|\"}";
    jsonw_raw(&w, t, strlen(t));
    jsonw_int(&w, 1);
    jsonw_arr_end(&w);
    char *got = jsonw_finish(&w, NULL);
    cr_assert_str_eq(got, "[{ \"a\" : [1, 2.50e3] , \"s\":\"\\ud800|\xEF\xB7\x90|\"},1]");
    free(got);
}

Test(jsonw, splices_replace_their_placeholders)
{
    jsontext_splice sp[2] = {{"\xEF\xB7\x90raw-1", "[ 1 ]", 5}, {"\xEF\xB7\x90raw-2", "{}", 2}};
    json_t *v = json_pack("{s:s,s:[s,s]}", "a", "\xEF\xB7\x90raw-2", "b", "\xEF\xB7\x90raw-1", "x");
    char *got = jsontext_dumps_spliced(v, JSON_COMPACT, sp, 2);
    cr_assert_str_eq(got, "{\"a\":{},\"b\":[[ 1 ],\"x\"]}");
    free(got);
    json_decref(v);
}

Test(jsonw, finish_of_nothing_is_an_empty_text_and_resets)
{
    jsonw w = {0};
    size_t len = 9;
    char *t = jsonw_finish(&w, &len);
    cr_assert_str_eq(t, "");
    cr_assert_eq(len, 0);
    free(t);
    jsonw_int(&w, 1);
    t = jsonw_finish(&w, NULL);
    cr_assert_str_eq(t, "1");
    free(t);
}
