/*
 * lib/jsonutil.c - jansson <-> plain C values; see jsonutil.h.
 */
#include <stdlib.h>
#include <string.h>

#include "trigger.h"
#include "jsonutil.h"

static void *check(void *p, int *err)
{
    if (!p)
        *err = TRIGGER_ENOMEM;
    return p;
}

char *trigger__json_str(const json_t *o, const char *key, int *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? check(strdup(s), err) : NULL;
}

char *trigger__json_text(const json_t *o, const char *key, int *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    return check(json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), err);
}

char **trigger__json_strv(const json_t *o, const char *key, size_t *count, int *err)
{
    json_t *a = json_object_get(o, key);
    *count = 0;
    if (!json_is_array(a) || json_array_size(a) == 0)
        return NULL;
    char **v = check(calloc(json_array_size(a), sizeof *v), err);
    if (!v)
        return NULL;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e))
            continue;
        if (!(v[*count] = check(strdup(json_string_value(e)), err)))
            break;
        (*count)++;
    }
    return v;
}

void trigger__strv_free(char **v, size_t count)
{
    for (size_t i = 0; v && i < count; i++)
        free(v[i]);
    free(v);
}

json_t *trigger__json_parse(const char *text)
{
    return json_loads(text, JSON_DECODE_ANY, NULL);
}

/* A new JSON string; *err says why not: jansson refuses invalid UTF-8,
 * which is the caller's mistake, not an allocation failure. */
static json_t *new_string(const char *v, int *err)
{
    json_t *s = json_string(v);
    if (s)
        return s;
    json_t *raw = json_stringn_nocheck(v, strlen(v));
    *err = raw ? TRIGGER_EBADREQ : TRIGGER_ENOMEM;
    json_decref(raw);
    return NULL;
}

int trigger__json_set_str(json_t *o, const char *key, const char *v)
{
    int err = 0;
    if (!v)
        return 0;
    json_t *s = new_string(v, &err);
    if (!s)
        return err;
    return json_object_set_new(o, key, s) ? TRIGGER_ENOMEM : 0;
}

int trigger__json_set_strv(json_t *o, const char *key, const char *const *v)
{
    int err = 0;
    if (!v)
        return 0;
    json_t *a = json_array();
    if (!a)
        return TRIGGER_ENOMEM;
    for (; *v && !err; v++) {
        json_t *s = new_string(*v, &err);
        if (s && json_array_append_new(a, s) != 0)
            err = TRIGGER_ENOMEM;
    }
    if (!err && json_object_set_new(o, key, a) != 0)
        return TRIGGER_ENOMEM;
    if (err)
        json_decref(a);
    return err;
}

int trigger__json_set_int(json_t *o, const char *key, long long v)
{
    return json_object_set_new(o, key, json_integer(v)) ? TRIGGER_ENOMEM : 0;
}
