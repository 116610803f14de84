/*
 * tests/unit/test_utf8.c - UTF-8 sequences and the lossy decoding session
 * channel appends and S2 record bodies use (what Request.text() gives).
 */
#include "util/utf8.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void expect_lossy(const char *in, size_t n, const char *want)
{
    size_t len;
    char *out = utf8_lossy(in, n, &len);
    cr_assert_eq(len, strlen(want));
    cr_assert_eq(memcmp(out, want, len), 0, "got %s", out);
    cr_assert_eq(out[len], 0);
    free(out);
}

Test(utf8, valid_text_is_unchanged)
{
    expect_lossy("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15,
                 "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
    expect_lossy("", 0, "");
}

Test(utf8, each_invalid_byte_becomes_one_replacement_character)
{
    expect_lossy("{\xff\xfe}", 4, "{\xef\xbf\xbd\xef\xbf\xbd}");
    expect_lossy("\x80", 1, "\xef\xbf\xbd");
}

Test(utf8, overlong_surrogate_and_out_of_range_sequences_are_invalid)
{
    cr_assert_eq(utf8_seq((const uint8_t *)"\xc0\x80", 2), 0);
    cr_assert_eq(utf8_seq((const uint8_t *)"\xe0\x80\x80", 3), 0);
    cr_assert_eq(utf8_seq((const uint8_t *)"\xed\xa0\x80", 3), 0); /* U+D800 */
    cr_assert_eq(utf8_seq((const uint8_t *)"\xf4\x90\x80\x80", 4), 0);
    cr_assert_eq(utf8_seq((const uint8_t *)"\xf0\x9f\x98\x80", 4), 4);
}

Test(utf8, a_sequence_cut_short_at_the_end_is_invalid)
{
    cr_assert_eq(utf8_seq((const uint8_t *)"\xe2\x82", 2), 0);
    expect_lossy("a\xe2\x82", 3, "a\xef\xbf\xbd\xef\xbf\xbd");
}
