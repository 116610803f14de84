/*
 * lib/batches.c - batch triggering the way SDK 4.5 does it (spec/api.md
 * 6.2): create the batch with its run count (POST /api/v3/batches), stream
 * the items as NDJSON (POST /api/v3/batches/{id}/items), then read the
 * batch back (GET /api/v2/batches/{id}) for the run ids.
 *
 * The item stream is idempotent by item index, so when the server answers
 * sealed:false (not every item arrived) the whole stream is sent again,
 * as the SDK does.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "client.h"
#include "jsonutil.h"
#include "tasks.h"

/* How long trigger_batch_trigger waits for a sealed batch to list all its
 * runs (triggerd creates them at sealing; a remote server may lag). */
#define TRIGGER__BATCH_SETTLE_MS 10000

void trigger_batch_free(trigger_batch *b)
{
    if (!b)
        return;
    free(b->id);
    free(b->status);
    trigger__strv_free(b->run_ids, b->runs_count);
    free(b);
}

static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int parse_batch(trigger_client *c, const json_t *j, trigger_batch **out)
{
    int err = 0;
    trigger_batch *b = calloc(1, sizeof *b);
    if (!b)
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    b->id = trigger__json_str(j, "id", &err);
    b->status = trigger__json_str(j, "status", &err);
    json_int_t rc = json_integer_value(json_object_get(j, "runCount"));
    b->run_count = rc > 0 ? (size_t)rc : 0;
    b->run_ids = trigger__json_strv(j, "runs", &b->runs_count, &err);
    if (err || !b->id) {
        trigger_batch_free(b);
        return err ? trigger__fail(c, err, "out of memory")
                   : trigger__fail(c, TRIGGER_ESERVER, "batch reply has no id");
    }
    *out = b;
    return TRIGGER_OK;
}

/* GET /api/v2/batches/{id}; *done says whether the server has finished
 * creating the batch's runs. */
static int retrieve(trigger_client *c, const char *batch_id, trigger_batch **out, bool *done)
{
    trigger__buf path = {0};
    trigger__reply rp = {0};
    trigger__buf_puts(&path, "/api/v2/batches/");
    trigger__buf_put_encoded(&path, batch_id);
    int rc = path.oom ? trigger__fail(c, TRIGGER_ENOMEM, "out of memory") : TRIGGER_OK;
    trigger__call call = {.method = "GET", .path = path.data};
    if (!rc && !(rc = trigger__request(c, &call, &rp)))
        rc = parse_batch(c, rp.json, out);
    if (!rc && done) {
        const char *st = (*out)->status ? (*out)->status : "";
        json_t *proc = json_object_get(rp.json, "processing");
        *done = (*out)->runs_count >= (*out)->run_count ||
                json_string_value(json_object_get(proc, "completedAt")) ||
                strcmp(st, "COMPLETED") == 0 || strcmp(st, "PARTIAL_FAILED") == 0 ||
                strcmp(st, "ABORTED") == 0;
    }
    trigger__reply_clear(&rp);
    trigger__buf_free(&path);
    return rc;
}

int trigger_batch_retrieve(trigger_client *c, const char *batch_id, trigger_batch **out)
{
    if (!batch_id || !*batch_id || !out)
        return trigger__fail(c, TRIGGER_EBADREQ, "trigger_batch_retrieve needs an id");
    return retrieve(c, batch_id, out, NULL);
}

/* Phase 1: POST /api/v3/batches {runCount, idempotencyKey?}. */
static int create(trigger_client *c, size_t n, const trigger_batch_options *opts, char **id,
                  bool *cached)
{
    json_t *body = json_object();
    trigger__reply rp = {0};
    int rc = body ? trigger__json_set_int(body, "runCount", (long long)n) : TRIGGER_ENOMEM;
    if (!rc && opts)
        rc = trigger__json_set_str(body, "idempotencyKey", opts->idempotency_key);
    if (rc) {
        rc = trigger__fail(c, rc, rc == TRIGGER_ENOMEM ? "out of memory" : "invalid batch key");
        goto out;
    }
    trigger__call call = {.method = "POST", .path = "/api/v3/batches", .json = body};
    if ((rc = trigger__request(c, &call, &rp)))
        goto out;
    const char *s = json_string_value(json_object_get(rp.json, "id"));
    if (!s) {
        rc = trigger__fail(c, TRIGGER_ESERVER, "batch reply has no id");
        goto out;
    }
    *cached = json_is_true(json_object_get(rp.json, "isCached"));
    if (!(*id = strdup(s)))
        rc = trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
out:
    trigger__reply_clear(&rp);
    json_decref(body);
    return rc;
}

