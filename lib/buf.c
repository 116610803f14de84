/*
 * lib/buf.c - growable byte buffer; see buf.h.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static bool reserve(trigger__buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->data && b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void trigger__buf_append(trigger__buf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void trigger__buf_puts(trigger__buf *b, const char *s)
{
    trigger__buf_append(b, s, strlen(s));
}

/* encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ) alone. */
static bool unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           strchr("-_.!~*'()", ch) != NULL;
}

void trigger__buf_put_encoded(trigger__buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p)) {
            trigger__buf_append(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            trigger__buf_append(b, e, 3);
        }
    }
}

void trigger__buf_put_query(trigger__buf *b, const char *key, const char *value)
{
    bool first = !b->data || !strchr(b->data, '?');
    trigger__buf_puts(b, first ? "?" : "&");
    trigger__buf_put_encoded(b, key);
    trigger__buf_puts(b, "=");
    trigger__buf_put_encoded(b, value);
}

char *trigger__buf_take(trigger__buf *b)
{
    char *s = NULL;
    if (!b->oom)
        s = b->data ? b->data : strdup("");
    else
        free(b->data);
    *b = (trigger__buf){0};
    return s;
}

void trigger__buf_free(trigger__buf *b)
{
    free(b->data);
    *b = (trigger__buf){0};
}
