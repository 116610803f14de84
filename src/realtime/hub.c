/*
 * realtime/hub.c - the change hub (see realtime.h).
 *
 * Changes move through three stages with the commit pipeline of
 * http/server.c: written (the engine's change hook, during a loop turn),
 * committed (the turn's transaction, tagged with its generation) and
 * durable (the flush covering that generation), and only then reach
 * subscribers, so nobody is shown a change that a crash could take back.
 * With no subscriber parked, the hook records nothing: a subscriber that
 * parks later first reads the store for what happened before.
 *
 * On a shared database (PostgreSQL, many nodes) the other nodes' changes
 * arrive as notifications naming an environment (store_run_notes, polled
 * every REMOTE_POLL_MS); the hub reads that environment's runs changed since
 * its cursor and delivers them like a batch of its own (already committed
 * by the node that wrote them).
 */
#include "realtime/realtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "util/timefmt.h"

#define SWEEP_MS 1000
#define REMOTE_POLL_MS 20
#define REMOTE_ENVS 64
#define REMOTE_READ 256

struct realtime_sub {
    feed_filter f;
    int64_t after, deadline;
    realtime_deliver fn;
    void *ud;
    realtime_sub *prev, *next;
};

/* A written change: what matching needs of the run, and the published row. */
typedef struct change {
    store_run view; /* friendly_id, env_id, batch_id, tags, created_at */
    realtime_change pub;
} change;

typedef struct batch {
    uint64_t gen;
    change *c;
    size_t n;
    struct batch *next;
} batch;

struct realtime {
    uv_timer_t sweep; /* first: closing it frees the hub */
    app *a;
    json_t *(*serialize)(const store_run *r);
    realtime_sub *subs;
    size_t n_subs;
    change *written; /* since the last commit */
    size_t n_written, cap_written;
    batch *committed, **committed_tail; /* oldest first */
    bool sweeping;
    realtime_watcher watchers[REALTIME_MAX_WATCHERS];
    size_t n_watchers;
    /* other nodes' changes (store_shared): a cursor per environment, from
     * remote_base (the head when the hub started) */
    uv_timer_t *remote;
    int64_t remote_base;
    struct {
        char env_id[32];
        int64_t cursor;
    } cursors[REMOTE_ENVS];
    size_t n_cursors;
};

static char *hub_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

void feed_filter_clear(feed_filter *f)
{
    free(f->key);
    for (size_t i = 0; i < f->n_tags; i++)
        free(f->tags[i]);
    free(f->tags);
    memset(f, 0, sizeof *f);
}

static bool has_tag(json_t *tags, const char *t)
{
    size_t i;
    json_t *v;
    json_array_foreach(tags, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), t) == 0)
            return true;
    }
    return false;
}

bool feed_matches(const feed_filter *f, const store_run *r)
{
    if (!r->env_id || strcmp(r->env_id, f->env_id) != 0)
        return false;
    switch (f->kind) {
    case FEED_RUN:
        return r->friendly_id && strcmp(r->friendly_id, f->key) == 0;
    case FEED_BATCH:
        return r->batch_id && strcmp(r->batch_id, f->key) == 0;
    case FEED_TAGS: {
        if (f->created_after && r->created_at <= f->created_after)
            return false;
        json_t *tags = json_loads(r->tags ? r->tags : "[]", 0, NULL);
        bool ok = true;
        for (size_t i = 0; i < f->n_tags && ok; i++)
            ok = has_tag(tags, f->tags[i]);
        json_decref(tags);
        return ok;
    }
    }
    return false;
}

static void change_clear(change *c)
{
    store_run_clear(&c->view);
    free(c->pub.run_id);
    free(c->pub.internal_id);
    json_decref(c->pub.value);
}

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        change_clear(&b->c[i]);
    free(b->c);
    free(b);
}

/* ---- the three stages --------------------------------------------------- */

static void on_change(void *ud, const store_run *r)
{
    realtime *rt = ud;
    bool wanted = false;
    for (size_t i = 0; i < rt->n_watchers && !wanted; i++)
        wanted = rt->watchers[i].want(rt->watchers[i].ud, r);
    if (rt->n_subs == 0 && !wanted)
        return;
    if (rt->n_written == rt->cap_written) {
        rt->cap_written = rt->cap_written ? rt->cap_written * 2 : 16;
        rt->written = realloc(rt->written, rt->cap_written * sizeof *rt->written);
        if (!rt->written)
            abort();
    }
    change *c = &rt->written[rt->n_written++];
    memset(c, 0, sizeof *c);
    c->view.friendly_id = hub_strdup(r->friendly_id);
    c->view.env_id = hub_strdup(r->env_id);
    c->view.batch_id = hub_strdup(r->batch_id);
    c->view.tags = hub_strdup(r->tags);
    c->view.created_at = r->created_at;
    c->view.status = r->status;
    c->view.snapshot_id = hub_strdup(r->snapshot_id);
    c->pub.run_id = hub_strdup(r->friendly_id);
    c->pub.internal_id = hub_strdup(r->id);
    c->pub.change_seq = r->change_seq;
    c->pub.value = rt->serialize(r);
}

