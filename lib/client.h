/*
 * lib/client.h - the client handle and the one request path every API
 * call goes through: headers (spec/api.md 1.2), retries (1.3), error
 * mapping (5). Internal to libtrigger; the public surface is trigger.h.
 */
#ifndef TRIGGER_CLIENT_H
#define TRIGGER_CLIENT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>

#include "trigger.h"

struct trigger_client {
    char *base_url; /* without a trailing '/' */
    char *secret_key;
    char *branch; /* x-trigger-branch, or NULL */
    CURL *curl;   /* reused across calls for keep-alive */
    trigger_retry retry;
    long timeout_ms;
    char *last_error; /* NULL means "" */
    int last_status;
    uint64_t rng; /* xorshift state for backoff jitter */
};

/* One logical API call; every attempt of it carries the same
 * x-trigger-request-idempotency-key. */
typedef struct trigger__call {
    const char *method;
    const char *path;         /* appended to base_url: "/api/...", already encoded */
    const json_t *json;       /* JSON body, borrowed; or NULL */
    const char *body;         /* raw body when json is NULL; NULL for none */
    size_t body_len;          /* length of body */
    const char *content_type; /* NULL means application/json */
    bool stream;              /* the streaming batch-items retry policy (1.3) */
} trigger__call;

typedef struct trigger__reply {
    long status;
    json_t *json; /* the parsed 2xx body, owned; NULL when empty */
    char *jwt;    /* x-trigger-jwt, owned; NULL when absent */
} trigger__reply;

/* Performs call with retries. TRIGGER_OK on a 2xx whose body is empty or
 * JSON (then in out, to be cleared with trigger__reply_clear); otherwise an
 * error code, with last_error set and out left empty. */
int trigger__request(trigger_client *c, const trigger__call *call, trigger__reply *out);
void trigger__reply_clear(trigger__reply *r);

/* Records a printf-style message as c's last error and returns err. */
int trigger__fail(trigger_client *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Clears c's last error (a call starts clean). */
void trigger__clear_error(trigger_client *c);

#endif
