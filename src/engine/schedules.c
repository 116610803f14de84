/*
 * engine/schedules.c - cron schedules and their ticks.
 *
 * A schedule belongs to a project; each environment it fires in has an
 * instance row holding its next nominal tick. The timer (engine_tick) asks
 * the store for the earliest tick of all instances and arms one libuv timer
 * for it, so idle schedules cost nothing. Firing a tick moves the instance
 * on with a compare-and-set on next_at and creates the run in the same
 * store transaction: a tick fires once, across restarts and crashes (a
 * crash before the commit loses both, and the tick fires after restart).
 *
 * The rules are the platform's schedule engine of v4.5
 * (internal-packages/schedule-engine): a tick missed while triggerd was
 * down fires once, late, with its nominal timestamp, and the ticks after it
 * that are already past are skipped (calculateNextScheduledTimestamp);
 * an inactive schedule, or a dev environment without its CLI, skips the
 * tick but keeps stepping. See docs/schedules.md.
 */
#include "engine/schedules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cron.h"
#include "engine/internal.h"
#include "util/id.h"
#include "util/timefmt.h"

#define FIRE_BATCH 1000
/* A dev CLI counts as connected this long after its last dequeue or
 * presence connection: the platform's presence key lives DEV_PRESENCE_TTL_MS
 * (5 s) after the CLI's last presence ping, so a tick 5 s after the CLI
 * went away is skipped there too. */
#define DEV_SEEN_MS (5LL * 1000)
/* After a start, dev ticks wait this long for their CLI to poll again
 * before they are skipped as disconnected. */
#define DEV_GRACE_MS (10LL * 1000)

/* ---- cron helpers ------------------------------------------------------ */

static bool next_after(engine *en, const char *cron, const char *tz, int64_t after, int64_t *out)
{
    cron_expr c;
    char err[CRON_ERR_MAX];
    if (cron_parse(cron, &c, err) != 0)
        return false;
    return cron_next(en->zones, &c, tz, after, out, err) == 0;
}

/* calculateNextScheduledTimestamp (v4.5): the step after `last`, or when
 * that is already past, the first step after now. */
static int64_t next_tick(engine *en, const store_schedule *s, int64_t last, int64_t now)
{
    int64_t at = 0;
    if (!next_after(en, s->cron, s->timezone, last, &at))
        return 0;
    if (at < now && !next_after(en, s->cron, s->timezone, now, &at))
        return 0;
    return at;
}

int64_t engine_schedule_next_run(engine *en, const store_schedule *s, int64_t now)
{
    int64_t at = 0;
    return next_after(en, s->cron, s->timezone, now, &at) ? at : 0;
}

/* The cron's previous slot when it is after the instance's creation (the
 * engine's lastScheduleTime for a (re)registration), else 0. */
static int64_t prev_slot(engine *en, const store_schedule *s, int64_t now, int64_t created)
{
    cron_expr c;
    char err[CRON_ERR_MAX];
    int64_t at = 0;
    if (cron_parse(s->cron, &c, err) != 0 || cron_prev(en->zones, &c, s->timezone, now, &at, err))
        return 0;
    return at > created ? at : 0;
}

/* registerNextTaskScheduleInstance: the instance's next tick from now. */
static int register_instance(engine *en, const store_schedule *s, store_schedule_instance *i,
                             int64_t now)
{
    i->next_at = next_tick(en, s, now, now);
    i->last_at = prev_slot(en, s, now, i->created_at);
    int rc = store_instance_update(en->st, i);
    if (rc == 0 && i->next_at)
        engine_arm(en, i->next_at);
    return rc;
}

/* ---- validation (CheckScheduleService) --------------------------------- */

/* CheckScheduleService's task lookup: the newest task row of that name in
 * the project, from any worker ever registered (a task a newer worker
 * dropped still counts). 0 found and scheduled, 1 not found, 2 found but
 * not a scheduled task. */
static int task_kind(engine *en, const char *project_id, const char *task)
{
    char src[32];
    if (store_task_source(en->st, project_id, task, src, sizeof src) != 0)
        return 1;
    return strcmp(src, "schedule") == 0 ? 0 : 2;
}

