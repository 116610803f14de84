/*
 * tests/unit/test_cron.c - the cron engine against the real thing: every
 * expected instant and error message in cron_expected.h was produced by
 * cron-parser 4.9.0 (the platform schedule engine's dependency) through
 * gen_cron_expected.mjs. DST cases: America/New_York and Europe/London
 * (a skipped 02:30, a repeated 01:30), Asia/Kolkata (+05:30, no DST),
 * Australia/Lord_Howe (a 30-minute DST shift).
 */
#include "engine/cron.h"

#include "util/timefmt.h"

#include <criterion/criterion.h>
#include <string.h>

struct next_case {
    const char *expr, *tz, *from, *prev;
    int n;
    const char *next[10];
};
struct err_case {
    const char *expr, *msg;
};
struct desc_case {
    const char *expr, *desc;
};
struct sweep_case {
    const char *expr, *tz;
    long long from;
    long long next[5];
};

#include "cron_expected.h"

static int64_t iso(const char *s)
{
    int64_t ms = 0;
    cr_assert_eq(time_parse_iso(s, &ms), 0, "bad iso %s", s);
    return ms;
}

Test(cron, next_and_prev_match_cron_parser_across_dst)
{
    cron_zones *z = cron_zones_new();
    for (size_t i = 0; i < sizeof next_cases / sizeof next_cases[0]; i++) {
        const struct next_case *k = &next_cases[i];
        cron_expr c;
        char err[CRON_ERR_MAX];
        cr_assert_eq(cron_parse(k->expr, &c, err), 0, "%s: %s", k->expr, err);
        int64_t at = iso(k->from), got;
        for (int j = 0; j < k->n; j++) {
            cr_assert_eq(cron_next(z, &c, k->tz, at, &got, err), 0, "%s: %s", k->expr, err);
            char s[32];
            time_format_iso(got, s);
            cr_expect_str_eq(s, k->next[j], "%s in %s from %s, step %d", k->expr,
                             k->tz ? k->tz : "UTC", k->from, j);
            at = got;
        }
        cr_assert_eq(cron_prev(z, &c, k->tz, iso(k->from), &got, err), 0);
        char s[32];
        time_format_iso(got, s);
        cr_expect_str_eq(s, k->prev, "prev of %s in %s from %s", k->expr, k->tz ? k->tz : "UTC",
                         k->from);
    }
    cron_zones_free(z);
}

Test(cron, validation_gives_the_api_messages)
{
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        char msg[CRON_ERR_MAX + 64] = "";
        int rc = cron_validate(err_cases[i].expr, msg);
        if (!err_cases[i].msg) {
            cr_expect_eq(rc, 0, "\"%s\" refused: %s", err_cases[i].expr, msg);
        } else {
            cr_expect_neq(rc, 0, "\"%s\" accepted", err_cases[i].expr);
            cr_expect_str_eq(msg, err_cases[i].msg, "\"%s\"", err_cases[i].expr);
        }
    }
}

Test(cron, zones_are_the_canonical_iana_names)
{
    cr_expect(cron_zone_valid("UTC"));
    cr_expect(cron_zone_valid("America/New_York"));
    cr_expect(cron_zone_valid("Asia/Calcutta"));
    cr_expect(cron_zone_valid("Asia/Kolkata")); /* an alias the published list lacks */
    cr_expect(cron_zone_valid("Australia/Lord_Howe"));
    cr_expect_not(cron_zone_valid("Mars/Olympus_Mons"));
    cr_expect_not(cron_zone_valid("america/new_york"));
    cr_expect_not(cron_zone_valid(""));
}

Test(cron, an_expression_that_never_matches_hits_the_loop_limit)
{
    cron_zones *z = cron_zones_new();
    cron_expr c;
    char err[CRON_ERR_MAX];
    cr_assert_eq(cron_parse("0 0 31 4,6 *", &c, err), 0, "%s", err);
    int64_t got;
    cr_expect_neq(cron_next(z, &c, NULL, 0, &got, err), 0);
    cr_expect_str_eq(err, "Invalid expression, loop limit exceeded");
    cron_zones_free(z);
}

Test(cron, descriptions_match_cronstrue)
{
    for (size_t i = 0; i < sizeof desc_cases / sizeof desc_cases[0]; i++) {
        char *buf = NULL;
        cron_describe(desc_cases[i].expr, &buf);
        cr_expect_str_eq(buf, desc_cases[i].desc, "\"%s\"", desc_cases[i].expr);
        free(buf);
    }
}

/* cronstrue throws on fewer than five space-separated parts (the API then
 * answers 500); it trims the expression first (String.prototype.trim). */
Test(cron, describe_fails_where_cronstrue_throws_and_trims_like_it)
{
    static const char *const throws[] = {"* * * *", "*\t* * * *", "*", "0 9 * * 07",
                                         "0 0 * * 99999999999L", "0 9 * * 8"};
    for (size_t i = 0; i < sizeof throws / sizeof throws[0]; i++) {
        char *buf = NULL;
        cr_expect_eq(cron_describe(throws[i], &buf), -1, "\"%s\"", throws[i]);
        free(buf);
    }
    char *a = NULL, *b = NULL;
    cr_expect_eq(cron_describe("\n30 9 * * 1-5", &a), 0);
    cr_expect_str_eq(a, "At 09:30 AM, Monday through Friday");
    cr_expect_eq(cron_describe("0 0 * * *\t", &b), 0);
    cr_expect_str_eq(b, "At 12:00 AM");
    free(a);
    free(b);
}

Test(cron, a_seeded_sweep_of_zones_and_times_matches_cron_parser)
{
    cron_zones *z = cron_zones_new();
    for (size_t i = 0; i < sizeof sweep_cases / sizeof sweep_cases[0]; i++) {
        const struct sweep_case *k = &sweep_cases[i];
        cron_expr c;
        char err[CRON_ERR_MAX];
        cr_assert_eq(cron_parse(k->expr, &c, err), 0);
        int64_t at = k->from;
        for (int j = 0; j < 5; j++) {
            cr_assert_eq(cron_next(z, &c, k->tz, at, &at, err), 0, "%s", err);
            cr_expect_eq(at, k->next[j], "%s in %s from %lld step %d: %lld", k->expr,
                         k->tz ? k->tz : "UTC", k->from, j, (long long)at);
        }
    }
    cron_zones_free(z);
}
