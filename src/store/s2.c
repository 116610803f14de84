/*
 * store/s2.c - the SQL of S2 streams (realtime/s2.c decides what to write).
 *
 * A stream is one s2_streams row (its tail, last timestamp and trim point)
 * and its s2_records; writes join the turn's transaction (group commit), so
 * a record and the tail that counts it commit together.
 */
#include <string.h>

#include "store/sqlite_internal.h"
#include "util/err.h"

int store_s2_tail_get(store *st, const char *name, store_s2_tail *out)
{
    memset(out, 0, sizeof *out);
    db_stmt *s =
        store__stmt(st, "SELECT next_seq,last_ts,trim_seq FROM s2_streams WHERE name=?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, name);
    int rc = db_step(s);
    if (rc == DB_ROW) {
        out->next_seq = db_column_int64(s, 0);
        out->last_ts = db_column_int64(s, 1);
        out->trim_seq = db_column_int64(s, 2);
        out->exists = true;
    }
    db_reset(s);
    return rc == DB_ROW || rc == DB_DONE ? 0 : store__fail(st, "s2 tail");
}

int store_s2_tail_set(store *st, const char *name, int64_t next_seq, int64_t last_ts, int64_t now)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *s = store__stmt(st, "INSERT INTO s2_streams(name,next_seq,last_ts,created_at)"
                                      " VALUES(?,?,?,?) ON CONFLICT(name) DO UPDATE SET"
                                      " next_seq=excluded.next_seq, last_ts=excluded.last_ts");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, name);
    db_bind_int64(s, 2, next_seq);
    db_bind_int64(s, 3, last_ts);
    db_bind_int64(s, 4, now);
    return store__exec_write(st, s);
}

int store_s2_insert(store *st, const char *name, int64_t seq, int64_t ts, const void *headers,
                    size_t hlen, const void *body, size_t blen)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *s =
        store__stmt(st, "INSERT INTO s2_records(stream,seq,ts,headers,body) VALUES(?,?,?,?,?)");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, name);
    db_bind_int64(s, 2, seq);
    db_bind_int64(s, 3, ts);
    if (hlen)
        db_bind_blob(s, 4, headers, (int)hlen);
    else
        db_bind_null(s, 4);
    db_bind_blob(s, 5, blen ? body : "", (int)blen);
    return store__exec_write(st, s);
}

int store_s2_trim(store *st, const char *name, int64_t trim_seq)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *s = store__stmt(
        st, "UPDATE s2_streams SET trim_seq=max(trim_seq,?) WHERE name=? AND trim_seq<?");
    if (!s)
        return ERR_STORE;
    db_bind_int64(s, 1, trim_seq);
    store__bind_text(s, 2, name);
    db_bind_int64(s, 3, trim_seq);
    if (store__exec_write(st, s))
        return ERR_STORE;
    if (store__changes(st) == 0)
        return 0; /* an older or lower trim: nothing more to delete */
    s = store__stmt(st, "DELETE FROM s2_records WHERE stream=? AND seq<?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, name);
    db_bind_int64(s, 2, trim_seq);
    return store__exec_write(st, s);
}

int store_s2_each(store *st, const char *name, int64_t from, size_t max,
                  void (*fn)(void *ud, const store_s2_rec *r), void *ud)
{
    db_stmt *s = store__stmt(st, "SELECT seq,ts,headers,body FROM s2_records"
                                      " WHERE stream=? AND seq>=? ORDER BY seq LIMIT ?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, name);
    db_bind_int64(s, 2, from);
    db_bind_int64(s, 3, (int64_t)max);
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        store_s2_rec r;
        r.seq = db_column_int64(s, 0);
        r.ts = db_column_int64(s, 1);
        r.headers = db_column_blob(s, 2); /* blob before bytes, as sqlite asks */
        r.headers_len = (size_t)db_column_bytes(s, 2);
        r.body = db_column_blob(s, 3);
        r.body_len = (size_t)db_column_bytes(s, 3);
        fn(ud, &r);
    }
    db_reset(s);
    return rc == DB_DONE ? 0 : store__fail(st, "s2 read");
}
