/*
 * store/pg_sql.c - rewrites the store's SQL (SQLite's dialect) into
 * PostgreSQL's, once per statement when pg.c first prepares it: ?/?N
 * placeholders to $N, INSERT OR IGNORE / OR REPLACE to ON CONFLICT,
 * json_each to json_array_elements_text, WHERE 1 to WHERE true, and
 * RETURNING seq on the inserts whose rowid the store reads. A statement no
 * rule covers gets a whole-text override below. The schema migrations are
 * rewritten the same way (types, WITHOUT ROWID), so one list of migrations
 * serves both backends (docs/store.md).
 */
#include "store/pg_sql.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A growing string; aborts on out-of-memory, like the rest of the store. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_addn(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_add(sbuf *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

static bool is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Replaces every whole-word occurrence of from (outside string literals). */
static char *replace_word(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from);
    sbuf b = {0};
    sb_add(&b, "");
    bool quoted = false;
    for (const char *p = s; *p;) {
        if (*p == '\'')
            quoted = !quoted;
        if (!quoted && strncmp(p, from, fl) == 0 && (p == s || !is_word(p[-1]) || !is_word(*p)) &&
            (!is_word(p[fl]) || !is_word(from[fl - 1]))) {
            sb_add(&b, to);
            p += fl;
            continue;
        }
        sb_addn(&b, p++, 1);
    }
    free(s);
    return b.s;
}

/* The primary key of each table the store writes with INSERT OR REPLACE
 * (PostgreSQL's ON CONFLICT DO UPDATE names its conflict target). */
static const struct {
    const char *table, *key;
} primary_keys[] = {
    {"settings", "key"},
    {"revoked_keys", "api_key"},
    {"env_vars", "env_id,name"},
    {"request_keys", "hash"},
    {"session_waits", "env_id,skey,io,waitpoint_id"},
    {"input_stream_waits", "run_id,stream"},
    {"queues", "env_id,name"},
};

static bool in_list(const char *name, size_t n, const char *list)
{
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, name, n) == 0)
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

/* "INSERT OR REPLACE INTO t(cols) VALUES(...)" -> an upsert on t's key. */
static char *rewrite_replace(char *s)
{
    const char *p = s + strlen("INSERT OR REPLACE INTO ");
    const char *open = strchr(p, '(');
    const char *close = open ? strchr(open, ')') : NULL;
    if (!close)
        return s;
    size_t tl = (size_t)(open - p);
    const char *key = NULL;
    for (size_t i = 0; i < sizeof primary_keys / sizeof primary_keys[0]; i++)
        if (strlen(primary_keys[i].table) == tl && strncmp(primary_keys[i].table, p, tl) == 0)
            key = primary_keys[i].key;
    if (!key) {
        fprintf(stderr, "store: pg: no key known for INSERT OR REPLACE into %.*s\n", (int)tl, p);
        return s;
    }
    sbuf b = {0};
    sb_add(&b, "INSERT INTO ");
    sb_add(&b, p);
    sb_add(&b, " ON CONFLICT(");
    sb_add(&b, key);
    sb_add(&b, ") DO ");
    bool any = false;
    for (const char *c = open + 1; c < close;) {
        const char *e = c;
        while (e < close && *e != ',')
            e++;
        size_t n = (size_t)(e - c);
        if (!in_list(c, n, key)) {
            sb_add(&b, any ? "," : "UPDATE SET ");
            sb_addn(&b, c, n);
            sb_add(&b, "=EXCLUDED.");
            sb_addn(&b, c, n);
            any = true;
        }
        c = e + 1;
    }
    if (!any)
        sb_add(&b, "NOTHING");
    free(s);
    return b.s;
}

/* json_each(X) -> json_array_elements_text((X)::json) AS je(value) */
static char *rewrite_json_each(char *s)
{
    const char *from = "json_each(";
    char *p;
    while ((p = strstr(s, from))) {
        char *arg = p + strlen(from);
        char *close = strchr(arg, ')');
        if (!close)
            break;
        sbuf b = {0};
        sb_addn(&b, s, (size_t)(p - s));
        sb_add(&b, "json_array_elements_text((");
        sb_addn(&b, arg, (size_t)(close - arg));
        sb_add(&b, ")::json) AS je(value)");
        sb_add(&b, close + 1);
        free(s);
        s = b.s;
    }
    return s;
}

/* SQLite's scalar max(a,b) / min(a,b) -> GREATEST / LEAST (the aggregate
 * forms, with one argument, stay). */
