/*
 * lib/jsonutil.h - moving values between jansson and the plain C structs of
 * trigger.h, in both directions. Readers use a sticky error (*err becomes
 * TRIGGER_ENOMEM on the first failed allocation and stays so), so a parser
 * copies every field and checks once.
 */
#ifndef TRIGGER_JSONUTIL_H
#define TRIGGER_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

/* A copy of the string at o[key] (caller frees), or NULL if absent or not
 * a string. */
char *trigger__json_str(const json_t *o, const char *key, int *err);
/* o[key] as compact JSON text (caller frees); NULL if absent or null. */
char *trigger__json_text(const json_t *o, const char *key, int *err);
/* A copy of the string array at o[key]: *count entries (non-strings are
 * skipped), freed with trigger__strv_free. NULL with *count 0 if absent. */
char **trigger__json_strv(const json_t *o, const char *key, size_t *count, int *err);
void trigger__strv_free(char **v, size_t count);

/* Parses JSON text of any kind; NULL if it is not valid JSON. New ref. */
json_t *trigger__json_parse(const char *text);
/* Set o[key] to a string, an array of strings (NULL-terminated) or an
 * integer. A NULL string or array sets nothing. Return 0, TRIGGER_EBADREQ
 * for a string that is not UTF-8, or TRIGGER_ENOMEM. */
int trigger__json_set_str(json_t *o, const char *key, const char *v);
int trigger__json_set_strv(json_t *o, const char *key, const char *const *v);
int trigger__json_set_int(json_t *o, const char *key, long long v);

#endif
