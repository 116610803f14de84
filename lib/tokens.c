/*
 * lib/tokens.c - waitpoint tokens (spec/api.md 6.8): create, complete and
 * retrieve. A run that waits on a token resumes when someone completes it,
 * through this API (secret key or the token's public access token) or by
 * POSTing to its callback URL.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client.h"
#include "jsonutil.h"
#include "tasks.h"

void trigger_token_free(trigger_token *t)
{
    if (!t)
        return;
    free(t->id);
    free(t->url);
    free(t->status);
    free(t->public_access_token);
    free(t->output_json);
    free(t->idempotency_key);
    free(t->created_at);
    free(t->completed_at);
    free(t->timeout_at);
    trigger__strv_free(t->tags, t->tags_count);
    free(t);
}

/* Maps a create or retrieve reply. Retrieve's output is already the
 * serialized packet text (outputType application/json), so it is copied
 * as is; anything else is re-serialized. */
static int token_parse(trigger_client *c, const trigger__reply *rp, trigger_token **out)
{
    const json_t *j = rp->json;
    int err = 0;
    trigger_token *t = calloc(1, sizeof *t);
    if (!t)
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    t->id = trigger__json_str(j, "id", &err);
    t->url = trigger__json_str(j, "url", &err);
    t->status = trigger__json_str(j, "status", &err);
    t->is_cached = json_is_true(json_object_get(j, "isCached"));
    t->output_is_error = json_is_true(json_object_get(j, "outputIsError"));
    if (json_is_string(json_object_get(j, "output")))
        t->output_json = trigger__json_str(j, "output", &err);
    else
        t->output_json = trigger__json_text(j, "output", &err);
    t->idempotency_key = trigger__json_str(j, "idempotencyKey", &err);
    t->created_at = trigger__json_str(j, "createdAt", &err);
    t->completed_at = trigger__json_str(j, "completedAt", &err);
    t->timeout_at = trigger__json_str(j, "timeoutAt", &err);
    t->tags = trigger__json_strv(j, "tags", &t->tags_count, &err);
    if (rp->jwt && !(t->public_access_token = strdup(rp->jwt)))
        err = TRIGGER_ENOMEM;
    if (err || !t->id) {
        trigger_token_free(t);
        return err ? trigger__fail(c, err, "out of memory")
                   : trigger__fail(c, TRIGGER_ESERVER, "token reply has no id");
    }
    *out = t;
    return TRIGGER_OK;
}

static json_t *create_body(const trigger_token_options *o, int *rc)
{
    json_t *b = json_object();
    *rc = b ? 0 : TRIGGER_ENOMEM;
    if (!o || *rc)
        return b;
    if (!*rc)
        *rc = trigger__json_set_str(b, "idempotencyKey", o->idempotency_key);
    if (!*rc)
        *rc = trigger__json_set_str(b, "idempotencyKeyTTL", o->idempotency_key_ttl);
    if (!*rc)
        *rc = trigger__json_set_str(b, "timeout", o->timeout);
    if (!*rc)
        *rc = trigger__json_set_strv(b, "tags", o->tags);
    return b;
}

int trigger_token_create(trigger_client *c, const trigger_token_options *opts, trigger_token **out)
{
    if (!out)
        return trigger__fail(c, TRIGGER_EBADREQ, "out is required");
    int rc;
    json_t *body = create_body(opts, &rc);
    trigger__reply rp = {0};
    if (rc) {
        rc = trigger__fail(c, rc, rc == TRIGGER_ENOMEM ? "out of memory" : "option not UTF-8");
        goto out;
    }
    trigger__call call = {.method = "POST", .path = "/api/v1/waitpoints/tokens", .json = body};
    if (!(rc = trigger__request(c, &call, &rp)))
        rc = token_parse(c, &rp, out);
out:
    trigger__reply_clear(&rp);
    json_decref(body);
    return rc;
}

static char *token_path(const char *id, const char *suffix)
{
    trigger__buf b = {0};
    trigger__buf_puts(&b, "/api/v1/waitpoints/tokens/");
    trigger__buf_put_encoded(&b, id);
    trigger__buf_puts(&b, suffix);
    return trigger__buf_take(&b);
}

/* {"data": <data_json parsed>}; the server serializes it as the output. */
static int complete_body(trigger_client *c, const char *data_json, json_t **out)
{
    json_t *data = NULL;
    if (data_json && !(data = trigger__json_parse(data_json)))
        return trigger__check_json(c, data_json, "data_json");
    json_t *b = json_object();
    if (!b || (data && json_object_set_new(b, "data", data))) {
        json_decref(b);
        if (!b)
            json_decref(data);
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    }
    *out = b;
    return TRIGGER_OK;
}

int trigger_token_complete(trigger_client *c, const char *token_id, const char *data_json)
{
    if (!token_id || !*token_id)
        return trigger__fail(c, TRIGGER_EBADREQ, "a token id is required");
    json_t *body = NULL;
    int rc = complete_body(c, data_json, &body);
    if (rc)
        return rc;
    char *path = token_path(token_id, "/complete");
    trigger__reply rp = {0};
    if (!path) {
        rc = trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    } else {
        trigger__call call = {.method = "POST", .path = path, .json = body};
        rc = trigger__request(c, &call, &rp);
    }
    trigger__reply_clear(&rp);
    free(path);
    json_decref(body);
    return rc;
}

int trigger_token_retrieve(trigger_client *c, const char *token_id, trigger_token **out)
{
    if (!token_id || !*token_id || !out)
        return trigger__fail(c, TRIGGER_EBADREQ, "a token id is required");
    char *path = token_path(token_id, "");
    if (!path)
        return trigger__fail(c, TRIGGER_ENOMEM, "out of memory");
    trigger__reply rp = {0};
    trigger__call call = {.method = "GET", .path = path};
    int rc = trigger__request(c, &call, &rp);
    if (!rc)
        rc = token_parse(c, &rp, out);
    trigger__reply_clear(&rp);
    free(path);
    return rc;
}
