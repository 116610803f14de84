/*
 * http/ratelimit.c - token buckets in a small open-addressed table keyed by
 * environment id (there are few environments; the table grows if needed).
 */
#include "http/ratelimit.h"

#include <stdlib.h>
#include <string.h>

typedef struct bucket {
    char key[40];
    double tokens;
    int64_t at_ms;
} bucket;

struct ratelimit {
    int64_t limit;
    int64_t window_ms;
    bucket *b;
    size_t cap, n;
};

ratelimit *ratelimit_new(int64_t limit, int64_t window_ms)
{
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->limit = limit;
    rl->window_ms = window_ms > 0 ? window_ms : 1000;
    rl->cap = 16;
    rl->b = calloc(rl->cap, sizeof *rl->b);
    if (!rl->b) {
        free(rl);
        return NULL;
    }
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->b);
    free(rl);
}

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static bucket *find(ratelimit *rl, const char *key)
{
    if (rl->n * 2 >= rl->cap) {
        bucket *old = rl->b;
        size_t oldcap = rl->cap;
        rl->cap *= 2;
        rl->b = calloc(rl->cap, sizeof *rl->b);
        if (!rl->b)
            abort();
        rl->n = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].key[0]) {
                bucket *nb = find(rl, old[i].key);
                *nb = old[i];
            }
        free(old);
    }
    for (size_t i = hash(key) % rl->cap;; i = (i + 1) % rl->cap) {
        if (!rl->b[i].key[0]) {
            strncpy(rl->b[i].key, key, sizeof rl->b[i].key - 1);
            rl->b[i].tokens = (double)rl->limit;
            rl->b[i].at_ms = 0;
            rl->n++;
            return &rl->b[i];
        }
        if (strncmp(rl->b[i].key, key, sizeof rl->b[i].key - 1) == 0)
            return &rl->b[i];
    }
}

bool ratelimit_take(ratelimit *rl, const char *key, int64_t now_ms, ratelimit_state *st)
{
    bucket *b = find(rl, key);
    double rate = (double)rl->limit / (double)rl->window_ms; /* tokens per ms */
    if (b->at_ms && now_ms > b->at_ms) {
        b->tokens += (double)(now_ms - b->at_ms) * rate;
        if (b->tokens > (double)rl->limit)
            b->tokens = (double)rl->limit;
    }
    b->at_ms = now_ms;
    bool ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    st->limit = rl->limit;
    st->remaining = (int64_t)b->tokens;
    st->reset_ms = now_ms + (int64_t)(((double)rl->limit - b->tokens) / rate);
    return ok;
}
