/*
 * engine/cron.c - a port of cron-parser 4.9 (the package the platform's
 * schedule engine calls, internal-packages/schedule-engine) over luxon's
 * date arithmetic, so that next/prev land on the same instants, DST quirks
 * included: the package walks wall-clock fields one step at a time (add a
 * day, an hour, a minute, a second) and luxon resolves each local time to
 * an instant with its fixOffset guess. Only the zone's UTC offset at an
 * instant comes from outside: ICU's calendar over the tz database, with the
 * offset interval around the last lookup memoised per zone.
 */
#include "engine/cron.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

/* ---- parsing (cron-parser lib/expression.js) --------------------------- */

enum { F_SECOND, F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW };

static const struct {
    int min, max;
    bool l_ok; /* 'L' is a valid constraint char */
} constraints[6] = {{0, 59, false}, {0, 59, false}, {0, 23, false},
                    {1, 31, true},  {1, 12, false}, {0, 7, true}};

static const char *const defaults[6] = {"0", "*", "*", "*", "*", "*"};
static const int days_in_month_tbl[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

typedef struct field_acc {
    uint16_t mult[64]; /* multiplicity of each value (the package keeps duplicates) */
    char lstr[16][8];
    int n_l, n_lstr;
} field_acc;

/* JavaScript's unary + on the strings this parser can meet: "" is 0, an
 * optionally signed run of digits its value, anything else NaN. */
static double js_number(const char *s)
{
    if (!*s)
        return 0;
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!*p)
        return NAN;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return NAN;
    double v = strtod(p, NULL);
    return *s == '-' ? -v : v;
}

/* A number as JavaScript prints it (integers only reach here, or NaN). */
static const char *js_fmt(double v, char buf[32])
{
    if (isnan(v))
        return "NaN";
    snprintf(buf, 32, "%.0f", v == 0 ? 0.0 : v);
    return buf;
}

#define FAIL(...) (snprintf(err, CRON_ERR_MAX, __VA_ARGS__), -1)

static int push_num(field_acc *a, int v, int fi)
{
    (void)fi;
    if (v >= 0 && v < 64 && a->mult[v] < UINT16_MAX)
        a->mult[v]++;
    return 0;
}

static bool has_l(const char *s)
{
    return strchr(s, 'L') != NULL;
}

/* handleResult for a scalar: a string (NaN) or a number. */
static int handle_scalar(int fi, const char *str, double num, bool is_str, field_acc *a, char *err)
{
    char b1[32];
    if (is_str && constraints[fi].l_ok && has_l(str)) {
        a->n_l++;
        for (int k = 0; k < a->n_lstr; k++)
            if (a->lstr[k][0] == str[0])
                return 0;
        if (a->n_lstr < 16)
            snprintf(a->lstr[a->n_lstr++], 8, "%s", str);
        return 0;
    }
    double v = is_str ? NAN : num;
    if (isnan(v) || v < constraints[fi].min || v > constraints[fi].max) {
        if (is_str)
            return FAIL("Constraint error, got value %.100s expected range %d-%d", str,
                        constraints[fi].min, constraints[fi].max);
        return FAIL("Constraint error, got value %s expected range %d-%d", js_fmt(num, b1),
                    constraints[fi].min, constraints[fi].max);
    }
    int iv = (int)v;
    if (fi == F_DOW)
        iv %= 7;
    return push_num(a, iv, fi);
}

/* parseRange(val, repeatInterval): a range (with its step) into the field,
 * or a scalar handed to handle_scalar. */
