/*
 * engine/trace.h - a run's trace: the tree of spans and logs its attempts
 * sent over OTLP (api/otel.c), under the run's own span, for
 * GET /api/v1/runs/{id}/trace and spans/{spanId} and the dashboard's
 * timeline.
 */
#ifndef TD_ENGINE_TRACE_H
#define TD_ENGINE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

/* One span of a trace; strings owned by the trace. */
typedef struct trace_span {
    char *id;
    char *parent_id; /* NULL for the run's span */
    char *message;
    char *level;      /* TRACE for spans, the log level for logs */
    char *properties; /* JSON object text, or NULL */
    char *events;     /* JSON array text of span events, or NULL */
    int64_t start_ms;
    int64_t duration_ns;
    bool is_error, is_partial, is_cancelled;
    bool is_log;
    long parent; /* index of the parent in the trace's spans, -1 for the root */
    long order;  /* arrival order (ties of start_ms) */
} trace_span;

/* spans[0] is the run's span, the others in start order (ties in arrival
 * order), each with its parent's index; the parent links form a tree. */
typedef struct engine_trace {
    char *trace_id;
    trace_span *spans;
    size_t n;
} engine_trace;

/* The trace of run r (borrowed) at now: its events (a partial span
 * replaced by its full one, spans of a finished run closed with it) under
 * the run's span. Spans whose parent is unknown (or that sit in a cycle,
 * or deeper than 200) hang from the run's span.
 * Caller clears *out. */
int engine_run_trace(engine *en, const store_run *r, int64_t now, engine_trace *out, err_t *e);
/* Index of span id in t, or -1. */
long engine_trace_find(const engine_trace *t, const char *id);
void engine_trace_clear(engine_trace *t);

#endif