static int check_schedule(engine *en, const char *project_id, const char *task, const char *cron,
                          const char *tz, const char *origin, err_t *e)
{
    char msg[CRON_ERR_MAX + 64];
    if (cron_validate(cron, msg) != 0)
        return err_set(e, ERR_UNPROCESSABLE, "%s", msg);
    if (tz && tz[0] && !cron_zone_valid(tz))
        return err_set(
            e, ERR_UNPROCESSABLE,
            "Invalid IANA timezone: '%s'. View the list of valid timezones at %s/timezones", tz,
            origin ? origin : "");
    int kind = task_kind(en, project_id, task);
    if (kind == 1)
        return err_set(e, ERR_UNPROCESSABLE, "Task with identifier %s not found in project.", task);
    if (kind == 2)
        return err_set(e, ERR_UNPROCESSABLE, "Task with identifier %s is not a scheduled task.",
                       task);
    return 0;
}

/* ---- rows -------------------------------------------------------------- */

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = engine_strdup(v);
}

static int new_instance(engine *en, const store_schedule *s, const char *env_id, int64_t now)
{
    store_schedule_instance i = {0};
    i.schedule_id = engine_strdup(s->id);
    i.env_id = engine_strdup(env_id);
    i.created_at = now;
    int rc = store_instance_insert(en->st, &i);
    if (rc == 0)
        rc = register_instance(en, s, &i, now);
    store_schedule_instance_clear(&i);
    return rc;
}

/* The instance of s in env: created when missing; re-registered when the
 * expression or zone changed (or always, with force). */
static int ensure_instance(engine *en, const store_schedule *s, const char *env_id, bool changed,
                           int64_t now)
{
    store_schedule_instance *v = NULL;
    size_t n = 0;
    int rc = store_instances_of(en->st, s->id, &v, &n);
    if (rc)
        return rc;
    bool found = false;
    for (size_t k = 0; k < n; k++) {
        if (strcmp(v[k].env_id, env_id) == 0) {
            found = true;
            if (changed && rc == 0)
                rc = register_instance(en, s, &v[k], now);
        }
        store_schedule_instance_clear(&v[k]);
    }
    free(v);
    if (rc == 0 && !found)
        rc = new_instance(en, s, env_id, now);
    return rc;
}

static const char *or_utc(const char *tz)
{
    return tz && tz[0] ? tz : "UTC";
}

