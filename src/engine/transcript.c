/*
 * engine/transcript.c - pages of a persisted chat transcript (see
 * transcript.h). Entries the SDK's reader would drop are dropped here too:
 * no non-empty string id, a message that is not an object, or (version 2)
 * a message whose id is not the entry's.
 */
#include "engine/transcript.h"

#include <string.h>

#include "util/jsontext.h"

/* Appends {id, message} of e to out when it is a usable entry. */
static void add_entry(json_t *out, json_t *id, json_t *msg, int check_id)
{
    if (!json_is_string(id) || !json_string_length(id) || !json_is_object(msg))
        return;
    if (check_id) {
        json_t *mid = json_object_get(msg, "id");
        if (!json_is_string(mid) || strcmp(json_string_value(mid), json_string_value(id)) != 0)
            return;
    }
    json_array_append_new(out, json_pack("{s:O,s:O}", "id", id, "message", msg));
}

static void set_cursors(json_t *page, json_t *from)
{
    json_t *out = json_object(), *in = json_object_get(from, "lastInEventId");
    json_t *o = json_object_get(from, "lastOutEventId");
    if (json_is_string(o))
        json_object_set(out, "lastOutEventId", o);
    if (json_is_string(in))
        json_object_set(out, "lastInEventId", in);
    if (json_object_size(out))
        json_object_set_new(page, "cursors", out);
    else
        json_decref(out);
}

/* The entries of a JSON blob (version 1 or 2), NULL when it is not one. */
static json_t *json_entries(json_t *doc)
{
    json_t *v = json_object_get(doc, "version");
    json_t *msgs = json_object_get(doc, "messages");
    if (!json_is_integer(v) || !json_is_array(msgs))
        return NULL;
    int ver = (int)json_integer_value(v);
    if (ver != 1 && ver != 2)
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        if (ver == 1)
            add_entry(out, json_object_get(m, "id"), m, 0);
        else
            add_entry(out, json_object_get(m, "id"), json_object_get(m, "message"), 1);
    }
    return out;
}

/* The entries of an NDJSON version 2 blob; *header receives its header. */
static json_t *ndjson_entries(const char *blob, size_t len, json_t **header)
{
    json_t *out = NULL;
    *header = NULL;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(blob + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - blob) : len;
        if (end > i && blob[i] != '#') {
            json_t *line = jsontext_loadb(blob + i, end - i, 0, NULL);
            if (!*header) {
                if (!json_is_object(line) || json_integer_value(json_object_get(line, "v")) != 2) {
                    json_decref(line);
                    return NULL;
                }
                *header = line;
                out = json_array();
                line = NULL;
            } else if (json_object_get(line, "message")) {
                add_entry(out, json_object_get(line, "id"), json_object_get(line, "message"), 1);
            }
            json_decref(line);
        }
        i = end + 1;
    }
    return out;
}

json_t *transcript_page(const char *blob, size_t len, int64_t limit, const char *before)
{
    json_t *page = json_object();
    json_t *meta = NULL;
    json_t *entries = NULL;
    if (blob && len) {
        json_t *doc = jsontext_loadb(blob, len, 0, NULL);
        if (doc && (entries = json_entries(doc)))
            meta = doc;
        else {
            json_decref(doc);
            entries = ndjson_entries(blob, len, &meta);
        }
    }
    if (!entries) {
        json_decref(meta);
        json_object_set_new(page, "messages", json_array());
        return page;
    }
    size_t end = json_array_size(entries);
    if (before) {
        size_t i;
        json_t *e;
        end = 0;
        int found = 0;
        json_array_foreach(entries, i, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "id")), before) == 0) {
                end = i;
                found = 1;
                break;
            }
        }
        if (!found)
            end = 0;
    }
    size_t start = 0;
    if (limit > 0 && end > (size_t)limit) {
        start = end - (size_t)limit;
        json_object_set(page, "nextCursor", json_object_get(json_array_get(entries, start), "id"));
    }
    json_t *msgs = json_array();
    for (size_t i = start; i < end; i++)
        json_array_append(msgs, json_object_get(json_array_get(entries, i), "message"));
    json_object_set_new(page, "messages", msgs);
    set_cursors(page, meta);
    json_decref(entries);
    json_decref(meta);
    return page;
}
