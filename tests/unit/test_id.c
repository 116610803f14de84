/*
 * tests/unit/test_id.c - id formats (spec/api.md section 3): cuid shape and
 * ordering, the nanoid/lower/alnum alphabets, friendly-id helpers.
 */
#include "util/id.h"

#include "util/err.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t base36_value(const char *s, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        const char *digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        v = v * 36 + (strchr(digits, s[i]) - digits);
    }
    return v;
}

static bool only_chars(const char *s, const char *allowed)
{
    return strspn(s, allowed) == strlen(s);
}

Test(id, cuid_is_c_followed_by_24_lowercase_base36_chars)
{
    char id[ID_CUID_LEN + 1];
    id_cuid(id);
    cr_assert_eq(strlen(id), 25);
    cr_assert_eq(id[0], 'c');
    cr_assert(only_chars(id + 1, "0123456789abcdefghijklmnopqrstuvwxyz"), "bad char in %s", id);
}

Test(id, cuid_starts_with_the_millisecond_clock_in_base36)
{
    char id[ID_CUID_LEN + 1];
    int64_t before = wall_ms();
    id_cuid(id);
    int64_t after = wall_ms();
    int64_t ms = base36_value(id + 1, 8);
    /* the counter may borrow a millisecond or two after a burst */
    cr_assert(ms >= before - 1 && ms <= after + 5, "ts %lld not in [%lld, %lld]", (long long)ms,
              (long long)before, (long long)after);
}

Test(id, cuids_made_in_a_burst_are_unique_and_strictly_increasing)
{
    enum { N = 20000 };
    char prev[ID_CUID_LEN + 1], cur[ID_CUID_LEN + 1];
    id_cuid(prev);
    for (int i = 0; i < N; i++) {
        id_cuid(cur);
        cr_assert(strcmp(prev, cur) < 0, "%s !< %s", prev, cur);
        memcpy(prev, cur, sizeof cur);
    }
}

enum { THREADS = 4, PER_THREAD = 3000 };

static void *mint(void *arg)
{
    char(*out)[ID_CUID_LEN + 1] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        id_cuid(out[i]);
    return NULL;
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

Test(id, cuids_minted_on_several_threads_never_collide)
{
    static char ids[THREADS * PER_THREAD][ID_CUID_LEN + 1];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, mint, ids[i * PER_THREAD]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    qsort(ids, THREADS * PER_THREAD, sizeof ids[0], cmp_ids);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        cr_assert_neq(strcmp(ids[i - 1], ids[i]), 0, "duplicate %s", ids[i]);
}

Test(id, nanoid_uses_every_char_of_its_alphabet_and_never_0_or_l)
{
    const char *alphabet = "123456789abcdefghijkmnopqrstuvwxyz";
    char buf[4001];
    id_nanoid(buf, 4000);
    cr_assert_eq(strlen(buf), 4000);
    cr_assert(only_chars(buf, alphabet));
    cr_assert_null(strchr(buf, '0'));
    cr_assert_null(strchr(buf, 'l'));
    for (const char *c = alphabet; *c; c++)
        cr_assert_not_null(strchr(buf, *c), "never produced '%c'", *c);
}

Test(id, nanoid_of_21_chars_matches_schedule_id_length)
{
    char a[22], b[22];
    id_nanoid(a, 21);
    id_nanoid(b, 21);
    cr_assert_eq(strlen(a), 21);
    cr_assert_str_neq(a, b);
}

Test(id, lower_produces_only_a_to_z)
{
    char buf[2001];
    id_lower(buf, 2000);
    cr_assert_eq(strlen(buf), 2000);
    cr_assert(only_chars(buf, "abcdefghijklmnopqrstuvwxyz"));
    cr_assert_not_null(strchr(buf, 'a'));
    cr_assert_not_null(strchr(buf, 'z'));
}

Test(id, alnum_produces_digits_and_both_cases)
{
    char buf[4001];
    id_alnum(buf, 4000);
    cr_assert(only_chars(buf, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"));
    cr_assert_not_null(strpbrk(buf, "0123456789"));
    cr_assert_not_null(strpbrk(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    cr_assert_not_null(strpbrk(buf, "abcdefghijklmnopqrstuvwxyz"));
}

Test(id, zero_length_random_strings_are_just_a_nul)
{
    char buf[1] = {'x'};
    id_alnum(buf, 0);
    cr_assert_eq(buf[0], '\0');
    buf[0] = 'x';
    id_nanoid(buf, 0);
    cr_assert_eq(buf[0], '\0');
}

Test(id, random_bytes_fill_the_whole_buffer_differently_each_time)
{
    unsigned char a[64] = {0}, b[64] = {0}, zero[64] = {0};
    id_random_bytes(a, sizeof a);
    id_random_bytes(b, sizeof b);
    cr_assert_neq(memcmp(a, b, sizeof a), 0);
    cr_assert_neq(memcmp(a, zero, sizeof a), 0);
    id_random_bytes(a, 0); /* must not crash or block */
}

Test(id, friendly_joins_prefix_and_body)
{
    char buf[64];
    cr_assert_eq(id_friendly(buf, sizeof buf, "run_", "cabc"), 0);
    cr_assert_str_eq(buf, "run_cabc");
}

Test(id, friendly_fails_when_the_result_does_not_fit)
{
    char buf[9];
    cr_assert_eq(id_friendly(buf, sizeof buf, "run_", "cabc"), 0); /* 8 chars + NUL: exact */
    cr_assert_str_eq(buf, "run_cabc");
    cr_assert_eq(id_friendly(buf, sizeof buf, "batch_", "cabc"), ERR_INVALID);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(id_friendly(buf, 0, "a", "b"), ERR_INVALID);
}

Test(id, strip_returns_the_body_after_a_matching_prefix)
{
    const char *s = "waitpoint_cabc";
    cr_assert_eq(id_strip(s, "waitpoint_"), s + 10);
    cr_assert_str_eq(id_strip(s, "waitpoint_"), "cabc");
    cr_assert_eq(id_strip(s, ""), s);
}

Test(id, strip_returns_null_for_another_or_longer_prefix)
{
    cr_assert_null(id_strip("run_cabc", "batch_"));
    cr_assert_null(id_strip("run", "run_"));
    cr_assert_null(id_strip("RUN_cabc", "run_"));
    cr_assert_null(id_strip(NULL, "run_"));
}
