/*
 * examples/worker.c - a C worker serving tasks from triggerd with
 * libtrigger: a hello task, a task that fails twice then succeeds, a task
 * that waits, and a parent that triggers a child and waits for it.
 *
 *   TRIGGER_API_URL=http://127.0.0.1:3030 TRIGGER_SECRET_KEY=tr_dev_... \
 *       build/lib/trigger_worker_example [max-runs]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trigger.h"

static trigger_worker *worker;

static int hello(trigger_ctx *ctx, const char *payload, char **output, void *ud)
{
    (void)ud;
    char buf[512];
    snprintf(buf, sizeof buf, "{\"message\":\"hello from C\",\"run\":\"%s\",\"payload\":%s}",
             trigger_ctx_run_id(ctx), payload);
    *output = strdup(buf);
    return TRIGGER_OK;
}

/* Fails on attempts 1 and 2, succeeds on 3 (the default retry allows 3). */
static int flaky(trigger_ctx *ctx, const char *payload, char **output, void *ud)
{
    (void)payload;
    (void)ud;
    int attempt = trigger_ctx_attempt(ctx);
    if (attempt < 3) {
        char msg[64];
        snprintf(msg, sizeof msg, "failing on purpose (attempt %d)", attempt);
        trigger_ctx_fail(ctx, msg);
        return TRIGGER_ESERVER;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "{\"succeededOnAttempt\":%d}", attempt);
    *output = strdup(buf);
    return TRIGGER_OK;
}

static int sleepy(trigger_ctx *ctx, const char *payload, char **output, void *ud)
{
    (void)payload;
    (void)ud;
    int rc = trigger_wait_for(ctx, 1500);
    if (rc != TRIGGER_OK)
        return rc;
    *output = strdup("{\"waited\":true}");
    return TRIGGER_OK;
}

static int parent(trigger_ctx *ctx, const char *payload, char **output, void *ud)
{
    (void)payload;
    (void)ud;
    bool ok = false;
    char *child_out = NULL;
    int rc = trigger_trigger_and_wait(ctx, "hello", "{\"from\":\"parent\"}", &ok, &child_out);
    if (rc != TRIGGER_OK || !ok) {
        trigger_ctx_fail(ctx, "child failed");
        free(child_out);
        return rc != TRIGGER_OK ? rc : TRIGGER_ESERVER;
    }
    size_t n = strlen(child_out ? child_out : "null") + 32;
    *output = malloc(n);
    snprintf(*output, n, "{\"child\":%s}", child_out ? child_out : "null");
    free(child_out);
    return TRIGGER_OK;
}

/* Works in-process for payload.ms milliseconds (default 3000): a stand-in
 * for real work, used by the tests that kill things mid-run. */
static int slow(trigger_ctx *ctx, const char *payload, char **output, void *ud)
{
    (void)ud;
    const char *p = strstr(payload, "\"ms\":");
    long ms = p ? atol(p + 5) : 3000;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    char buf[96];
    snprintf(buf, sizeof buf, "{\"slept\":%ld,\"attempt\":%d}", ms, trigger_ctx_attempt(ctx));
    *output = strdup(buf);
    return TRIGGER_OK;
}

static void on_signal(int sig)
{
    (void)sig;
    trigger_worker_stop(worker);
}

int main(int argc, char **argv)
{
    long max_runs = argc > 1 ? atol(argv[1]) : 0;
    worker = trigger_worker_new(NULL, NULL, NULL);
    if (!worker) {
        fprintf(stderr, "set TRIGGER_SECRET_KEY (and TRIGGER_API_URL)\n");
        return 2;
    }
    trigger_task_config fast_retry = {
        .max_attempts = 3, .min_timeout_ms = 100, .max_timeout_ms = 500};
    trigger_worker_add_task(worker, "hello", hello, NULL, NULL);
    trigger_worker_add_task(worker, "flaky", flaky, NULL, &fast_retry);
    trigger_worker_add_task(worker, "sleepy", sleepy, NULL, NULL);
    trigger_worker_add_task(worker, "parent", parent, NULL, NULL);
    trigger_worker_add_task(worker, "slow", slow, NULL, NULL);
    const char *poll = getenv("TRIGGER_WORKER_POLL_MS");
    if (poll)
        trigger_worker_set_poll_interval(worker, (unsigned)atoi(poll));
    const char *hb = getenv("TRIGGER_WORKER_HEARTBEAT_MS");
    if (hb)
        trigger_worker_set_heartbeat_interval(worker, (unsigned)atoi(hb));
    const char *threads = getenv("TRIGGER_WORKER_THREADS");
    if (threads)
        trigger_worker_set_concurrency(worker, atoi(threads));
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int rc = trigger_worker_run(worker, max_runs);
    if (rc != TRIGGER_OK)
        fprintf(stderr, "worker: %s\n", trigger_strerror(rc));
    trigger_worker_free(worker);
    return rc == TRIGGER_OK ? 0 : 1;
}
