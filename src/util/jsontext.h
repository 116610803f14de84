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

#endif
