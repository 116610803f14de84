/*
 * util/timefmt.h - clocks, durations and ISO 8601 dates as the API writes
 * and reads them.
 */
#ifndef TD_UTIL_TIMEFMT_H
#define TD_UTIL_TIMEFMT_H

#include <stdint.h>

/* Wall clock in milliseconds since the unix epoch. */
int64_t time_now_ms(void);

/* Formats ms since epoch as "2025-01-02T03:04:05.678Z" (24 chars + NUL). */
void time_format_iso(int64_t ms, char out[32]);

/* Formats as the Electric wire wants: "2025-01-02T03:04:05.678" (no Z). */
void time_format_electric(int64_t ms, char out[32]);

/* Parses an ISO 8601 date-time ("2025-01-02T03:04:05Z", with optional
 * fraction and a Z or +hh:mm offset, or a bare date "2025-01-02").
 * Returns 0 and sets *ms, or ERR_INVALID. */
int time_parse_iso(const char *s, int64_t *ms);

/* Parses a trigger.dev duration: one or more "<int><unit>" parts with unit
 * w, d, hr, h, m, s (e.g. "1h30m", "10s", "2w"). Returns 0 and *ms, or ERR_INVALID. */
int dur_parse(const char *s, int64_t *ms);

/* Parses an idempotencyKeyTTL / TTL short form "^\d+[smhd]$". */
int dur_parse_simple(const char *s, int64_t *ms);

/* Parses a delay or timeout that is either a duration (relative to now_ms)
 * or an ISO date. Sets *at_ms to the absolute time. */
int time_parse_when(const char *s, int64_t now_ms, int64_t *at_ms);

#endif
