/*
 * tests/unit/test_s2wire.c - the S2 wire codec (realtime/s2wire.c): the
 * protobuf AppendInput the SDK sends (spec/s2.md 4, captured bytes), the
 * AppendAck it parses, stored headers, and S2S frames, malformed input
 * included.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "realtime/s2wire.h"

/* trimTo(5), as captured from both streamstore versions (s2.md 4) */
static const uint8_t trim5[] = {0x0a, 0x12, 0x12, 0x06, 0x12, 0x04, 0x74, 0x72, 0x69, 0x6d,
                                0x1a, 0x08, 0,    0,    0,    0,    0,    0,    0,    5};

Test(s2wire, decodes_the_captured_trim_command)
{
    s2_input in;
    cr_assert_eq(s2wire_decode_input(trim5, sizeof trim5, &in), 0);
    cr_assert_eq(in.n, 1);
    cr_assert_eq(in.recs[0].n_headers, 1);
    cr_assert_eq(in.recs[0].headers[0].name.n, 0);
    cr_assert_eq(in.recs[0].headers[0].value.n, 4);
    cr_assert(memcmp(in.recs[0].headers[0].value.p, "trim", 4) == 0);
    cr_assert_eq(in.recs[0].body.n, 8);
    cr_assert_eq(in.recs[0].body.p[7], 5);
    cr_assert(s2wire_is_command(&in.recs[0]));
    cr_assert(!in.has_match);
    s2wire_input_free(&in);
}

Test(s2wire, decodes_many_body_only_records_and_skips_unknown_fields)
{
    uint8_t buf[8000];
    size_t o = 0;
    for (int i = 0; i < 300; i++) {
        buf[o++] = 0x0a; /* records */
        buf[o++] = 5;
        buf[o++] = 0x1a; /* body */
        buf[o++] = 3;
        buf[o++] = 'a';
        buf[o++] = 'b';
        buf[o++] = (uint8_t)('0' + i % 10);
    }
    buf[o++] = 0x10; /* match_seq_num = 300 */
    buf[o++] = 0xac;
    buf[o++] = 0x02;
    buf[o++] = 0x78; /* field 15, varint: unknown */
    buf[o++] = 1;
    s2_input in;
    cr_assert_eq(s2wire_decode_input(buf, o, &in), 0);
    cr_assert_eq(in.n, 300);
    cr_assert_eq(in.recs[299].body.n, 3);
    cr_assert_eq(in.recs[299].body.p[2], '9');
    cr_assert(in.has_match);
    cr_assert_eq(in.match_seq, 300);
    s2wire_input_free(&in);
}

Test(s2wire, rejects_truncated_and_malformed_protobuf)
{
    s2_input in;
    cr_assert_eq(s2wire_decode_input(trim5, sizeof trim5 - 1, &in), -1);
    cr_assert_eq(in.n, 0);
    static const uint8_t badvarint[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(s2wire_decode_input(badvarint, sizeof badvarint, &in), -1);
    static const uint8_t group[] = {0x0b};
    cr_assert_eq(s2wire_decode_input(group, sizeof group, &in), -1);
    static const uint8_t field0[] = {0x00, 0x01};
    cr_assert_eq(s2wire_decode_input(field0, sizeof field0, &in), -1);
    cr_assert_eq(s2wire_decode_input(NULL, 0, &in), 0); /* empty: no records */
    cr_assert_eq(in.n, 0);
}

Test(s2wire, ack_always_carries_start_and_end_even_when_zero)
{
    s2_ack a = {{0, 0}, {0, 0}, {0, 0}};
    uint8_t out[S2WIRE_ACK_MAX];
    size_t n = s2wire_encode_ack(&a, out);
    static const uint8_t want[] = {0x0a, 0, 0x12, 0, 0x1a, 0};
    cr_assert_eq(n, sizeof want);
    cr_assert(memcmp(out, want, n) == 0);
}

Test(s2wire, ack_encodes_positions_as_varints)
{
    s2_ack a = {{4, 1712150400000}, {300, 1712150400000}, {300, 1712150400000}};
    uint8_t out[S2WIRE_ACK_MAX];
    size_t n = s2wire_encode_ack(&a, out);
    cr_assert_eq(out[0], 0x0a);
    cr_assert_eq(out[2], 0x08);
    cr_assert_eq(out[3], 4);
    cr_assert_eq(out[4], 0x10); /* timestamp follows */
    /* end: seq 300 = ac 02 */
    size_t i = 2 + out[1];
    cr_assert_eq(out[i], 0x12);
    cr_assert_eq(out[i + 2], 0x08);
    cr_assert_eq(out[i + 3], 0xac);
    cr_assert_eq(out[i + 4], 0x02);
    cr_assert(n < S2WIRE_ACK_MAX);
}

static void collect(void *ud, s2_bytes name, s2_bytes value)
{
    char *out = ud;
    strncat(out, (const char *)name.p, name.n);
    strcat(out, "=");
    strncat(out, (const char *)value.p, value.n);
    strcat(out, ";");
}

Test(s2wire, stored_headers_round_trip_with_empty_names)
{
    s2_header h[] = {{{(const uint8_t *)"", 0}, {(const uint8_t *)"trim", 4}},
                     {{(const uint8_t *)"trigger-control", 15}, {(const uint8_t *)"turn", 4}}};
    size_t len;
    uint8_t *enc = s2wire_encode_headers(h, 2, &len);
    char out[128] = "";
    cr_assert_eq(s2wire_headers_each(enc, len, collect, out), 0);
    cr_assert_str_eq(out, "=trim;trigger-control=turn;");
    cr_assert_eq(s2wire_headers_each(enc, len - 1, collect, out), -1);
    free(enc);
    cr_assert_null(s2wire_encode_headers(h, 0, &len));
    cr_assert_eq(len, 0);
}

Test(s2wire, metered_size_counts_headers_twice_plus_eight)
{
    s2_header h[] = {{{(const uint8_t *)"ab", 2}, {(const uint8_t *)"cde", 3}}};
    s2_record r = {.headers = h, .n_headers = 1, .body = {(const uint8_t *)"xyz", 3}};
    cr_assert_eq(s2wire_metered(&r), 8 + 2 + 5 + 3);
    cr_assert(!s2wire_is_command(&r));
}

Test(s2wire, frames_parse_whole_partial_and_oversized)
{
    uint8_t f[16];
    s2wire_frame_prefix(f, 3, 0);
    memcpy(f + 4, "abc", 3);
    uint8_t flags;
    s2_bytes p;
    cr_assert_eq(s2wire_frame_parse(f, 7, &flags, &p), 7);
    cr_assert_eq(flags, 0);
    cr_assert_eq(p.n, 3);
    cr_assert(memcmp(p.p, "abc", 3) == 0);
    for (size_t n = 0; n < 7; n++)
        cr_assert_eq(s2wire_frame_parse(f, n, &flags, &p), 0);
    static const uint8_t zero[] = {0, 0, 0, 0};
    cr_assert_eq(s2wire_frame_parse(zero, 4, &flags, &p), -1);
    static const uint8_t huge[] = {0x20, 0, 1, 0};
    cr_assert_eq(s2wire_frame_parse(huge, 4, &flags, &p), -1);
    s2wire_frame_prefix(f, 2, S2_FRAME_TERMINAL);
    cr_assert_eq(f[2], 3);
    cr_assert_eq(f[3], 0x80);
}
