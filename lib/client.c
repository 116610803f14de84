/*
 * lib/client.c - the client handle, and trigger__request(): the single
 * path from an API call to the wire. It adds the headers the official SDK
 * sends (spec/api.md 1.2), retries the way its zodfetch does (1.3), and
 * turns a failed reply into a trigger_error plus the server's message (5).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "client.h"
#include "http.h"

/* A 429's x-ratelimit-reset is honoured up to this far in the future; a
 * wild value must not park the caller for hours. */
#define TRIGGER__MAX_RATELIMIT_WAIT_MS 60000

const char *trigger_strerror(int err)
{
    switch (err) {
    case TRIGGER_OK:
        return "ok";
    case TRIGGER_EBADREQ:
        return "bad request";
    case TRIGGER_EAUTH:
        return "authentication failed";
    case TRIGGER_EFORBIDDEN:
        return "permission denied";
    case TRIGGER_ENOTFOUND:
        return "not found";
    case TRIGGER_ECONFLICT:
        return "conflict";
    case TRIGGER_EUNPROCESSABLE:
        return "unprocessable entity";
    case TRIGGER_ERATELIMIT:
        return "rate limited";
    case TRIGGER_ESERVER:
        return "server error";
    case TRIGGER_ECANCELED:
        return "canceled";
    case TRIGGER_ENETWORK:
        return "network error";
    case TRIGGER_ENOMEM:
        return "out of memory";
    default:
        return "unknown error";
    }
}

/* ---- the handle --------------------------------------------------------- */

void trigger_retry_default(trigger_retry *r)
{
    *r = (trigger_retry){
        .max_attempts = 5,
        .min_timeout_ms = 1000,
        .max_timeout_ms = 30000,
        .factor = 1.6,
        .randomize = false,
        .ratelimit_jitter_ms = 1000,
    };
}

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static uint64_t seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
        s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return s ? s : 0x9e3779b97f4a7c15ull;
}

trigger_client *trigger_client_new(const char *base_url, const char *secret_key)
{
    if (!base_url)
        base_url = nonempty_env("TRIGGER_API_URL");
    if (!base_url)
        base_url = TRIGGER_DEFAULT_API_URL;
    if (!secret_key)
        secret_key = nonempty_env("TRIGGER_SECRET_KEY");
    if (!secret_key || !*secret_key)
        return NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    trigger_client *c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    const char *branch = nonempty_env("TRIGGER_PREVIEW_BRANCH");
    c->base_url = strdup(base_url);
    c->secret_key = strdup(secret_key);
    c->branch = branch ? strdup(branch) : NULL;
    c->curl = curl_easy_init();
    if (!c->base_url || !c->secret_key || (branch && !c->branch) || !c->curl)
        goto fail;
    size_t n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = 0;
    trigger_retry_default(&c->retry);
    c->timeout_ms = 60000;
    c->rng = seed();
    return c;
fail:
    trigger_client_free(c);
    if (!c)
        curl_global_cleanup();
    return NULL;
}

void trigger_client_free(trigger_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->base_url);
    free(c->secret_key);
    free(c->branch);
    free(c->last_error);
    free(c);
    curl_global_cleanup();
}

int trigger_client_set_retry(trigger_client *c, const trigger_retry *r)
{
    if (r->max_attempts < 1 || !(r->factor >= 1.0) || r->min_timeout_ms > r->max_timeout_ms)
        return trigger__fail(c, TRIGGER_EBADREQ, "invalid retry policy");
    c->retry = *r;
    return TRIGGER_OK;
}

void trigger_client_set_timeout(trigger_client *c, long timeout_ms)
{
    c->timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
}

const char *trigger_client_last_error(const trigger_client *c)
{
    return c->last_error ? c->last_error : "";
}

int trigger_client_last_status(const trigger_client *c)
{
    return c->last_status;
}

int trigger__fail(trigger_client *c, int err, const char *fmt, ...)
{
    free(c->last_error);
    c->last_error = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&c->last_error, fmt, ap) < 0)
        c->last_error = NULL;
    va_end(ap);
    return err;
}

void trigger__clear_error(trigger_client *c)
{
    free(c->last_error);
    c->last_error = NULL;
}

