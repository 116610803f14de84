/*
 * util/jsonw.h - a JSON writer: compact JSON text appended straight to a
 * buffer, for answers on the hot paths (trigger, dequeue, attempt start and
 * complete, the public token's claims) without building a jansson tree and
 * dumping it, and the fast path of jsontext_dumps for jansson trees.
 *
 * The text is byte for byte what jsontext_dumps(v, JSON_COMPACT) writes for
 * the same values in the same order: strings escaped as jansson escapes them
 * (\" \\ \b \f \n \r \t, other control characters as \u00XX, everything else,
 * U+2028 included, as its UTF-8), the in-memory escape pairs of jsontext.h
 * written as the escapes JSON.stringify writes ("\u0000", "\ud800"), reals as
 * jansson formats them. A string that is not valid UTF-8 (jansson refuses it
 * too) makes the whole text fail: jsonw_finish returns NULL.
 */
#ifndef TD_UTIL_JSONW_H
#define TD_UTIL_JSONW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/jsontext.h"

typedef struct jsonw {
    char *p;
    size_t len, cap;
    bool comma;                /* a value was written at this level: the next one needs ',' */
    bool failed;               /* a string was not UTF-8, or a value could not be written */
    const jsontext_splice *sp; /* placeholders jsonw_value replaces by text */
    size_t n_sp;
} jsonw;

/* An empty writer (no allocation yet); zero-initialising one is the same. */
void jsonw_init(jsonw *w);

/* The text written (malloc'd, NUL-terminated, caller frees; its length in
 * *len when len is not NULL), or NULL when the writer failed. Either way
 * the writer is emptied. */
char *jsonw_finish(jsonw *w, size_t *len);

/* Drops what was written. */
void jsonw_free(jsonw *w);

/* Containers. Inside an object, every value follows a jsonw_key. */
void jsonw_obj(jsonw *w);
void jsonw_obj_end(jsonw *w);
void jsonw_arr(jsonw *w);
void jsonw_arr_end(jsonw *w);
void jsonw_key(jsonw *w, const char *k);

/* Values. jsonw_str(w, NULL) writes null. */
void jsonw_str(jsonw *w, const char *s);
void jsonw_strn(jsonw *w, const char *s, size_t n);
void jsonw_int(jsonw *w, int64_t v);
void jsonw_bool(jsonw *w, bool b);
/* A real as jansson writes it (%.17g, ".0" added to an integral value). */
void jsonw_real(jsonw *w, double v);
void jsonw_null(jsonw *w);
/* Valid JSON text t[0..n) (jsontext_valid), written as it is but for its
 * escape pairs. */
void jsonw_raw(jsonw *w, const char *t, size_t n);
/* A jansson value (borrowed), as jsontext_dumps writes it; string values
 * equal to one of w->sp's placeholders are replaced by its text. */
void jsonw_value(jsonw *w, const json_t *v);

/* key and value in one call, for objects. */
void jsonw_kstr(jsonw *w, const char *k, const char *s);
void jsonw_kint(jsonw *w, const char *k, int64_t v);
void jsonw_kbool(jsonw *w, const char *k, bool b);
void jsonw_kvalue(jsonw *w, const char *k, const json_t *v);

#endif
