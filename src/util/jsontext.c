/*
 * util/jsontext.c - JSON text as JavaScript reads and writes it, over
 * jansson (see jsontext.h for the in-memory form of U+0000 and lone
 * surrogates). Loading rewrites, before jansson sees it, only what jansson
 * would refuse; dumping rewrites back only the escape pairs. Texts that
 * need neither are handed over unchanged.
 */
#include "util/jsontext.h"
#include "util/jsonw.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* U+FDD0 in UTF-8, the escape's first character. */
static const char MARK[3] = {'\xEF', '\xB7', '\x90'};
#define NUL_CODE 0xE800  /* U+FDD0 U+E800 is U+0000 */
#define SURR_BASE 0xE000 /* U+FDD0 U+E000+k is U+D800+k */

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

/* Writes the escape pairs of text (owned) back as escapes; returns text
 * or a new string (text freed). */
static char *unmark(char *text)
{
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

/* Compact text, what nearly every dump asks for, is written by jsonw, which
 * writes what jansson and unmark would at a fraction of the cost (jansson
 * tracks the containers it is inside in a hash table keyed by pointer
 * text). Other flags (indentation, sorted keys) go to jansson. */
static bool writer_flags(const json_t *v, size_t flags)
{
    return (flags & ~(size_t)(JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER)) == 0 &&
           (flags & JSON_COMPACT) &&
           (flags & JSON_ENCODE_ANY || json_is_object(v) || json_is_array(v));
}

static char *write_text(const json_t *v, const jsontext_splice *sp, size_t n)
{
    jsonw w = {.sp = sp, .n_sp = n};
    jsonw_value(&w, v);
    return jsonw_finish(&w, NULL);
}

char *jsontext_dumps(const json_t *v, size_t flags)
{
    if (v && writer_flags(v, flags))
        return write_text(v, NULL, 0);
    return unmark(json_dumps(v, flags));
}

char *jsontext_dumps_spliced(const json_t *v, size_t flags, const jsontext_splice *sp, size_t n)
{
    if (v && writer_flags(v, flags))
        return write_text(v, sp, n);
    char *text = json_dumps(v, flags);
    for (size_t k = 0; text && k < n; k++) {
        size_t pl = strlen(sp[k].placeholder);
        char *at = text;
        /* the placeholder as the dump wrote it: a quoted string */
        while ((at = strstr(at, sp[k].placeholder)) &&
               !(at > text && at[-1] == '"' && at[pl] == '"'))
            at += pl;
        if (!at)
            continue;
        size_t from = (size_t)(at - 1 - text), to = from + pl + 2, len = strlen(text);
        buf out = {0};
        buf_put(&out, text, from);
        buf_put(&out, sp[k].text, sp[k].len);
        buf_put(&out, text + to, len - to);
        free(text);
        text = out.p;
    }
    return unmark(text);
}

/* ---- checking JSON text of any depth ---------------------------------- */

typedef struct scan {
    const char *t;
    size_t n, i;
} scan;

static void sc_ws(scan *s)
{
    while (s->i < s->n &&
           (s->t[s->i] == ' ' || s->t[s->i] == '\t' || s->t[s->i] == '\n' || s->t[s->i] == '\r'))
        s->i++;
}

static bool sc_string(scan *s)
{
    if (s->i >= s->n || s->t[s->i] != '"')
        return false;
    for (s->i++; s->i < s->n;) {
        unsigned char c = (unsigned char)s->t[s->i];
        if (c == '"') {
            s->i++;
            return true;
        }
        if (c < 0x20)
            return false; /* JSON.parse refuses raw control characters */
        if (c != '\\') {
            s->i++;
            continue;
        }
        if (s->i + 1 >= s->n)
            return false;
        char e = s->t[s->i + 1];
        if (e == 'u') {
            if (escape_at(s->t, s->n, s->i) < 0)
                return false;
            s->i += 6;
        } else if (e && strchr("\"\\/bfnrt", e)) {
            s->i += 2;
        } else {
            return false;
        }
    }
    return false;
}

static size_t sc_digits(scan *s)
{
    size_t from = s->i;
    while (s->i < s->n && s->t[s->i] >= '0' && s->t[s->i] <= '9')
        s->i++;
    return s->i - from;
}

static bool sc_number(scan *s)
{
    if (s->i < s->n && s->t[s->i] == '-')
        s->i++;
    if (s->i < s->n && s->t[s->i] == '0')
        s->i++;
    else if (!sc_digits(s))
        return false;
    if (s->i < s->n && s->t[s->i] == '.') {
        s->i++;
        if (!sc_digits(s))
            return false;
    }
    if (s->i < s->n && (s->t[s->i] == 'e' || s->t[s->i] == 'E')) {
        s->i++;
        if (s->i < s->n && (s->t[s->i] == '+' || s->t[s->i] == '-'))
            s->i++;
        if (!sc_digits(s))
            return false;
    }
    return true;
}

static bool sc_word(scan *s, const char *w)
{
    size_t l = strlen(w);
    if (s->i + l > s->n || memcmp(s->t + s->i, w, l) != 0)
        return false;
    s->i += l;
    return true;
}

/* "key" : (whitespace around), leaving s at the member's value. */
static bool sc_key(scan *s)
{
    sc_ws(s);
    if (!sc_string(s))
        return false;
    sc_ws(s);
    if (s->i >= s->n || s->t[s->i] != ':')
        return false;
    s->i++;
    return true;
}

/* One value at s (leading whitespace skipped), any depth: the open
 * containers are a stack of bytes, never the C stack. */
static bool sc_value(scan *s)
{
    buf open = {0};
    bool ok = false;
    for (;;) {
        sc_ws(s);
        if (s->i >= s->n)
            goto out;
        char c = s->t[s->i];
        bool scalar = true;
        if (c == '{' || c == '[') {
            s->i++;
            sc_ws(s);
            if (s->i < s->n && s->t[s->i] == (c == '{' ? '}' : ']')) {
                s->i++; /* empty: a complete value */
            } else {
                buf_put(&open, &c, 1);
                if (c == '{' && !sc_key(s))
                    goto out;
                continue;
            }
        } else if (c == '"') {
            scalar = sc_string(s);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            scalar = sc_number(s);
        } else {
            scalar = sc_word(s, "true") || sc_word(s, "false") || sc_word(s, "null");
        }
        if (!scalar)
            goto out;
        /* after a complete value: close what it completes, or go on */
        for (;;) {
            if (open.len == 0) {
                ok = true;
                goto out;
            }
            sc_ws(s);
            char top = open.p[open.len - 1];
            if (s->i >= s->n)
                goto out;
            char d = s->t[s->i++];
            if (d == (top == '{' ? '}' : ']')) {
                open.len--;
                continue;
            }
            if (d != ',' || (top == '{' && !sc_key(s)))
                goto out;
            break; /* the next element */
        }
    }
out:
    free(open.p);
    return ok;
}

bool jsontext_valid(const char *t, size_t n)
{
    scan s = {.t = t, .n = n};
    if (!sc_value(&s))
        return false;
    sc_ws(&s);
    return s.i == s.n;
}

bool jsontext_member(const char *t, size_t n, const char *key, size_t *off, size_t *len)
{
    scan s = {.t = t, .n = n};
    size_t kl = strlen(key);
    sc_ws(&s);
    if (s.i >= n || t[s.i] != '{')
        return false;
    s.i++;
    sc_ws(&s);
    if (s.i < n && t[s.i] == '}')
        return false;
    for (;;) {
        sc_ws(&s);
        size_t k = s.i;
        if (!sc_key(&s))
            return false;
        bool match = s.i > k + kl + 1 && t[k] == '"' && memcmp(t + k + 1, key, kl) == 0 &&
                     t[k + 1 + kl] == '"';
        sc_ws(&s);
        size_t v = s.i;
        if (!sc_value(&s))
            return false;
        if (match) {
            *off = v;
            *len = s.i - v;
            return true;
        }
        sc_ws(&s);
        if (s.i >= n || t[s.i] != ',')
            return false;
        s.i++;
    }
}