/* ---- randomness --------------------------------------------------------- */

static uint64_t next_rand(trigger_client *c)
{
    uint64_t x = c->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return c->rng = x;
}

/* A random (version 4) UUID: the per-call request idempotency key. */
static void uuid4(trigger_client *c, char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        uint64_t r[2] = {next_rand(c), next_rand(c)};
        memcpy(b, r, sizeof b);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* ---- retry policy ------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The SDK's calculateNextRetryDelay: the wait after failed attempt n. The
 * streaming batch-items policy is the same with factor 2 and jitter. */
static int64_t backoff_ms(trigger_client *c, int attempt, bool stream)
{
    const trigger_retry *r = &c->retry;
    double factor = stream ? 2.0 : r->factor;
    double jitter = 1.0;
    if (stream || r->randomize)
        jitter += (double)(next_rand(c) >> 11) / 9007199254740992.0;
    double ms = jitter * r->min_timeout_ms * pow(factor, attempt - 1);
    return (int64_t)llround(fmin(ms, (double)r->max_timeout_ms));
}

/* How long to wait before retrying after reply `rs` to attempt n, or -1
 * for no retry (spec/api.md 1.3: x-should-retry first, then the status). */
static int64_t retry_delay(trigger_client *c, const trigger__http_resp *rs, int attempt,
                           bool stream)
{
    if (attempt >= c->retry.max_attempts || rs->should_retry == 0)
        return -1;
    long st = rs->status;
    if (rs->should_retry != 1 && st != 408 && st != 409 && st != 429 && st < 500)
        return -1;
    if (st == 429 && rs->ratelimit_reset > 0) {
        uint64_t j = c->retry.ratelimit_jitter_ms;
        int64_t wait = rs->ratelimit_reset - now_ms() + (int64_t)(j ? next_rand(c) % j : 0);
        if (wait > 0)
            return wait < TRIGGER__MAX_RATELIMIT_WAIT_MS ? wait : TRIGGER__MAX_RATELIMIT_WAIT_MS;
    }
    if (st == 429 && stream && rs->retry_after_s > 0)
        return rs->retry_after_s * 1000 < TRIGGER__MAX_RATELIMIT_WAIT_MS
                   ? rs->retry_after_s * 1000
                   : TRIGGER__MAX_RATELIMIT_WAIT_MS;
    return backoff_ms(c, attempt, stream);
}

/* ---- one call ----------------------------------------------------------- */

static struct curl_slist *add_header(struct curl_slist *l, bool *oom, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct curl_slist *add_header(struct curl_slist *l, bool *oom, const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    struct curl_slist *nl = n >= 0 ? curl_slist_append(l, line) : NULL;
    if (n >= 0)
        free(line);
    if (!nl)
        *oom = true;
    return nl ? nl : l;
}

/* The spec/api.md 1.2 header set for one logical call. */
static struct curl_slist *build_headers(trigger_client *c, const trigger__call *call,
                                        const char *request_key)
{
    bool oom = false;
    struct curl_slist *h = NULL;
    h = add_header(h, &oom, "Authorization: Bearer %s", c->secret_key);
    h = add_header(h, &oom, "Content-Type: %s",
                   call->content_type ? call->content_type : "application/json");
    h = add_header(h, &oom, "Accept: application/json");
    h = add_header(h, &oom, "trigger-version: %s", TRIGGER_SDK_COMPAT_VERSION);
    h = add_header(h, &oom, "x-trigger-api-version: %s", TRIGGER_API_VERSION);
    h = add_header(h, &oom, "x-trigger-source: sdk");
    h = add_header(h, &oom, "x-trigger-realtime-streams-version: v2");
    h = add_header(h, &oom, "x-trigger-request-idempotency-key: %s", request_key);
    if (c->branch)
        h = add_header(h, &oom, "x-trigger-branch: %s", c->branch);
    h = add_header(h, &oom, "Expect:"); /* no 100-continue round trip */
    if (oom) {
        curl_slist_free_all(h);
        return NULL;
    }
    return h;
}

static int status_error(long status)
{
    switch (status) {
    case 401:
        return TRIGGER_EAUTH;
    case 403:
        return TRIGGER_EFORBIDDEN;
    case 404:
        return TRIGGER_ENOTFOUND;
    case 409:
        return TRIGGER_ECONFLICT;
    case 422:
        return TRIGGER_EUNPROCESSABLE;
    case 429:
        return TRIGGER_ERATELIMIT;
    default:
        return status >= 400 && status < 500 ? TRIGGER_EBADREQ : TRIGGER_ESERVER;
    }
}

/* A failed reply: the code from the status, the message from {"error"} or,
 * as the SDK does for non-JSON bodies, "<status> <text>". */
static int reply_error(trigger_client *c, const trigger__http_resp *rs)
{
    int err = status_error(rs->status);
    json_t *j = rs->body ? json_loadb(rs->body, rs->body_len, JSON_DECODE_ANY, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "error"));
    if (msg)
        trigger__fail(c, err, "%s", msg);
    else
        trigger__fail(c, err, "%ld %.300s", rs->status, rs->body ? rs->body : "");
    json_decref(j);
    return err;
}

/* A 2xx: hand over the parsed body and the token header. */
static int reply_ok(trigger_client *c, trigger__http_resp *rs, trigger__reply *out)
{
    if (rs->body_len > 0) {
        json_error_t je;
        out->json = json_loadb(rs->body, rs->body_len, JSON_DECODE_ANY, &je);
        if (!out->json)
            return trigger__fail(c, TRIGGER_ESERVER, "unparsable %ld reply: %s", rs->status,
                                 je.text);
    }
    out->status = rs->status;
    out->jwt = rs->jwt;
    rs->jwt = NULL;
    return TRIGGER_OK;
}

static char *dump_body(const trigger__call *call, size_t *len)
{
    if (!call->json) {
        *len = call->body_len;
        return NULL;
    }
    char *s = json_dumps(call->json, JSON_COMPACT | JSON_ENCODE_ANY);
    *len = s ? strlen(s) : 0;
    return s;
}

int trigger__request(trigger_client *c, const trigger__call *call, trigger__reply *out)
{
    *out = (trigger__reply){0};
    trigger__clear_error(c);
    c->last_status = 0;
    char key[37];
    uuid4(c, key);
    trigger__buf url = {0};
    trigger__buf_puts(&url, c->base_url);
    trigger__buf_puts(&url, call->path);
    size_t body_len = 0;
    char *json_body = dump_body(call, &body_len);
    struct curl_slist *headers = build_headers(c, call, key);
    int rc = TRIGGER_ENOMEM;
    if (url.oom || !headers || (call->json && !json_body))
        goto out;
    trigger__http_req rq = {
        .method = call->method,
        .url = url.data,
        .headers = headers,
        .body = call->json ? json_body : call->body,
        .body_len = body_len,
        .timeout_ms = c->timeout_ms,
    };
    for (int attempt = 1;; attempt++) {
        trigger__http_resp rs;
        rc = trigger__http_perform(c->curl, &rq, &rs);
        int64_t delay = -1;
        if (rc == TRIGGER_OK) {
            c->last_status = (int)rs.status;
            if (rs.status >= 200 && rs.status < 300)
                rc = reply_ok(c, &rs, out);
            else if ((delay = retry_delay(c, &rs, attempt, call->stream)) < 0)
                rc = reply_error(c, &rs);
        } else if (rc == TRIGGER_ENETWORK) {
            if (attempt < c->retry.max_attempts)
                delay = backoff_ms(c, attempt, call->stream);
            else
                trigger__fail(c, rc, "%s", rs.error);
        } else {
            trigger__fail(c, rc, "%s", rs.error[0] ? rs.error : trigger_strerror(rc));
        }
        trigger__http_resp_clear(&rs);
        if (delay < 0)
            break;
        sleep_ms(delay);
    }
out:
    curl_slist_free_all(headers);
    free(json_body);
    trigger__buf_free(&url);
    if (rc == TRIGGER_ENOMEM && !c->last_error)
        trigger__fail(c, rc, "out of memory");
    return rc;
}

void trigger__reply_clear(trigger__reply *r)
{
    json_decref(r->json);
    free(r->jwt);
    *r = (trigger__reply){0};
}
