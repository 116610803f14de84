/*
 * api/devanswers.h - the run loop's answers (docs/dev-protocol.md), written
 * as JSON text with jsonw rather than built as trees: the dequeue's
 * messages, the attempt start (execution, env vars) and the snapshot and run
 * of a completion. The hottest answers triggerd gives; api/dev.c routes.
 */
#ifndef TD_API_DEVANSWERS_H
#define TD_API_DEVANSWERS_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "util/jsonw.h"

/* runs[0..n) (consumed: cleared and freed) as DevDequeueResponseBody's
 * dequeuedMessages, an array, or, single, only the first message (n is
 * then 1). A run whose attempt the dequeue started ("startAttempts",
 * triggerd's extension, libtrigger's worker) carries the attempt start
 * answer in "attempt", which saves the worker that round trip. */
void devanswers_dequeued(jsonw *w, http_ctx *c, dequeued_run *runs, size_t n, bool single);

/* The attempt start answer for r, just started; p is our project. */
void devanswers_start(jsonw *w, http_ctx *c, const store_project *p, const store_run *r,
                      const attempt_info *ai);

/* An execution snapshot of r with the given id, status and description. */
void devanswers_snapshot(jsonw *w, const store_run *r, const char *id, const char *status,
                         const char *desc);

/* The run as the run loop's answers show it (id, status, attempt number). */
void devanswers_base_run(jsonw *w, const store_run *r);

#endif
