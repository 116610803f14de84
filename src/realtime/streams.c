/*
 * realtime/streams.c - stream appends and the wake-up of parked readers.
 *
 * An append notes (run, stream, seq) for the loop turn; when the turn's
 * transaction commits the notes become a batch tagged with its commit
 * generation, and when that generation is durable every watcher of a noted
 * stream is woken with the highest durable seq. A rolled-back turn's notes
 * are dropped. Watchers are few per stream, so a list scanned per batch is
 * enough for now.
 */
#include "realtime/streams.h"

#include <stdlib.h>
#include <string.h>

#include "store/store.h"

typedef struct note {
    char *run_id, *stream;
    int64_t seq;
} note;

struct streams_waiter {
    void (*fn)(void *ud, bool ok); /* NULL once cancelled */
    void *ud;
    struct streams_waiter *next;
};

typedef struct nbatch {
    uint64_t gen;
    note *n;
    size_t len;
    streams_waiter *waiters; /* in registration order */
    struct nbatch *next;
} nbatch;

struct streams_watch {
    char *run_id, *stream;
    streams_wake fn;
    void *ud;
    streams_watch *prev, *next;
};

struct streams {
    app *a;
    void (*prev_commit)(app *a, uint64_t gen, bool ok);
    void (*prev_durable)(app *a, uint64_t gen);
    note *turn; /* noted this turn, not yet committed */
    size_t n_turn, cap_turn;
    streams_waiter *turn_waiters, **turn_waiters_tail;
    nbatch *committed, **committed_tail;
    streams_watch *watchers;
    size_t n_watchers;
    streams_watch *iter_next; /* the next watcher of a wake-up in progress */
    uv_timer_t *remote; /* store_shared: other nodes' appends (REMOTE_POLL_MS) */
};

#define REMOTE_POLL_MS 20

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void notes_free(note *n, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        free(n[i].run_id);
        free(n[i].stream);
    }
    free(n);
}

/* Calls and frees a list of waiters. */
static void waiters_fire(streams_waiter *w, bool ok)
{
    while (w) {
        streams_waiter *next = w->next;
        if (w->fn)
            w->fn(w->ud, ok);
        free(w);
        w = next;
    }
}

static void on_commit(app *a, uint64_t gen, bool ok)
{
    streams *s = a->streams;
    if (s->prev_commit)
        s->prev_commit(a, gen, ok);
    if (!s->n_turn && !s->turn_waiters)
        return;
    streams_waiter *ws = s->turn_waiters;
    s->turn_waiters = NULL;
    s->turn_waiters_tail = &s->turn_waiters;
    if (!ok) {
        notes_free(s->turn, s->n_turn);
        s->turn = NULL;
        s->n_turn = s->cap_turn = 0;
        waiters_fire(ws, false);
        return;
    }
    nbatch *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    b->gen = gen;
    b->n = s->turn;
    b->len = s->n_turn;
    b->waiters = ws;
    s->turn = NULL;
    s->n_turn = s->cap_turn = 0;
    *s->committed_tail = b;
    s->committed_tail = &b->next;
}

static void wake(streams *s, const nbatch *b)
{
    for (streams_watch *w = s->watchers; w; w = s->iter_next) {
        s->iter_next = w->next;
        int64_t top = -1;
        for (size_t i = 0; i < b->len; i++)
            if (b->n[i].seq > top && strcmp(b->n[i].run_id, w->run_id) == 0 &&
                strcmp(b->n[i].stream, w->stream) == 0)
                top = b->n[i].seq;
        if (top >= 0)
            w->fn(w->ud, top);
    }
    s->iter_next = NULL;
}

static void on_durable(app *a, uint64_t gen)
{
    streams *s = a->streams;
    if (s->prev_durable)
        s->prev_durable(a, gen);
    while (s->committed && s->committed->gen <= gen) {
        nbatch *b = s->committed;
        s->committed = b->next;
        if (!s->committed)
            s->committed_tail = &s->committed;
        wake(s, b);
        waiters_fire(b->waiters, true);
        notes_free(b->n, b->len);
        free(b);
    }
}

/* Other nodes appended to streams: their watchers here read what is
 * committed (the writing node's commit; INT64_MAX: all of it). */