static char *rewrite_scalar_minmax(char *s)
{
    for (char *p = s; *p; p++) {
        bool mx = strncasecmp(p, "max(", 4) == 0, mn = strncasecmp(p, "min(", 4) == 0;
        if ((!mx && !mn) || (p > s && is_word(p[-1])))
            continue;
        int depth = 0;
        bool comma = false;
        for (char *e = p + 3; *e; e++) {
            if (*e == '(')
                depth++;
            else if (*e == ')' && --depth == 0)
                break;
            else if (*e == ',' && depth == 1)
                comma = true;
        }
        if (!comma)
            continue;
        sbuf b = {0};
        sb_addn(&b, s, (size_t)(p - s));
        sb_add(&b, mx ? "GREATEST" : "LEAST");
        size_t off = b.len;
        sb_add(&b, p + 3);
        free(s);
        s = b.s;
        p = s + off - 1;
    }
    return s;
}

/* ?N -> $N and ? -> $(highest so far + 1), outside string literals. */
static char *rewrite_params(char *s, int *nparams)
{
    sbuf b = {0};
    sb_add(&b, "");
    int max = 0;
    bool quoted = false;
    for (const char *p = s; *p;) {
        if (*p == '\'')
            quoted = !quoted;
        if (!quoted && *p == '?') {
            char num[16];
            int n;
            p++;
            if (isdigit((unsigned char)*p)) {
                n = (int)strtol(p, (char **)&p, 10);
            } else {
                n = max + 1;
            }
            if (n > max)
                max = n;
            snprintf(num, sizeof num, "$%d", n);
            /* SQLite's LIMIT -1 (any negative) is no limit; PostgreSQL's is NULL */
            bool limit = b.len >= 6 && strcmp(b.s + b.len - 6, "LIMIT ") == 0;
            if (limit)
                sb_add(&b, "NULLIF(GREATEST(");
            sb_add(&b, num);
            if (limit)
                sb_add(&b, "::bigint,-1),-1)");
            continue;
        }
        sb_addn(&b, p++, 1);
    }
    free(s);
    *nparams = max;
    return b.s;
}

/* Statements no rule rewrites: SQLite text -> PostgreSQL text. */
static const struct {
    const char *lite, *pg;
} overrides[] = {
    {"SELECT MIN(t) FROM (SELECT MIN(delay_until) t FROM runs WHERE status=0 UNION ALL SELECT"
     " MIN(expire_at) FROM runs WHERE expire_at>0)",
     "SELECT MIN(t) FROM (SELECT MIN(delay_until) t FROM runs WHERE status=0 UNION ALL SELECT"
     " MIN(expire_at) FROM runs WHERE expire_at>0) AS due"},
    {"SELECT json_extract(t.value,'$.triggerSource') FROM workers w JOIN envs e ON"
     " e.id=w.env_id, json_each(w.tasks) t WHERE e.project_id=? AND"
     " json_extract(t.value,'$.id')=? ORDER BY w.created_at DESC, w.seq DESC LIMIT 1",
     "SELECT t.value->>'triggerSource' FROM workers w JOIN envs e ON e.id=w.env_id,"
     " json_array_elements(w.tasks::json) AS t(value) WHERE e.project_id=$1 AND"
     " t.value->>'id'=$2 ORDER BY w.created_at DESC, w.seq DESC LIMIT 1"},
};

/* Tables whose rows have a seq the store reads back after an insert. */
static const char *const seq_tables[] = {"runs",    "batches",   "waitpoints",         "workers",
                                         "sessions", "schedules", "schedule_instances"};

/* Tables whose unique conflicts the store reports (ERR_CONFLICT) and goes on:
 * their writes run under a savepoint, since a failed statement would end the
 * whole PostgreSQL transaction. */
static const char *const conflict_tables[] = {"sessions", "schedules"};

static bool writes_table(const char *s, const char *const *tables, size_t n)
{
    const char *t = NULL;
    if (strncmp(s, "INSERT INTO ", 12) == 0)
        t = s + 12;
    else if (strncmp(s, "UPDATE ", 7) == 0)
        t = s + 7;
    if (!t)
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(tables[i]);
        if (strncmp(t, tables[i], l) == 0 && (t[l] == '(' || t[l] == ' '))
            return true;
    }
    return false;
}

