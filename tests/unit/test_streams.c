/*
 * Unit tests for realtime/streams.c and store/streams.c: records numbered
 * from 0 per stream, read by range, and watchers woken only once the turn
 * that wrote their stream is durable (never on a rolled-back turn).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "realtime/streams.h"
#include "store/store.h"

static char dir[64];
static app a;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/td-unit-streams-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/db", dir);
    store_options o = {.path = path, .sync_full = false};
    memset(&a, 0, sizeof a);
    a.st = store_open(&o);
    cr_assert_not_null(a.st);
    cr_assert_not_null(streams_new(&a));
}

static void teardown(void)
{
    streams_free(a.streams);
    store_close(a.st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

typedef struct woke {
    int calls;
    int64_t seq;
} woke;

static void on_wake(void *ud, int64_t seq)
{
    woke *w = ud;
    w->calls++;
    w->seq = seq;
}

static void collect(void *ud, const store_stream_rec *r)
{
    char *out = ud;
    strncat(out, r->data, r->len);
    strcat(out, ";");
}

TestSuite(streams, .init = setup, .fini = teardown);

Test(streams, records_are_numbered_from_zero_per_stream_and_read_by_range)
{
    int64_t seq;
    cr_assert_eq(streams_append(a.streams, "run_1", "k", "\"a\"", 3, "c", 0, 1, &seq), 0);
    cr_assert_eq(seq, 0);
    cr_assert_eq(streams_append(a.streams, "run_1", "k", "\"b\"", 3, "c", 1, 2, &seq), 0);
    cr_assert_eq(seq, 1);
    cr_assert_eq(streams_append(a.streams, "run_1", "other", "1", 1, NULL, -1, 3, &seq), 0);
    cr_assert_eq(seq, 0);
    char out[64] = "";
    cr_assert_eq(store_stream_each(a.st, "run_1", "k", -1, -1, 10, collect, out), 0);
    cr_assert_str_eq(out, "\"a\";\"b\";");
    out[0] = 0;
    cr_assert_eq(store_stream_each(a.st, "run_1", "k", 0, -1, 10, collect, out), 0);
    cr_assert_str_eq(out, "\"b\";");
    int64_t chunk;
    cr_assert_eq(store_stream_last_chunk(a.st, "run_1", "k", "c", &chunk), 0);
    cr_assert_eq(chunk, 1);
    cr_assert_eq(store_stream_last_chunk(a.st, "run_1", "k", "nobody", &chunk), 0);
    cr_assert_eq(chunk, -1);
}

Test(streams, a_watcher_is_woken_after_durable_not_at_commit_and_not_for_other_streams)
{
    woke w = {0}, other = {0};
    streams_watch *h = streams_watch_start(a.streams, "run_1", "k", on_wake, &w);
    streams_watch *h2 = streams_watch_start(a.streams, "run_1", "k2", on_wake, &other);
    int64_t seq;
    streams_append(a.streams, "run_1", "k", "1", 1, NULL, -1, 1, &seq);
    streams_append(a.streams, "run_1", "k", "2", 1, NULL, -1, 1, &seq);
    cr_assert_eq(store_commit(a.st), 0);
    a.on_commit(&a, 1, true);
    cr_assert_eq(w.calls, 0, "committed is not yet durable");
    a.on_durable(&a, 1);
    cr_assert_eq(w.calls, 1);
    cr_assert_eq(w.seq, 1, "woken once with the highest durable seq");
    cr_assert_eq(other.calls, 0);
    streams_watch_stop(a.streams, h);
    streams_watch_stop(a.streams, h2);
    cr_assert_eq(streams_watchers(a.streams), 0);
}

Test(streams, a_rolled_back_turn_wakes_nobody)
{
    woke w = {0};
    streams_watch *h = streams_watch_start(a.streams, "run_1", "k", on_wake, &w);
    int64_t seq;
    streams_append(a.streams, "run_1", "k", "1", 1, NULL, -1, 1, &seq);
    store_rollback(a.st);
    a.on_commit(&a, 1, false);
    a.on_durable(&a, 1);
    cr_assert_eq(w.calls, 0);
    streams_watch_stop(a.streams, h);
}
