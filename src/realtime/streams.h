/*
 * realtime/streams.h - realtime stream records (output streams and input
 * streams): append, and wake the readers parked on a stream once the
 * records they are told about are durable.
 *
 * Like the change hub, this is a wake-up mechanism over the store's log
 * (store_stream_*): a watcher is told "records up to seq N of your stream are
 * durable" after the turn that wrote them is on disk, and reads them from the
 * store; a reader that reconnects with its last number misses nothing.
 */
#ifndef TD_REALTIME_STREAMS_H
#define TD_REALTIME_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"

typedef struct streams streams;
typedef struct streams_watch streams_watch;

/* Called when records of the watched stream up to durable_seq are on disk.
 * The callback may stop its own watcher (and no other). */
typedef void (*streams_wake)(void *ud, int64_t durable_seq);

/* Creates the module and chains it into a's commit pipeline hooks (after
 * the change hub's, which it keeps calling). Sets a->streams. */
streams *streams_new(app *a);
/* Unhooks and frees; watchers are dropped without a call (their owners end
 * with their connections). */
void streams_free(streams *s);

/* Appends a record to (run_id, stream) in the turn's transaction; the
 * stream's watchers are woken when it is durable. See store_stream_append. */
int streams_append(streams *s, const char *run_id, const char *stream, const char *data, size_t len,
                   const char *client_id, int64_t chunk, int64_t now, int64_t *seq);

/* Notes that (run_id, stream) got records up to seq in this turn, written
 * by the caller itself (S2 streams use run_id ""). */
void streams_note(streams *s, const char *run_id, const char *stream, int64_t seq);

/* Calls fn(ud, ok) once the writes made so far in this turn are durable
 * (ok) or were rolled back (!ok). The caller must have written in this
 * turn. The handle is valid until fn is called or streams_waiter_cancel. */
typedef struct streams_waiter streams_waiter;
streams_waiter *streams_when_durable(streams *s, void (*fn)(void *ud, bool ok), void *ud);
void streams_waiter_cancel(streams_waiter *w);

/* Watches (run_id, stream) (strings copied) until streams_watch_stop. */
streams_watch *streams_watch_start(streams *s, const char *run_id, const char *stream,
                                   streams_wake fn, void *ud);
void streams_watch_stop(streams *s, streams_watch *w);

/* Watchers now (tests and metrics). */
size_t streams_watchers(const streams *s);

#endif
