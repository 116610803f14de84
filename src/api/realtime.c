/*
 * api/realtime.c - run feeds in the Electric shape protocol (spec/api.md
 * 6.13, [63]-[65]), served natively: the SDK's runs.subscribeToRun,
 * subscribeToRunsWithTag, subscribeToBatch and the React hooks read them
 * with @electric-sql/client.
 *
 * A request with offset -1 gets the shape's rows (insert) and up-to-date;
 * a live request gets the rows changed since its offset at once, or parks
 * in the change hub (realtime/) for up to LIVE_HOLD_MS and gets what
 * changed then, or a bare up-to-date. Offsets are "<change_seq>_0": the
 * store's change number, so a client resuming from any offset it was given
 * misses nothing. Values are encoded as the platform's native serializer
 * (apps/webapp/app/services/realtime/electricStreamProtocol.server.ts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "engine/status.h"
#include "realtime/realtime.h"
#include "util/jsontext.h"
#include "util/timefmt.h"

#define LIVE_HOLD_MS (20 * 1000)
#define TAG_FEED_MAX_AGE_MS (24LL * 3600 * 1000) /* createdAt is clamped to 1 day */
#define FEED_MAX_ROWS 1000

typedef enum { CT_TEXT, CT_TS, CT_INT, CT_FLOAT, CT_BOOL, CT_JSONB, CT_ARRAY } col_type;

static const struct {
    const char *name;
    col_type type;
} cols[] = {
    {"id", CT_TEXT},           {"taskIdentifier", CT_TEXT}, {"createdAt", CT_TS},
    {"updatedAt", CT_TS},      {"startedAt", CT_TS},        {"delayUntil", CT_TS},
    {"queuedAt", CT_TS},       {"expiredAt", CT_TS},        {"completedAt", CT_TS},
    {"friendlyId", CT_TEXT},   {"number", CT_INT},          {"isTest", CT_BOOL},
    {"status", CT_TEXT},       {"usageDurationMs", CT_INT}, {"costInCents", CT_FLOAT},
    {"baseCostInCents", CT_FLOAT}, {"ttl", CT_TEXT},        {"payload", CT_TEXT},
    {"payloadType", CT_TEXT},  {"metadata", CT_TEXT},       {"metadataType", CT_TEXT},
    {"output", CT_TEXT},       {"outputType", CT_TEXT},     {"runTags", CT_ARRAY},
    {"error", CT_JSONB},       {"realtimeStreams", CT_ARRAY},
};
#define N_COLS (sizeof cols / sizeof cols[0])

/* Columns skipColumns can never remove. */
static bool reserved(const char *c)
{
    return !strcmp(c, "id") || !strcmp(c, "taskIdentifier") || !strcmp(c, "friendlyId") ||
           !strcmp(c, "status") || !strcmp(c, "createdAt");
}

static json_t *ts(int64_t ms)
{
    if (!ms)
        return json_null();
    char b[32];
    time_format_electric(ms, b);
    return json_string(b);
}