static void on_remote(uv_timer_t *t)
{
    streams *s = t->data;
    char (*keys)[200] = NULL;
    size_t n = 0;
    int all = store_stream_notes(s->a->st, &keys, &n);
    if (!s->n_watchers) {
        free(keys);
        return;
    }
    for (streams_watch *w = s->watchers; w; w = s->iter_next) {
        s->iter_next = w->next;
        bool hit = all == 1;
        size_t rl = strlen(w->run_id);
        for (size_t i = 0; i < n && !hit; i++)
            hit = strncmp(keys[i], w->run_id, rl) == 0 && keys[i][rl] == '\t' &&
                  strcmp(keys[i] + rl + 1, w->stream) == 0;
        if (hit)
            w->fn(w->ud, INT64_MAX);
    }
    s->iter_next = NULL;
    free(keys);
}

streams *streams_new(app *a)
{
    streams *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->a = a;
    s->committed_tail = &s->committed;
    s->turn_waiters_tail = &s->turn_waiters;
    s->prev_commit = a->on_commit;
    s->prev_durable = a->on_durable;
    a->streams = s;
    a->on_commit = on_commit;
    a->on_durable = on_durable;
    if (store_shared(a->st)) {
        s->remote = calloc(1, sizeof *s->remote);
        if (!s->remote)
            abort();
        uv_timer_init(a->loop, s->remote);
        s->remote->data = s;
        uv_timer_start(s->remote, on_remote, REMOTE_POLL_MS, REMOTE_POLL_MS);
        uv_unref((uv_handle_t *)s->remote);
    }
    return s;
}

void streams_free(streams *s)
{
    if (!s)
        return;
    if (s->a->on_commit == on_commit)
        s->a->on_commit = s->prev_commit;
    if (s->a->on_durable == on_durable)
        s->a->on_durable = s->prev_durable;
    s->a->streams = NULL;
    if (s->remote)
        uv_close((uv_handle_t *)s->remote, (uv_close_cb)free);
    notes_free(s->turn, s->n_turn);
    while (s->committed) {
        nbatch *b = s->committed;
        s->committed = b->next;
        notes_free(b->n, b->len);
        waiters_fire(b->waiters, false);
        free(b);
    }
    waiters_fire(s->turn_waiters, false);
    while (s->watchers)
        streams_watch_stop(s, s->watchers);
    free(s);
}

int streams_append(streams *s, const char *run_id, const char *stream, const char *data, size_t len,
                   const char *client_id, int64_t chunk, int64_t now, int64_t *seq)
{
    int rc = store_stream_append(s->a->st, run_id, stream, data, len, client_id, chunk, now, seq);
    if (rc)
        return rc;
    streams_note(s, run_id, stream, *seq);
    return 0;
}

void streams_note(streams *s, const char *run_id, const char *stream, int64_t seq)
{
    store_stream_noted(s->a->st, run_id, stream); /* other nodes' readers (PostgreSQL) */
    if (!s->n_watchers)
        return; /* nobody to wake: a reader that comes later reads the store */
    if (s->n_turn == s->cap_turn) {
        s->cap_turn = s->cap_turn ? s->cap_turn * 2 : 16;
        s->turn = realloc(s->turn, s->cap_turn * sizeof *s->turn);
        if (!s->turn)
            abort();
    }
    s->turn[s->n_turn++] = (note){xstrdup(run_id), xstrdup(stream), seq};
}

streams_waiter *streams_when_durable(streams *s, void (*fn)(void *ud, bool ok), void *ud)
{
    streams_waiter *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->fn = fn;
    w->ud = ud;
    *s->turn_waiters_tail = w;
    s->turn_waiters_tail = &w->next;
    return w;
}

void streams_waiter_cancel(streams_waiter *w)
{
    w->fn = NULL;
}

streams_watch *streams_watch_start(streams *s, const char *run_id, const char *stream,
                                   streams_wake fn, void *ud)
{
    streams_watch *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->run_id = xstrdup(run_id);
    w->stream = xstrdup(stream);
    w->fn = fn;
    w->ud = ud;
    w->next = s->watchers;
    if (s->watchers)
        s->watchers->prev = w;
    s->watchers = w;
    s->n_watchers++;
    return w;
}

void streams_watch_stop(streams *s, streams_watch *w)
{
    if (s->iter_next == w)
        s->iter_next = w->next;
    if (w->prev)
        w->prev->next = w->next;
    else
        s->watchers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    s->n_watchers--;
    free(w->run_id);
    free(w->stream);
    free(w);
}

size_t streams_watchers(const streams *s)
{
    return s->n_watchers;
}
