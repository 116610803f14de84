/*
 * store/s3.c - PUT, GET and presigned URLs of S3 objects over libcurl.
 *
 * Requests are signed with SigV4 (sigv4.c) in the Authorization header, the
 * payload hashed into x-amz-content-sha256. GET and PUT of a whole object
 * are idempotent, so a network error, a 5xx or a 429 is retried a few times
 * with a growing delay; a 403 or 404 is an answer, never retried. Each call
 * uses its own curl handle: calls run on worker threads, several at once.
 */
#include "store/s3.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/sigv4.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/timefmt.h"

struct s3_client {
    char *scheme;  /* "http" or "https" */
    char *host;    /* host[:port] as signed and sent (no default port) */
    char *prefix;  /* "" or "/bucket" (path-style) */
    char *base;    /* scheme://host+prefix */
    char *access_key, *secret_key, *region, *service;
    int attempts, backoff_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void s3_free(s3_client *s)
{
    if (!s)
        return;
    free(s->scheme);
    free(s->host);
    free(s->prefix);
    free(s->base);
    free(s->access_key);
    free(s->secret_key);
    free(s->region);
    free(s->service);
    free(s);
}

static char *dup_or(const char *v, const char *dflt)
{
    return strdup(v && *v ? v : dflt);
}

/* Splits cfg->url into scheme, host (default port dropped) and prefix. */
static int parse_url(s3_client *s, const s3_config *cfg, char *err, size_t cap)
{
    const char *u = cfg->url;
    const char *rest;
    if (strncmp(u, "http://", 7) == 0) {
        s->scheme = strdup("http");
        rest = u + 7;
    } else if (strncmp(u, "https://", 8) == 0) {
        s->scheme = strdup("https");
        rest = u + 8;
    } else {
        snprintf(err, cap, "the object store URL must start with http:// or https://");
        return -1;
    }
    size_t hl = strcspn(rest, "/?#");
    if (hl == 0 || rest[hl] == '?' || rest[hl] == '#' || memchr(rest, '@', hl)) {
        snprintf(err, cap, "the object store URL needs a host (and no credentials, query or fragment)");
        return -1;
    }
    s->host = strndup(rest, hl);
    const char *dport = strcmp(s->scheme, "http") == 0 ? ":80" : ":443";
    size_t n = strlen(s->host);
    if (n > strlen(dport) && strcmp(s->host + n - strlen(dport), dport) == 0)
        s->host[n - strlen(dport)] = 0;
    /* the path, without trailing slashes */
    const char *path = rest + hl;
    size_t pl = strlen(path);
    while (pl > 0 && path[pl - 1] == '/')
        pl--;
    if (strchr(path, '?') || strchr(path, '#')) {
        snprintf(err, cap, "the object store URL must not have a query or fragment");
        return -1;
    }
    if (pl == 0 && cfg->bucket && *cfg->bucket) {
        char *enc = sigv4_uri_encode(cfg->bucket, 0);
        if (asprintf(&s->prefix, "/%s", enc) < 0)
            s->prefix = NULL;
        free(enc);
    } else {
        s->prefix = strndup(path, pl);
    }
    if (asprintf(&s->base, "%s://%s%s", s->scheme, s->host, s->prefix ? s->prefix : "") < 0)
        s->base = NULL;
    return 0;
}

s3_client *s3_new(const s3_config *cfg, char *err, size_t cap)
{
    pthread_once(&curl_once, curl_init_once);
    if (!cfg->url || !*cfg->url) {
        snprintf(err, cap, "no object store URL");
        return NULL;
    }
    if (!cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key) {
        snprintf(err, cap, "the object store needs OBJECT_STORE_ACCESS_KEY_ID and "
                           "OBJECT_STORE_SECRET_ACCESS_KEY");
        return NULL;
    }
    s3_client *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    if (parse_url(s, cfg, err, cap) != 0) {
        s3_free(s);
        return NULL;
    }
    s->access_key = strdup(cfg->access_key);
    s->secret_key = strdup(cfg->secret_key);
    s->region = dup_or(cfg->region, "us-east-1");
    s->service = dup_or(cfg->service, "s3");
    s->attempts = cfg->attempts > 0 ? cfg->attempts : 3;
    s->backoff_ms = cfg->backoff_ms > 0 ? cfg->backoff_ms : 100;
    if (!s->scheme || !s->host || !s->prefix || !s->base || !s->access_key || !s->secret_key ||
        !s->region || !s->service)
        abort();
    return s;
}

const char *s3_base(const s3_client *s)
{
    return s->base;
}

/* The canonical (and sent) path of key: prefix + "/" + key, each byte
 * outside the unreserved set percent-encoded once, slashes kept. */
static char *object_path(const s3_client *s, const char *key)
{
    char *enc = sigv4_uri_encode(key, 1), *out = NULL;
    if (!enc || asprintf(&out, "%s/%s", s->prefix, enc) < 0)
        out = NULL;
    free(enc);
    return out;
}

char *s3_presign(s3_client *s, const char *method, const char *key, int64_t now_ms,
                 int64_t expires_s)
{
    char date[17];
    sigv4_amz_date(now_ms, date);
    sigv4_key k = {s->access_key, s->secret_key, s->region, s->service};
    char *path = object_path(s, key), *q = NULL, *url = NULL;
    if (path)
        q = sigv4_presign_query(&k, method, s->host, path, expires_s, date);
    if (q && asprintf(&url, "%s://%s%s?%s", s->scheme, s->host, path, q) < 0)
        url = NULL;
    free(path);
    free(q);
    return url;
}

/* ---- one request ---------------------------------------------------------- */

typedef struct resp {
    char *body;
    size_t len, cap;
    char *content_type;
} resp;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    size_t add = size * n;
    if (r->len + add + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + add + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return 0; /* curl fails the transfer */
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, p, add);
    r->len += add;
    r->body[r->len] = 0;
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = size * n;
    if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        const char *v = p + 13;
        size_t vl = len - 13;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        free(r->content_type);
        r->content_type = strndup(v, vl);
    }
    return len;
}

