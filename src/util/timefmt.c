/*
 * util/timefmt.c - the clock, ISO 8601 dates and trigger.dev durations.
 *
 * Dates are converted with the proleptic Gregorian day-count formulas
 * rather than timegm/gmtime so results never depend on the process time
 * zone. Durations follow the SDK/server parser (parseNaturalLanguageDuration
 * in @trigger.dev/core), quirks included; see dur_parse().
 */
#include "util/timefmt.h"

#include "util/err.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#define MS_PER_S 1000LL
#define MS_PER_MIN (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_MIN)
#define MS_PER_DAY (24 * MS_PER_H)
#define MS_PER_WEEK (7 * MS_PER_DAY)

/* The ECMA-262 time value range: a JS Date holds at most +-8.64e15 ms. A
 * longer duration could never become a valid date on the real server, and
 * the bound keeps now + duration far from int64 overflow. */
#define DUR_MAX_MS 8640000000000000LL

/* The server rejects longer duration strings outright (a ReDoS guard). */
#define DUR_MAX_LEN 100

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * MS_PER_S + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Writes v (>= 0) as exactly width decimal digits and returns the end. */
static char *put_digits(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Shared by both formatters; suffix is "Z" or "". Years outside 0..9999
 * use the expanded "+YYYYYY" form as JS Date#toISOString does, and times
 * outside the JS Date range (+-8.64e15 ms) are clamped to it, so the result
 * is at most 27 chars. */
static void format_ms(int64_t ms, char out[32], const char *suffix)
{
    if (ms > DUR_MAX_MS)
        ms = DUR_MAX_MS;
    if (ms < -DUR_MAX_MS)
        ms = -DUR_MAX_MS;
    int64_t days = ms / MS_PER_DAY;
    int64_t rem = ms % MS_PER_DAY;
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    int64_t y;
    int mo, d;
    civil_from_days(days, &y, &mo, &d);
    char *p = out;
    if (y >= 0 && y <= 9999) {
        p = put_digits(p, y, 4);
    } else {
        *p++ = y < 0 ? '-' : '+';
        p = put_digits(p, y < 0 ? -y : y, 6);
    }
    *p++ = '-';
    p = put_digits(p, mo, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, rem / MS_PER_H, 2);
    *p++ = ':';
    p = put_digits(p, rem / MS_PER_MIN % 60, 2);
    *p++ = ':';
    p = put_digits(p, rem / MS_PER_S % 60, 2);
    *p++ = '.';
    p = put_digits(p, rem % MS_PER_S, 3);
    strcpy(p, suffix);
}

void time_format_iso(int64_t ms, char out[32])
{
    format_ms(ms, out, "Z");
}

void time_format_electric(int64_t ms, char out[32])
{
    format_ms(ms, out, "");
}

/* Reads exactly n decimal digits at *p into *v and advances *p. */
static bool read_digits(const char **p, int n, int *v)
{
    int acc = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        acc = acc * 10 + (c - '0');
    }
    *p += n;
    *v = acc;
    return true;
}

/* Parses "HH:MM[:SS[.fff...]]" and the zone that may follow. The fraction
 * may have any number of digits; like V8 we keep milliseconds and truncate
 * the rest. A missing zone means UTC (the server runs with TZ=UTC). */
static bool parse_time(const char **pp, int64_t *ms_of_day, int64_t *offset_ms)
{
    const char *p = *pp;
    int h, mi, s = 0, milli = 0;
    bool frac_nonzero = false;
    if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &mi))
        return false;
    if (*p == ':') {
        p++;
        if (!read_digits(&p, 2, &s))
            return false;
        if (*p == '.') {
            p++;
            if (*p < '0' || *p > '9')
                return false;
            int nd = 0;
            for (; *p >= '0' && *p <= '9'; p++, nd++) {
                if (nd < 3)
                    milli = milli * 10 + (*p - '0');
                if (*p != '0')
                    frac_nonzero = true;
            }
            for (; nd < 3; nd++)
                milli *= 10;
        }
    }
    /* 24:00:00 is the end of the day (ISO 8601, accepted by V8). */
    bool end_of_day = h == 24 && mi == 0 && s == 0 && !frac_nonzero;
    if ((h > 23 && !end_of_day) || mi > 59 || s > 59)
        return false;

    *offset_ms = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!read_digits(&p, 2, &oh))
            return false;
        if (*p == ':')
            p++;
        if (!read_digits(&p, 2, &om) || oh > 23 || om > 59)
            return false;
        *offset_ms = sign * (oh * MS_PER_H + om * MS_PER_MIN);
    }
    *ms_of_day = h * MS_PER_H + mi * MS_PER_MIN + s * MS_PER_S + milli;
    *pp = p;
    return true;
}

