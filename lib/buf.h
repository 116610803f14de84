/*
 * lib/buf.h - a growable byte buffer for building URLs, query strings and
 * NDJSON bodies. Always NUL-terminated; an allocation failure is sticky
 * (buf->oom), so a caller appends freely and checks once at the end.
 */
#ifndef TRIGGER_BUF_H
#define TRIGGER_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct trigger__buf {
    char *data; /* NULL until the first append; owned */
    size_t len;
    size_t cap;
    bool oom;
} trigger__buf;

void trigger__buf_append(trigger__buf *b, const char *s, size_t n);
void trigger__buf_puts(trigger__buf *b, const char *s);
/* Appends s percent-encoded like JavaScript's encodeURIComponent. */
void trigger__buf_put_encoded(trigger__buf *b, const char *s);
/* Appends "&key=value" ('?' instead of '&' on the first parameter), both
 * encoded like URLSearchParams does it. */
void trigger__buf_put_query(trigger__buf *b, const char *key, const char *value);
/* Hands the string to the caller (free()), or NULL after an allocation
 * failure; the buffer is empty afterwards either way. */
char *trigger__buf_take(trigger__buf *b);
void trigger__buf_free(trigger__buf *b);

#endif