static int parse_range(int fi, const char *val, const char *repeat, field_acc *a, char *err)
{
    char b1[32], b2[32];
    const char *dash = strchr(val, '-');
    if (!dash) {
        double v = js_number(val);
        return handle_scalar(fi, val, v, isnan(v), a, err);
    }
    char a0[128], a1[128];
    size_t l0 = (size_t)(dash - val);
    if (l0 >= sizeof a0)
        l0 = sizeof a0 - 1;
    memcpy(a0, val, l0);
    a0[l0] = 0;
    const char *rest = dash + 1;
    const char *dash2 = strchr(rest, '-');
    size_t l1 = dash2 ? (size_t)(dash2 - rest) : strlen(rest);
    if (l1 >= sizeof a1)
        l1 = sizeof a1 - 1;
    memcpy(a1, rest, l1);
    a1[l1] = 0;
    if (!a0[0]) {
        if (!a1[0])
            return FAIL("Invalid range: %.120s", val);
        return handle_scalar(fi, val, js_number(val), false, a, err);
    }
    double mn = js_number(a0), mx = js_number(a1);
    if (isnan(mn) || isnan(mx) || mn < constraints[fi].min || mx > constraints[fi].max)
        return FAIL("Constraint error, got range %s-%s expected range %d-%d", js_fmt(mn, b1),
                    js_fmt(mx, b2), constraints[fi].min, constraints[fi].max);
    if (mn > mx)
        return FAIL("Invalid range: %.120s", val);
    double step = repeat ? js_number(repeat) : 1;
    if (isnan(step) || step <= 0)
        return FAIL("Constraint error, cannot repeat at every %s time.", js_fmt(step, b1));
    /* the package's loop, phase quirk included (an already pushed value
     * advances the step counter without being pushed again) */
    uint64_t in_stack = 0;
    if (fi == F_DOW && (int)mx % 7 == 0) {
        push_num(a, 0, fi);
        in_stack |= 1;
    }
    double ri = step;
    for (int i = (int)mn; i <= (int)mx; i++) {
        bool exists = (in_stack >> i) & 1;
        if (!exists && ri > 0 && fmod(ri, step) == 0) {
            ri = 1;
            push_num(a, i, fi);
            in_stack |= 1ULL << i;
        } else {
            ri++;
        }
    }
    return 0;
}

static int parse_repeat(int fi, const char *val, field_acc *a, char *err)
{
    const char *slash = strchr(val, '/');
    if (!slash)
        return parse_range(fi, val, NULL, a, err);
    if (strchr(slash + 1, '/'))
        return FAIL("Invalid repeat: %.120s", val);
    char a0[160];
    size_t l0 = (size_t)(slash - val);
    if (l0 >= 128)
        l0 = 127;
    memcpy(a0, val, l0);
    a0[l0] = 0;
    if (!isnan(js_number(a0))) /* atoms[0] == +atoms[0] */
        snprintf(a0 + l0, sizeof a0 - l0, "-%d", constraints[fi].max);
    return parse_range(fi, a0, slash + 1, a, err);
}

static bool valid_chars(int fi, const char *v)
{
    if (!*v)
        return false;
    for (; *v; v++) {
        char c = *v;
        if (isdigit((unsigned char)c) || c == ',' || c == '*' || c == '/' || c == '-')
            continue;
        if ((fi == F_DOM || fi == F_DOW) && (c == '?' || c == 'L'))
            continue;
        if (fi == F_DOW && c == '#')
            continue;
        return false;
    }
    return true;
}