int time_parse_iso(const char *s, int64_t *ms)
{
    if (!s)
        return ERR_INVALID;
    const char *p = s;
    int y, mo = 1, d = 1;
    bool full_date = false;
    if (!read_digits(&p, 4, &y))
        return ERR_INVALID;
    if (*p == '-') {
        p++;
        if (!read_digits(&p, 2, &mo))
            return ERR_INVALID;
        if (*p == '-') {
            p++;
            if (!read_digits(&p, 2, &d))
                return ERR_INVALID;
            full_date = true;
        }
    }
    /* Unlike V8 we refuse impossible calendar dates such as 2025-02-30
     * instead of rolling them over into the next month. */
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return ERR_INVALID;

    int64_t ms_of_day = 0, offset_ms = 0;
    if (full_date && (*p == 'T' || *p == 't' || *p == ' ')) {
        p++;
        if (!parse_time(&p, &ms_of_day, &offset_ms))
            return ERR_INVALID;
    }
    if (*p != '\0')
        return ERR_INVALID;
    *ms = days_from_civil(y, mo, d) * MS_PER_DAY + ms_of_day - offset_ms;
    return 0;
}

/* Unit classes in the order the server sums them. "hr" and "h" share one. */
enum { DUR_W, DUR_D, DUR_H, DUR_M, DUR_S, DUR_UNITS };

static const int64_t DUR_UNIT_MS[DUR_UNITS] = {MS_PER_WEEK, MS_PER_DAY, MS_PER_H, MS_PER_MIN,
                                               MS_PER_S};

/* Reads a run of digits; sets *big when the value exceeds DUR_MAX_MS. */
static const char *read_count(const char *p, int64_t *v, bool *big)
{
    *v = 0;
    *big = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (*v > DUR_MAX_MS / 10)
            *big = true;
        else
            *v = *v * 10 + (*p - '0');
    }
    return p;
}

/*
 * The server validates the whole string against ^(\d+(w|d|hr|h|m|s))+$ and
 * then takes the *first* number of each unit class: "1m2m" is one minute,
 * not three. Order is free ("30m1h" is valid). We do the same so a delay
 * means the same thing here as on the real platform.
 */
int dur_parse(const char *s, int64_t *ms)
{
    if (!s || !*s || strlen(s) > DUR_MAX_LEN)
        return ERR_INVALID;
    int64_t first[DUR_UNITS] = {0};
    bool seen[DUR_UNITS] = {false}, big[DUR_UNITS] = {false};
    const char *p = s;
    while (*p) {
        int64_t v;
        bool too_big;
        const char *q = read_count(p, &v, &too_big);
        if (q == p)
            return ERR_INVALID;
        int unit;
        switch (*q) {
        case 'w':
            unit = DUR_W;
            break;
        case 'd':
            unit = DUR_D;
            break;
        case 'h':
            unit = DUR_H;
            if (q[1] == 'r')
                q++;
            break;
        case 'm':
            unit = DUR_M;
            break;
        case 's':
            unit = DUR_S;
            break;
        default:
            return ERR_INVALID;
        }
        p = q + 1;
        if (!seen[unit]) {
            seen[unit] = true;
            first[unit] = v;
            big[unit] = too_big;
        }
    }
    int64_t total = 0;
    for (int u = 0; u < DUR_UNITS; u++) {
        if (!seen[u])
            continue;
        if (big[u] || first[u] > (DUR_MAX_MS - total) / DUR_UNIT_MS[u])
            return ERR_INVALID;
        total += first[u] * DUR_UNIT_MS[u];
    }
    *ms = total;
    return 0;
}

int dur_parse_simple(const char *s, int64_t *ms)
{
    if (!s)
        return ERR_INVALID;
    int64_t v;
    bool big;
    const char *q = read_count(s, &v, &big);
    if (q == s || big || q[0] == '\0' || q[1] != '\0')
        return ERR_INVALID;
    int64_t unit;
    switch (*q) {
    case 's':
        unit = MS_PER_S;
        break;
    case 'm':
        unit = MS_PER_MIN;
        break;
    case 'h':
        unit = MS_PER_H;
        break;
    case 'd':
        unit = MS_PER_DAY;
        break;
    default:
        return ERR_INVALID;
    }
    if (v > DUR_MAX_MS / unit)
        return ERR_INVALID;
    *ms = v * unit;
    return 0;
}

/* Like the server's parseDelay: a string that is a valid date is a date,
 * anything else must be a duration from now. */
int time_parse_when(const char *s, int64_t now_ms, int64_t *at_ms)
{
    int64_t v;
    if (time_parse_iso(s, &v) == 0) {
        *at_ms = v;
        return 0;
    }
    if (dur_parse(s, &v) != 0)
        return ERR_INVALID;
    if (now_ms > INT64_MAX - v)
        return ERR_INVALID;
    *at_ms = now_ms + v;
    return 0;
}