int engine_schedule_upsert(engine *en, const store_env *env, const schedule_upsert_opts *o,
                           int64_t now, store_schedule *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    int rc = check_schedule(en, env->project_id, o->task, o->cron, o->timezone, o->origin, e);
    if (rc)
        return rc;
    char gen[32];
    const char *dedup = o->dedup_key && o->dedup_key[0] ? o->dedup_key : NULL;
    if (!dedup) {
        id_alnum(gen, 24); /* nanoid(24) */
    }
    const char *key = o->friendly_id ? o->friendly_id : dedup;
    rc = key ? store_schedule_get(en->st, env->project_id, key, out) : ERR_NOT_FOUND;
    if (rc && rc != ERR_NOT_FOUND)
        return err_set(e, rc, "Something went wrong, please try again.");
    if (rc == 0 && strcmp(out->type, "DECLARATIVE") == 0) {
        store_schedule_clear(out);
        return err_set(e, ERR_UNPROCESSABLE, "Cannot update a declarative schedule");
    }
    /* Past CheckScheduleService the platform runs cronstrue.toString and
     * then the engine's next-tick search, both unguarded: an expression
     * cron-parser accepts but cronstrue cannot describe ("* * * *"), or one
     * that never matches ("0 0 * * L"), fails the request with a 500. */
    char *desc = NULL;
    int64_t probe;
    if (cron_describe(o->cron, &desc) != 0 ||
        !next_after(en, o->cron, or_utc(o->timezone), now, &probe)) {
        free(desc);
        if (rc == 0)
            store_schedule_clear(out);
        return err_set(e, ERR_IO, "Something went wrong, please try again.");
    }
    if (rc == 0) {
        bool changed =
            strcmp(out->cron, o->cron) != 0 || strcmp(out->timezone, or_utc(o->timezone)) != 0;
        set_str(&out->cron, o->cron);
        set_str(&out->description, desc);
        set_str(&out->timezone, or_utc(o->timezone));
        set_str(&out->external_id, o->external_id && o->external_id[0] ? o->external_id : NULL);
        out->updated_at = now;
        rc = store_schedule_update(en->st, out);
        if (rc == 0)
            rc = ensure_instance(en, out, env->id, changed, now);
    } else {
        if (o->friendly_id) /* PUT of an unknown id: the service creates one */
            dedup = NULL;
        char nid[32], fid[64], cuid[ID_CUID_LEN + 1];
        id_nanoid(nid, 21);
        id_friendly(fid, sizeof fid, "sched_", nid);
        id_cuid(cuid);
        out->id = engine_strdup(cuid);
        out->friendly_id = engine_strdup(fid);
        out->project_id = engine_strdup(env->project_id);
        out->type = engine_strdup("IMPERATIVE");
        out->task = engine_strdup(o->task);
        out->cron = engine_strdup(o->cron);
        out->description = engine_strdup(desc);
        out->timezone = engine_strdup(or_utc(o->timezone));
        out->external_id =
            engine_strdup(o->external_id && o->external_id[0] ? o->external_id : NULL);
        out->dedup_key = engine_strdup(dedup ? dedup : gen);
        out->user_dedup = dedup != NULL;
        out->active = 1;
        out->created_at = now;
        out->updated_at = now;
        rc = store_schedule_insert(en->st, out);
        if (rc == 0)
            rc = new_instance(en, out, env->id, now);
    }
    free(desc);
    if (rc) {
        store_schedule_clear(out);
        return err_set(e, rc, "Something went wrong, please try again.");
    }
    return 0;
}

int engine_schedule_get(engine *en, const store_env *env, const char *key, store_schedule *out,
                        err_t *e)
{
    memset(out, 0, sizeof *out);
    int rc = store_schedule_get(en->st, env->project_id, key, out);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, rc, "Schedule not found");
    if (rc)
        return err_set(e, rc, "Something went wrong, please try again.");
    return 0;
}

int engine_schedule_delete(engine *en, const store_env *env, const char *key, char fid[64],
                           err_t *e)
{
    store_schedule s;
    int rc = engine_schedule_get(en, env, key, &s, e);
    if (rc)
        return rc;
    snprintf(fid, 64, "%s", s.friendly_id);
    rc = store_schedule_delete(en->st, s.id);
    store_schedule_clear(&s);
    return rc ? err_set(e, rc, "Something went wrong, please try again.") : 0;
}

int engine_schedule_set_active(engine *en, const store_env *env, const char *key, bool active,
                               int64_t now, store_schedule *out, err_t *e)
{
    int rc = engine_schedule_get(en, env, key, out, e);
    if (rc)
        return rc;
    out->active = active;
    out->updated_at = now;
    rc = store_schedule_update(en->st, out);
    if (rc) {
        store_schedule_clear(out);
        return err_set(e, rc, "Something went wrong, please try again.");
    }
    return 0;
}

json_t *engine_schedule_environments(engine *en, const store_schedule *s)
{
    json_t *arr = json_array();
    store_schedule_instance *v = NULL;
    size_t n = 0;
    if (store_instances_of(en->st, s->id, &v, &n) != 0)
        return arr;
    for (size_t k = 0; k < n; k++) {
        const store_env *env = engine_env(en, v[k].env_id);
        if (env)
            json_array_append_new(arr, json_pack("{s:s,s:s}", "id", env->id, "type", env->type));
        store_schedule_instance_clear(&v[k]);
    }
    free(v);
    return arr;
}

/* ---- declarative schedules (syncDeclarativeSchedules) ------------------ */

