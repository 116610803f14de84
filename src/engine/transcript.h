/*
 * engine/transcript.h - reading a chat agent's persisted transcript (the
 * session snapshot blob the agent uploads through snapshot-url) for
 * GET /api/v1/sessions/:s/transcript (the latest SDK). Pure: bytes in, a
 * page out. Blob formats: version 1 JSON ({version:1, messages:[UIMessage]}),
 * version 2 JSON ({version:2, messages:[{id, final, message}]}) and the
 * version 2 NDJSON blob (a header line {"v":2,...}, one entry per line, an
 * index footer and a "#tt2:" trailer).
 */
#ifndef TD_ENGINE_TRANSCRIPT_H
#define TD_ENGINE_TRANSCRIPT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One page of blob's messages, oldest first: before (an entry id, NULL =
 * the end) keeps the entries ordered before it (none when it is gone),
 * limit > 0 the last limit of those. Returns {messages, cursors?,
 * nextCursor?} (new reference); {messages:[]} when blob is not a snapshot
 * (NULL/empty included). */
json_t *transcript_page(const char *blob, size_t len, int64_t limit, const char *before);

#endif
