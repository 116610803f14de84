/*
 * util/jsonw.c - the JSON writer (jsonw.h). One flag carries the commas: a
 * value written at the current level means the next key or element needs
 * one; opening a container clears it, closing one sets it. Strings are
 * copied in runs of bytes that need no escape, checked as UTF-8 the way
 * jansson checks them.
 */
#include "util/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* U+FDD0 U+E000+k is U+D800+k, U+FDD0 U+E800 is U+0000 (jsontext.h). */
#define MARK0 0xEF
#define MARK1 0xB7
#define MARK2 0x90
#define NUL_CODE 0xE800
#define SURR_BASE 0xE000

/* Room for n more bytes and the NUL; allocation failure aborts. */
static char *room(jsonw *w, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 512;
        while (w->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(w->p, cap);
        if (!p)
            abort();
        w->p = p;
        w->cap = cap;
    }
    return w->p + w->len;
}

void jsonw_init(jsonw *w)
{
    memset(w, 0, sizeof *w);
}

void jsonw_free(jsonw *w)
{
    free(w->p);
    jsonw_init(w);
}

char *jsonw_finish(jsonw *w, size_t *len)
{
    char *p = NULL;
    size_t n = 0;
    if (!w->failed) {
        room(w, 0); /* also when nothing was written: an empty text */
        w->p[w->len] = 0;
        p = w->p;
        n = w->len;
        w->p = NULL;
    }
    if (len)
        *len = n;
    const jsontext_splice *sp = w->sp;
    size_t n_sp = w->n_sp;
    jsonw_free(w);
    w->sp = sp;
    w->n_sp = n_sp;
    return p;
}

/* The text is NUL-terminated only by jsonw_finish (room keeps a byte). */
static void put(jsonw *w, const char *s, size_t n)
{
    char *d = room(w, n);
    memcpy(d, s, n);
    w->len += n;
}

static void put1(jsonw *w, char ch)
{
    char *d = room(w, 1);
    d[0] = ch;
    w->len++;
}

/* Before a value or a key: the comma its predecessor at this level needs. */
static void sep(jsonw *w)
{
    if (w->comma)
        put1(w, ',');
}

/* ---- strings ---------------------------------------------------------- */

/* The length of the UTF-8 sequence at s[0..n) and its code point, or 0
 * when it is not valid UTF-8 (overlong, a surrogate, past U+10FFFF,
 * truncated): jansson's rules. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0], v;
    size_t len;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || (v >= 0xD800 && v <= 0xDFFF) ||
        v > 0x10FFFF)
        return 0;
    *cp = v;
    return len;
}

static const char HEX_UP[] = "0123456789ABCDEF";
static const char HEX_LO[] = "0123456789abcdef";

static void put_u4(jsonw *w, unsigned u, const char *hex)
{
    char e[6] = {'\\',       'u', hex[(u >> 12) & 15], hex[(u >> 8) & 15], hex[(u >> 4) & 15],
                 hex[u & 15]};
    put(w, e, 6);
}

/* The body of a string (no quotes): escapes as jansson writes them, escape
 * pairs as JSON.stringify's escapes. */
static void put_chars(jsonw *w, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0; /* s[run..i) needs no escape */
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            unsigned cp, cp2;
            size_t l = utf8_seq(s + i, n - i, &cp);
            if (!l) {
                w->failed = true;
                return;
            }
            if (cp == 0xFDD0 && i + 6 <= n && utf8_seq(s + i + 3, n - i - 3, &cp2) == 3 &&
                cp2 >= SURR_BASE && cp2 <= NUL_CODE) {
                put(w, str + run, i - run);
                put_u4(w, cp2 == NUL_CODE ? 0 : cp2 - SURR_BASE + 0xD800, HEX_LO);
                i += 6;
                run = i;
                continue;
            }
            i += l;
            continue;
        }
        put(w, str + run, i - run);
        char e[2] = {'\\', 0};
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        }
        if (e[1])
            put(w, e, 2);
        else
            put_u4(w, c, HEX_UP);
        i++;
        run = i;
    }
    put(w, str + run, n - run);
}

static void put_string(jsonw *w, const char *s, size_t n)
{
    /* the common case, printable ASCII only, in one pass and one copy */
    char *d = room(w, n + 2);
    size_t i = 0;
    d[0] = '"';
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
            break;
        d[i + 1] = (char)c;
    }
    w->len += i + 1;
    if (i < n)
        put_chars(w, s + i, n - i);
    put1(w, '"');
}

/* ---- containers, keys, scalars ---------------------------------------- */

void jsonw_obj(jsonw *w)
{
    sep(w);
    put1(w, '{');
    w->comma = false;
}

void jsonw_obj_end(jsonw *w)
{
    put1(w, '}');
    w->comma = true;
}

void jsonw_arr(jsonw *w)
{
    sep(w);
    put1(w, '[');
    w->comma = false;
}

void jsonw_arr_end(jsonw *w)
{
    put1(w, ']');
    w->comma = true;
}

