/*
 * tests/unit/test_timefmt.c - ISO 8601 formatting and parsing, trigger.dev
 * durations ("1h30m", "2w", "1hr") and the delay/timeout "when" parser.
 * Expected epoch values were checked against JS `new Date(...)`.
 */
#include "util/timefmt.h"

#include "util/err.h"

#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#define S 1000LL
#define MIN (60 * S)
#define H (60 * MIN)
#define DAY (24 * H)

static int64_t iso(const char *s)
{
    int64_t ms = -42;
    int rc = time_parse_iso(s, &ms);
    cr_assert_eq(rc, 0, "time_parse_iso(\"%s\") failed", s);
    return ms;
}

static void iso_rejects(const char *s)
{
    int64_t ms = -42;
    cr_assert_eq(time_parse_iso(s, &ms), ERR_INVALID, "accepted \"%s\"", s ? s : "(null)");
    cr_assert_eq(ms, -42, "wrote *ms for \"%s\"", s ? s : "(null)");
}

static int64_t dur(const char *s)
{
    int64_t ms = -42;
    cr_assert_eq(dur_parse(s, &ms), 0, "dur_parse(\"%s\") failed", s);
    return ms;
}

static void dur_rejects(const char *s)
{
    int64_t ms = -42;
    cr_assert_eq(dur_parse(s, &ms), ERR_INVALID, "accepted \"%s\"", s ? s : "(null)");
    cr_assert_eq(ms, -42);
}

Test(timefmt, now_ms_tracks_the_wall_clock)
{
    int64_t a = (int64_t)time(NULL) * 1000;
    int64_t now = time_now_ms();
    cr_assert(now >= a && now < a + 2000);
}

Test(timefmt, format_iso_writes_utc_with_milliseconds_and_z)
{
    char out[32];
    time_format_iso(0, out);
    cr_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
    time_format_iso(1735787045678LL, out);
    cr_assert_str_eq(out, "2025-01-02T03:04:05.678Z");
    time_format_iso(1709164800000LL + 23 * H + 59 * MIN + 59 * S + 999, out);
    cr_assert_str_eq(out, "2024-02-29T23:59:59.999Z");
}

Test(timefmt, format_iso_handles_times_before_the_epoch)
{
    char out[32];
    time_format_iso(-1, out);
    cr_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
    time_format_iso(-DAY, out);
    cr_assert_str_eq(out, "1969-12-31T00:00:00.000Z");
}

Test(timefmt, format_iso_uses_expanded_years_beyond_9999_like_js)
{
    char out[32];
    time_format_iso(8640000000000000LL, out);
    cr_assert_str_eq(out, "+275760-09-13T00:00:00.000Z");
    time_format_iso(-8640000000000000LL, out);
    cr_assert_str_eq(out, "-271821-04-20T00:00:00.000Z");
    time_format_iso(253402300800000LL, out);
    cr_assert_str_eq(out, "+010000-01-01T00:00:00.000Z");
}

Test(timefmt, format_electric_is_iso_without_the_z)
{
    char out[32];
    time_format_electric(1735787045678LL, out);
    cr_assert_str_eq(out, "2025-01-02T03:04:05.678");
}

