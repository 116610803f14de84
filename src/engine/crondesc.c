/*
 * engine/crondesc.c - the English description of a cron expression that the
 * API returns as generator.description. The platform stores
 * cronstrue.toString(expression) (cronstrue 2.x, default options: English,
 * 12-hour clock); this is a port of that package's CronParser.normalize and
 * ExpressionDescriptor for the 5-field expressions schedules use. Where
 * cronstrue would throw, cron_describe fails: the real API then fails the
 * request with a 500 (cronstrue.toString runs unguarded in
 * UpsertTaskScheduleService), and so does triggerd.
 */
#include "engine/cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable string --------------------------------------------------- */

typedef struct sb {
    char *s;
    size_t n, cap;
} sb;

static void sb_add(sb *b, const char *t)
{
    size_t l = strlen(t);
    if (b->n + l + 1 > b->cap) {
        b->cap = (b->n + l + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
    memcpy(b->s + b->n, t, l + 1);
    b->n += l;
}

static char *dup(const char *t)
{
    char *d = strdup(t ? t : "");
    if (!d)
        abort();
    return d;
}

/* StringUtilities.format: each %s in turn takes the next value ("undefined"
 * when they run out). Returns a malloc'd string. */
static char *fmt(const char *tpl, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    sb b = {0};
    sb_add(&b, "");
    int used = 0;
    for (const char *p = tpl; *p;) {
        if (p[0] == '%' && p[1] == 's') {
            const char *v = used < n ? va_arg(ap, const char *) : "undefined";
            used++;
            sb_add(&b, v ? v : "undefined");
            p += 2;
        } else {
            char c[2] = {*p++, 0};
            sb_add(&b, c);
        }
    }
    va_end(ap);
    return b.s;
}

/* JS String.prototype.replace with a plain string: the first occurrence. */
static char *replace_first(const char *s, const char *what, const char *with)
{
    const char *p = strstr(s, what);
    if (!p)
        return dup(s);
    sb b = {0};
    sb_add(&b, "");
    char *head = strndup(s, (size_t)(p - s));
    sb_add(&b, head);
    free(head);
    sb_add(&b, with);
    sb_add(&b, p + strlen(what));
    return b.s;
}

/* every occurrence, case-insensitive when ci */
static char *replace_all(const char *s, const char *what, const char *with, bool ci)
{
    sb b = {0};
    sb_add(&b, "");
    size_t wl = strlen(what);
    for (const char *p = s; *p;) {
        if (wl && (ci ? strncasecmp(p, what, wl) : strncmp(p, what, wl)) == 0) {
            sb_add(&b, with);
            p += wl;
        } else {
            char c[2] = {*p++, 0};
            sb_add(&b, c);
        }
    }
    return b.s;
}

static bool has(const char *s, char c)
{
    return strchr(s, c) != NULL;
}

/* the number of comma-separated items in s (at least 1) */
static size_t count_items(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

static int js_parse_int(const char *s, bool *ok)
{
    while (*s == ' ')
        s++;
    int sign = 1;
    if (*s == '-' || *s == '+')
        sign = *s++ == '-' ? -1 : 1;
    *ok = isdigit((unsigned char)*s);
    int v = 0;
    while (isdigit((unsigned char)*s))
        v = v * 10 + (*s++ - '0');
    return sign * v;
}

/* ---- the descriptor ------------------------------------------------------ */

typedef struct desc {
    char *p[7]; /* seconds, minutes, hours, dom, month, dow, year */
    /* getHoursDescription's range-end bookkeeping */
    struct {
        char value[16];
        int index;
    } range_end[16];
    int n_range_end;
    int eval_index;
} desc;

typedef struct seg_fns {
    char *(*single)(desc *d, const char *s, int form);
    char *(*incr)(desc *d, const char *s);
    char *(*range)(desc *d, const char *s);
    char *(*fmt)(desc *d, const char *s);
} seg_fns;

static char *format_time(const char *h, const char *m, const char *sec)
{
    bool ok;
    int hour = js_parse_int(h, &ok), minute = js_parse_int(m, &ok);
    if (minute >= 60) {
        minute -= 60;
        hour += 1;
    } else if (minute < 0) {
        minute += 60;
        hour -= 1;
    }
    if (hour >= 24)
        hour -= 24;
    else if (hour < 0)
        hour += 24;
    const char *period = hour >= 12 ? " PM" : " AM";
    if (hour > 12)
        hour -= 12;
    if (hour == 0)
        hour = 12;
    char out[64], secs[16] = "";
    if (sec && *sec) {
        size_t l = strlen(sec);
        snprintf(secs, sizeof secs, ":%s",
                 l >= 2 ? sec + (l - 2) : (l == 1 ? (char[]){'0', sec[0], 0} : "00"));
    }
    snprintf(out, sizeof out, "%02d:%02d%s%s", hour, minute, secs, period);
    return dup(out);
}

static char *comma_x0_through_x1(desc *d, const char *s)
{
    (void)d;
    (void)s;
    return dup(", %s through %s");
}

static char *segment(desc *d, const char *expr, const char *all, const seg_fns *f);

static char *range_segment(desc *d, const char *expr, char *(*rangefn)(desc *, const char *),
                           const seg_fns *f)
{
    const char *dash = strchr(expr, '-');
    char *a = strndup(expr, (size_t)(dash - expr));
    const char *rest = dash + 1;
    const char *dash2 = strchr(rest, '-');
    char *b = dash2 ? strndup(rest, (size_t)(dash2 - rest)) : dup(rest);
    char *d1 = f->single(d, a, 1);
    char *d2 = f->single(d, b, 2);
    char *tpl = rangefn(d, expr);
    char *out = fmt(tpl, 2, d1, d2);
    free(a), free(b), free(d1), free(d2), free(tpl);
    return out;
}

static char *segment(desc *d, const char *expr, const char *all, const seg_fns *f)
{
    bool incr = has(expr, '/'), range = has(expr, '-'), multi = has(expr, ',');
    if (!*expr)
        return dup("");
    if (strcmp(expr, "*") == 0)
        return dup(all);
    if (!incr && !range && !multi) {
        char *tpl = f->fmt(d, expr), *one = f->single(d, expr, 0);
        char *out = fmt(tpl, 1, one);
        free(tpl), free(one);
        return out;
    }
    if (multi) {
        char *copy = dup(expr);
        char **segs = calloc(count_items(expr), sizeof *segs);
        if (!segs)
            abort();
        int n = 0;
        for (char *tok = copy, *c;; tok = c + 1) {
            c = strchr(tok, ',');
            if (c)
                *c = 0;
            segs[n++] = tok;
            if (!c)
                break;
        }
        sb b = {0};
        sb_add(&b, "");
        for (int i = 0; i < n; i++) {
            if (i > 0 && n > 2) {
                sb_add(&b, ",");
                if (i < n - 1)
                    sb_add(&b, " ");
            }
            if (i > 0 && n > 1 && (i == n - 1 || n == 2))
                sb_add(&b, " and ");
            if (has(segs[i], '/') || has(segs[i], '-')) {
                bool plain_range = has(segs[i], '-') && !has(segs[i], '/');
                seg_fns g = *f;
                if (plain_range)
                    g.range = comma_x0_through_x1;
                char *c2 = segment(d, segs[i], all, &g);
                if (plain_range) {
                    char *r = replace_first(c2, ", ", "");
                    free(c2);
                    c2 = r;
                }
                sb_add(&b, c2);
                free(c2);
            } else if (!incr) {
                char *one = f->single(d, segs[i], 0);
                sb_add(&b, one);
                free(one);
            } else {
                char *c2 = segment(d, segs[i], all, f);
                sb_add(&b, c2);
                free(c2);
            }
        }
        free(copy);
        free(segs);
        if (!incr) {
            char *tpl = f->fmt(d, expr);
            char *out = fmt(tpl, 1, b.s);
            free(tpl), free(b.s);
            return out;
        }
        return b.s;
    }
    if (incr) {
        const char *slash = strchr(expr, '/');
        char *s0 = strndup(expr, (size_t)(slash - expr));
        const char *s1 = slash + 1;
        char *tpl = f->incr(d, s1);
        char *out = fmt(tpl, 1, s1);
        free(tpl);
        sb b = {out, strlen(out), strlen(out) + 1};
        if (has(s0, '-')) {
            char *r = range_segment(d, s0, f->range, f);
            if (strncmp(r, ", ", 2) != 0)
                sb_add(&b, ", ");
            sb_add(&b, r);
            free(r);
        } else if (!has(s0, '*')) {
            char *t2 = f->fmt(d, s0), *one = f->single(d, s0, 0);
            char *item = fmt(t2, 1, one);
            char *item2 = replace_first(item, ", ", "");
            char *st = fmt(", starting %s", 1, item2);
            sb_add(&b, st);
            free(t2), free(one), free(item), free(item2), free(st);
        }
        free(s0);
        return b.s;
    }
    return range_segment(d, expr, f->range, f);
}

/* ---- the fields ---------------------------------------------------------- */

static char *ident(desc *d, const char *s, int form)
{
    (void)d, (void)form;
    return dup(s);
}

static char *sec_incr(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup("every %s seconds");
}
static char *sec_range(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup("seconds %s through %s past the minute");
}
static char *sec_fmt(desc *d, const char *s)
{
    (void)d;
    return dup(strcmp(s, "0") == 0 ? "" : "at %s seconds past the minute");
}

static char *min_incr(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup("every %s minutes");
}
static char *min_range(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup("minutes %s through %s past the hour");
}
static char *min_fmt(desc *d, const char *s)
{
    if (strcmp(s, "0") == 0 && !has(d->p[2], '/') && !*d->p[0])
        return dup("every hour");
    return dup("at %s minutes past the hour");
}

static char *hour_single(desc *d, const char *s, int form)
{
    (void)form;
    bool match = false;
    for (int i = 0; i < d->n_range_end; i++)
        if (strcmp(d->range_end[i].value, s) == 0 && d->range_end[i].index == d->eval_index)
            match = true;
    bool nonzero = match && strcmp(d->p[1], "0") != 0;
    d->eval_index++;
    return format_time(s, nonzero ? "59" : "0", "");
}
static char *hour_incr(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup("every %s hours");
}
static char *hour_range(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup("between %s and %s");
}
static char *hour_fmt(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup("at %s");
}

static const char *const day_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
static const char *const nth_names[] = {"first", "second", "third", "fourth", "fifth"};

static char *dow_single(desc *d, const char *s, int form)
{
    (void)d, (void)form;
    char exp[32];
    snprintf(exp, sizeof exp, "%s", s);
    char *hash = strchr(exp, '#');
    if (hash)
        *hash = 0;
    else if (strchr(exp, 'L'))
        memmove(strchr(exp, 'L'), strchr(exp, 'L') + 1, strlen(strchr(exp, 'L')));
    bool ok;
    int v = js_parse_int(exp, &ok);
    const char *name = ok && v >= 0 && v < 7 ? day_names[v] : "undefined";
    const char *h = strchr(s, '#');
    if (h) {
        int k = h[1] >= '1' && h[1] <= '5' && !h[2] ? h[1] - '1' : -1;
        return fmt("%s %s", 2, k >= 0 ? nth_names[k] : "null", name);
    }
    return dup(name);
}
static char *dow_incr(desc *d, const char *s)
{
    (void)d;
    bool ok;
    return dup(js_parse_int(s, &ok) == 1 && ok ? "" : ", every %s days of the week");
}
static char *dow_range(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup(", %s through %s");
}
static char *dow_fmt(desc *d, const char *s)
{
    if (has(s, '#'))
        return dup(", on the %s of the month");
    if (has(s, 'L'))
        return dup(", on the last %s of the month");
    return dup(strcmp(d->p[3], "*") != 0 ? ", and on %s" : ", only on %s");
}

static char *mon_single(desc *d, const char *s, int form)
{
    (void)d, (void)form;
    bool ok;
    int v = js_parse_int(s, &ok);
    return dup(ok && v >= 1 && v <= 12 ? month_names[v - 1] : "undefined");
}
static char *mon_incr(desc *d, const char *s)
{
    (void)d;
    bool ok;
    return dup(js_parse_int(s, &ok) == 1 && ok ? "" : ", every %s months");
}
static char *mon_range(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup(", %s through %s");
}
static char *mon_fmt(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup(", only in %s");
}

static char *dom_single(desc *d, const char *s, int form)
{
    (void)d, (void)form;
    return dup(strcmp(s, "L") == 0 ? "the last day" : s);
}
static char *dom_incr(desc *d, const char *s)
{
    (void)d;
    return dup(strcmp(s, "1") == 0 ? ", every day" : ", every %s days");
}
static char *dom_range(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup(", between day %s and %s of the month");
}
static char *dom_fmt(desc *d, const char *s)
{
    (void)d, (void)s;
    return dup(", on day %s of the month");
}

static bool any_special(const char *s)
{
    return has(s, '/') || has(s, '-') || has(s, ',') || has(s, '*');
}

static char *time_of_day(desc *d)
{
    const char *sec = d->p[0], *min = d->p[1], *hour = d->p[2];
    if (!any_special(min) && !any_special(hour) && !any_special(sec)) {
        char *t = format_time(hour, min, sec);
        char *out = fmt("At %s", 1, t);
        free(t);
        return out;
    }
    if (!*sec && has(min, '-') && !has(min, ',') && !has(min, '/') && !any_special(hour)) {
        const char *dash = strchr(min, '-');
        char *a = strndup(min, (size_t)(dash - min));
        const char *bpart = dash + 1;
        const char *dash2 = strchr(bpart, '-');
        char *b = dash2 ? strndup(bpart, (size_t)(dash2 - bpart)) : dup(bpart);
        char *t1 = format_time(hour, a, ""), *t2 = format_time(hour, b, "");
        char *out = fmt("Every minute between %s and %s", 2, t1, t2);
        free(a), free(b), free(t1), free(t2);
        return out;
    }
    if (!*sec && has(hour, ',') && !has(hour, '-') && !has(hour, '/') && !any_special(min)) {
        char *copy = dup(hour);
        char **parts = calloc(count_items(hour), sizeof *parts);
        if (!parts)
            abort();
        int n = 0;
        for (char *tok = copy, *c;; tok = c + 1) {
            c = strchr(tok, ',');
            if (c)
                *c = 0;
            parts[n++] = tok;
            if (!c)
                break;
        }
        sb b = {0};
        sb_add(&b, "At");
        for (int i = 0; i < n; i++) {
            sb_add(&b, " ");
            char *t = format_time(parts[i], min, "");
            sb_add(&b, t);
            free(t);
            if (i < n - 2)
                sb_add(&b, ",");
            if (i == n - 2)
                sb_add(&b, " and");
        }
        free(copy);
        free(parts);
        return b.s;
    }
    static const seg_fns secf = {ident, sec_incr, sec_range, sec_fmt};
    static const seg_fns minf = {ident, min_incr, min_range, min_fmt};
    static const seg_fns hourf = {hour_single, hour_incr, hour_range, hour_fmt};
    char *sd = segment(d, sec, "every second", &secf);
    char *md = segment(d, min, "every minute", &minf);
    /* getHoursDescription's range ends */
    char *h0 = dup(hour);
    if (strchr(h0, '/'))
        *strchr(h0, '/') = 0;
    int idx = 0;
    d->n_range_end = 0;
    for (char *tok = h0, *c;; tok = c + 1) {
        c = strchr(tok, ',');
        if (c)
            *c = 0;
        int parts = 1;
        for (char *q = tok; *q; q++)
            parts += *q == '-';
        if (parts == 2 && d->n_range_end < 16) {
            snprintf(d->range_end[d->n_range_end].value, 16, "%s", strchr(tok, '-') + 1);
            d->range_end[d->n_range_end++].index = idx + 1;
        }
        idx += parts;
        if (!c)
            break;
    }
    free(h0);
    d->eval_index = 0;
    char *hd = segment(d, hour, "every hour", &hourf);
    sb b = {0};
    sb_add(&b, sd);
    if (b.n && *md)
        sb_add(&b, ", ");
    sb_add(&b, md);
    if (strcmp(md, hd) != 0) {
        if (b.n && *hd)
            sb_add(&b, ", ");
        sb_add(&b, hd);
    }
    free(sd), free(md), free(hd);
    return b.s;
}

static char *dom_description(desc *d)
{
    const char *e = d->p[3];
    if (strcmp(e, "L") == 0)
        return dup(", on the last day of the month");
    if (strcmp(e, "WL") == 0 || strcmp(e, "LW") == 0)
        return dup(", on the last weekday of the month");
    if (strcmp(e, "*") == 0 && strcmp(d->p[5], "*") != 0)
        return dup("");
    static const seg_fns f = {dom_single, dom_incr, dom_range, dom_fmt};
    return segment(d, e, ", every day", &f);
}

static char *dow_description(desc *d)
{
    if (strcmp(d->p[5], "*") == 0)
        return dup("");
    static const seg_fns f = {dow_single, dow_incr, dow_range, dow_fmt};
    return segment(d, d->p[5], ", every day", &f);
}

/* ---- CronParser: extract and normalize the parts ------------------------- */

static int cmp_num(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* a comma list of numbers, sorted as numbers (extractParts) */
static char *sort_list(const char *part)
{
    char *copy = dup(part);
    double *v = calloc(count_items(part), sizeof *v);
    if (!v)
        abort();
    int n = 0;
    bool numeric = true;
    for (char *tok = copy, *c;; tok = c + 1) {
        c = strchr(tok, ',');
        if (c)
            *c = 0;
        if (*tok) {
            char *end;
            double x = strtod(tok, &end);
            if (*end || end == tok)
                numeric = false;
            else
                v[n++] = x;
        }
        if (!c)
            break;
    }
    free(copy);
    if (!numeric || n == 0) {
        free(v);
        return dup(numeric ? "*" : part);
    }
    qsort(v, (size_t)n, sizeof v[0], cmp_num);
    sb b = {0};
    sb_add(&b, "");
    for (int i = 0; i < n; i++) {
        char num[32];
        snprintf(num, sizeof num, "%s%.15g", i ? "," : "", v[i]);
        sb_add(&b, num);
    }
    free(v);
    return b.s;
}

/* the DOW digit pass: a 7 not after '#' or '/' becomes 0 */
static char *dow_sevens(const char *s)
{
    char *o = dup(s);
    for (size_t i = 0; o[i]; i++)
        if (o[i] == '7' && (i == 0 || (o[i - 1] != '#' && o[i - 1] != '/' && o[i - 1] != ' ' &&
                                       !isdigit((unsigned char)o[i - 1]))))
            o[i] = '0';
    return o;
}

static void set_part(desc *d, int i, char *v)
{
    free(d->p[i]);
    d->p[i] = v;
}

static bool parse_parts(desc *d, const char *text)
{
    static const struct {
        const char *name, *expr;
    } special[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                   {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                   {"@hourly", "0 * * * *"}};
    if (!*text)
        return false;
    if (text[0] == '@') {
        const char *e = NULL;
        for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
            if (strcmp(text, special[i].name) == 0)
                e = special[i].expr;
        if (!e)
            return false;
        text = e;
    }
    char *copy = dup(text);
    char *parts[8];
    int n = 0;
    char *p = copy;
    while (isspace((unsigned char)*p)) /* String.prototype.trim */
        p++;
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1]))
        *--end = 0;
    while (*p) {
        if (n == 8) {
            free(copy);
            return false;
        }
        parts[n++] = p;
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            *p++ = 0;
    }
    if (n != 5) { /* schedules have five fields; the rest is cronstrue's */
        free(copy);
        return false;
    }
    d->p[0] = dup("");
    for (int i = 0; i < 5; i++)
        d->p[i + 1] = has(parts[i], ',') ? sort_list(parts[i]) : dup(parts[i]);
    d->p[6] = dup("");
    free(copy);
    /* normalize */
    set_part(d, 3, replace_first(d->p[3], "?", "*"));
    set_part(d, 5, replace_first(d->p[5], "?", "*"));
    set_part(d, 2, replace_first(d->p[2], "?", "*"));
    for (int i = 1; i <= 2; i++)
        if (strncmp(d->p[i], "0/", 2) == 0)
            set_part(d, i, replace_first(d->p[i], "0/", "*/"));
    for (int i = 3; i <= 4; i++)
        if (strncmp(d->p[i], "1/", 2) == 0)
            set_part(d, i, replace_first(d->p[i], "1/", "*/"));
    set_part(d, 5, dow_sevens(d->p[5]));
    if (strcmp(d->p[5], "L") == 0)
        set_part(d, 5, dup("6"));
    if (has(d->p[3], 'W') && (has(d->p[3], ',') || has(d->p[3], '-')))
        return false;
    static const char *const dn[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
    for (int k = 0; k < 7; k++) {
        char v[4];
        snprintf(v, sizeof v, "%d", k);
        set_part(d, 5, replace_all(d->p[5], dn[k], v, true));
    }
    static const char *const mn[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    for (int k = 0; k < 12; k++) {
        char v[4];
        snprintf(v, sizeof v, "%d", k + 1);
        set_part(d, 4, replace_all(d->p[4], mn[k], v, true));
    }
    const char *h = d->p[2], *m = d->p[1];
    if (!any_special(h) && (has(m, '*') || has(m, '/')))
        set_part(d, 2, fmt("%s-%s", 2, h, h));
    for (int i = 0; i < 7; i++) {
        if (has(d->p[i], ',')) {
            sb b = {0};
            sb_add(&b, "");
            char *copy2 = dup(d->p[i]);
            bool first = true;
            for (char *tok = copy2, *c;; tok = c + 1) {
                c = strchr(tok, ',');
                if (c)
                    *c = 0;
                if (*tok) {
                    if (!first)
                        sb_add(&b, ",");
                    sb_add(&b, tok);
                    first = false;
                }
                if (!c)
                    break;
            }
            free(copy2);
            set_part(d, i, b.n ? b.s : (free(b.s), dup("*")));
        }
        if (strcmp(d->p[i], "*/1") == 0)
            set_part(d, i, dup("*"));
        if (has(d->p[i], '/') && d->p[i][0] != '*' && !has(d->p[i], '-') && !has(d->p[i], ',')) {
            const char *through = i == 4 ? "12" : i == 5 ? "6" : NULL;
            if (through) {
                const char *sl = strchr(d->p[i], '/');
                char *a = strndup(d->p[i], (size_t)(sl - d->p[i]));
                set_part(d, i, fmt("%s-%s/%s", 3, a, through, sl + 1));
                free(a);
            }
        }
    }
    /* validateOnlyExpectedCharactersFound */
    static const char *const allowed[7] = {"0123456789,-*/",   "0123456789,-*/", "0123456789,-*/",
                                           "0123456789,-*/LW", "0123456789,-*/", "0123456789,-*/L#",
                                           "0123456789,-*/"};
    for (int i = 0; i < 7; i++)
        for (const char *q = d->p[i]; *q; q++)
            if (!strchr(allowed[i], toupper((unsigned char)*q)))
                return false;
    /* validateAnyRanges (RangeValidator): the leading number of each
     * comma-separated item, where it has one, within the field's range */
    static const int lo[6] = {0, 0, 0, 1, 1, 0}, hi[6] = {59, 59, 23, 31, 12, 6};
    for (int i = 1; i < 6; i++) {
        for (const char *q = d->p[i]; *q;) {
            const char *r = q;
            while (*r == ' ')
                r++;
            bool neg = *r == '-';
            if (*r == '+' || *r == '-')
                r++;
            if (isdigit((unsigned char)*r)) {
                long long v = 0;
                for (; isdigit((unsigned char)*r); r++)
                    v = v > 1000000 ? v : v * 10 + (*r - '0'); /* saturates */
                if (neg)
                    v = -v;
                if (v < lo[i] || v > hi[i])
                    return false;
            }
            const char *c = strchr(q, ',');
            if (!c)
                break;
            q = c + 1;
        }
    }
    return true;
}

int cron_describe(const char *text, char **outp)
{
    desc d = {0};
    int rc = 0;
    if (!parse_parts(&d, text)) {
        *outp = dup(text);
        rc = -1;
        goto out;
    }
    char *t = time_of_day(&d), *dom = dom_description(&d), *dow = dow_description(&d);
    static const seg_fns monf = {mon_single, mon_incr, mon_range, mon_fmt};
    char *mon = segment(&d, d.p[4], "", &monf);
    sb b = {0};
    sb_add(&b, t);
    sb_add(&b, dom);
    sb_add(&b, dow);
    sb_add(&b, mon);
    free(t), free(dom), free(dow), free(mon);
    /* transformVerbosity */
    char *s1 = replace_all(b.s, ", every minute", "", false);
    char *s2 = replace_all(s1, ", every hour", "", false);
    char *s3 = replace_all(s2, ", every day", "", false);
    size_t l = strlen(s3);
    if (l >= 2 && s3[l - 2] == ',' && s3[l - 1] == ' ')
        s3[l - 2] = 0;
    else if (l >= 1 && s3[l - 1] == ',')
        s3[l - 1] = 0;
    if (s3[0])
        s3[0] = (char)toupper((unsigned char)s3[0]);
    *outp = s3;
    free(b.s), free(s1), free(s2);
out:
    for (int i = 0; i < 7; i++)
        free(d.p[i]);
    return rc;
}