/* One NDJSON line: {"index", "task", "payload", "options"}. */
static int item_line(trigger_client *c, trigger__buf *nd, size_t index,
                     const trigger_batch_item *it)
{
    if (!it->task_id || !*it->task_id)
        return trigger__fail(c, TRIGGER_EBADREQ, "batch item %zu has no task id", index);
    int rc = trigger__check_json(c, it->payload_json, "payload_json");
    json_t *options = NULL, *line = NULL;
    if (rc || (rc = trigger__options_json(c, it->opts, it->payload_json != NULL, &options)))
        return rc;
    line = json_object();
    if (!line || json_object_set_new(line, "options", options))
        goto oom;
    if (trigger__json_set_int(line, "index", (long long)index))
        goto oom;
    if ((rc = trigger__json_set_str(line, "task", it->task_id)) ||
        (rc = trigger__json_set_str(line, "payload", it->payload_json))) {
        json_decref(line);
        return rc == TRIGGER_ENOMEM ? trigger__fail(c, rc, "out of memory")
                                    : trigger__fail(c, rc, "batch item %zu: not UTF-8", index);
    }
    char *s = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!s)
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    trigger__buf_puts(nd, s);
    trigger__buf_puts(nd, "\n");
    free(s);
    return TRIGGER_OK;
oom:
    json_decref(line);
    return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
}

/* Phase 2: send all lines, again while the server says sealed:false. */
static int stream_items(trigger_client *c, const char *batch_id, const trigger__buf *nd)
{
    trigger__buf path = {0};
    trigger__buf_puts(&path, "/api/v3/batches/");
    trigger__buf_put_encoded(&path, batch_id);
    trigger__buf_puts(&path, "/items");
    if (path.oom)
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    trigger__call call = {.method = "POST",
                          .path = path.data,
                          .body = nd->data,
                          .body_len = nd->len,
                          .content_type = "application/x-ndjson",
                          .stream = true};
    int rc = TRIGGER_OK;
    for (int attempt = 1;; attempt++) {
        trigger__reply rp = {0};
        if ((rc = trigger__request(c, &call, &rp)))
            break;
        bool sealed = json_is_true(json_object_get(rp.json, "sealed"));
        json_int_t got = json_integer_value(json_object_get(rp.json, "itemsAccepted"));
        trigger__reply_clear(&rp);
        if (sealed)
            break;
        if (attempt >= c->retry.max_attempts) {
            rc = trigger__fail(c, TRIGGER_ESERVER, "batch %s not sealed (%lld items accepted)",
                               batch_id, (long long)got);
            break;
        }
        /* the stream policy's backoff: factor 2, capped */
        double ms = c->retry.min_timeout_ms * pow(2.0, attempt - 1);
        pause_ms((long)fmin(ms, (double)c->retry.max_timeout_ms));
    }
    trigger__buf_free(&path);
    return rc;
}

/* Phase 3: read the batch back until its runs are all there. */
static int settle(trigger_client *c, const char *batch_id, trigger_batch **out)
{
    long waited = 0, step = 20;
    for (;;) {
        bool done = false;
        int rc = retrieve(c, batch_id, out, &done);
        if (rc || done || waited >= TRIGGER__BATCH_SETTLE_MS)
            return rc;
        trigger_batch_free(*out);
        *out = NULL;
        pause_ms(step);
        waited += step;
        step = step < 500 ? step * 2 : 500;
    }
}

int trigger_batch_trigger(trigger_client *c, const trigger_batch_item *items, size_t n,
                          const trigger_batch_options *opts, trigger_batch **out)
{
    if (!items || n == 0 || !out)
        return trigger__fail(c, TRIGGER_EBADREQ, "a batch needs at least one item");
    trigger__buf nd = {0};
    char *id = NULL;
    bool cached = false;
    int rc = TRIGGER_OK;
    /* Build every line first: a bad item fails before anything is created. */
    for (size_t i = 0; i < n && !rc; i++)
        rc = item_line(c, &nd, i, &items[i]);
    if (!rc && nd.oom)
        rc = trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    if (!rc)
        rc = create(c, n, opts, &id, &cached);
    if (!rc && !cached) /* the SDK skips phase 2 for a cached batch */
        rc = stream_items(c, id, &nd);
    if (!rc)
        rc = settle(c, id, out);
    if (!rc)
        (*out)->is_cached = cached;
    free(id);
    trigger__buf_free(&nd);
    return rc;
}