Test(timefmt, parse_iso_reads_a_utc_date_time)
{
    cr_assert_eq(iso("2025-01-02T03:04:05Z"), 1735787045000LL);
    cr_assert_eq(iso("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq(iso("1969-12-31T23:59:59.999Z"), -1);
}

Test(timefmt, parse_iso_keeps_milliseconds_of_any_fraction_length)
{
    cr_assert_eq(iso("2025-01-02T03:04:05.6Z"), 1735787045600LL);
    cr_assert_eq(iso("2025-01-02T03:04:05.67Z"), 1735787045670LL);
    cr_assert_eq(iso("2025-01-02T03:04:05.678Z"), 1735787045678LL);
    cr_assert_eq(iso("2025-01-02T03:04:05.1234567Z"), 1735787045123LL); /* truncated, as V8 */
}

Test(timefmt, parse_iso_applies_numeric_offsets)
{
    cr_assert_eq(iso("2025-01-02T03:04:05+05:30"), 1735767245000LL);
    cr_assert_eq(iso("2025-01-02T03:04:05+0530"), 1735767245000LL);
    cr_assert_eq(iso("2025-01-02T03:04:05-08:00"), 1735787045000LL + 8 * H);
    cr_assert_eq(iso("2025-01-02T03:04:05-00:00"), 1735787045000LL);
    cr_assert_eq(iso("2025-01-02T03:04:05.500+01:00"), 1735787045500LL - H);
}

Test(timefmt, parse_iso_accepts_a_bare_date_as_utc_midnight)
{
    cr_assert_eq(iso("2025-01-02"), 1735776000000LL);
    cr_assert_eq(iso("2024-02-29"), 1709164800000LL);
    cr_assert_eq(iso("2025-01"), 1735689600000LL);
    cr_assert_eq(iso("2025"), 1735689600000LL);
}

Test(timefmt, parse_iso_accepts_the_variants_js_date_accepts)
{
    cr_assert_eq(iso("2025-01-02T03:04Z"), 1735787040000LL);
    cr_assert_eq(iso("2025-01-02t03:04:05z"), 1735787045000LL);
    cr_assert_eq(iso("2025-01-02 03:04:05Z"), 1735787045000LL);
    cr_assert_eq(iso("2025-01-02T03:04:05"), 1735787045000LL); /* no zone: UTC */
    cr_assert_eq(iso("2025-01-02T24:00:00Z"), 1735862400000LL);
}

Test(timefmt, parse_iso_round_trips_what_format_iso_writes)
{
    int64_t samples[] = {
        0, 1, -1, 951782400000LL, 1735787045678LL, 4102444799999LL, -2208988800000LL};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char out[32];
        time_format_iso(samples[i], out);
        cr_assert_eq(iso(out), samples[i], "round trip of %s", out);
    }
}

Test(timefmt, parse_iso_rejects_impossible_fields)
{
    iso_rejects("2025-13-01");
    iso_rejects("2025-00-10");
    iso_rejects("2025-01-32");
    iso_rejects("2025-01-00");
    iso_rejects("2025-02-29"); /* not a leap year */
    iso_rejects("2100-02-29"); /* century, not a leap year */
    iso_rejects("2025-04-31");
    iso_rejects("2025-02-30"); /* V8 rolls this into March; we refuse */
    iso_rejects("2025-01-02T25:00:00Z");
    iso_rejects("2025-01-02T24:00:01Z");
    iso_rejects("2025-01-02T24:00:00.001Z");
    iso_rejects("2025-01-02T03:60:00Z");
    iso_rejects("2025-01-02T03:04:60Z");
    iso_rejects("2025-01-02T03:04:05+24:00");
    iso_rejects("2025-01-02T03:04:05+05:60");
}

Test(timefmt, parse_iso_rejects_malformed_text)
{
    iso_rejects(NULL);
    iso_rejects("");
    iso_rejects("tomorrow");
    iso_rejects("2025-1-2");
    iso_rejects("25-01-02");
    iso_rejects("2025/01/02");
    iso_rejects("2025-01-02T");
    iso_rejects("2025-01-02T03Z");
    iso_rejects("2025-01-02T03:04:05.Z");
    iso_rejects("2025-01-02T03:04:05+05");
    iso_rejects("2025-01-02T03:04:05ZZ");
    iso_rejects("2025-01-02T03:04:05Z ");
    iso_rejects(" 2025-01-02");
    iso_rejects("2025-01-02Z");
    iso_rejects("2025-01T03:04:05Z");
    iso_rejects("10s");
}

Test(timefmt, dur_parse_reads_single_units)
{
    cr_assert_eq(dur("10s"), 10 * S);
    cr_assert_eq(dur("5m"), 5 * MIN);
    cr_assert_eq(dur("2h"), 2 * H);
    cr_assert_eq(dur("1d"), DAY);
    cr_assert_eq(dur("2w"), 14 * DAY);
    cr_assert_eq(dur("0s"), 0);
}

Test(timefmt, dur_parse_treats_hr_as_hours)
{
    cr_assert_eq(dur("1hr"), H);
    cr_assert_eq(dur("3hr15m"), 3 * H + 15 * MIN);
}

Test(timefmt, dur_parse_sums_combined_parts_in_any_order)
{
    cr_assert_eq(dur("1h30m"), H + 30 * MIN);
    cr_assert_eq(dur("1w2d3h4m5s"), 7 * DAY + 2 * DAY + 3 * H + 4 * MIN + 5 * S);
    cr_assert_eq(dur("30m1h"), H + 30 * MIN);
    cr_assert_eq(dur("007s"), 7 * S);
}

Test(timefmt, dur_parse_counts_only_the_first_part_of_each_unit_like_the_server)
{
    cr_assert_eq(dur("1m2m"), MIN);
    cr_assert_eq(dur("1h2hr"), H);
}

Test(timefmt, dur_parse_rejects_milliseconds_and_other_unknown_units)
{
    dur_rejects("500ms");
    dur_rejects("1x");
    dur_rejects("1y");
    dur_rejects("1H");
    dur_rejects("1hrs");
    dur_rejects("1sec");
    dur_rejects("1 h");
}

Test(timefmt, dur_parse_rejects_malformed_numbers_and_shapes)
{
    dur_rejects(NULL);
    dur_rejects("");
    dur_rejects("10");
    dur_rejects("h");
    dur_rejects("1h30");
    dur_rejects("1.5h");
    dur_rejects("-1h");
    dur_rejects("+1h");
    dur_rejects(" 1h");
    dur_rejects("1h ");
    dur_rejects("2025-01-02");
}

Test(timefmt, dur_parse_rejects_strings_longer_than_100_chars)
{
    char s[128];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 50; i++)
        memcpy(s + 2 * i, "1s", 2); /* 100 chars: allowed */
    cr_assert_eq(dur(s), S);
    s[100] = '1';
    s[101] = 's';
    dur_rejects(s);
}

