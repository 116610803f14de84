/*
 * engine/trace.c - builds a run's trace from its stored OTLP events (see
 * trace.h). The run's own span is made from the run row, as the platform
 * records it at trigger time: named after the task, from the trigger until
 * the run finished, an error when the run failed. Partial spans (a span
 * still open) stand until their full span arrives, and are closed with the
 * run once it is over (the platform's ancestor overrides).
 */
#include "engine/trace.h"

#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "engine/status.h"

#define TRACE_MAX_DEPTH 200

typedef struct collect {
    engine_trace *t;
    size_t cap;
} collect;

static char *dup_or_null(const char *s)
{
    return s ? engine_strdup(s) : NULL;
}

static trace_span *push(collect *c)
{
    engine_trace *t = c->t;
    if (t->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        t->spans = realloc(t->spans, c->cap * sizeof *t->spans);
        if (!t->spans)
            abort();
    }
    trace_span *s = &t->spans[t->n++];
    memset(s, 0, sizeof *s);
    s->parent = -1;
    return s;
}

static void span_clear(trace_span *s)
{
    free(s->id);
    free(s->parent_id);
    free(s->message);
    free(s->level);
    free(s->properties);
    free(s->events);
}

long engine_trace_find(const engine_trace *t, const char *id)
{
    for (size_t i = 0; id && i < t->n; i++)
        if (t->spans[i].id && strcmp(t->spans[i].id, id) == 0)
            return (long)i;
    return -1;
}

/* Keeps one row per span id: a full span replaces its partial one. */
static void on_event(void *ud, const store_event *ev)
{
    collect *c = ud;
    if (!ev->span_id || !*ev->span_id)
        return;
    bool log = !ev->level || strcmp(ev->level, "trace") != 0;
    long at = engine_trace_find(c->t, ev->span_id);
    if (at > 0) {
        trace_span *old = &c->t->spans[at];
        if (ev->is_partial || !old->is_partial)
            return; /* a partial after its full span, or a duplicate */
        span_clear(old);
        memset(old, 0, sizeof *old);
        old->parent = -1;
    } else if (at == 0) {
        return; /* nothing replaces the run's span */
    }
    trace_span *s = at > 0 ? &c->t->spans[at] : push(c);
    s->id = engine_strdup(ev->span_id);
    s->parent_id = dup_or_null(ev->parent_id);
    s->message = engine_strdup(ev->message ? ev->message : "");
    s->level = engine_strdup(log ? (ev->level && *ev->level ? ev->level : "INFO") : "TRACE");
    for (char *p = s->level; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    if (strcmp(s->level, "LOG") == 0) { /* rows from before levels were mapped */
        free(s->level);
        s->level = engine_strdup("INFO");
    }
    s->properties = dup_or_null(ev->attributes);
    s->events = dup_or_null(ev->span_events);
    s->start_ms = ev->time_ms;
    s->duration_ns = ev->duration_ns;
    s->is_error = ev->is_error != 0;
    s->is_partial = ev->is_partial != 0;
    s->is_log = log;
}

/* The run's span, spans[0]. */
static void root_span(collect *c, const store_run *r, int64_t now)
{
    trace_span *s = push(c);
    s->id = engine_strdup(r->span_id ? r->span_id : r->friendly_id);
    s->message = engine_strdup(r->task);
    s->level = engine_strdup("TRACE");
    s->start_ms = r->created_at;
    bool final = status_is_final((run_status)r->status);
    int64_t end = final ? (r->completed_at ? r->completed_at : r->updated_at) : now;
    s->duration_ns = (end > r->created_at ? end - r->created_at : 0) * 1000000;
    s->is_partial = !final;
    s->is_cancelled = r->status == RUN_CANCELED;
    s->is_error = final && !s->is_cancelled && status_is_failed((run_status)r->status);
}

/* Links each span to its parent (unknown or cyclic: the run's span) and
 * closes the spans left open when the run is over. */
static void link_parents(engine_trace *t)
{
    trace_span *root = &t->spans[0];
    for (size_t i = 1; i < t->n; i++) {
        trace_span *s = &t->spans[i];
        long p = engine_trace_find(t, s->parent_id);
        s->parent = p < 0 || p == (long)i ? 0 : p;
    }
    /* a chain that never reaches the root is a cycle; one deeper than
     * TRACE_MAX_DEPTH is cut there too (the tree is written recursively) */
    for (size_t i = 1; i < t->n; i++) {
        long p = t->spans[i].parent;
        size_t steps = 0;
        while (p > 0 && steps++ < TRACE_MAX_DEPTH)
            p = t->spans[p].parent;
        if (p != 0)
            t->spans[i].parent = 0;
    }
    if (root->is_partial)
        return;
    int64_t end_ms = root->start_ms + root->duration_ns / 1000000;
    for (size_t i = 1; i < t->n; i++) {
        trace_span *s = &t->spans[i];
        if (!s->is_partial)
            continue;
        s->is_partial = false;
        s->is_cancelled = root->is_cancelled;
        s->is_error = root->is_error;
        s->duration_ns = (end_ms > s->start_ms ? end_ms - s->start_ms : 0) * 1000000;
    }
}

static int by_start(const void *a, const void *b)
{
    const trace_span *x = a, *y = b;
    if (x->start_ms != y->start_ms)
        return (x->start_ms > y->start_ms) - (x->start_ms < y->start_ms);
    return (x->order > y->order) - (x->order < y->order);
}

int engine_run_trace(engine *en, const store_run *r, int64_t now, engine_trace *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    collect c = {.t = out};
    root_span(&c, r, now);
    int rc = store_event_each(en->st, r->friendly_id, on_event, &c);
    if (rc) {
        engine_trace_clear(out);
        return err_set(e, rc, "Something went wrong");
    }
    /* children in start order, ties in arrival order */
    for (size_t i = 0; i < out->n; i++)
        out->spans[i].order = (long)i;
    if (out->n > 2)
        qsort(out->spans + 1, out->n - 1, sizeof *out->spans, by_start);
    link_parents(out);
    const char *tid = r->trace_id;
    out->trace_id = engine_strdup(tid ? tid : r->friendly_id);
    return 0;
}

void engine_trace_clear(engine_trace *t)
{
    for (size_t i = 0; i < t->n; i++)
        span_clear(&t->spans[i]);
    free(t->spans);
    free(t->trace_id);
    memset(t, 0, sizeof *t);
}