static const char *const month_alias[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_alias[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* value.replace(/[a-z]{3}/gi, alias) */
static int replace_aliases(int fi, const char *in, char *out, size_t cap, char *err)
{
    size_t o = 0;
    for (size_t i = 0; in[i];) {
        if (isalpha((unsigned char)in[i]) && isalpha((unsigned char)in[i + 1]) && in[i + 1] &&
            isalpha((unsigned char)in[i + 2])) {
            char m[4] = {(char)tolower((unsigned char)in[i]),
                         (char)tolower((unsigned char)in[i + 1]),
                         (char)tolower((unsigned char)in[i + 2]), 0};
            int v = -1;
            const char *const *tbl = fi == F_MONTH ? month_alias : dow_alias;
            int n = fi == F_MONTH ? 12 : 7;
            for (int k = 0; k < n; k++)
                if (strcmp(tbl[k], m) == 0)
                    v = fi == F_MONTH ? k + 1 : k;
            if (v < 0)
                return FAIL("Validation error, cannot resolve alias \"%s\"", m);
            o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%d", v);
            i += 3;
        } else {
            if (o + 1 < cap)
                out[o] = in[i];
            o++;
            i++;
        }
    }
    if (o >= cap)
        return FAIL("Invalid cron expression");
    out[o] = 0;
    return 0;
}

/* v1 and v2 are scratch of cap1 >= strlen(value_in) + 1 and
 * cap2 >= 5 * cap1 bytes (each wildcard widens to at most "1-31"). */
static int parse_field_in(int fi, const char *value_in, field_acc *a, char *err, char *v1,
                          size_t cap1, char *v2, size_t cap2)
{
    if (fi == F_MONTH || fi == F_DOW) {
        if (replace_aliases(fi, value_in, v1, cap1, err))
            return -1;
    } else {
        snprintf(v1, cap1, "%s", value_in);
    }
    if (!valid_chars(fi, v1))
        return FAIL("Invalid characters, got value: %.120s", v1);
    char wild = strchr(v1, '*') ? '*' : strchr(v1, '?') ? '?' : 0;
    size_t o = 0;
    for (const char *p = v1; *p && o < cap2 - 8; p++) {
        if (*p == wild)
            o += (size_t)snprintf(v2 + o, cap2 - o, "%d-%d", constraints[fi].min,
                                  constraints[fi].max);
        else
            v2[o++] = *p;
    }
    v2[o] = 0;
    /* parseSequence: a comma list of repeats, refused whole when one of
     * them is empty (before any is read) */
    if (v2[0] == ',' || (o && v2[o - 1] == ',') || strstr(v2, ",,"))
        return FAIL("Invalid list value format");
    for (const char *p = v2;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == 0)
            return FAIL("Invalid list value format");
        char atom[256];
        snprintf(atom, sizeof atom, "%.*s", (int)(len < 255 ? len : 255), p);
        if (parse_repeat(fi, atom, a, err))
            return -1;
        if (!c)
            break;
        p = c + 1;
    }
    return 0;
}

/* A field of any length: the scratch is sized to it, so a long list is
 * read whole, as the package does, never cut. */
static int parse_field(int fi, const char *value_in, field_acc *a, char *err)
{
    size_t cap1 = strlen(value_in) + 1, cap2 = 5 * cap1 + 16;
    char *v1 = malloc(cap1), *v2 = malloc(cap2);
    if (!v1 || !v2)
        abort();
    int rc = parse_field_in(fi, value_in, a, err, v1, cap1, v2, cap2);
    free(v1);
    free(v2);
    return rc;
}

static void acc_to_field(const field_acc *a, cron_field *f)
{
    memset(f, 0, sizeof *f);
    for (int v = 0; v < 64; v++) {
        if (a->mult[v]) {
            f->bits |= 1ULL << v;
            f->count += a->mult[v];
        }
    }
    f->count += a->n_l;
    f->n_l = a->n_l;
    f->n_lstr = a->n_lstr;
    memcpy(f->lstr, a->lstr, sizeof f->lstr);
}

static bool is_js_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int parse_in(const char *text, char *buf, size_t cap, cron_expr *out,
                    char err[CRON_ERR_MAX]);

/* The expression is copied whole (scratch sized to it), then read. */
int cron_parse(const char *text, cron_expr *out, char err[CRON_ERR_MAX])
{
    size_t cap = strlen(text) + 16; /* the @-shortcuts expand to 9 */
    char *buf = malloc(cap);
    if (!buf)
        abort();
    int rc = parse_in(text, buf, cap, out, err);
    free(buf);
    return rc;
}

static int parse_in(const char *text, char *buf, size_t cap, cron_expr *out,
                    char err[CRON_ERR_MAX])
{
    memset(out, 0, sizeof *out);
    static const struct {
        const char *name, *expr;
    } predefined[] = {{"@yearly", "0 0 1 1 *"},
                      {"@monthly", "0 0 1 * *"},
                      {"@weekly", "0 0 * * 0"},
                      {"@daily", "0 0 * * *"},
                      {"@hourly", "0 * * * *"}};
    for (size_t i = 0; i < sizeof predefined / sizeof predefined[0]; i++)
        if (strcmp(text, predefined[i].name) == 0)
            text = predefined[i].expr;
    /* trim, split on runs of whitespace */
    snprintf(buf, cap, "%s", text);
    char *atoms[8];
    int n = 0;
    char *p = buf;
    while (*p && is_js_space(*p))
        p++;
    char *end = p + strlen(p);
    while (end > p && is_js_space(end[-1]))
        *--end = 0;
    if (!*p) {
        atoms[n++] = p; /* "".split(/\s+/) is [""] */
    } else {
        while (*p) {
            if (n == 8)
                return FAIL("Invalid cron expression");
            atoms[n++] = p;
            while (*p && !is_js_space(*p))
                p++;
            if (*p) {
                *p++ = 0;
                while (*p && is_js_space(*p))
                    p++;
            }
        }
    }
    if (n > 6)
        return FAIL("Invalid cron expression");
    field_acc acc[6];
    memset(acc, 0, sizeof acc);
    int start = 6 - n;
    for (int i = 0; i < 6; i++) {
        const char *value = i < start ? NULL : atoms[i - start];
        if (!value || !*value) {
            if (parse_field(i, defaults[i], &acc[i], err))
                return -1;
            continue;
        }
        char *dv = (char *)value; /* points into buf, our own copy */
        if (i == F_DOW && strchr(dv, '#')) { /* parseNthDay */
            char *h = strrchr(dv, '#');
            double nth = js_number(h + 1);
            if (strchr(dv, ','))
                return FAIL("Constraint error, invalid dayOfWeek `#` and `,` special characters "
                            "are incompatible");
            if (strchr(dv, '/'))
                return FAIL("Constraint error, invalid dayOfWeek `#` and `/` special characters "
                            "are incompatible");
            if (strchr(dv, '-'))
                return FAIL("Constraint error, invalid dayOfWeek `#` and `-` special characters "
                            "are incompatible");
            if (strchr(dv, '#') != h || isnan(nth) || nth < 1 || nth > 5)
                return FAIL("Constraint error, invalid dayOfWeek occurrence number (#)");
            out->nth_dow = (int)nth;
            *strchr(dv, '#') = 0;
        }
        if (parse_field(i, dv, &acc[i], err))
            return -1;
    }
    /* _handleMaxDaysInMonth: a single month bounds the days of month */
    int n_month = 0, the_month = 0;
    for (int v = 0; v < 64; v++)
        if (acc[F_MONTH].mult[v]) {
            n_month += acc[F_MONTH].mult[v];
            the_month = v;
        }
    if (n_month == 1 && acc[F_MONTH].n_l == 0) {
        int dim = days_in_month_tbl[the_month - 1];
        int first = -1;
        for (int v = 0; v < 64 && first < 0; v++)
            if (acc[F_DOM].mult[v])
                first = v;
        if (first > dim)
            return FAIL("Invalid explicit day of month definition");
        for (int v = dim + 1; v < 64; v++)
            acc[F_DOM].mult[v] = 0;
    }
    acc_to_field(&acc[F_SECOND], &out->second);
    acc_to_field(&acc[F_MINUTE], &out->minute);
    acc_to_field(&acc[F_HOUR], &out->hour);
    acc_to_field(&acc[F_DOM], &out->dom);
    acc_to_field(&acc[F_MONTH], &out->month);
    acc_to_field(&acc[F_DOW], &out->dow);
    return 0;
}

int cron_validate(const char *text, char msg[CRON_ERR_MAX + 64])
{
    int parts = 1;
    for (const char *p = text; *p; p++)
        parts += *p == ' ';
    const char *why = NULL;
    char err[CRON_ERR_MAX];
    cron_expr c;
    if (parts > 5)
        why = "CRON expressions with seconds are not allowed";
    else if (!*text)
        why = "CRON expression is required";
    else if (cron_parse(text, &c, err) != 0)
        why = err;
    if (!why)
        return 0;
    snprintf(msg, CRON_ERR_MAX + 64, "Invalid cron expression: %.199s", why);
    return -1;
}

/* ---- zones ------------------------------------------------------------- */

typedef struct zone {
    char name[64];
    UCalendar *cal; /* NULL: UTC */
    int64_t lo, hi; /* the memoised interval [lo, hi) of constant offset */
    int64_t off;
    bool has;
} zone;

struct cron_zones {
    zone *v;
    size_t n, cap;
    zone utc;
};

cron_zones *cron_zones_new(void)
{
    cron_zones *z = calloc(1, sizeof *z);
    if (!z)
        abort();
    return z;
}

void cron_zones_free(cron_zones *z)
{
    if (!z)
        return;
    for (size_t i = 0; i < z->n; i++)
        if (z->v[i].cal)
            ucal_close(z->v[i].cal);
    free(z->v);
    free(z);
}

static zone *zone_get(cron_zones *z, const char *tz)
{
    if (!tz || strcmp(tz, "UTC") == 0)
        return &z->utc;
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->v[i].name, tz) == 0)
            return &z->v[i];
    UChar uid[128];
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(uid, 128, NULL, tz, -1, &st);
    if (U_FAILURE(st))
        return NULL;
    UCalendar *cal = ucal_open(uid, -1, "en_US", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st) || !cal)
        return NULL;
    if (z->n == z->cap) {
        z->cap = z->cap ? z->cap * 2 : 16;
        z->v = realloc(z->v, z->cap * sizeof *z->v);
        if (!z->v)
            abort();
    }
    zone *r = &z->v[z->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", tz);
    r->cal = cal;
    return r;
}