void jsonw_key(jsonw *w, const char *k)
{
    sep(w);
    put_string(w, k, strlen(k));
    put1(w, ':');
    w->comma = false;
}

void jsonw_strn(jsonw *w, const char *s, size_t n)
{
    sep(w);
    put_string(w, s, n);
    w->comma = true;
}

void jsonw_str(jsonw *w, const char *s)
{
    if (!s)
        jsonw_null(w);
    else
        jsonw_strn(w, s, strlen(s));
}

void jsonw_int(jsonw *w, int64_t v)
{
    char b[24], *e = b + sizeof b, *d = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--d = '-';
    sep(w);
    put(w, d, (size_t)(e - d));
    w->comma = true;
}

void jsonw_bool(jsonw *w, bool b)
{
    sep(w);
    put(w, b ? "true" : "false", b ? 4 : 5);
    w->comma = true;
}

void jsonw_null(jsonw *w)
{
    sep(w);
    put(w, "null", 4);
    w->comma = true;
}

/* A real as jansson writes it: %.17g, a ".0" when that reads as an
 * integer, the exponent without '+' or leading zeros. */
static void put_real(jsonw *w, double v)
{
    char b[40];
    int n = snprintf(b, sizeof b, "%.17g", v);
    if (n < 0 || (size_t)n >= sizeof b - 3) {
        w->failed = true;
        return;
    }
    for (char *p = b; *p; p++)
        if (*p == ',') /* a locale's decimal comma */
            *p = '.';
    if (!strchr(b, '.') && !strchr(b, 'e')) {
        memcpy(b + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(b, 'e');
    if (e) {
        char *start = e + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(b + n - end) + 1);
            n -= (int)(end - start);
        }
    }
    put(w, b, (size_t)n);
}

void jsonw_real(jsonw *w, double v)
{
    sep(w);
    put_real(w, v);
    w->comma = true;
}

void jsonw_raw(jsonw *w, const char *t, size_t n)
{
    sep(w);
    /* the text's strings are valid JSON already: only the escape pairs
     * change, and only where a U+FDD0 is */
    size_t run = 0;
    for (size_t i = 0; i + 6 <= n; i++) {
        const unsigned char *s = (const unsigned char *)t + i;
        unsigned cp;
        if (s[0] != MARK0 || s[1] != MARK1 || s[2] != MARK2)
            continue;
        if (utf8_seq(s + 3, n - i - 3, &cp) != 3 || cp < SURR_BASE || cp > NUL_CODE)
            continue;
        put(w, t + run, i - run);
        put_u4(w, cp == NUL_CODE ? 0 : cp - SURR_BASE + 0xD800, HEX_LO);
        i += 5;
        run = i + 1;
    }
    put(w, t + run, n - run);
    w->comma = true;
}

/* The splice whose placeholder is s[0..n), or NULL. */
static const jsontext_splice *splice_of(const jsonw *w, const char *s, size_t n)
{
    for (size_t k = 0; k < w->n_sp; k++)
        if (n && w->sp[k].placeholder[0] == s[0] && strlen(w->sp[k].placeholder) == n &&
            memcmp(w->sp[k].placeholder, s, n) == 0)
            return &w->sp[k];
    return NULL;
}

void jsonw_value(jsonw *w, const json_t *v)
{
    const char *k;
    json_t *m;
    size_t i;
    if (!v) {
        w->failed = true;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        jsonw_obj(w);
        json_object_foreach((json_t *)v, k, m)
        {
            jsonw_key(w, k);
            jsonw_value(w, m);
        }
        jsonw_obj_end(w);
        break;
    case JSON_ARRAY:
        jsonw_arr(w);
        json_array_foreach(v, i, m) jsonw_value(w, m);
        jsonw_arr_end(w);
        break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        const jsontext_splice *sp = w->n_sp ? splice_of(w, s, n) : NULL;
        if (sp)
            jsonw_raw(w, sp->text, sp->len);
        else
            jsonw_strn(w, s, n);
        break;
    }
    case JSON_INTEGER:
        jsonw_int(w, json_integer_value(v));
        break;
    case JSON_REAL:
        jsonw_real(w, json_real_value(v));
        break;
    case JSON_TRUE:
        jsonw_bool(w, true);
        break;
    case JSON_FALSE:
        jsonw_bool(w, false);
        break;
    case JSON_NULL:
        jsonw_null(w);
        break;
    default:
        w->failed = true;
    }
}

void jsonw_kstr(jsonw *w, const char *k, const char *s)
{
    jsonw_key(w, k);
    jsonw_str(w, s);
}

void jsonw_kint(jsonw *w, const char *k, int64_t v)
{
    jsonw_key(w, k);
    jsonw_int(w, v);
}

void jsonw_kbool(jsonw *w, const char *k, bool b)
{
    jsonw_key(w, k);
    jsonw_bool(w, b);
}

void jsonw_kvalue(jsonw *w, const char *k, const json_t *v)
{
    jsonw_key(w, k);
    jsonw_value(w, v);
}
