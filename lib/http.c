/*
 * lib/http.c - one HTTP exchange over a libcurl easy handle; see http.h.
 *
 * Bodies are capped (TRIGGER__HTTP_MAX_BODY) so a misbehaving peer cannot
 * make the client allocate without bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "trigger.h"
#include "http.h"

#define TRIGGER__HTTP_MAX_BODY (64u << 20)

typedef struct sink {
    trigger__http_resp *resp;
    size_t cap;
    bool oom;
    bool too_big;
} sink;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    trigger__http_resp *r = s->resp;
    size_t n = size * nmemb;
    if (r->body_len + n > TRIGGER__HTTP_MAX_BODY) {
        s->too_big = true;
        return 0;
    }
    if (r->body_len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *p = realloc(r->body, cap);
        if (!p) {
            s->oom = true;
            return 0;
        }
        r->body = p;
        s->cap = cap;
    }
    memcpy(r->body + r->body_len, ptr, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return n;
}

/* Copies the value of a "Name: value\r\n" line, trimmed, into a new string. */
static char *header_value(const char *line, size_t len, size_t name_len)
{
    const char *v = line + name_len + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return strndup(v, (size_t)(end - v));
}

static bool is_header(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

static void reset_headers(trigger__http_resp *r)
{
    r->should_retry = -1;
    r->ratelimit_reset = -1;
    r->retry_after_s = -1;
    free(r->jwt);
    r->jwt = NULL;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    trigger__http_resp *r = s->resp;
    size_t len = size * nmemb;
    /* A new status line (after a 100 Continue or a redirect) starts over. */
    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        reset_headers(r);
        return len;
    }
    char *v = NULL;
    if (is_header(line, len, "x-should-retry")) {
        if ((v = header_value(line, len, 14)))
            r->should_retry = strcmp(v, "true") == 0 ? 1 : strcmp(v, "false") == 0 ? 0 : -1;
    } else if (is_header(line, len, "x-ratelimit-reset")) {
        if ((v = header_value(line, len, 17)))
            r->ratelimit_reset = strtoll(v, NULL, 10);
    } else if (is_header(line, len, "retry-after")) {
        if ((v = header_value(line, len, 11)))
            r->retry_after_s = strtol(v, NULL, 10);
    } else if (is_header(line, len, "x-trigger-jwt")) {
        free(r->jwt);
        r->jwt = header_value(line, len, 13);
        if (!r->jwt)
            s->oom = true;
        return len;
    } else {
        return len;
    }
    if (!v)
        s->oom = true;
    free(v);
    return len;
}

static void set_options(CURL *h, const trigger__http_req *rq, sink *s)
{
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libtrigger/" TRIGGER_SDK_COMPAT_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->resp->error);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rq->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
    if (strcmp(rq->method, "GET") == 0)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    else if (strcmp(rq->method, "POST") != 0 || !rq->body)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    /* A bodiless POST must still say Content-Length: 0. */
    if (!rq->body && strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
}

/* Whether another attempt could get through: anything but a request we
 * built wrong or a protocol curl does not speak. */
static int classify(CURLcode cc)
{
    switch (cc) {
    case CURLE_OUT_OF_MEMORY:
        return TRIGGER_ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return TRIGGER_EBADREQ;
    default:
        return TRIGGER_ENETWORK;
    }
}

int trigger__http_perform(CURL *h, const trigger__http_req *rq, trigger__http_resp *resp)
{
    *resp = (trigger__http_resp){0};
    reset_headers(resp);
    sink s = {.resp = resp};
    curl_easy_reset(h);
    set_options(h, rq, &s);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    if (s.oom)
        return TRIGGER_ENOMEM;
    if (s.too_big) {
        snprintf(resp->error, sizeof resp->error, "response body larger than %u bytes",
                 TRIGGER__HTTP_MAX_BODY);
        return TRIGGER_ESERVER;
    }
    if (cc != CURLE_OK) {
        if (!resp->error[0])
            snprintf(resp->error, sizeof resp->error, "%s", curl_easy_strerror(cc));
        return classify(cc);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    return TRIGGER_OK;
}

void trigger__http_resp_clear(trigger__http_resp *resp)
{
    free(resp->body);
    free(resp->jwt);
    *resp = (trigger__http_resp){0};
}