static bool has_instance_in(engine *en, const store_schedule *s, const char *env_id, size_t *count,
                            bool *only_env)
{
    store_schedule_instance *v = NULL;
    size_t n = 0;
    bool found = false;
    *only_env = true;
    if (store_instances_of(en->st, s->id, &v, &n) != 0)
        return false;
    for (size_t k = 0; k < n; k++) {
        if (strcmp(v[k].env_id, env_id) == 0)
            found = true;
        else
            *only_env = false;
        store_schedule_instance_clear(&v[k]);
    }
    free(v);
    *count = n;
    return found;
}

static bool env_allowed(json_t *sched, const store_env *env)
{
    json_t *envs = json_object_get(sched, "environments");
    if (!json_is_array(envs) || json_array_size(envs) == 0)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(envs, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), env->type) == 0)
            return true;
    }
    return false;
}

int engine_schedules_sync(engine *en, const store_env *env, json_t *tasks, const char *origin,
                          int64_t now, err_t *e)
{
    store_schedule *ex = NULL;
    size_t n_ex = 0;
    int rc = store_schedule_declarative(en->st, env->project_id, &ex, &n_ex);
    if (rc)
        return err_set(e, rc, "Something went wrong");
    bool *kept = calloc(n_ex ? n_ex : 1, sizeof *kept);
    if (!kept)
        abort();
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        json_t *sched = json_object_get(t, "schedule");
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *cron = json_string_value(json_object_get(sched, "cron"));
        const char *tz = json_string_value(json_object_get(sched, "timezone"));
        if (!json_is_object(sched) || !id || !cron || !env_allowed(sched, env))
            continue;
        /* the schedule of this task with an instance in this environment */
        size_t found = n_ex, cnt;
        bool only;
        for (size_t k = 0; k < n_ex && found == n_ex; k++)
            if (strcmp(ex[k].task, id) == 0 && has_instance_in(en, &ex[k], env->id, &cnt, &only))
                found = k;
        /* the task is in the manifest being registered; the rest of
         * CheckScheduleService applies */
        char msg[CRON_ERR_MAX + 64];
        if (cron_validate(cron, msg) != 0) {
            rc = err_set(e, ERR_INVALID, "%s", msg);
            break;
        }
        if (tz && tz[0] && !cron_zone_valid(tz)) {
            rc = err_set(e, ERR_INVALID,
                         "Invalid IANA timezone: '%s'. View the list of valid timezones at "
                         "%s/timezones",
                         tz, origin ? origin : "");
            break;
        }
        /* cronstrue or the next-tick search throwing is not a validation
         * error: the service wraps it in this message */
        char *desc = NULL;
        int64_t probe;
        if (cron_describe(cron, &desc) != 0 || !next_after(en, cron, or_utc(tz), now, &probe)) {
            free(desc);
            rc = err_set(e, ERR_INVALID, "Error syncing declarative schedules");
            break;
        }
        if (found < n_ex) {
            store_schedule *s = &ex[found];
            kept[found] = true;
            set_str(&s->cron, cron);
            set_str(&s->description, desc);
            set_str(&s->timezone, or_utc(tz));
            s->updated_at = now;
            rc = store_schedule_update(en->st, s);
            if (rc == 0)
                rc = ensure_instance(en, s, env->id, true, now);
        } else {
            store_schedule s = {0};
            char nid[32], fid[64], cuid[ID_CUID_LEN + 1], dk[32];
            id_nanoid(nid, 21);
            id_friendly(fid, sizeof fid, "sched_", nid);
            id_cuid(cuid);
            id_cuid(dk); /* the column's cuid() default */
            s.id = engine_strdup(cuid);
            s.friendly_id = engine_strdup(fid);
            s.project_id = engine_strdup(env->project_id);
            s.type = engine_strdup("DECLARATIVE");
            s.task = engine_strdup(id);
            s.cron = engine_strdup(cron);
            s.description = engine_strdup(desc);
            s.timezone = engine_strdup(or_utc(tz));
            s.dedup_key = engine_strdup(dk);
            s.active = 1;
            s.created_at = now;
            s.updated_at = now;
            rc = store_schedule_insert(en->st, &s);
            if (rc == 0)
                rc = new_instance(en, &s, env->id, now);
            store_schedule_clear(&s);
        }
        free(desc);
        if (rc) {
            err_set(e, rc, "Something went wrong");
            break;
        }
    }
    /* declarative schedules no task declares any more: this environment's
     * instance goes, and the schedule with it when no other env has one */
    for (size_t k = 0; k < n_ex && rc == 0; k++) {
        if (kept[k])
            continue;
        size_t cnt = 0;
        bool only = true;
        bool here = has_instance_in(en, &ex[k], env->id, &cnt, &only);
        if (cnt == 0 || only)
            rc = store_schedule_delete(en->st, ex[k].id);
        else if (here)
            rc = store_instance_delete(en->st, ex[k].id, env->id);
        if (rc)
            err_set(e, rc, "Something went wrong");
    }
    for (size_t k = 0; k < n_ex; k++)
        store_schedule_clear(&ex[k]);
    free(ex);
    free(kept);
    return rc;
}