static json_t *text(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *num(long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    return json_string(b);
}

static const char *json_str_or_empty(json_t *v)
{
    const char *s = json_string_value(v);
    return s ? s : "";
}

/* A JSON array of strings as a Postgres array literal {"a","b"}; NULL
 * (or, with empty_null, an empty array) gives null. */
static json_t *pg_array(const char *json_text, bool empty_null)
{
    json_t *arr = json_loads(json_text ? json_text : "[]", 0, NULL);
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || (n == 0 && empty_null)) {
        json_decref(arr);
        return empty_null || !json_text ? json_null() : json_string("{}");
    }
    size_t cap = 2;
    for (size_t i = 0; i < n; i++)
        cap += 3 + 2 * strlen(json_str_or_empty(json_array_get(arr, i)));
    char *out = malloc(cap + 1), *p = out;
    if (!out)
        abort();
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        const char *v = json_str_or_empty(json_array_get(arr, i));
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (; *v; v++) {
            if (*v == '\\' || *v == '"')
                *p++ = '\\';
            *p++ = *v;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = 0;
    json_t *s = json_string(out);
    free(out);
    json_decref(arr);
    return s ? s : json_null();
}

/* The whole row of a run, every column: the change hub serializes each
 * change once with this and every feed shares it. */
static json_t *serialize_run(const store_run *r)
{
    json_t *v = json_object();
    json_object_set_new(v, "id", text(r->id));
    json_object_set_new(v, "taskIdentifier", text(r->task));
    json_object_set_new(v, "createdAt", ts(r->created_at));
    json_object_set_new(v, "updatedAt", ts(r->updated_at ? r->updated_at : r->created_at));
    json_object_set_new(v, "startedAt", ts(r->started_at));
    json_object_set_new(v, "delayUntil", ts(r->delay_until));
    json_object_set_new(v, "queuedAt", ts(r->queued_at));
    json_object_set_new(v, "expiredAt", ts(r->expired_at));
    json_object_set_new(v, "completedAt", ts(r->completed_at));
    json_object_set_new(v, "friendlyId", text(r->friendly_id));
    json_object_set_new(v, "number", num((long long)r->seq));
    json_object_set_new(v, "isTest", json_string(r->is_test ? "t" : "f"));
    json_object_set_new(v, "status", text(status_db_name((run_status)r->status)));
    json_object_set_new(v, "usageDurationMs", num(0));
    json_object_set_new(v, "costInCents", json_string("0"));
    json_object_set_new(v, "baseCostInCents", json_string("0"));
    json_object_set_new(v, "ttl", text(r->ttl));
    json_object_set_new(v, "payload", text(r->payload));
    json_object_set_new(v, "payloadType", text(r->payload_type ? r->payload_type : "application/json"));
    json_object_set_new(v, "metadata", text(r->metadata));
    json_object_set_new(v, "metadataType",
                        text(r->metadata_type ? r->metadata_type : "application/json"));
    json_object_set_new(v, "output", text(r->output));
    json_object_set_new(v, "outputType", text(r->output_type ? r->output_type : "application/json"));
    json_object_set_new(v, "runTags", pg_array(r->tags, true));
    json_object_set_new(v, "error", text(r->error)); /* jsonb: the JSON text */
    json_object_set_new(v, "realtimeStreams", pg_array(r->realtime_streams ? r->realtime_streams : "[]", false));
    return v;
}

realtime *api_realtime_new(app *a)
{
    return realtime_new(a, serialize_run);
}

/* ---- one feed request -------------------------------------------------- */

typedef struct feed_req {
    http_ctx *c;
    feed_filter f;
    bool skip[N_COLS];
    bool legacy;  /* no x-trigger-electric-version: shape_id headers */
    bool rewrite; /* non-current API version: DEQUEUED shows as EXECUTING */
    const char *handle;
    int64_t offset; /* -1: initial */
    realtime_sub *sub;
} feed_req;

static void set_skip(feed_req *q, const char *list)
{
    if (!list)
        return;
    char *dupl = http_sprintf(q->c, "%s", list), *save = NULL;
    for (char *t = strtok_r(dupl, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        for (size_t i = 0; i < N_COLS; i++)
            if (!strcmp(cols[i].name, t) && !reserved(t))
                q->skip[i] = true;
    }
}

static const char *schema_header(feed_req *q)
{
    static const char *const types[] = {
        [CT_TEXT] = "text", [CT_TS] = "timestamp", [CT_INT] = "int4", [CT_FLOAT] = "float8",
        [CT_BOOL] = "bool", [CT_JSONB] = "jsonb",  [CT_ARRAY] = "text",
    };
    json_t *o = json_object();
    for (size_t i = 0; i < N_COLS; i++) {
        if (q->skip[i])
            continue;
        json_t *t = json_pack("{s:s}", "type", types[cols[i].type]);
        if (cols[i].type == CT_ARRAY)
            json_object_set_new(t, "dims", json_integer(1));
        json_object_set_new(o, cols[i].name, t);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    const char *out = http_sprintf(q->c, "%s", s);
    free(s);
    return out;
}

/* Appends one change message for a serialized row. */
static void add_row(feed_req *q, json_t *msgs, const char *internal_id, json_t *value, bool insert)
{
    json_t *v = json_object();
    const char *k;
    json_t *x;
    json_object_foreach(value, k, x)
    {
        bool skip = false;
        for (size_t i = 0; i < N_COLS && !skip; i++)
            skip = q->skip[i] && !strcmp(cols[i].name, k);
        if (skip)
            continue;
        if (q->rewrite && !strcmp(k, "status") && json_is_string(x) &&
            !strcmp(json_string_value(x), "DEQUEUED"))
            json_object_set_new(v, k, json_string("EXECUTING"));
        else
            json_object_set(v, k, x);
    }
    char key[160];
    snprintf(key, sizeof key, "\"public\".\"TaskRun\"/\"%s\"", internal_id ? internal_id : "");
    json_array_append_new(msgs, json_pack("{s:s,s:o,s:{s:s}}", "key", key, "value", v, "headers",
                                          "operation", insert ? "insert" : "update"));
}

/* Replies with msgs (stolen) plus up-to-date, the offset and the headers
 * the Electric client requires. */
static void feed_headers(feed_req *q, int64_t offset, bool live)
{
    http_ctx *c = q->c;
    char off[48];
    snprintf(off, sizeof off, "%lld_0", (long long)offset);
    http_add_header(c, q->legacy ? "electric-chunk-last-offset" : "electric-offset", off);
    http_add_header(c, q->legacy ? "electric-shape-id" : "electric-handle", q->handle);
    if (live)
        http_add_header(c, "electric-cursor", http_sprintf(c, "%lld", (long long)(c->now / 1000)));
    else
        http_add_header(c, "electric-schema", schema_header(q));
    http_add_header(c, "electric-up-to-date", "");
    http_add_header(c, "cache-control", "no-store");
    http_add_header(c, "access-control-expose-headers", "*");
}

static void reply_feed(feed_req *q, json_t *msgs, int64_t offset, bool live)
{
    json_array_append_new(msgs, json_pack("{s:{s:s}}", "headers", "control", "up-to-date"));
    feed_headers(q, offset, live);
    http_reply_json(q->c, 200, msgs);
}

static void feed_free(feed_req *q)
{
    feed_filter_clear(&q->f);
    free(q);
}

/* ---- shared live bodies ------------------------------------------------
 * Every subscriber of a batch handed the same changes with the same column
 * choice gets the same bytes; only the offset and handle headers differ. The
 * batch's memo keeps the bodies made so far, keyed by those inputs, so
 * 10,000 subscribers of one run cost one serialization per change. */

typedef struct body_entry {
    bool skip[N_COLS];
    bool rewrite;
    size_t n;
    int64_t *seqs; /* the changes' numbers, in order */
    char *text;
    size_t len;
} body_entry;

typedef struct body_memo {
    body_entry *e;
    size_t n, cap;
} body_memo;

static void body_memo_free(void *p)
{
    body_memo *m = p;
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].seqs);
        free(m->e[i].text);
    }
    free(m->e);
    free(m);
}

