/*
 * engine/metadata.c - run metadata operations, applied as the SDK's
 * applyMetadataOperations applies them (@trigger.dev/core
 * runMetadata/operations): plain keys address top-level members, keys that
 * start with "$." are JSON paths ("$.a.b", "$.items.0"), set creates missing
 * parents, append turns a non-array into [old, new], remove drops deep-equal
 * items from an array, increment treats a non-number as 0, update replaces
 * the whole object. Operations the SDK would leave unapplied are skipped.
 */
#include "engine/metadata.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool forbidden(const char *k)
{
    return strcmp(k, "__proto__") == 0 || strcmp(k, "constructor") == 0 ||
           strcmp(k, "prototype") == 0;
}

/* Splits a "$." path into segments (malloc'd copy in *buf). */
static size_t split_path(const char *key, char **buf, char *segs[], size_t max)
{
    *buf = strdup(key + 2);
    if (!*buf)
        abort();
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(*buf, ".", &save); t && n < max;
         t = strtok_r(NULL, ".", &save))
        segs[n++] = t;
    return n;
}

static bool is_index(const char *s, size_t *idx)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    *idx = (size_t)strtoul(s, NULL, 10);
    return true;
}

/* The member seg of container c (borrowed), or NULL. */
static json_t *child(json_t *c, const char *seg)
{
    size_t idx;
    if (json_is_array(c) && is_index(seg, &idx))
        return json_array_get(c, idx);
    return json_is_object(c) ? json_object_get(c, seg) : NULL;
}

/* Sets seg of c to v (stolen). Returns false if c cannot hold it. */
static bool set_child(json_t *c, const char *seg, json_t *v)
{
    size_t idx;
    if (json_is_array(c) && is_index(seg, &idx)) {
        while (json_array_size(c) < idx)
            json_array_append_new(c, json_null());
        if (idx == json_array_size(c))
            return json_array_append_new(c, v) == 0;
        return json_array_set_new(c, idx, v) == 0;
    }
    if (json_is_object(c))
        return json_object_set_new(c, seg, v) == 0;
    json_decref(v);
    return false;
}

/* Reads the value at key (borrowed), or NULL. */
static json_t *get_at(json_t *md, const char *key)
{
    if (strncmp(key, "$.", 2) != 0)
        return json_object_get(md, key);
    char *buf, *segs[64];
    size_t n = split_path(key, &buf, segs, 64);
    json_t *cur = md;
    for (size_t i = 0; i < n && cur; i++)
        cur = child(cur, segs[i]);
    free(buf);
    return n ? cur : NULL;
}

/* Writes v (stolen) at key, creating missing parents as objects. */
static void set_at(json_t *md, const char *key, json_t *v)
{
    if (strncmp(key, "$.", 2) != 0) {
        json_object_set_new(md, key, v);
        return;
    }
    char *buf, *segs[64];
    size_t n = split_path(key, &buf, segs, 64);
    json_t *cur = md;
    for (size_t i = 0; i + 1 < n && cur; i++) {
        json_t *next = child(cur, segs[i]);
        if (!json_is_object(next) && !json_is_array(next)) {
            next = json_object();
            if (!set_child(cur, segs[i], next)) {
                cur = NULL;
                break;
            }
        }
        cur = next;
    }
    if (cur && n)
        set_child(cur, segs[n - 1], v);
    else
        json_decref(v);
    free(buf);
}

static int apply_one(json_t *md, json_t *op, err_t *e)
{
    const char *type = json_string_value(json_object_get(op, "type"));
    if (!type)
        return err_set(e, ERR_INVALID, "Metadata operation has no type");
    json_t *value = json_object_get(op, "value");
    if (strcmp(type, "update") == 0) {
        if (!json_is_object(value))
            return err_set(e, ERR_INVALID, "update needs an object value");
        json_object_clear(md);
        json_object_update(md, value);
        return 0;
    }
    const char *key = json_string_value(json_object_get(op, "key"));
    if (!key)
        return err_set(e, ERR_INVALID, "Metadata operation %s has no key", type);
    if (forbidden(key))
        return err_set(e, ERR_INVALID, "Invalid metadata key: %s", key);
    if (strcmp(type, "set") == 0) {
        if (!value)
            return err_set(e, ERR_INVALID, "set needs a value");
        set_at(md, key, json_deep_copy(value));
    } else if (strcmp(type, "delete") == 0) {
        json_object_del(md, key); /* the SDK deletes top-level keys only */
    } else if (strcmp(type, "append") == 0) {
        if (!value)
            return err_set(e, ERR_INVALID, "append needs a value");
        json_t *cur = get_at(md, key);
        json_t *arr;
        if (json_is_array(cur))
            arr = json_deep_copy(cur);
        else if (!cur)
            arr = json_array();
        else
            arr = json_pack("[O]", cur);
        json_array_append_new(arr, json_deep_copy(value));
        set_at(md, key, arr);
    } else if (strcmp(type, "remove") == 0) {
        if (!value)
            return err_set(e, ERR_INVALID, "remove needs a value");
        json_t *cur = get_at(md, key);
        if (!json_is_array(cur))
            return 0; /* unapplied, as in the SDK */
        json_t *arr = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(cur, i, item) if (!json_equal(item, value)) json_array_append(arr, item);
        set_at(md, key, arr);
    } else if (strcmp(type, "increment") == 0 || strcmp(type, "decrement") == 0) {
        if (!json_is_number(value))
            return err_set(e, ERR_INVALID, "%s needs a numeric value", type);
        json_t *cur = get_at(md, key);
        double by = json_number_value(value);
        double base = json_is_number(cur) ? json_number_value(cur) : 0;
        double r = strcmp(type, "increment") == 0 ? base + by : base - by;
        bool integral =
            (!cur || json_is_integer(cur) || !json_is_number(cur)) && json_is_integer(value);
        set_at(md, key, integral ? json_integer((json_int_t)r) : json_real(r));
    }
    /* other types: unapplied, as in the SDK */
    return 0;
}

int metadata_apply(json_t *metadata, json_t *operations, err_t *e)
{
    if (!json_is_object(metadata))
        return err_set(e, ERR_INVALID, "Metadata must be an object");
    if (!operations || json_is_null(operations))
        return 0;
    if (json_is_object(operations))
        return apply_one(metadata, operations, e);
    if (!json_is_array(operations))
        return err_set(e, ERR_INVALID, "Metadata operations must be an array");
    size_t i;
    json_t *op;
    json_array_foreach(operations, i, op)
    {
        if (!json_is_object(op))
            return err_set(e, ERR_INVALID, "Metadata operation %zu is not an object", i);
        int rc = apply_one(metadata, op, e);
        if (rc)
            return rc;
    }
    return 0;
}