/* ---- firing ------------------------------------------------------------ */

/* On a shared database the CLI may poll another node: the last poll is
 * also a setting every node reads, written at most every DEV_SEEN_MS/4. */
static void dev_seen_share(engine *en, size_t k, int64_t now)
{
    if (!store_shared(en->st) || now - en->dev_seen[k].shared_at < DEV_SEEN_MS / 4)
        return;
    char key[48], v[24];
    snprintf(key, sizeof key, "dev_seen:%s", en->dev_seen[k].env_id);
    snprintf(v, sizeof v, "%lld", (long long)now);
    if (store_setting_set(en->st, key, v) == 0)
        en->dev_seen[k].shared_at = now;
}

void engine_dev_seen(engine *en, const char *env_id, int64_t now)
{
    for (size_t k = 0; k < en->n_dev_seen; k++) {
        if (strcmp(en->dev_seen[k].env_id, env_id) == 0) {
            en->dev_seen[k].at = now;
            dev_seen_share(en, k, now);
            return;
        }
    }
    if (en->n_dev_seen == sizeof en->dev_seen / sizeof en->dev_seen[0])
        return;
    snprintf(en->dev_seen[en->n_dev_seen].env_id, sizeof en->dev_seen[0].env_id, "%s", env_id);
    en->dev_seen[en->n_dev_seen].shared_at = 0;
    en->dev_seen[en->n_dev_seen++].at = now;
    dev_seen_share(en, en->n_dev_seen - 1, now);
}

static bool dev_connected(engine *en, const char *env_id, int64_t now)
{
    for (size_t k = 0; k < en->n_dev_seen; k++)
        if (strcmp(en->dev_seen[k].env_id, env_id) == 0 && now - en->dev_seen[k].at <= DEV_SEEN_MS)
            return true;
    if (!store_shared(en->st))
        return false;
    char key[48], *v = NULL;
    snprintf(key, sizeof key, "dev_seen:%s", env_id);
    bool seen = store_setting_get(en->st, key, &v) == 0 && v && now - strtoll(v, NULL, 10) <= DEV_SEEN_MS;
    free(v);
    return seen;
}

static void add_iso(json_t *o, const char *k, int64_t ms)
{
    char s[32];
    time_format_iso(ms, s);
    json_object_set_new(o, k, json_string(s));
}

/* The run's payload: the documented ScheduledTaskPayload, with upcoming
 * the next 10 ticks as the v4.5 engine counts them, serialized as the
 * platform does it (stringifyIO: superjson, so the task gets Dates back, and
 * an absent lastTimestamp or externalId is an explicit undefined). */
