/*
 * util/jsontext.c - JSON text as JavaScript reads and writes it, over
 * jansson (see jsontext.h for the in-memory form of U+0000 and lone
 * surrogates). Loading rewrites, before jansson sees it, only what jansson
 * would refuse; dumping rewrites back only the escape pairs. Texts that
 * need neither are handed over unchanged.
 */
#include "util/jsontext.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* U+FDD0 in UTF-8, the escape's first character. */
static const char MARK[3] = {'\xEF', '\xB7', '\x90'};
#define NUL_CODE 0xE800   /* U+FDD0 U+E800 is U+0000 */
#define SURR_BASE 0xE000  /* U+FDD0 U+E000+k is U+D800+k */

/* ---- a growable output buffer; allocation failure aborts -------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void buf_put(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

/* Appends code point cp (below U+10000) as UTF-8. */
static void buf_put_bmp(buf *b, unsigned cp)
{
    char u[3];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    }
    buf_put(b, u, n);
}

/* ---- loading ---------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code unit of a "\uXXXX" escape at t[i..], or -1 when there is none. */
static long escape_at(const char *t, size_t n, size_t i)
{
    if (i + 6 > n || t[i] != '\\' || t[i + 1] != 'u')
        return -1;
    long u = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = hexval(t[i + k]);
        if (h < 0)
            return -1;
        u = u * 16 + h;
    }
    return u;
}

/* The rewriting pass over t. out stays empty until the first change, then
 * receives t with the changes; changed says whether there were any. */
typedef struct rewriter {
    const char *t;
    size_t n;
    size_t copied; /* t[0..copied) is already in out (when changed) */
    bool changed;
    buf out;
} rewriter;

/* Replaces t[from..to) by s[0..len) (an insertion when from == to). */
static void rw_replace(rewriter *w, size_t from, size_t to, const char *s, size_t len)
{
    buf_put(&w->out, w->t + w->copied, from - w->copied);
    buf_put(&w->out, s, len);
    w->copied = to;
    w->changed = true;
}

/* Replaces the escape at t[from..from+6) by U+FDD0 code. */
static void rw_mark(rewriter *w, size_t from, unsigned code)
{
    buf_put(&w->out, w->t + w->copied, from - w->copied);
    buf_put(&w->out, MARK, sizeof MARK);
    buf_put_bmp(&w->out, code);
    w->copied = from + 6;
    w->changed = true;
}

/* Inside a string, at a backslash: returns the index after the escape. */
static size_t rw_escape(rewriter *w, size_t i)
{
    long u = escape_at(w->t, w->n, i);
    if (u < 0)
        return i + 2 <= w->n ? i + 2 : w->n;
    if (u == 0) {
        rw_mark(w, i, NUL_CODE);
    } else if (u >= 0xD800 && u <= 0xDBFF) {
        long lo = escape_at(w->t, w->n, i + 6);
        if (lo >= 0xDC00 && lo <= 0xDFFF)
            return i + 12; /* a pair: jansson decodes it */
        rw_mark(w, i, SURR_BASE + (unsigned)(u - 0xD800));
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
        rw_mark(w, i, SURR_BASE + (unsigned)(u - 0xD800));
    }
    return i + 6;
}

static bool numchar(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Outside strings, at the start of a number: returns the index after it.
 * An integer too long for 64 bits gets a ".0" so jansson reads a double. */
static size_t rw_number(rewriter *w, size_t i)
{
    size_t j = i, digits = 0;
    bool integer = true;
    while (j < w->n && numchar(w->t[j])) {
        if (w->t[j] >= '0' && w->t[j] <= '9')
            digits++;
        else if (w->t[j] != '-')
            integer = false;
        j++;
    }
    if (integer && digits >= 19)
        rw_replace(w, j, j, ".0", 2);
    return j;
}

static void rewrite(rewriter *w)
{
    bool in_str = false;
    size_t i = 0;
    while (i < w->n) {
        char c = w->t[i];
        if (in_str) {
            if (c == '"')
                in_str = false;
            i = c == '\\' ? rw_escape(w, i) : i + 1;
        } else if (c == '"') {
            in_str = true;
            i++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            i = rw_number(w, i);
        } else {
            i++;
        }
    }
    if (w->changed)
        buf_put(&w->out, w->t + w->copied, w->n - w->copied);
}

json_t *jsontext_loadb(const char *text, size_t len, size_t flags, json_error_t *error)
{
    rewriter w = {.t = text, .n = len};
    rewrite(&w);
    json_t *v = w.changed ? json_loadb(w.out.p, w.out.len, flags, error)
                          : json_loadb(text, len, flags, error);
    free(w.out.p);
    return v;
}

json_t *jsontext_loads(const char *text, size_t flags, json_error_t *error)
{
    return jsontext_loadb(text, strlen(text), flags, error);
}

/* ---- dumping ---------------------------------------------------------- */

/* The code point of the 3-byte UTF-8 sequence at s, or 0. */
static unsigned utf8_bmp3(const unsigned char *s)
{
    if ((s[0] & 0xF0) != 0xE0 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
        return 0;
    return ((unsigned)(s[0] & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
}

char *jsontext_dumps(const json_t *v, size_t flags)
{
    char *text = json_dumps(v, flags);
    if (!text || !strstr(text, "\xEF\xB7\x90"))
        return text;
    size_t n = strlen(text);
    buf out = {0};
    size_t copied = 0;
    for (char *m = strstr(text, "\xEF\xB7\x90"); m; m = strstr(m, "\xEF\xB7\x90")) {
        size_t at = (size_t)(m - text);
        unsigned cp = at + 6 <= n ? utf8_bmp3((const unsigned char *)m + 3) : 0;
        if (cp < SURR_BASE || cp > NUL_CODE) {
            m += 3;
            continue;
        }
        char esc[8];
        snprintf(esc, sizeof esc, "\\u%04x", cp == NUL_CODE ? 0 : cp - SURR_BASE + 0xD800);
        buf_put(&out, text + copied, at - copied);
        buf_put(&out, esc, 6);
        copied = at + 6;
        m += 6;
    }
    if (!out.p) /* marks, but no escape pairs */
        return text;
    buf_put(&out, text + copied, n - copied);
    free(text);
    return out.p;
}