static bool body_entry_is(const body_entry *b, const feed_req *q, const realtime_change *ch,
                          size_t n)
{
    if (b->n != n || b->rewrite != q->rewrite || memcmp(b->skip, q->skip, sizeof b->skip))
        return false;
    for (size_t i = 0; i < n; i++)
        if (b->seqs[i] != ch[i].change_seq)
            return false;
    return true;
}

/* The live body for q and changes ch[0..n) (borrowed from the memo). */
static const body_entry *live_body(feed_req *q, const realtime_change *ch, size_t n,
                                   realtime_memo *memo)
{
    if (!memo->p) {
        memo->p = calloc(1, sizeof(body_memo));
        if (!memo->p)
            abort();
        memo->free = body_memo_free;
    }
    body_memo *m = memo->p;
    for (size_t i = 0; i < m->n; i++)
        if (body_entry_is(&m->e[i], q, ch, n))
            return &m->e[i];
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 4;
        m->e = realloc(m->e, m->cap * sizeof *m->e);
        if (!m->e)
            abort();
    }
    body_entry *b = &m->e[m->n++];
    memset(b, 0, sizeof *b);
    memcpy(b->skip, q->skip, sizeof b->skip);
    b->rewrite = q->rewrite;
    b->n = n;
    b->seqs = malloc((n ? n : 1) * sizeof *b->seqs);
    if (!b->seqs)
        abort();
    json_t *msgs = json_array();
    for (size_t i = 0; i < n; i++) {
        b->seqs[i] = ch[i].change_seq;
        add_row(q, msgs, ch[i].internal_id, ch[i].value, false);
    }
    json_array_append_new(msgs, json_pack("{s:{s:s}}", "headers", "control", "up-to-date"));
    b->text = jsontext_dumps(msgs, JSON_COMPACT);
    json_decref(msgs);
    if (!b->text)
        abort();
    b->len = strlen(b->text);
    return b;
}

