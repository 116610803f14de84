/*
 * lib/tasks.c - trigger_task(): POST /api/v1/tasks/{taskId}/trigger
 * (spec/api.md 6.1), and the options object it shares with batch items.
 *
 * Like the official SDK, the payload and metadata travel as serialized
 * JSON strings tagged "application/json"; the server parses them.
 */
#include <string.h>

#include "buf.h"
#include "client.h"
#include "jsonutil.h"
#include "tasks.h"

int trigger__check_json(trigger_client *c, const char *text, const char *what)
{
    if (!text)
        return TRIGGER_OK;
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j)
        return trigger__fail(c, TRIGGER_EBADREQ, "%s is not valid JSON: %s", what, je.text);
    json_decref(j);
    return TRIGGER_OK;
}

int trigger__copy_id(trigger_client *c, char *dst, const char *id)
{
    if (!id || !*id || strlen(id) >= TRIGGER_ID_MAX)
        return trigger__fail(c, TRIGGER_ESERVER, "reply has no usable id");
    strcpy(dst, id);
    return TRIGGER_OK;
}

static int queue_json(json_t *opts, const char *name)
{
    if (!name)
        return 0;
    json_t *q = json_object();
    if (!q)
        return TRIGGER_ENOMEM;
    int rc = trigger__json_set_str(q, "name", name);
    if (rc) {
        json_decref(q);
        return rc;
    }
    return json_object_set_new(opts, "queue", q) ? TRIGGER_ENOMEM : 0;
}

/* The string options, with their wire names. */
static int string_options(json_t *j, const trigger_options *o)
{
    struct {
        const char *key, *value;
    } s[] = {
        {"concurrencyKey", o->concurrency_key},
        {"delay", o->delay},
        {"ttl", o->ttl},
        {"idempotencyKey", o->idempotency_key},
        {"idempotencyKeyTTL", o->idempotency_key_ttl},
        {"machine", o->machine},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        int rc = trigger__json_set_str(j, s[i].key, s[i].value);
        if (rc)
            return rc;
    }
    return 0;
}

static int number_options(json_t *j, const trigger_options *o)
{
    int rc = 0;
    if (!rc && o->priority)
        rc = trigger__json_set_int(j, "priority", o->priority);
    if (!rc && o->max_attempts)
        rc = trigger__json_set_int(j, "maxAttempts", o->max_attempts);
    if (!rc && o->max_duration)
        rc = trigger__json_set_int(j, "maxDuration", o->max_duration);
    if (!rc && o->test)
        rc = json_object_set_new(j, "test", json_true()) ? TRIGGER_ENOMEM : 0;
    return rc;
}

static int fill_options(trigger_client *c, json_t *j, const trigger_options *o)
{
    int rc = trigger__check_json(c, o->metadata_json, "metadata_json");
    if (rc)
        return rc;
    rc = string_options(j, o);
    if (!rc)
        rc = queue_json(j, o->queue);
    if (!rc)
        rc = trigger__json_set_strv(j, "tags", o->tags);
    if (!rc && o->metadata_json) {
        rc = trigger__json_set_str(j, "metadata", o->metadata_json);
        if (!rc)
            rc = trigger__json_set_str(j, "metadataType", "application/json");
    }
    if (!rc)
        rc = number_options(j, o);
    if (rc == TRIGGER_EBADREQ)
        return trigger__fail(c, rc, "an option string is not valid UTF-8");
    return rc;
}

int trigger__options_json(trigger_client *c, const trigger_options *o, bool has_payload,
                          json_t **out)
{
    json_t *j = json_object();
    int rc = j ? TRIGGER_OK : TRIGGER_ENOMEM;
    if (!rc && has_payload)
        rc = trigger__json_set_str(j, "payloadType", "application/json");
    if (!rc && o)
        rc = fill_options(c, j, o);
    if (rc) {
        json_decref(j);
        return rc == TRIGGER_ENOMEM ? trigger__fail(c, rc, "out of memory") : rc;
    }
    *out = j;
    return TRIGGER_OK;
}

/* {"payload": "<text>", "options": {...}} */
static int trigger_body(trigger_client *c, const char *payload_json, const trigger_options *opts,
                        json_t **out)
{
    int rc = trigger__check_json(c, payload_json, "payload_json");
    json_t *options = NULL, *body = NULL;
    if (rc || (rc = trigger__options_json(c, opts, payload_json != NULL, &options)))
        return rc;
    body = json_object();
    if (!body || json_object_set_new(body, "options", options)) {
        json_decref(body);
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    }
    rc = trigger__json_set_str(body, "payload", payload_json);
    if (rc) {
        json_decref(body);
        return trigger__fail(
            c, rc, rc == TRIGGER_EBADREQ ? "payload_json is not valid UTF-8" : "out of memory");
    }
    *out = body;
    return TRIGGER_OK;
}

int trigger_task(trigger_client *c, const char *task_id, const char *payload_json,
                 const trigger_options *opts, trigger_handle *out)
{
    if (!task_id || !*task_id || !out)
        return trigger__fail(c, TRIGGER_EBADREQ, "trigger_task needs a task id and a handle");
    json_t *body = NULL;
    trigger__reply rp = {0};
    trigger__buf path = {0};
    int rc = trigger_body(c, payload_json, opts, &body);
    if (rc)
        goto out;
    trigger__buf_puts(&path, "/api/v1/tasks/");
    trigger__buf_put_encoded(&path, task_id);
    trigger__buf_puts(&path, "/trigger");
    if (path.oom) {
        rc = trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
        goto out;
    }
    trigger__call call = {.method = "POST", .path = path.data, .json = body};
    if ((rc = trigger__request(c, &call, &rp)))
        goto out;
    rc = trigger__copy_id(c, out->id, json_string_value(json_object_get(rp.json, "id")));
    out->is_cached = json_is_true(json_object_get(rp.json, "isCached"));
out:
    trigger__reply_clear(&rp);
    trigger__buf_free(&path);
    json_decref(body);
    return rc;
}