Test(timefmt, dur_parse_rejects_values_no_date_could_hold)
{
    dur_rejects("99999999999999999999999w");
    dur_rejects("14285715w"); /* just past the 8.64e15 ms range of a JS Date */
    cr_assert_eq(dur("100000000d"), 100000000 * DAY); /* exactly the limit */
    dur_rejects("100000000d1s");
}

Test(timefmt, dur_parse_simple_accepts_one_number_and_one_of_smhd)
{
    int64_t ms;
    cr_assert_eq(dur_parse_simple("30s", &ms), 0);
    cr_assert_eq(ms, 30 * S);
    cr_assert_eq(dur_parse_simple("15m", &ms), 0);
    cr_assert_eq(ms, 15 * MIN);
    cr_assert_eq(dur_parse_simple("2h", &ms), 0);
    cr_assert_eq(ms, 2 * H);
    cr_assert_eq(dur_parse_simple("30d", &ms), 0);
    cr_assert_eq(ms, 30 * DAY);
}

Test(timefmt, dur_parse_simple_rejects_everything_else)
{
    const char *bad[] = {"1w", "1h30m", "1hr", "", "h", "10", "1.5h", "-1h", "1s ", "1S", "ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = -42;
        cr_assert_eq(dur_parse_simple(bad[i], &ms), ERR_INVALID, "accepted \"%s\"", bad[i]);
        cr_assert_eq(ms, -42);
    }
    int64_t ms;
    cr_assert_eq(dur_parse_simple(NULL, &ms), ERR_INVALID);
    cr_assert_eq(dur_parse_simple("999999999999999999999d", &ms), ERR_INVALID);
}

Test(timefmt, when_adds_a_duration_to_now)
{
    int64_t at;
    cr_assert_eq(time_parse_when("1h30m", 1000000, &at), 0);
    cr_assert_eq(at, 1000000 + H + 30 * MIN);
}

Test(timefmt, when_takes_an_iso_date_as_absolute)
{
    int64_t at;
    cr_assert_eq(time_parse_when("2025-01-02T03:04:05.678Z", 1000000, &at), 0);
    cr_assert_eq(at, 1735787045678LL);
    cr_assert_eq(time_parse_when("2025-01-02", 1000000, &at), 0);
    cr_assert_eq(at, 1735776000000LL);
}

Test(timefmt, when_rejects_what_is_neither)
{
    int64_t at = -42;
    cr_assert_eq(time_parse_when("500ms", 0, &at), ERR_INVALID);
    cr_assert_eq(time_parse_when("in an hour", 0, &at), ERR_INVALID);
    cr_assert_eq(time_parse_when("2025-02-30", 0, &at), ERR_INVALID);
    cr_assert_eq(time_parse_when("", 0, &at), ERR_INVALID);
    cr_assert_eq(time_parse_when(NULL, 0, &at), ERR_INVALID);
    cr_assert_eq(at, -42);
}
