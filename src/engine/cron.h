/*
 * engine/cron.h - cron expressions as the platform reads them: its schedule
 * engine steps the `cron-parser` 4.x npm package (luxon for time zones), so
 * this module is a port of that package's parser and search loop, with the
 * same DST behaviour (a 02:30 that does not exist, a 01:30 that happens
 * twice) and the same error messages. Offsets come from the system's time
 * zone data through ICU's calendar API. Pure logic: no store, no clock.
 */
#ifndef TD_ENGINE_CRON_H
#define TD_ENGINE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRON_ERR_MAX 200

/* One parsed field: the values it matches and, for day of month and day
 * of week, the `L` atoms ("L", "5L") the package keeps as strings. `count`
 * is the package's array length (duplicates and L atoms included), which
 * decides whether a day field counts as a wildcard. Only an L atom's first
 * character counts when matching, so lstr keeps the first atom of each
 * first character (n_lstr of them, in order); n_l counts them all. */
typedef struct cron_field {
    uint64_t bits;
    int count;
    char lstr[16][8];
    int n_l, n_lstr;
} cron_field;

typedef struct cron_expr {
    cron_field second, minute, hour, dom, month, dow;
    int nth_dow; /* `#n` on day of week, 0 = none */
} cron_expr;

/* Parses text as cron-parser's parseExpression does (1 to 6 fields, the
 * @yearly/@monthly/@weekly/@daily/@hourly shortcuts, names, ranges, steps,
 * lists, L and #). Returns 0, or -1 with the package's message in err. */
int cron_parse(const char *text, cron_expr *out, char err[CRON_ERR_MAX]);

/* The API's check of a schedule's expression (webapp CronPattern): at most
 * five space-separated parts, not empty, parseable. Returns 0, or -1 with
 * the full message the API answers ("Invalid cron expression: ..."). */
int cron_validate(const char *text, char msg[CRON_ERR_MAX + 64]);

/* Time zones, opened once and cached (offset intervals memoised), owned by
 * whoever made the set. */
typedef struct cron_zones cron_zones;
cron_zones *cron_zones_new(void);
void cron_zones_free(cron_zones *z);

/* True when tz is one of the zones `GET /api/v1/timezones` lists. */
bool cron_zone_valid(const char *tz);
/* The canonical IANA zones, sorted (Intl.supportedValuesOf("timeZone")):
 * fn is called once per name. */
void cron_zones_each(void (*fn)(void *ud, const char *tz), void *ud);

/* The first occurrence strictly after `after_ms` (next) or strictly before
 * it (prev) in zone tz (NULL: UTC). Returns 0, or -1 with err set (an
 * expression that never matches hits the package's loop limit). */
int cron_next(cron_zones *z, const cron_expr *c, const char *tz, int64_t after_ms, int64_t *out,
              char err[CRON_ERR_MAX]);
int cron_prev(cron_zones *z, const cron_expr *c, const char *tz, int64_t before_ms, int64_t *out,
              char err[CRON_ERR_MAX]);

/* cronstrue's English description of an expression (the API's
 * generator.description), whole, into *out (malloc'd, caller frees).
 * Returns 0, or -1 where cronstrue throws (fewer than five space-separated
 * parts, a part it cannot read, a number out of its range); *out then
 * holds the expression itself. */
int cron_describe(const char *text, char **out);

#endif
