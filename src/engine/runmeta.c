/*
 * engine/runmeta.c - changes to run metadata, and what else an attempt's
 * completion reports about its run (its compute time).
 *
 * One change set, the SDK's FlushedRunMetadata {metadata?, operations?,
 * parentOperations?, rootOperations?}, comes both from the runs API (PUT
 * /api/v1/runs/{id}/metadata, spec/api.md [19]) and from a completion: the
 * SDK's last flush as the task returns (flushedMetadata, a serialized packet).
 * It is applied as the real server's UpdateMetadataService applies it:
 * operations (when an array) to the run's metadata, else metadata as a full
 * replacement; parentOperations to the parent and rootOperations to the root,
 * or to the run itself when it has none. The operations are engine/metadata.c.
 */
#include "engine/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/metadata.h"
#include "engine/status.h"

/* Metadata of runs completed more than this long ago is frozen ([19]). */
#define METADATA_GRACE_MS (10LL * 60 * 1000)
#define METADATA_MAX_BYTES (256 * 1024)
/* usageDurationMs is a Postgres int4 on the platform, capped there */
#define USAGE_MAX_MS 2147483647LL

/* The run's metadata as an object (new reference): the stored JSON, or {}. */
static json_t *current(const store_run *r)
{
    json_t *md = NULL;
    if (r->metadata && (!r->metadata_type || strcmp(r->metadata_type, "application/json") == 0))
        md = jsontext_loads(r->metadata, 0, NULL);
    if (!json_is_object(md)) {
        json_decref(md);
        md = json_object();
    }
    return md;
}

/* Sets md (borrowed) as r's metadata, in memory. */
static int set_metadata(store_run *r, json_t *md, int64_t now, err_t *e)
{
    char *text = jsontext_dumps(md, JSON_COMPACT);
    if (!text)
        abort();
    if (strlen(text) > METADATA_MAX_BYTES) {
        free(text);
        return err_set(e, ERR_TOO_LARGE, "Metadata exceeds the maximum size of 256KB");
    }
    free(r->metadata);
    free(r->metadata_type);
    r->metadata = text;
    r->metadata_type = engine_strdup("application/json");
    r->updated_at = now;
    return 0;
}

/* Applies an operation list (borrowed) to r's metadata, in memory. */
static int apply_ops(store_run *r, json_t *ops, int64_t now, err_t *e)
{
    json_t *md = current(r);
    int rc = metadata_apply(md, ops, e);
    if (rc == 0)
        rc = set_metadata(r, md, now, e);
    json_decref(md);
    return rc;
}

/* The runs one change set touches: the run itself, and its parent and root
 * when they are other runs (one slot when they are the same run). */
typedef struct targets {
    store_run *self;
    store_run rel[2];
    bool loaded[2];
    bool found[2];
} targets;

/* The run with id (NULL: the run itself) for the operations aimed at it, or
 * NULL when it does not exist (the real server ignores those operations). */
static store_run *target(engine *en, targets *t, const char *id)
{
    if (!id || strcmp(id, t->self->friendly_id) == 0 || strcmp(id, t->self->id) == 0)
        return t->self;
    for (int i = 0; i < 2; i++) {
        if (t->loaded[i] && strcmp(t->rel[i].friendly_id, id) == 0)
            return t->found[i] ? &t->rel[i] : NULL;
        if (!t->loaded[i]) {
            t->loaded[i] = true;
            t->found[i] = store_run_get(en->st, t->self->env_id, id, &t->rel[i]) == 0;
            if (!t->found[i]) {
                store_run_clear(&t->rel[i]);
                t->rel[i].friendly_id = engine_strdup(id); /* remembered as missing */
            }
            return t->found[i] ? &t->rel[i] : NULL;
        }
    }
    return NULL;
}

static void targets_clear(targets *t)
{
    for (int i = 0; i < 2; i++)
        if (t->loaded[i])
            store_run_clear(&t->rel[i]);
}

/* Applies ops (borrowed, may be NULL) to the run with id, in memory. */
static int apply_to(engine *en, targets *t, const char *id, json_t *ops, int64_t now, err_t *e)
{
    if (!json_array_size(ops))
        return 0;
    store_run *r = target(en, t, id);
    return r ? apply_ops(r, ops, now, e) : 0;
}

/* Applies change set ch (borrowed) to r in memory, and to its parent and
 * root, which are saved only when every part applied. The caller saves r. */