/* One signed request; returns the HTTP status, or 0 when none came (a
 * network error). r receives the body (GET) and content type. */
static long request_once(s3_client *s, const char *method, const char *path, const void *data,
                         size_t len, const char *content_type, const char *payload_hash, resp *r)
{
    CURL *h = curl_easy_init();
    if (!h)
        return 0;
    char date[17];
    sigv4_amz_date(time_now_ms(), date);
    sigv4_header sh[4] = {{"host", s->host},
                          {"x-amz-content-sha256", payload_hash},
                          {"x-amz-date", date}};
    size_t nsh = 3;
    if (content_type)
        sh[nsh++] = (sigv4_header){"content-type", content_type};
    sigv4_key k = {s->access_key, s->secret_key, s->region, s->service};
    sigv4_req sr = {method, path, "", sh, nsh, payload_hash, date};
    char *auth = sigv4_authorization(&k, &sr);
    char *url = NULL;
    if (!auth || asprintf(&url, "%s://%s%s", s->scheme, s->host, path) < 0) {
        free(auth);
        curl_easy_cleanup(h);
        return 0;
    }
    struct curl_slist *hl = NULL;
    char line[700];
    snprintf(line, sizeof line, "authorization: %s", auth);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", payload_hash);
    hl = curl_slist_append(hl, line);
    snprintf(line, sizeof line, "x-amz-date: %s", date);
    hl = curl_slist_append(hl, line);
    if (content_type) {
        snprintf(line, sizeof line, "content-type: %s", content_type);
        hl = curl_slist_append(hl, line);
    }
    hl = curl_slist_append(hl, "expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    /* a stalled transfer: under 1 KB/s for 15 s */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 15L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data ? data : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    long status = 0;
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "triggerd: object store %s %s: %s\n", method, path,
                curl_easy_strerror(cc));
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    free(url);
    free(auth);
    return status;
}

static bool retryable(long status)
{
    return status == 0 || status == 429 || status >= 500;
}

static void resp_reset(resp *r)
{
    free(r->body);
    free(r->content_type);
    *r = (resp){0};
}

/* The request with retries; the last attempt's status (0: no answer). */
static long request(s3_client *s, const char *method, const char *key, const void *data,
                    size_t len, const char *content_type, resp *r)
{
    char *path = object_path(s, key);
    if (!path)
        return 0;
    char hash[65];
    crypto_sha256_hex(data ? data : "", data ? len : 0, hash);
    long status = 0;
    int delay = s->backoff_ms;
    for (int i = 0; i < s->attempts; i++) {
        if (i > 0) {
            struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            delay *= 4;
        }
        resp_reset(r);
        status = request_once(s, method, path, data, len, content_type, hash, r);
        if (!retryable(status))
            break;
    }
    if (status == 0)
        fprintf(stderr, "triggerd: object store %s %s: no answer after %d attempt(s)\n", method,
                path, s->attempts);
    else if (status != 200 && status != 404)
        fprintf(stderr, "triggerd: object store %s %s: HTTP %ld\n", method, path, status);
    free(path);
    return status;
}

static int err_of(long status)
{
    if (status == 0 || status == 429 || status >= 500)
        return ERR_UNAVAILABLE;
    if (status == 404)
        return ERR_NOT_FOUND;
    if (status == 401 || status == 403)
        return ERR_FORBIDDEN;
    return ERR_STORE;
}

int s3_put(s3_client *s, const char *key, const void *data, size_t len, const char *content_type)
{
    resp r = {0};
    long status = request(s, "PUT", key, data, len,
                          content_type ? content_type : "application/octet-stream", &r);
    resp_reset(&r);
    if (status == 200)
        return 0;
    return status == 404 ? ERR_STORE : err_of(status); /* 404 on PUT: no such bucket */
}

int s3_get(s3_client *s, const char *key, char **data, size_t *len, char **content_type)
{
    resp r = {0};
    long status = request(s, "GET", key, NULL, 0, NULL, &r);
    if (status != 200) {
        resp_reset(&r);
        return err_of(status);
    }
    if (!r.body) {
        r.body = strdup("");
        if (!r.body)
            abort();
    }
    *data = r.body;
    if (len)
        *len = r.len;
    if (content_type)
        *content_type = r.content_type;
    else
        free(r.content_type);
    return 0;
}
