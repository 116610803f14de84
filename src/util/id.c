/*
 * util/id.c - identifiers in the platform's formats (spec/api.md section 3).
 *
 * All randomness comes from getrandom(2). cuids carry the millisecond clock
 * in their first 8 chars and a per-process counter in the next 4, so ids
 * minted by one process sort in creation order even within a millisecond.
 */
#include "util/id.h"

#include "util/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CUID_TIME_CHARS 8
#define CUID_COUNTER_CHARS 4
#define CUID_RANDOM_CHARS (ID_CUID_LEN - 1 - CUID_TIME_CHARS - CUID_COUNTER_CHARS)
#define CUID_COUNTER_SPACE (36L * 36 * 36 * 36)

static const char BASE36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
static const char NANOID_ALPHABET[] = "123456789abcdefghijkmnopqrstuvwxyz";
static const char LOWER[] = "abcdefghijklmnopqrstuvwxyz";
static const char ALNUM[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void id_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            /* Without an entropy source every id and key we mint would be
             * guessable; refuse to run rather than degrade silently. */
            perror("getrandom");
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

/* Fills out[0..n) with uniformly random chars of alphabet (len <= 256).
 * Bytes at or above the largest multiple of len are rejected so that no
 * char is more likely than another. */
static void random_chars(char *out, size_t n, const char *alphabet, size_t len)
{
    unsigned char pool[64];
    size_t limit = 256 - (256 % len);
    size_t have = 0, used = 0;
    for (size_t i = 0; i < n;) {
        if (used == have) {
            id_random_bytes(pool, sizeof pool);
            have = sizeof pool;
            used = 0;
        }
        unsigned char b = pool[used++];
        if (b < limit)
            out[i++] = alphabet[b % len];
    }
}

/* Writes v in base 36, zero-padded to exactly width chars (the high digits
 * are dropped if v does not fit). */
static void base36_pad(char *out, uint64_t v, size_t width)
{
    for (size_t i = width; i > 0; i--) {
        out[i - 1] = BASE36[v % 36];
        v /= 36;
    }
}

static int64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The (ms, counter) pair of the last cuid. This is process-wide state by
 * necessity: ordering must hold across every caller in the process, as in
 * the original cuid. Guarded by a mutex so the counter is safe to share
 * between threads. */
static pthread_mutex_t cuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t cuid_last_ms;
static long cuid_counter;

void id_cuid(char *out)
{
    int64_t now = clock_ms();
    pthread_mutex_lock(&cuid_lock);
    if (now > cuid_last_ms) {
        cuid_last_ms = now;
        cuid_counter = 0;
    } else if (++cuid_counter >= CUID_COUNTER_SPACE) {
        /* The clock went backwards or 1.6M ids were made in one ms: borrow
         * the next millisecond so ids keep sorting after the previous one. */
        cuid_last_ms++;
        cuid_counter = 0;
    }
    int64_t ms = cuid_last_ms;
    long counter = cuid_counter;
    pthread_mutex_unlock(&cuid_lock);

    out[0] = 'c';
    base36_pad(out + 1, (uint64_t)ms, CUID_TIME_CHARS);
    base36_pad(out + 1 + CUID_TIME_CHARS, (uint64_t)counter, CUID_COUNTER_CHARS);
    random_chars(out + 1 + CUID_TIME_CHARS + CUID_COUNTER_CHARS, CUID_RANDOM_CHARS, BASE36, 36);
    out[ID_CUID_LEN] = '\0';
}

void id_nanoid(char *out, size_t n)
{
    random_chars(out, n, NANOID_ALPHABET, sizeof NANOID_ALPHABET - 1);
    out[n] = '\0';
}

void id_lower(char *out, size_t n)
{
    random_chars(out, n, LOWER, sizeof LOWER - 1);
    out[n] = '\0';
}

void id_alnum(char *out, size_t n)
{
    random_chars(out, n, ALNUM, sizeof ALNUM - 1);
    out[n] = '\0';
}

int id_friendly(char *out, size_t cap, const char *prefix, const char *body)
{
    if (cap == 0)
        return ERR_INVALID;
    int n = snprintf(out, cap, "%s%s", prefix, body);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return ERR_INVALID;
    }
    return 0;
}

const char *id_strip(const char *s, const char *prefix)
{
    if (!s || !prefix)
        return NULL;
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}