static int apply_changes(engine *en, store_run *r, json_t *ch, int64_t now, err_t *e)
{
    targets t = {.self = r};
    json_t *ops = json_object_get(ch, "operations");
    json_t *md = json_object_get(ch, "metadata");
    int rc = 0;
    if (json_is_array(ops))
        rc = apply_ops(r, ops, now, e);
    else if (json_is_object(md))
        rc = set_metadata(r, md, now, e);
    if (rc == 0)
        rc = apply_to(en, &t, r->parent_id, json_object_get(ch, "parentOperations"), now, e);
    if (rc == 0)
        rc = apply_to(en, &t, r->root_id, json_object_get(ch, "rootOperations"), now, e);
    for (int i = 0; i < 2 && rc == 0; i++)
        if (t.found[i] && (rc = engine_save(en, &t.rel[i])))
            err_set(e, rc, "Something went wrong");
    targets_clear(&t);
    return rc;
}

int engine_run_update_metadata(engine *en, const store_env *env, const char *run_id,
                               json_t *changes, int64_t now, json_t **out, err_t *e)
{
    store_run r = {0};
    *out = NULL;
    int rc = store_run_get(en->st, env->id, run_id, &r);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, rc, "Task Run not found");
    if (rc)
        return err_set(e, rc, "Something went wrong");
    if (status_is_final((run_status)r.status) && r.completed_at &&
        now - r.completed_at > METADATA_GRACE_MS) {
        rc = err_set(e, ERR_UNPROCESSABLE, "Cannot update metadata for a completed run");
        goto out;
    }
    rc = apply_changes(en, &r, changes, now, e);
    if (rc == 0 && (rc = engine_save(en, &r)))
        err_set(e, rc, "Something went wrong");
    if (rc == 0)
        *out = current(&r);
out:
    store_run_clear(&r);
    return rc;
}

/* The change set a completion carries (new reference), or NULL: the
 * flushedMetadata packet (JSON or superjson text), or the older metadata
 * object. A superjson packet whose meta marks values JSON cannot hold
 * (undefined, dates, ...) fails the real server's schema and is dropped. */
static json_t *completion_changes(json_t *completion)
{
    json_t *legacy = json_object_get(completion, "metadata");
    if (json_is_object(legacy))
        return json_incref(legacy);
    json_t *fm = json_object_get(completion, "flushedMetadata");
    const char *data = json_string_value(json_object_get(fm, "data"));
    const char *type = json_string_value(json_object_get(fm, "dataType"));
    if (!data)
        return NULL;
    json_t *v = jsontext_loads(data, 0, NULL);
    if (type && strcmp(type, "application/super+json") == 0) {
        json_t *values = json_object_get(json_object_get(v, "meta"), "values");
        bool plain = !values || json_is_null(values) ||
                     (json_is_object(values) && json_object_size(values) == 0) ||
                     (json_is_array(values) && json_array_size(values) == 0);
        json_t *inner = plain ? json_incref(json_object_get(v, "json")) : NULL;
        json_decref(v);
        v = inner;
    } else if (type && strcmp(type, "application/json") != 0) {
        json_decref(v);
        v = NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

void engine_run_take_completion(engine *en, store_run *r, json_t *completion, int64_t now)
{
    json_t *ms = json_object_get(json_object_get(completion, "usage"), "durationMs");
    if (json_is_number(ms) && json_number_value(ms) > 0) {
        double sum = (double)r->usage_ms + json_number_value(ms);
        r->usage_ms = sum > USAGE_MAX_MS ? USAGE_MAX_MS : (int64_t)sum;
    }
    json_t *ch = completion_changes(completion);
    if (!ch)
        return;
    /* a change set that does not apply is dropped whole, as the real server
     * drops it; r keeps its metadata */
    char *md = engine_strdup(r->metadata);
    char *type = engine_strdup(r->metadata_type);
    int64_t updated = r->updated_at;
    err_t e = {0};
    if (apply_changes(en, r, ch, now, &e) != 0) {
        fprintf(stderr, "engine: run %s: flushed metadata dropped: %s\n", r->friendly_id, e.msg);
        free(r->metadata);
        free(r->metadata_type);
        r->metadata = md;
        r->metadata_type = type;
        r->updated_at = updated;
    } else {
        free(md);
        free(type);
    }
    json_decref(ch);
}