/* The change hub answers a parked live request. */
static void on_delivery(void *ud, const realtime_change *ch, size_t n, realtime_memo *memo)
{
    feed_req *q = ud;
    q->sub = NULL;
    http_unpark(q->c);
    int64_t offset = q->offset;
    for (size_t i = 0; i < n; i++)
        if (ch[i].change_seq > offset)
            offset = ch[i].change_seq;
    if (!memo || n == 0) {
        reply_feed(q, json_array(), offset, true);
    } else {
        const body_entry *b = live_body(q, ch, n, memo);
        feed_headers(q, offset, true);
        http_reply_raw(q->c, 200, "application/json", b->text, b->len);
    }
    feed_free(q);
}

/* The client of a parked request went away. */
static void on_gone(void *ud)
{
    feed_req *q = ud;
    if (q->sub)
        realtime_unsubscribe(q->c->app->rt, q->sub);
    feed_free(q);
}

/* Rows of the feed changed after `after` (all rows for the initial
 * request), as messages; *offset is where the client goes on from. */
static int collect(feed_req *q, int64_t after, json_t *msgs, int64_t *offset)
{
    store *st = q->c->app->st;
    bool initial = after < 0;
    int rc = 0;
    if (q->f.kind == FEED_RUN) {
        store_run r = {0};
        rc = store_run_get(st, q->f.env_id, q->f.key, &r);
        if (rc == 0 && r.change_seq > after) {
            json_t *v = serialize_run(&r);
            add_row(q, msgs, r.id, v, initial);
            json_decref(v);
        }
        if (rc == 0)
            *offset = r.change_seq > after ? r.change_seq : after;
        store_run_clear(&r);
        return rc;
    }
    /* tags and batches: scan the env's changes in change order; the
     * offset is the newest change looked at (those between don't match) */
    int64_t pos = initial ? 0 : after;
    size_t rows = 0;
    for (;;) {
        store_run *runs = NULL;
        size_t n = 0;
        if ((rc = store_run_changed_since(st, q->f.env_id, pos, 500, &runs, &n)))
            return rc;
        for (size_t i = 0; i < n; i++) {
            pos = runs[i].change_seq;
            if (rows < FEED_MAX_ROWS && feed_matches(&q->f, &runs[i])) {
                json_t *v = serialize_run(&runs[i]);
                add_row(q, msgs, runs[i].id, v, initial);
                json_decref(v);
                rows++;
            }
            store_run_clear(&runs[i]);
        }
        free(runs);
        if (n < 500 || rows >= FEED_MAX_ROWS)
            break;
    }
    *offset = pos > after ? pos : (after < 0 ? 0 : after);
    return 0;
}

static void serve(feed_req *q)
{
    http_ctx *c = q->c;
    const char *off = http_query(c, "offset");
    const char *live = http_query(c, "live");
    q->offset = -1;
    if (off && strcmp(off, "-1") != 0) {
        char *end = NULL;
        long long v = strtoll(off, &end, 10);
        if (!end || end == off || (*end && *end != '_') || v < 0) {
            http_reply_error(c, 400, "Invalid offset");
            feed_free(q);
            return;
        }
        q->offset = v;
    }
    json_t *msgs = json_array();
    int64_t offset = 0;
    if (collect(q, q->offset, msgs, &offset) != 0) {
        json_decref(msgs);
        http_reply_error(c, 500, "Something went wrong");
        feed_free(q);
        return;
    }
    bool is_live = live && !strcmp(live, "true") && q->offset >= 0;
    if (!is_live || json_array_size(msgs) > 0) {
        reply_feed(q, msgs, offset, is_live);
        feed_free(q);
        return;
    }
    if (!c->app->rt) { /* shutting down: nothing more will come on this request */
        reply_feed(q, msgs, offset, true);
        feed_free(q);
        return;
    }
    json_decref(msgs);
    q->offset = offset;
    http_park(c, on_gone, q);
    q->sub = realtime_subscribe(c->app->rt, &q->f, offset, c->now + LIVE_HOLD_MS, on_delivery, q);
}

/* Common request parsing: skipColumns (the JWT claim wins), legacy mode,
 * the handle a known client sends back. */