/* The zone's offset from UTC at instant ts, in ms (luxon IANAZone.offset). */
static int64_t zone_offset(zone *zn, int64_t ts)
{
    if (!zn->cal)
        return 0;
    if (zn->has && ts >= zn->lo && ts < zn->hi)
        return zn->off;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(zn->cal, (UDate)ts, &st);
    int64_t off =
        (int64_t)ucal_get(zn->cal, UCAL_ZONE_OFFSET, &st) + ucal_get(zn->cal, UCAL_DST_OFFSET, &st);
    UDate d;
    zn->lo = INT64_MIN;
    zn->hi = INT64_MAX;
    if (ucal_getTimeZoneTransitionDate(zn->cal, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, &d, &st))
        zn->lo = (int64_t)d;
    st = U_ZERO_ERROR;
    ucal_setMillis(zn->cal, (UDate)ts, &st);
    if (ucal_getTimeZoneTransitionDate(zn->cal, UCAL_TZ_TRANSITION_NEXT, &d, &st))
        zn->hi = (int64_t)d;
    if (U_FAILURE(st)) {
        zn->has = false;
        return off;
    }
    zn->off = off;
    zn->has = ts >= zn->lo && ts < zn->hi;
    return off;
}

static void each_canonical(void (*fn)(void *ud, const char *tz), void *ud)
{
    UErrorCode st = U_ZERO_ERROR;
    UEnumeration *en =
        ucal_openTimeZoneIDEnumeration(UCAL_ZONE_TYPE_CANONICAL_LOCATION, NULL, NULL, &st);
    if (U_FAILURE(st))
        return;
    const char *id;
    int32_t len;
    while ((id = uenum_next(en, &len, &st)) && U_SUCCESS(st))
        fn(ud, id);
    uenum_close(en);
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static void collect(void *ud, const char *tz)
{
    name_list *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 512;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    l->v[l->n++] = strdup(tz);
}

void cron_zones_each(void (*fn)(void *ud, const char *tz), void *ud)
{
    name_list l = {0};
    each_canonical(collect, &l);
    qsort(l.v, l.n, sizeof *l.v, cmp_strp);
    for (size_t i = 0; i < l.n; i++) {
        fn(ud, l.v[i]);
        free(l.v[i]);
    }
    free(l.v);
}

typedef struct find_ctx {
    const char *tz;
    bool found;
} find_ctx;

static void find_one(void *ud, const char *tz)
{
    find_ctx *f = ud;
    if (!f->found && strcmp(f->tz, tz) == 0)
        f->found = true;
}

bool cron_zone_valid(const char *tz)
{
    if (!tz)
        return false;
    if (strcmp(tz, "UTC") == 0)
        return true;
    find_ctx f = {tz, false};
    each_canonical(find_one, &f);
    if (f.found)
        return true;
    /* Not in the list the API publishes, which is ICU's (CLDR's) canonical
     * set: "Asia/Calcutta" is there, its IANA name "Asia/Kolkata" is not, so
     * the real API on Node 20 refuses the latter. triggerd also takes any
     * other name of a system zone (docs/schedules.md). */
    UChar uid[128], canon[128];
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(uid, 128, NULL, tz, -1, &st);
    if (U_FAILURE(st))
        return false;
    UBool system = 0;
    ucal_getCanonicalTimeZoneID(uid, -1, canon, 128, &system, &st);
    return U_SUCCESS(st) && system;
}

/* ---- luxon's DateTime, reduced to what cron-parser calls --------------- */

typedef struct lf {
    int year, month, day, hour, minute, second, ms, wday; /* wday 0 = Sunday */
} lf;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* luxon daysInMonth, month may overflow */
static int dim(int64_t year, int64_t month)
{
    int64_t mm = ((month - 1) % 12 + 12) % 12 + 1;
    int64_t yy = year + (month - mm) / 12;
    static const int t[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mm == 2 && leap(yy) ? 29 : t[mm - 1];
}

/* Date.UTC: fields may overflow */
static int64_t local_ts(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s,
                        int64_t ms)
{
    int64_t m0 = mo - 1;
    y += floor_div(m0, 12);
    m0 -= floor_div(m0, 12) * 12;
    int64_t days = days_from_civil(y, (int)m0 + 1, 1) + d - 1;
    return ((days * 24 + h) * 60 + mi) * 60000 + s * 1000 + ms;
}

static void fields_of(zone *zn, int64_t ts, lf *f)
{
    int64_t l = ts + zone_offset(zn, ts);
    int64_t days = floor_div(l, 86400000);
    int64_t rem = l - days * 86400000;
    civil_from_days(days, &f->year, &f->month, &f->day);
    f->hour = (int)(rem / 3600000);
    f->minute = (int)(rem / 60000 % 60);
    f->second = (int)(rem / 1000 % 60);
    f->ms = (int)(rem % 1000);
    f->wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
}

static int64_t fix_offset(zone *zn, int64_t local, int64_t o)
{
    int64_t guess = local - o;
    int64_t o2 = zone_offset(zn, guess);
    if (o == o2)
        return guess;
    guess -= o2 - o;
    int64_t o3 = zone_offset(zn, guess);
    if (o2 == o3)
        return guess;
    return local - (o2 < o3 ? o2 : o3);
}

typedef struct dt {
    int64_t ts;
    zone *z;
} dt;

/* plus({years, months, days}) then plus ms */
static void dt_plus(dt *d, int years, int months, int days, int64_t ms)
{
    if (years || months || days) {
        lf c;
        fields_of(d->z, d->ts, &c);
        int64_t o = zone_offset(d->z, d->ts);
        int64_t y = c.year + years, m = c.month + months;
        int day = c.day < dim(y, m) ? c.day : dim(y, m);
        int64_t l = local_ts(y, m, day + days, c.hour, c.minute, c.second, c.ms);
        d->ts = fix_offset(d->z, l, o);
    }
    d->ts += ms;
}

enum unit { U_MONTH, U_DAY, U_HOUR, U_MINUTE, U_SECOND };

static void dt_start_of(dt *d, enum unit u)
{
    lf c;
    fields_of(d->z, d->ts, &c);
    int64_t o = zone_offset(d->z, d->ts);
    switch (u) {
    case U_MONTH:
        c.day = 1; /* fall through */
    case U_DAY:
        c.hour = 0; /* fall through */
    case U_HOUR:
        c.minute = 0; /* fall through */
    case U_MINUTE:
        c.second = 0; /* fall through */
    case U_SECOND:
        c.ms = 0;
    }
    d->ts = fix_offset(d->z, local_ts(c.year, c.month, c.day, c.hour, c.minute, c.second, c.ms), o);
}

static void dt_plus_unit(dt *d, enum unit u, int n)
{
    switch (u) {
    case U_MONTH:
        dt_plus(d, 0, n, 0, 0);
        break;
    case U_DAY:
        dt_plus(d, 0, 0, n, 0);
        break;
    case U_HOUR:
        dt_plus(d, 0, 0, 0, n * 3600000LL);
        break;
    case U_MINUTE:
        dt_plus(d, 0, 0, 0, n * 60000LL);
        break;
    case U_SECOND:
        dt_plus(d, 0, 0, 0, n * 1000LL);
        break;
    }
}

static void dt_end_of(dt *d, enum unit u)
{
    dt_plus_unit(d, u, 1);
    dt_start_of(d, u);
    d->ts -= 1;
}

/* CronDate's add/subtract (cron-parser lib/date.js) */
static void cd_add(dt *d, enum unit u)
{
    int64_t prev = d->ts;
    dt_plus_unit(d, u, 1);
    dt_start_of(d, u);
    if (u == U_HOUR ? d->ts <= prev : (u != U_MONTH && u != U_DAY && d->ts < prev))
        d->ts += 3600000;
}

static void cd_sub(dt *d, enum unit u)
{
    int64_t prev = d->ts;
    dt_plus_unit(d, u, -1);
    if (u != U_SECOND)
        dt_end_of(d, u);
    dt_start_of(d, U_SECOND);
    if (u == U_HOUR ? d->ts >= prev : (u != U_MONTH && u != U_DAY && d->ts > prev))
        d->ts -= 3600000;
}

static void cd_step(dt *d, bool reverse, enum unit u)
{
    if (reverse)
        cd_sub(d, u);
    else
        cd_add(d, u);
}

/* ---- the search (CronExpression.prototype._findSchedule) --------------- */

#define LOOP_LIMIT 10000

typedef struct search {
    const cron_expr *c;
    int dst_start, dst_end; /* -1: unset */
} search;

static bool has(const cron_field *f, int v)
{
    return v >= 0 && v < 64 && ((f->bits >> v) & 1);
}

static void tz_shift(search *s, dt *d, bool reverse, enum unit u)
{
    if (u == U_MONTH || u == U_DAY) {
        int64_t prev = d->ts;
        cd_step(d, reverse, u);
        if (prev == d->ts) { /* a day that starts in a DST gap */
            lf c;
            fields_of(d->z, d->ts, &c);
            if (c.minute == 0 && c.second == 0)
                cd_add(d, U_HOUR);
            else if (c.minute == 59 && c.second == 59)
                cd_sub(d, U_HOUR);
        }
        return;
    }
    lf c;
    fields_of(d->z, d->ts, &c);
    int prev_hour = c.hour;
    cd_step(d, reverse, u);
    fields_of(d->z, d->ts, &c);
    int diff = c.hour - prev_hour;
    if (diff == 2) {
        if (s->c->hour.count != 24)
            s->dst_start = c.hour;
    } else if (diff == 0 && c.minute == 0 && c.second == 0) {
        if (s->c->hour.count != 24)
            s->dst_end = c.hour;
    }
}

static bool nth_match(int date, int nth)
{
    if (nth < 6) {
        if (date < 8 && nth == 1)
            return true;
        int offset = date % 7 ? 1 : 0;
        int adjusted = date - date % 7;
        return adjusted / 7 + offset == nth;
    }
    return false;
}

/* Shortcuts through runs of add-a-minute / add-a-second steps that cannot
 * change anything but the minute or second: inside one hour and one offset
 * interval, the package's steps are plain wall-clock arithmetic, so landing
 * on the step's result directly (counting the steps skipped against the
 * loop limit) gives the same instant. The step that leaves the hour is left
 * to the general code, which watches for DST. */
/* No offset change in [from, to]: both in the interval memoised for from. */
static bool offset_constant(zone *zn, int64_t from, int64_t to)
{
    zone_offset(zn, from);
    return !zn->cal || (zn->has && to < zn->hi);
}

static bool skip_minutes(zone *zn, const cron_expr *c, const lf *f, dt *d, int *steps)
{
    int target = 59;
    for (int m = f->minute + 1; m <= 59; m++)
        if (has(&c->minute, m)) {
            target = m;
            break;
        }
    int k = target - f->minute; /* addMinute steps to reach target */
    if (k < 2)
        return false;
    int64_t to = d->ts - f->second * 1000LL - f->ms + (int64_t)k * 60000;
    if (!offset_constant(zn, d->ts, to))
        return false;
    d->ts = to;
    *steps += k - 1;
    return true;
}

static bool skip_seconds(zone *zn, const cron_expr *c, const lf *f, dt *d, int *steps)
{
    int target = 59;
    for (int sec = f->second + 1; sec <= 59; sec++)
        if (has(&c->second, sec)) {
            target = sec;
            break;
        }
    int k = target - f->second;
    if (k < 2)
        return false;
    int64_t to = d->ts - f->ms + (int64_t)k * 1000;
    if (!offset_constant(zn, d->ts, to))
        return false;
    d->ts = to;
    *steps += k - 1;
    return true;
}

static int find(cron_zones *zs, const cron_expr *c, const char *tz, int64_t from, bool reverse,
                int64_t *out, char *err)
{
    zone *zn = zone_get(zs, tz);
    if (!zn)
        return FAIL("Invalid timezone: %s", tz);
    search s = {c, -1, -1};
    dt d = {from, zn};
    int64_t start = from;
    int steps = 0;
    while (steps < LOOP_LIMIT) {
        steps++;
        lf f;
        fields_of(zn, d.ts, &f);
        bool dom_match = has(&c->dom, f.day);
        if (c->dom.n_l > 0 && !dom_match) {
            dt n = d;
            dt_plus(&n, 0, 0, 1, 0);
            dt_start_of(&n, U_DAY);
            lf nf;
            fields_of(zn, n.ts, &nf);
            dom_match = nf.month != f.month;
        }
        bool dow_match = has(&c->dow, f.wday);
        if (c->dow.n_l > 0 && !dow_match) {
            for (int i = 0; i < c->dow.n_lstr && !dow_match; i++) {
                char ch = c->dow.lstr[i][0];
                if (!isdigit((unsigned char)ch))
                    return FAIL("Invalid last weekday of the month expression: %s", c->dow.lstr[i]);
                dt n = d;
                dt_plus(&n, 0, 0, 7, 0);
                dt_start_of(&n, U_DAY);
                lf nf;
                fields_of(zn, n.ts, &nf);
                dow_match = f.wday == (ch - '0') % 7 && nf.month != f.month;
            }
        }
        bool dom_wild = c->dom.count >= days_in_month_tbl[f.month - 1];
        bool dow_wild = c->dow.count == 8;
        int hour = f.hour;
        if ((!dom_match && (!dow_match || dow_wild)) || (!dom_wild && dow_wild && !dom_match) ||
            (dom_wild && !dow_wild && !dow_match) ||
            (c->nth_dow > 0 && !nth_match(f.day, c->nth_dow))) {
            tz_shift(&s, &d, reverse, U_DAY);
            continue;
        }
        if (!has(&c->month, f.month)) {
            tz_shift(&s, &d, reverse, U_MONTH);
            continue;
        }
        if (!has(&c->hour, hour)) {
            if (s.dst_start != hour) {
                s.dst_start = -1;
                tz_shift(&s, &d, reverse, U_HOUR);
                continue;
            } else if (!has(&c->hour, hour - 1)) {
                cd_step(&d, reverse, U_HOUR);
                continue;
            }
        } else if (s.dst_end == hour) {
            if (!reverse) {
                s.dst_end = -1;
                tz_shift(&s, &d, false, U_HOUR);
                continue;
            }
        }
        if (!has(&c->minute, f.minute)) {
            if (!reverse && skip_minutes(zn, c, &f, &d, &steps))
                continue;
            tz_shift(&s, &d, reverse, U_MINUTE);
            continue;
        }
        if (!has(&c->second, f.second)) {
            if (!reverse && skip_seconds(zn, c, &f, &d, &steps))
                continue;
            tz_shift(&s, &d, reverse, U_SECOND);
            continue;
        }
        if (start == d.ts) {
            if (!reverse || f.ms == 0) {
                tz_shift(&s, &d, reverse, U_SECOND);
            } else {
                d.ts -= f.ms; /* setMilliseconds(0) */
            }
            continue;
        }
        break;
    }
    if (steps >= LOOP_LIMIT)
        return FAIL("Invalid expression, loop limit exceeded");
    *out = d.ts;
    return 0;
}

int cron_next(cron_zones *z, const cron_expr *c, const char *tz, int64_t after_ms, int64_t *out,
              char err[CRON_ERR_MAX])
{
    return find(z, c, tz, after_ms, false, out, err);
}

int cron_prev(cron_zones *z, const cron_expr *c, const char *tz, int64_t before_ms, int64_t *out,
              char err[CRON_ERR_MAX])
{
    return find(z, c, tz, before_ms, true, out, err);
}
