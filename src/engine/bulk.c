/*
 * engine/bulk.c - bulk cancel / replay of the runs matching a filter
 * (engine/bulk.h). One libuv timer serves every job: each firing takes one
 * page (ENGINE_BULK_PAGE runs, newest first, below the previous page's
 * cursor) of the oldest unfinished job, acts on it and re-arms at 0 ms, so
 * requests are served between pages and the server's end-of-turn commit
 * makes each page durable. Walking down from the newest run present at the
 * start keeps runs created meanwhile (the replays themselves) out.
 */
#include "engine/bulk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "engine/status.h"
#include "util/id.h"
#include "util/timefmt.h"

#define ENGINE_BULK_KEEP 32

typedef struct bulk_job {
    engine_bulk_status st;
    char env_id[32];
    store_run_filter f; /* its strings are ours (strs) */
    char **strs;
    size_t n_strs;
    int64_t cursor; /* seq of the last run handled, 0 = from the newest */
    struct bulk_job *next;
} bulk_job;

struct engine_bulk {
    uv_timer_t timer;
    bool armed;
    bulk_job *jobs; /* newest first */
};

static void job_free(bulk_job *j)
{
    for (size_t i = 0; i < j->n_strs; i++)
        free(j->strs[i]);
    free(j->strs);
    free(j);
}

static void bulk_closed(uv_handle_t *h)
{
    struct engine_bulk *b = h->data;
    while (b->jobs) {
        bulk_job *n = b->jobs->next;
        job_free(b->jobs);
        b->jobs = n;
    }
    free(b);
}

void engine_bulk_free(engine *en)
{
    if (!en->bulk)
        return;
    en->bulk->timer.data = en->bulk;
    uv_close((uv_handle_t *)&en->bulk->timer, bulk_closed);
    en->bulk = NULL;
}

/* Copies n strings of src into dst, owned by j. */
static void copy_strs(bulk_job *j, const char **dst, const char *const *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *s = strdup(src[i] ? src[i] : "");
        if (!s)
            abort();
        j->strs[j->n_strs++] = s;
        dst[i] = s;
    }
}

static void copy_filter(bulk_job *j, const store_run_filter *f)
{
    j->f = *f;
    size_t total = f->n_task + f->n_version + f->n_tag + f->n_batch + f->n_queue + f->n_machine +
                   f->n_schedule + 1;
    j->strs = calloc(total, sizeof *j->strs);
    if (!j->strs)
        abort();
    copy_strs(j, j->f.tasks, f->tasks, f->n_task);
    copy_strs(j, j->f.versions, f->versions, f->n_version);
    copy_strs(j, j->f.tags, f->tags, f->n_tag);
    copy_strs(j, j->f.batch_ids, f->batch_ids, f->n_batch);
    copy_strs(j, j->f.queues, f->queues, f->n_queue);
    copy_strs(j, j->f.machines, f->machines, f->n_machine);
    copy_strs(j, j->f.schedule_ids, f->schedule_ids, f->n_schedule);
    j->f.env_ids[0] = j->env_id;
    j->f.n_env = 1;
    j->f.after_seq = j->f.before_seq = 0;
    j->f.limit = ENGINE_BULK_PAGE;
}

/* Acts on one run of the job. */
static void act(engine *en, bulk_job *j, const store_env *env, store_run *r, int64_t now)
{
    j->st.matched++;
    if (j->st.action == ENGINE_BULK_CANCEL) {
        if (status_is_final((run_status)r->status) || engine_run_finished(r)) {
            j->st.skipped++;
            return;
        }
        if (engine_cancel(en, r, "Canceled by user", now) == 0)
            j->st.succeeded++;
        else
            j->st.failed++;
        return;
    }
    trigger_result tr;
    err_t e = {0};
    if (engine_run_replay(en, env, r->friendly_id, now, &tr, &e) == 0)
        j->st.succeeded++;
    else
        j->st.failed++;
}

/* One page of job j. */
static void page(engine *en, bulk_job *j, int64_t now)
{
    const store_env *env = engine_env(en, j->env_id);
    store_run *runs = NULL;
    size_t n = 0;
    bool more = false;
    j->f.after_seq = j->cursor;
    if (!env || store_run_list(en->st, &j->f, &runs, &n, &more) != 0) {
        j->st.failed++;
        n = 0;
        more = false;
    }
    for (size_t i = 0; i < n; i++) {
        act(en, j, env, &runs[i], now);
        j->cursor = runs[i].seq;
        store_run_clear(&runs[i]);
    }
    free(runs);
    if (!more || n == 0) {
        j->st.done = true;
        j->st.finished_at = now;
    }
}

static void arm(struct engine_bulk *b);

static void on_timer(uv_timer_t *t)
{
    engine *en = t->data;
    struct engine_bulk *b = en->bulk;
    b->armed = false;
    bulk_job *oldest = NULL;
    for (bulk_job *j = b->jobs; j; j = j->next)
        if (!j->st.done)
            oldest = j;
    if (!oldest)
        return;
    page(en, oldest, time_now_ms());
    arm(b);
}

static void arm(struct engine_bulk *b)
{
    for (bulk_job *j = b->jobs; j; j = j->next)
        if (!j->st.done) {
            if (!b->armed)
                uv_timer_start(&b->timer, on_timer, 0, 0);
            b->armed = true;
            return;
        }
}

/* Forgets finished jobs past the latest ENGINE_BULK_KEEP. */
static void trim(struct engine_bulk *b)
{
    size_t k = 0;
    for (bulk_job **p = &b->jobs; *p;) {
        if (++k > ENGINE_BULK_KEEP && (*p)->st.done) {
            bulk_job *dead = *p;
            *p = dead->next;
            job_free(dead);
        } else {
            p = &(*p)->next;
        }
    }
}

int engine_bulk_start(engine *en, const store_env *env, const store_run_filter *f,
                      engine_bulk_action action, int64_t now, char id[40], err_t *e)
{
    if (!en->bulk) {
        en->bulk = calloc(1, sizeof *en->bulk);
        if (!en->bulk)
            abort();
        uv_timer_init(en->loop, &en->bulk->timer);
        en->bulk->timer.data = en;
    }
    bulk_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    char body[ID_CUID_LEN + 1];
    id_cuid(body);
    if (id_friendly(j->st.id, sizeof j->st.id, "bulk_", body) != 0) {
        free(j);
        return err_set(e, ERR_INVALID, "Something went wrong");
    }
    snprintf(j->env_id, sizeof j->env_id, "%s", env->id);
    copy_filter(j, f);
    j->st.action = action;
    j->st.created_at = now;
    j->next = en->bulk->jobs;
    en->bulk->jobs = j;
    memcpy(id, j->st.id, sizeof j->st.id);
    trim(en->bulk);
    arm(en->bulk);
    return 0;
}

int engine_bulk_get(engine *en, const store_env *env, const char *id, engine_bulk_status *out)
{
    for (bulk_job *j = en->bulk ? en->bulk->jobs : NULL; j; j = j->next)
        if (strcmp(j->st.id, id) == 0 && strcmp(j->env_id, env->id) == 0) {
            *out = j->st;
            return 0;
        }
    return ERR_NOT_FOUND;
}