static feed_req *feed_new(http_ctx *c, feed_kind kind, const char *default_handle)
{
    feed_req *q = calloc(1, sizeof *q);
    if (!q)
        abort();
    q->c = c;
    q->f.kind = kind;
    snprintf(q->f.env_id, sizeof q->f.env_id, "%s", c->auth.env->id);
    q->legacy = http_header(c, "x-trigger-electric-version") == NULL;
    q->rewrite = !c->current_api;
    json_t *claim = json_object_get(json_object_get(c->auth.claims, "realtime"), "skipColumns");
    if (json_is_array(claim)) {
        size_t i;
        json_t *v;
        json_array_foreach(claim, i, v) if (json_is_string(v)) set_skip(q, json_string_value(v));
    } else {
        set_skip(q, http_query(c, "skipColumns"));
    }
    const char *h = http_query(c, q->legacy ? "shape_id" : "handle");
    q->handle = h && *h ? h : default_handle;
    return q;
}

void api_realtime_run(http_ctx *c)
{
    store_run r = {0};
    if (store_run_get(c->app->st, c->auth.env->id, http_param(c, 0), &r) != 0) {
        http_reply_error(c, 404, "Not found");
        return;
    }
    bool ok = api_can_read_run(c, &r);
    store_run_clear(&r);
    if (!ok)
        return;
    feed_req *q = feed_new(c, FEED_RUN, http_sprintf(c, "run-%s", http_param(c, 0)));
    q->f.key = strdup(http_param(c, 0));
    serve(q);
}

static bool tag_ok(const char *t)
{
    for (; *t; t++)
        if ((unsigned char)*t < 0x20 || *t == '\\' || *t == '"')
            return false;
    return true;
}

void api_realtime_runs(http_ctx *c)
{
    const char *tags = http_query(c, "tags");
    /* the lower createdAt bound is pinned in the handle, so a resumed feed
     * keeps the window it started with */
    int64_t window = TAG_FEED_MAX_AGE_MS;
    const char *ca = http_query(c, "createdAt");
    if (ca && *ca && dur_parse(ca, &window) != 0) {
        http_reply_error(c, 400, "Invalid createdAt");
        return;
    }
    if (window > TAG_FEED_MAX_AGE_MS || window <= 0)
        window = TAG_FEED_MAX_AGE_MS;
    int64_t bound = c->now - window;
    bool legacy = http_header(c, "x-trigger-electric-version") == NULL;
    const char *h = http_query(c, legacy ? "shape_id" : "handle");
    long long pinned = 0;
    if (h && sscanf(h, "runs_%lld_", &pinned) == 1 && pinned > 0)
        bound = pinned;
    feed_req *q = feed_new(c, FEED_TAGS, http_sprintf(c, "runs_%lld_%llx", (long long)bound,
                                                      (unsigned long long)(c->now & 0xffffff)));
    q->f.created_after = bound;
    scope_res res[STORE_FILTER_MAX + 1];
    size_t nres = 0;
    res[nres++] = (scope_res){"tags", NULL};
    if (tags && *tags) {
        char *list = http_sprintf(c, "%s", tags), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (!tag_ok(t)) {
                http_reply_error(c, 400, "Query Error: invalid tag");
                feed_free(q);
                return;
            }
            if (q->f.n_tags == STORE_FILTER_MAX)
                break;
            q->f.tags = realloc(q->f.tags, (q->f.n_tags + 1) * sizeof *q->f.tags);
            if (!q->f.tags)
                abort();
            q->f.tags[q->f.n_tags++] = strdup(t);
            res[nres++] = (scope_res){"tags", t};
        }
    }
    if (c->auth.kind == AUTH_JWT) {
        scope_res all = {"runs", NULL};
        if (!scopes_grant(c->auth.scopes, "read", &all) &&
            !http_authorize(c, "read", res, nres)) {
            feed_free(q);
            return;
        }
    }
    serve(q);
}

void api_realtime_batch(http_ctx *c)
{
    store_batch b = {0};
    if (store_batch_get(c->app->st, c->auth.env->id, http_param(c, 0), &b) != 0) {
        http_add_header(c, "x-should-retry", "true");
        http_reply_error(c, 404, "Not found");
        return;
    }
    store_batch_clear(&b);
    scope_res res[2] = {{"batch", http_param(c, 0)}, {"runs", NULL}};
    if (c->auth.kind == AUTH_JWT && !http_authorize(c, "read", res, 2))
        return;
    feed_req *q = feed_new(c, FEED_BATCH, http_sprintf(c, "batch_%s_0", http_param(c, 0)));
    q->f.key = strdup(http_param(c, 0));
    serve(q);
}