static void on_commit(app *a, uint64_t gen, bool ok)
{
    realtime *rt = a->rt;
    if (!rt->n_written)
        return;
    if (!ok) { /* rolled back: these changes never happened */
        for (size_t i = 0; i < rt->n_written; i++)
            change_clear(&rt->written[i]);
        rt->n_written = 0;
        return;
    }
    batch *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    b->gen = gen;
    b->c = rt->written;
    b->n = rt->n_written;
    rt->written = NULL;
    rt->n_written = rt->cap_written = 0;
    *rt->committed_tail = b;
    rt->committed_tail = &b->next;
}

static void unlink_sub(realtime *rt, realtime_sub *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        rt->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    rt->n_subs--;
    if (rt->n_subs == 0 && rt->sweeping) {
        uv_timer_stop(&rt->sweep);
        rt->sweeping = false;
    }
}

static void end_sub(realtime *rt, realtime_sub *s, const realtime_change *c, size_t n,
                    realtime_memo *memo)
{
    unlink_sub(rt, s);
    realtime_deliver fn = s->fn;
    void *ud = s->ud;
    feed_filter_clear(&s->f);
    free(s);
    fn(ud, c, n, memo);
}

/* Hands each subscriber the changes of b it has not seen. */
static void deliver(realtime *rt, const batch *b)
{
    realtime_change *hits = malloc((b->n ? b->n : 1) * sizeof *hits);
    if (!hits)
        abort();
    realtime_memo memo = {0};
    realtime_sub *s = rt->subs;
    while (s) {
        realtime_sub *next = s->next;
        size_t n = 0;
        for (size_t i = 0; i < b->n; i++)
            if (b->c[i].pub.change_seq > s->after && feed_matches(&s->f, &b->c[i].view))
                hits[n++] = b->c[i].pub;
        if (n)
            end_sub(rt, s, hits, n, &memo);
        s = next;
    }
    if (memo.p && memo.free)
        memo.free(memo.p);
    free(hits);
    for (size_t w = 0; w < rt->n_watchers; w++)
        for (size_t i = 0; i < b->n; i++)
            rt->watchers[w].seen(rt->watchers[w].ud, &b->c[i].view);
}

int realtime_watch(realtime *rt, const realtime_watcher *w)
{
    if (rt->n_watchers == REALTIME_MAX_WATCHERS)
        return -1;
    rt->watchers[rt->n_watchers++] = *w;
    return 0;
}

void realtime_unwatch(realtime *rt, void *ud)
{
    for (size_t i = 0; i < rt->n_watchers; i++)
        if (rt->watchers[i].ud == ud) {
            rt->watchers[i] = rt->watchers[--rt->n_watchers];
            return;
        }
}

static void on_durable(app *a, uint64_t gen)
{
    realtime *rt = a->rt;
    while (rt->committed && rt->committed->gen <= gen) {
        batch *b = rt->committed;
        rt->committed = b->next;
        if (!rt->committed)
            rt->committed_tail = &rt->committed;
        deliver(rt, b);
        batch_free(b);
    }
}

/* ---- other nodes' changes ------------------------------------------------ */

static int64_t *cursor_of(realtime *rt, const char *env_id)
{
    for (size_t i = 0; i < rt->n_cursors; i++)
        if (strcmp(rt->cursors[i].env_id, env_id) == 0)
            return &rt->cursors[i].cursor;
    size_t k = rt->n_cursors < REMOTE_ENVS ? rt->n_cursors++ : REMOTE_ENVS - 1;
    snprintf(rt->cursors[k].env_id, sizeof rt->cursors[k].env_id, "%s", env_id);
    rt->cursors[k].cursor = rt->remote_base;
    return &rt->cursors[k].cursor;
}

/* Delivers env's runs changed since its cursor (some may be ours: a
 * subscriber skips what it saw, a watcher filters again). */
static void remote_env(realtime *rt, const char *env_id)
{
    int64_t *cur = cursor_of(rt, env_id);
    for (int round = 0; round < 8; round++) {
        store_run *runs = NULL;
        size_t n = 0;
        if (store_run_changed_since(rt->a->st, env_id, *cur, REMOTE_READ, &runs, &n) != 0)
            return; /* the next notification (or reconnect) tries again */
        if (n) {
            size_t keep = rt->n_written; /* (none: this runs between turns) */
            for (size_t i = 0; i < n; i++) {
                if (runs[i].change_seq > *cur)
                    *cur = runs[i].change_seq;
                on_change(rt, &runs[i]);
                store_run_clear(&runs[i]);
            }
            free(runs);
            if (rt->n_written > keep) {
                batch b = {.c = rt->written + keep, .n = rt->n_written - keep};
                deliver(rt, &b);
                for (size_t i = 0; i < b.n; i++)
                    change_clear(&b.c[i]);
                rt->n_written = keep;
            }
        } else {
            free(runs);
        }
        if (n < REMOTE_READ)
            return;
    }
}