char *pg_sql_rewrite(const char *lite, pg_sql_info *info)
{
    memset(info, 0, sizeof *info);
    char *s = NULL;
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++)
        if (strcmp(lite, overrides[i].lite) == 0)
            s = strdup(overrides[i].pg);
    if (!s) {
        s = strdup(lite);
        if (!s)
            abort();
        if (strncmp(s, "INSERT OR IGNORE INTO ", 22) == 0) {
            memmove(s + 7, s + 17, strlen(s + 17) + 1); /* drop "OR IGNORE " */
            sbuf b = {0};
            sb_add(&b, s);
            sb_add(&b, " ON CONFLICT DO NOTHING");
            free(s);
            s = b.s;
        } else if (strncmp(s, "INSERT OR REPLACE INTO ", 23) == 0) {
            s = rewrite_replace(s);
        }
        s = rewrite_scalar_minmax(s);
        if (strstr(s, "json_each("))
            s = rewrite_json_each(s);
        s = replace_word(s, "WHERE 1", "WHERE true");
        s = replace_word(s, "(0 OR", "(false OR");
    }
    if (!strstr(s, "$1"))
        s = rewrite_params(s, &info->nparams);
    else
        for (const char *p = s; (p = strchr(p, '$'));)
            if (isdigit((unsigned char)*++p) && atoi(p) > info->nparams)
                info->nparams = atoi(p);
    if (writes_table(s, seq_tables, sizeof seq_tables / sizeof seq_tables[0]) &&
        strncmp(s, "INSERT", 6) == 0 && !strstr(s, "RETURNING")) {
        sbuf b = {0};
        sb_add(&b, s);
        sb_add(&b, " RETURNING seq");
        free(s);
        s = b.s;
        info->returning_seq = true;
    }
    info->savepoint =
        writes_table(s, conflict_tables, sizeof conflict_tables / sizeof conflict_tables[0]);
    return s;
}

/* Extra statements PostgreSQL needs after a migration: SQLite's implicit
 * rowid, which some queries order by, is a column here. */
static const char *extra_after(size_t version)
{
    switch (version) {
    case 1: /* and the rows of pg.c's durability barrier (pg_sync) */
        return "ALTER TABLE envs ADD COLUMN rowid BIGSERIAL;"
               "ALTER TABLE projects ADD COLUMN rowid BIGSERIAL;"
               "CREATE TABLE sync_barrier(pid BIGINT PRIMARY KEY, n BIGINT NOT NULL);";
    case 11:
        return "ALTER TABLE session_runs ADD COLUMN rowid BIGSERIAL;";
    default:
        return NULL;
    }
}

/* Migrations whose SQLite text has no mechanical rewrite (triggers, JSON
 * table functions): PostgreSQL's own text of the same schema change. */
static const char *replacement(size_t version)
{
    switch (version) {
    case 20: /* the run_tags index of tags, filled at insert by a trigger */
        return "CREATE TABLE run_tags(tag TEXT NOT NULL, run_seq BIGINT NOT NULL,"
               " PRIMARY KEY(tag, run_seq));"
               "INSERT INTO run_tags SELECT DISTINCT j.value, runs.seq FROM runs,"
               " jsonb_array_elements_text(runs.tags::jsonb) j(value)"
               " WHERE runs.tags IS NOT NULL AND runs.tags LIKE '[%' ON CONFLICT DO NOTHING;"
               "CREATE FUNCTION runs_tags_insert() RETURNS trigger LANGUAGE plpgsql AS $f$"
               " BEGIN IF NEW.tags IS NOT NULL AND NEW.tags <> '[]' AND NEW.tags LIKE '[%' THEN"
               " BEGIN INSERT INTO run_tags SELECT DISTINCT j.value, NEW.seq"
               " FROM jsonb_array_elements_text(NEW.tags::jsonb) j(value) ON CONFLICT DO NOTHING;"
               /* a tag PostgreSQL's JSON cannot hold (a lone surrogate
                * escape) is stored on the run but not indexed */
               " EXCEPTION WHEN OTHERS THEN NULL; END;"
               " END IF; RETURN NEW; END $f$;"
               "CREATE TRIGGER runs_tags_insert AFTER INSERT ON runs FOR EACH ROW"
               " EXECUTE FUNCTION runs_tags_insert();";
    default:
        return NULL;
    }
}

char *pg_sql_ddl(const char *lite, size_t version)
{
    const char *own = replacement(version);
    char *s = strdup(own ? own : lite);
    if (own)
        return s ? s : (abort(), NULL);
    if (!s)
        abort();
    s = replace_word(s, "AUTOINCREMENT", "");
    s = replace_word(s, "WITHOUT ROWID", "");
    s = replace_word(s, "INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY");
    s = replace_word(s, "INTEGER", "BIGINT");
    s = replace_word(s, "BLOB", "BYTEA");
    const char *extra = extra_after(version);
    if (extra) {
        sbuf b = {0};
        sb_add(&b, s);
        sb_add(&b, ";");
        sb_add(&b, extra);
        free(s);
        s = b.s;
    }
    return s;
}
