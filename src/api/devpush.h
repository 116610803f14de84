/*
 * api/devpush.h - the dev CLI's push channel: socket.io namespace
 * /dev-worker on the HTTP port (docs/dev-protocol.md, "Push channel").
 * A CLI subscribes to the runs it holds and is sent run:notify whenever
 * one of them gets a new execution snapshot, so it acts at once instead of
 * on its 5 s snapshot poll.
 */
#ifndef TD_API_DEVPUSH_H
#define TD_API_DEVPUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"

typedef struct devpush devpush;

/* Counters, for tests and the curious (GET /engine/v1/dev/push). */
typedef struct devpush_stats {
    uint64_t sockets;       /* WebSocket connections open now */
    uint64_t connected;     /* of which joined /dev-worker */
    uint64_t connects;      /* namespace connects accepted, ever */
    uint64_t auth_failures; /* connects refused (CONNECT_ERROR) */
    uint64_t workload_connects; /* deployed worker processes joining /workload */
    uint64_t notifies;      /* run:notify sent */
    uint64_t received;      /* "run:notify received by runner" debug logs from CLIs */
    uint64_t ping_timeouts; /* connections cut for not answering a ping */
    uint64_t subscriptions; /* runs subscribed now, over all sockets */
} devpush_stats;

/* Serves upgrades under /socket.io/ on a->http and watches a->rt;
 * a->push is set. NULL on failure. */
devpush *devpush_new(app *a);
/* Closes every connection (without waiting) and frees. */
void devpush_free(devpush *dp);

/* True when a CLI of env_id listens on the channel (so it awaits dequeues
 * and may be held: api/dev.c). */
bool devpush_env_listening(const devpush *dp, const char *env_id);

void devpush_stats_get(const devpush *dp, devpush_stats *out);
/* Counts a CLI's acknowledgement (its debug log for a run:notify). */
void devpush_count_received(devpush *dp);

#endif