static void on_remote(uv_timer_t *t)
{
    realtime *rt = t->data;
    char (*envs)[32] = NULL;
    size_t n = 0;
    int all = store_run_notes(rt->a->st, &envs, &n);
    if (all == 1) {
        store_env *ev = NULL;
        size_t ne = 0;
        if (store_env_list(rt->a->st, &ev, &ne) == 0)
            for (size_t i = 0; i < ne; i++)
                remote_env(rt, ev[i].id);
        free(ev);
    }
    for (size_t i = 0; i < n; i++)
        remote_env(rt, envs[i]);
    free(envs);
}

static void start_remote(realtime *rt)
{
    if (!store_shared(rt->a->st))
        return;
    rt->remote = calloc(1, sizeof *rt->remote);
    if (!rt->remote)
        abort();
    rt->remote_base = store_change_seq_head(rt->a->st);
    uv_timer_init(rt->a->loop, rt->remote);
    rt->remote->data = rt;
    uv_timer_start(rt->remote, on_remote, REMOTE_POLL_MS, REMOTE_POLL_MS);
    uv_unref((uv_handle_t *)rt->remote);
}

/* ---- subscribers ------------------------------------------------------- */

static void on_sweep(uv_timer_t *t)
{
    realtime *rt = t->data;
    int64_t now = time_now_ms();
    realtime_sub *s = rt->subs;
    while (s) {
        realtime_sub *next = s->next;
        if (s->deadline <= now)
            end_sub(rt, s, NULL, 0, NULL);
        s = next;
    }
}

realtime *realtime_new(app *a, json_t *(*serialize)(const store_run *r))
{
    realtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->a = a;
    rt->serialize = serialize;
    rt->committed_tail = &rt->committed;
    uv_timer_init(a->loop, &rt->sweep);
    rt->sweep.data = rt;
    a->rt = rt;
    a->on_commit = on_commit;
    a->on_durable = on_durable;
    engine_set_change_hook(a->en, on_change, rt);
    start_remote(rt);
    return rt;
}

void realtime_free(realtime *rt)
{
    if (!rt)
        return;
    while (rt->subs)
        end_sub(rt, rt->subs, NULL, 0, NULL);
    for (size_t i = 0; i < rt->n_written; i++)
        change_clear(&rt->written[i]);
    free(rt->written);
    while (rt->committed) {
        batch *b = rt->committed;
        rt->committed = b->next;
        batch_free(b);
    }
    engine_set_change_hook(rt->a->en, NULL, NULL);
    if (rt->remote)
        uv_close((uv_handle_t *)rt->remote, (uv_close_cb)free);
    rt->a->on_commit = NULL;
    rt->a->on_durable = NULL;
    rt->a->rt = NULL;
    uv_close((uv_handle_t *)&rt->sweep, (uv_close_cb)free);
}

realtime_sub *realtime_subscribe(realtime *rt, const feed_filter *f, int64_t after,
                                 int64_t deadline, realtime_deliver fn, void *ud)
{
    realtime_sub *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->f.kind = f->kind;
    memcpy(s->f.env_id, f->env_id, sizeof s->f.env_id);
    s->f.key = hub_strdup(f->key);
    s->f.created_after = f->created_after;
    if (f->n_tags) {
        s->f.tags = calloc(f->n_tags, sizeof *s->f.tags);
        if (!s->f.tags)
            abort();
        for (size_t i = 0; i < f->n_tags; i++)
            s->f.tags[i] = hub_strdup(f->tags[i]);
        s->f.n_tags = f->n_tags;
    }
    s->after = after;
    s->deadline = deadline;
    s->fn = fn;
    s->ud = ud;
    s->next = rt->subs;
    if (rt->subs)
        rt->subs->prev = s;
    rt->subs = s;
    rt->n_subs++;
    if (!rt->sweeping) {
        uv_timer_start(&rt->sweep, on_sweep, SWEEP_MS / 4, SWEEP_MS / 4);
        rt->sweeping = true;
    }
    return s;
}

void realtime_unsubscribe(realtime *rt, realtime_sub *s)
{
    unlink_sub(rt, s);
    feed_filter_clear(&s->f);
    free(s);
}

size_t realtime_subscribers(const realtime *rt)
{
    return rt->n_subs;
}
