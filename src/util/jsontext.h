/*
 * util/jsontext.h - JSON text in and out, accepting every text JSON.parse
 * accepts and giving back what JSON.stringify would write, so any value a
 * JavaScript client sends round-trips. Every JSON parse and serialization in
 * triggerd goes through here rather than straight to jansson.
 *
 * jansson alone loses three kinds of valid JavaScript data: strings holding
 * U+0000 (refused unless JSON_ALLOW_NUL, and then cut short by every C string
 * function), strings holding a lone surrogate ("\ud800", which JSON.stringify
 * writes as that escape and jansson refuses as invalid Unicode), and integers
 * past 64 bits (refused as too big; JavaScript reads them as doubles).
 *
 * In memory (jansson strings, C strings taken from them, store columns), a
 * lone surrogate U+D800+k is held as U+FDD0 U+E000+k and U+0000 as U+FDD0
 * U+E800: valid UTF-8 without a NUL byte. U+FDD0 is a noncharacter, which
 * Unicode sets aside for exactly this kind of internal use; a client string
 * holding U+FDD0 right before one of those private-use characters would be
 * read as the escape (the one input that does not round-trip). Integers of 19
 * digits or more are parsed as doubles, as JavaScript does.
 */
#ifndef TD_UTIL_JSONTEXT_H
#define TD_UTIL_JSONTEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* json_loadb / json_loads with the above. flags are jansson's decoding flags.
 * Returns a new reference (caller decrefs), or NULL when the text is not JSON
 * (error, which may be NULL, says why). */
json_t *jsontext_loadb(const char *text, size_t len, size_t flags, json_error_t *error);
json_t *jsontext_loads(const char *text, size_t flags, json_error_t *error);

/* json_dumps with the above: U+0000 and lone surrogates are written as the
 * escapes JSON.stringify writes ("\u0000", "\ud800"). flags are jansson's
 * encoding flags, except JSON_ENSURE_ASCII. Returns a malloc'd string (caller
 * frees), or NULL. */
char *jsontext_dumps(const json_t *v, size_t flags);

/* ---- raw JSON text, for values jansson cannot hold ---------------------
 * jansson refuses nesting deeper than 2048 (JSON_PARSER_MAX_DEPTH);
 * JSON.parse has no such limit. A stored payload or output that deep is
 * never parsed: it is checked here (no recursion, any depth) and its text
 * spliced into the serialized reply in place of a placeholder string. */

/* Whether t[0..n) is one JSON value (RFC 8259, whitespace around it
 * allowed), at any depth. Strings may hold the in-memory escape pairs. */
bool jsontext_valid(const char *t, size_t n);

/* In the valid JSON object text t[0..n): the span of the value of its
 * top-level member key (a key written without escapes). Returns false
 * when t is not an object or has no such member. */
bool jsontext_member(const char *t, size_t n, const char *key, size_t *off, size_t *len);

/* A JSON text to splice in place of the string value placeholder. */
typedef struct jsontext_splice {
    const char *placeholder; /* a string value in the tree, unique to this dump */
    const char *text;        /* valid JSON text (jsontext_valid), borrowed */
    size_t len;
} jsontext_splice;

/* jsontext_dumps, with the string values sp[i].placeholder (JSON-quoted
 * where they appear) replaced by sp[i].text; texts keep their own form,
 * except that escape pairs in them are written back as escapes too. */
char *jsontext_dumps_spliced(const json_t *v, size_t flags, const jsontext_splice *sp, size_t n);

#endif
