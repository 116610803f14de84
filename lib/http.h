/*
 * lib/http.h - one HTTP exchange over libcurl, nothing more: no retries,
 * no JSON. client.c decides what to send and whether to try again; this
 * module sends it and collects the status, the body and the few response
 * headers that steer retries (spec/api.md 1.3) or carry a token (2.4).
 */
#ifndef TRIGGER_HTTP_H
#define TRIGGER_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct trigger__http_req {
    const char *method;
    const char *url;
    const struct curl_slist *headers; /* borrowed */
    const char *body;                 /* NULL: no body */
    size_t body_len;
    long timeout_ms; /* 0: none */
} trigger__http_req;

typedef struct trigger__http_resp {
    long status;
    char *body; /* NUL-terminated, owned; NULL when empty */
    size_t body_len;
    int should_retry;          /* x-should-retry: 1 true, 0 false, -1 absent */
    long long ratelimit_reset; /* x-ratelimit-reset (ms epoch), -1 if absent */
    long retry_after_s;        /* Retry-After in seconds, -1 if absent */
    char *jwt;                 /* x-trigger-jwt, owned, NULL if absent */
    char error[CURL_ERROR_SIZE];
} trigger__http_resp;

/* Performs one exchange on the easy handle h (reset first, so its
 * connection cache is kept). Returns TRIGGER_OK when a response arrived
 * (any status), TRIGGER_ENETWORK when none did and trying again might
 * help, TRIGGER_EBADREQ when it cannot (bad URL), TRIGGER_ESERVER for
 * a reply too large to keep, TRIGGER_ENOMEM. The
 * reason of a failure is in resp->error. Clear resp afterwards. */
int trigger__http_perform(CURL *h, const trigger__http_req *rq, trigger__http_resp *resp);
void trigger__http_resp_clear(trigger__http_resp *resp);

#endif
