/*
 * http/ratelimit.h - a token bucket per environment (spec/api.md 1.7): every
 * /api/ response carries x-ratelimit-limit/-remaining/-reset, and an empty
 * bucket answers 429.
 */
#ifndef TD_HTTP_RATELIMIT_H
#define TD_HTTP_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ratelimit ratelimit;

/* limit tokens, refilled fully over window_ms. Caller frees. */
ratelimit *ratelimit_new(int64_t limit, int64_t window_ms);
void ratelimit_free(ratelimit *rl);

typedef struct ratelimit_state {
    int64_t limit;
    int64_t remaining;
    int64_t reset_ms; /* epoch ms when the bucket is full again */
} ratelimit_state;

/* Takes one token for key at now_ms. Returns true if allowed; fills *st. */
bool ratelimit_take(ratelimit *rl, const char *key, int64_t now_ms, ratelimit_state *st);

#endif
