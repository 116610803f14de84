/*
 * tests/unit/test_transcript.c - pages of a persisted chat transcript. The
 * NDJSON blob is what the latest SDK's serializeTranscriptSnapshot writes
 * (@trigger.dev/core 4.8.3, sessionStreams/chatSnapshot.js); paging follows
 * its pageTranscriptEntries.
 */
#include "engine/transcript.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static const char V2_NDJSON[] =
    "{\"v\":2,\"savedAt\":5,\"lastOutEventId\":\"7\",\"lastInEventId\":\"3\",\"state\":{"
    "\"secret\":1}}\n"
    "{\"id\":\"m1\",\"final\":true,\"message\":{\"id\":\"m1\",\"role\":\"user\",\"parts\":[{"
    "\"type\":\"text\",\"text\":\"a\"}]}}\n"
    "{\"id\":\"m2\",\"final\":true,\"message\":{\"id\":\"m2\",\"role\":\"user\",\"parts\":[{"
    "\"type\":\"text\",\"text\":\"b\"}]}}\n"
    "{\"id\":\"m3\",\"final\":false,\"message\":{\"id\":\"m3\",\"role\":\"user\",\"parts\":[{"
    "\"type\":\"text\",\"text\":\"c\\n\\\"q\\\"\"}]}}\n"
    "{\"id\":\"bad\",\"final\":true,\"message\":{\"id\":\"other\",\"role\":\"user\",\"parts\":[{"
    "\"type\":\"text\",\"text\":\"x\"}]}}\n"
    "{\"ids\":[\"m1\",\"m2\",\"m3\",\"bad\"],\"offsets\":[82,180,278,384,486],\"savedAt\":5,"
    "\"lastOutEventId\":\"7\",\"lastInEventId\":\"3\"}\n"
    "#tt2:0000000000000114\n";

/* The ids of page's messages joined with ',' (caller frees). */
static char *ids(json_t *page)
{
    char *out = calloc(1, 256);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(page, "messages"), i, m)
    {
        if (i)
            strcat(out, ",");
        strcat(out, json_string_value(json_object_get(m, "id")));
    }
    return out;
}

static void check(const char *blob, int64_t limit, const char *before, const char *want_ids,
                  const char *want_next)
{
    json_t *p = transcript_page(blob, blob ? strlen(blob) : 0, limit, before);
    char *got = ids(p);
    cr_assert_str_eq(got, want_ids, "limit %lld before %s", (long long)limit, before);
    json_t *next = json_object_get(p, "nextCursor");
    if (want_next)
        cr_assert_str_eq(json_string_value(next), want_next);
    else
        cr_assert_null(next);
    free(got);
    json_decref(p);
}

Test(transcript, ndjson_v2_whole_and_cursors)
{
    check(V2_NDJSON, 0, NULL, "m1,m2,m3", NULL);
    json_t *p = transcript_page(V2_NDJSON, strlen(V2_NDJSON), 0, NULL);
    json_t *c = json_object_get(p, "cursors");
    cr_assert_str_eq(json_string_value(json_object_get(c, "lastOutEventId")), "7");
    cr_assert_str_eq(json_string_value(json_object_get(c, "lastInEventId")), "3");
    cr_assert_null(json_object_get(p, "state"), "the private runtime state never leaves");
    json_t *m3 = json_array_get(json_object_get(p, "messages"), 2);
    const char *text =
        json_string_value(json_object_get(json_array_get(json_object_get(m3, "parts"), 0), "text"));
    cr_assert_str_eq(text, "c\n\"q\"");
    json_decref(p);
}

Test(transcript, paging_as_the_sdk)
{
    check(V2_NDJSON, 2, NULL, "m2,m3", "m2");
    check(V2_NDJSON, 2, "m2", "m1", NULL);
    check(V2_NDJSON, 1, "m3", "m2", "m2");
    check(V2_NDJSON, 5, "m3", "m1,m2", NULL);
    check(V2_NDJSON, 0, "gone", "", NULL);
    check(V2_NDJSON, 3, NULL, "m1,m2,m3", NULL);
}

Test(transcript, json_blobs_v1_and_v2)
{
    check("{\"version\":1,\"messages\":[{\"id\":\"a\",\"role\":\"user\"},{\"role\":\"user\"},"
          "{\"id\":\"b\"}],\"lastOutEventId\":\"4\"}",
          0, NULL, "a,b", NULL);
    check("{\"version\":2,\"messages\":[{\"id\":\"a\",\"final\":true,\"message\":{\"id\":\"a\"}},"
          "{\"id\":\"b\",\"final\":true,\"message\":{\"id\":\"c\"}},{\"id\":\"\",\"final\":true,"
          "\"message\":{\"id\":\"\"}}],\"state\":null}",
          0, NULL, "a", NULL);
}

Test(transcript, not_a_snapshot_is_an_empty_page)
{
    check(NULL, 0, NULL, "", NULL);
    check("", 0, NULL, "", NULL);
    check("garbage", 0, NULL, "", NULL);
    check("{\"version\":3,\"messages\":[]}", 0, NULL, "", NULL);
    check("{\"v\":1}\n{\"id\":\"a\",\"final\":true,\"message\":{\"id\":\"a\"}}\n", 0, NULL, "",
          NULL);
}
