/*
 * realtime/realtime.h - the change hub: every run the engine writes is
 * published, once its commit is durable, to the subscribers whose feed it
 * matches (one run, a tag set of an environment, a batch).
 *
 * The hub is a wake-up mechanism, not a log: the store's per-run change
 * number (runs.change_seq) is the log, so a subscriber that reconnects with
 * its last offset asks the store for what it missed and misses nothing. A
 * subscriber here is one parked long-poll: it is handed the matching changes
 * of the first durable batch after it parked, or nothing at its deadline,
 * and is then gone. Each change is serialized once, by the feed protocol's
 * serializer, and shared by every subscriber it reaches.
 */
#ifndef TD_REALTIME_H
#define TD_REALTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "store/store.h"

typedef enum feed_kind { FEED_RUN, FEED_TAGS, FEED_BATCH } feed_kind;

/* What a feed shows; strings are owned by the filter (feed_filter_clear). */
typedef struct feed_filter {
    feed_kind kind;
    char env_id[32];
    char *key;    /* FEED_RUN: the run's friendly id; FEED_BATCH: the batch's */
    char **tags;  /* FEED_TAGS: every one must be on the run */
    size_t n_tags;
    int64_t created_after; /* FEED_TAGS: ms epoch, 0 = any */
} feed_filter;

void feed_filter_clear(feed_filter *f);

/* True when run r belongs in feed f. */
bool feed_matches(const feed_filter *f, const store_run *r);

/* One published change: the run's identity, its change number and its row
 * as the feed protocol serialized it (borrowed by deliveries). */
typedef struct realtime_change {
    char *run_id;   /* friendly id */
    char *internal_id;
    int64_t change_seq;
    json_t *value;  /* the serialized row */
} realtime_change;

typedef struct realtime_sub realtime_sub;

/* Scratch shared by the subscribers of one durable batch: whatever a
 * deliverer keeps in p (e.g. reply bodies already serialized, so N
 * subscribers handed the same changes cost one serialization) lives until
 * every subscriber of the batch was called, then free(p) is called. */
typedef struct realtime_memo {
    void *p;
    void (*free)(void *p);
} realtime_memo;

/* Called once per subscriber: with the matching changes of a durable batch
 * (changes[0..n), borrowed for the call) and the batch's memo, or with n = 0
 * and memo NULL at the deadline or when the hub shuts down. The subscriber
 * is gone after it returns. */
typedef void (*realtime_deliver)(void *ud, const realtime_change *changes, size_t n,
                                 realtime_memo *memo);

/* Creates the hub and hooks it into a's engine and commit pipeline.
 * serialize turns a run into its published row (a new reference). */
realtime *realtime_new(app *a, json_t *(*serialize)(const store_run *r));
/* Ends every subscriber (n = 0) and frees the hub. */
void realtime_free(realtime *rt);

/* Parks a subscriber for changes of f with change_seq > after, until
 * deadline (ms epoch). f is copied. */
realtime_sub *realtime_subscribe(realtime *rt, const feed_filter *f, int64_t after,
                                 int64_t deadline, realtime_deliver fn, void *ud);
/* Drops a subscriber without calling it (its client went away). */
void realtime_unsubscribe(realtime *rt, realtime_sub *s);

/* A watcher hears of durable changes for as long as it is registered
 * (unlike a subscriber, which is handed one batch and gone). want is asked
 * at write time whether it cares about run r (the full row, borrowed);
 * seen is then called, once the change is durable, for every change of the
 * batch (cared for by this watcher or another: it filters again) with a
 * view holding friendly_id, env_id, status and snapshot_id (borrowed for
 * the call). seen may write through the engine: those writes are a later
 * batch. */
typedef struct realtime_watcher {
    bool (*want)(void *ud, const store_run *r);
    void (*seen)(void *ud, const store_run *view);
    void *ud;
} realtime_watcher;

#define REALTIME_MAX_WATCHERS 4

/* Registers w (copied). Returns 0, or -1 when REALTIME_MAX_WATCHERS are. */
int realtime_watch(realtime *rt, const realtime_watcher *w);
/* Drops the watcher registered with ud. */
void realtime_unwatch(realtime *rt, void *ud);

/* Subscribers parked now (for tests and metrics). */
size_t realtime_subscribers(const realtime *rt);

#endif
