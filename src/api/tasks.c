/*
 * api/tasks.c - POST /api/v1/tasks/{taskId}/trigger (spec/api.md [1]).
 *
 * Retries of one logical call carry the same x-trigger-request-idempotency-key
 * (section 1.5); the first response's run is remembered for 24 h and replayed
 * (isCached:false, fresh token) instead of triggering twice.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/jsonw.h"

static void reply_run(http_ctx *c, const char *run_id, bool cached)
{
    json_t *scopes = json_pack("[s,s]", http_sprintf(c, "read:runs:%s", run_id),
                               http_sprintf(c, "write:inputStreams:%s", run_id));
    api_jwt_headers(c, scopes, true);
    json_decref(scopes);
    jsonw w = {0};
    jsonw_obj(&w);
    jsonw_kstr(&w, "id", run_id);
    jsonw_kbool(&w, "isCached", cached);
    jsonw_obj_end(&w);
    http_reply_jsonw(c, 200, &w);
}

void api_trigger(http_ctx *c)
{
    const char *task = http_param(c, 0);
    scope_res res = {"tasks", task};
    if (!http_authorize(c, "trigger", &res, 1))
        return;
    json_t *body = http_json(c);
    if (!body)
        return;
    trigger_opts o;
    if (!api_trigger_opts(c, body, task, &o))
        return;
    if (o.parent_run_id && c->auth.kind == AUTH_JWT) {
        scope_res pr[2] = {{"runs", NULL}, {"runs", o.parent_run_id}};
        if (!scopes_grant_any(c->auth.scopes, "write", pr, 2)) {
            http_reply_error(c, 403, "Unauthorized");
            return;
        }
    }
    if (c->auth.kind == AUTH_JWT && c->auth.one_time)
        o.one_time_token = c->auth.token_hash;
    o.trigger_function = o.resume_parent ? "triggerAndWait" : "trigger";

    json_t *parts = json_pack("[s]", task);
    char *hash = api_request_hash(c, parts);
    json_decref(parts);
    const char *seen = api_request_seen(c, hash);
    if (seen) {
        reply_run(c, seen, false);
        return;
    }
    trigger_result tr;
    err_t e = {0};
    if (engine_trigger(c->app->en, c->auth.env, &o, c->now, &tr, &e) != 0) {
        http_reply_err(c, &e);
        return;
    }
    if (!tr.is_cached && !api_request_remember(c, hash, tr.run_id))
        return;
    reply_run(c, tr.run_id, tr.is_cached);
}