static char *payload_of(engine *en, const store_schedule *s, int64_t tick, int64_t last,
                        int64_t now)
{
    json_t *p = json_object(), *meta = json_object();
    json_t *date = json_pack("[s]", "Date"), *undef = json_pack("[s]", "undefined");
    json_object_set_new(p, "scheduleId", json_string(s->friendly_id));
    json_object_set_new(p, "type", json_string(s->type));
    add_iso(p, "timestamp", tick);
    json_object_set(meta, "timestamp", date);
    if (last) {
        add_iso(p, "lastTimestamp", last);
        json_object_set(meta, "lastTimestamp", date);
    } else {
        json_object_set_new(p, "lastTimestamp", json_null());
        json_object_set(meta, "lastTimestamp", undef);
    }
    if (s->external_id) {
        json_object_set_new(p, "externalId", json_string(s->external_id));
    } else {
        json_object_set_new(p, "externalId", json_null());
        json_object_set(meta, "externalId", undef);
    }
    json_object_set_new(p, "timezone", json_string(s->timezone));
    json_t *up = json_array();
    int64_t at = tick;
    for (int k = 0; k < 10; k++) {
        at = next_tick(en, s, at, now);
        if (!at)
            break;
        char iso[32], path[16];
        time_format_iso(at, iso);
        json_array_append_new(up, json_string(iso));
        snprintf(path, sizeof path, "upcoming.%d", k);
        json_object_set(meta, path, date);
    }
    json_object_set_new(p, "upcoming", up);
    json_t *sj = json_pack("{s:o,s:{s:o}}", "json", p, "meta", "values", meta);
    char *text = jsontext_dumps(sj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(sj);
    json_decref(date);
    json_decref(undef);
    return text;
}

/* One due instance. *postpone is set when a dev tick waits for its CLI. */
static int fire(engine *en, store_schedule_instance *i, int64_t now, bool *postpone)
{
    store_schedule s = {0};
    int rc = store_schedule_by_id(en->st, i->schedule_id, &s);
    const store_env *env = rc == 0 ? engine_env(en, i->env_id) : NULL;
    if (rc == ERR_NOT_FOUND || (rc == 0 && !env)) {
        bool won;
        rc = store_instance_advance(en->st, i->seq, i->next_at, 0, i->last_at, &won);
        goto out;
    }
    if (rc)
        goto out;
    bool trigger = s.active;
    if (trigger && strcmp(env->type, "DEVELOPMENT") == 0 && !dev_connected(en, env->id, now)) {
        if (now - en->started_at < DEV_GRACE_MS) {
            *postpone = true; /* just started: give the CLI a moment to poll */
            goto out;
        }
        trigger = false;
    }
    int64_t tick = i->next_at;
    int64_t next = next_tick(en, &s, tick, now);
    bool won = false;
    rc = store_instance_advance(en->st, i->seq, tick, next, trigger ? tick : i->last_at, &won);
    if (rc || !won || !trigger)
        goto out;
    char *payload = payload_of(en, &s, tick, i->last_at, now);
    trigger_opts o = {0};
    o.task = s.task;
    o.payload = payload;
    o.payload_type = "application/super+json";
    o.schedule_id = s.friendly_id;
    o.created_at = tick; /* overrideCreatedAt: the nominal tick */
    trigger_result res;
    err_t e = {0};
    rc = engine_trigger(en, env, &o, now, &res, &e);
    free(payload);
    if (rc && rc != ERR_STORE) {
        /* a refused trigger (the platform logs it and moves on): the tick
         * is spent, as there */
        fprintf(stderr, "triggerd: schedule %s tick not triggered: %s\n", s.friendly_id, e.msg);
        rc = 0;
    }
out:
    store_schedule_clear(&s);
    return rc;
}

int engine_schedules_tick(engine *en, int64_t now, int64_t *next, bool *more)
{
    *next = 0;
    *more = false;
    store_schedule_instance *v = NULL;
    size_t n = 0;
    int rc = store_instance_due(en->st, now, FIRE_BATCH, &v, &n);
    if (rc)
        return rc;
    bool postponed = false;
    for (size_t k = 0; k < n; k++) {
        bool p = false;
        if (rc == 0)
            rc = fire(en, &v[k], now, &p);
        postponed |= p;
        store_schedule_instance_clear(&v[k]);
    }
    free(v);
    if (rc)
        return rc;
    *more = n == FIRE_BATCH;
    if (postponed) {
        *next = now + 1000;
        return 0;
    }
    return store_instance_next_due(en->st, next);
}
