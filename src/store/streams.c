/*
 * store/streams.c - realtime stream records and input-stream waitpoints.
 *
 * A stream is the ordered records of (run, stream name); numbers start at 0
 * and are dense, so a reader resumes from the last number it saw. Writes join
 * the turn's transaction like every other store write (group commit).
 */
#include <stdio.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "util/err.h"

int store_stream_last_seq(store *st, const char *run_id, const char *stream, int64_t *seq)
{
    db_stmt *s =
        store__stmt(st, "SELECT max(seq) FROM stream_records WHERE run_id=? AND stream=?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, run_id);
    store__bind_text(s, 2, stream);
    int rc = db_step(s);
    *seq = -1;
    if (rc == DB_ROW && db_column_type(s, 0) != DB_NULL)
        *seq = db_column_int64(s, 0);
    db_reset(s);
    return rc == DB_ROW ? 0 : store__fail(st, "stream last seq");
}

int store_stream_append(store *st, const char *run_id, const char *stream, const char *data,
                        size_t len, const char *client_id, int64_t chunk, int64_t now, int64_t *seq)
{
    if (store__begin_write(st))
        return ERR_STORE;
    int64_t last;
    if (store_stream_last_seq(st, run_id, stream, &last))
        return ERR_STORE;
    db_stmt *s = store__stmt(st, "INSERT INTO stream_records(run_id,stream,seq,data,"
                                      "created_at,client_id,chunk) VALUES(?,?,?,?,?,?,?)");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, run_id);
    store__bind_text(s, 2, stream);
    db_bind_int64(s, 3, last + 1);
    db_bind_text(s, 4, data, (int)len);
    db_bind_int64(s, 5, now);
    store__bind_text(s, 6, client_id);
    if (chunk >= 0)
        db_bind_int64(s, 7, chunk);
    else
        db_bind_null(s, 7);
    if (store__exec_write(st, s))
        return ERR_STORE;
    *seq = last + 1;
    return 0;
}

int store_stream_each(store *st, const char *run_id, const char *stream, int64_t after,
                      int64_t upto, size_t max, void (*fn)(void *ud, const store_stream_rec *r),
                      void *ud)
{
    db_stmt *s = store__stmt(st, "SELECT seq,created_at,data FROM stream_records"
                                      " WHERE run_id=? AND stream=? AND seq>? AND seq<=?"
                                      " ORDER BY seq LIMIT ?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, run_id);
    store__bind_text(s, 2, stream);
    db_bind_int64(s, 3, after);
    db_bind_int64(s, 4, upto < 0 ? INT64_MAX : upto);
    db_bind_int64(s, 5, (int64_t)max);
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        store_stream_rec r = {db_column_int64(s, 0), db_column_int64(s, 1),
                              (const char *)db_column_text(s, 2),
                              (size_t)db_column_bytes(s, 2)};
        fn(ud, &r);
    }
    db_reset(s);
    return rc == DB_DONE ? 0 : store__fail(st, "stream read");
}

int store_stream_last_chunk(store *st, const char *run_id, const char *stream,
                            const char *client_id, int64_t *chunk)
{
    db_stmt *s = store__stmt(st, "SELECT max(chunk) FROM stream_records"
                                      " WHERE run_id=? AND stream=? AND client_id=?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, run_id);
    store__bind_text(s, 2, stream);
    store__bind_text(s, 3, client_id);
    int rc = db_step(s);
    *chunk = -1;
    if (rc == DB_ROW && db_column_type(s, 0) != DB_NULL)
        *chunk = db_column_int64(s, 0);
    db_reset(s);
    return rc == DB_ROW ? 0 : store__fail(st, "stream last chunk");
}

int store_input_wait_set(store *st, const char *run_id, const char *stream, const char *wp_id)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *s = store__stmt(
        st, "INSERT OR REPLACE INTO input_stream_waits(run_id,stream,waitpoint_id) VALUES(?,?,?)");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, run_id);
    store__bind_text(s, 2, stream);
    store__bind_text(s, 3, wp_id);
    return store__exec_write(st, s);
}

int store_input_wait_get(store *st, const char *run_id, const char *stream, char id[64])
{
    db_stmt *s =
        store__stmt(st, "SELECT waitpoint_id FROM input_stream_waits WHERE run_id=? AND stream=?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, run_id);
    store__bind_text(s, 2, stream);
    int rc = db_step(s);
    if (rc == DB_ROW)
        snprintf(id, 64, "%s", (const char *)db_column_text(s, 0));
    db_reset(s);
    if (rc == DB_DONE)
        return ERR_NOT_FOUND;
    return rc == DB_ROW ? 0 : store__fail(st, "input wait");
}

int store_input_wait_delete(store *st, const char *run_id, const char *stream)
{
    if (store__begin_write(st))
        return ERR_STORE;
    db_stmt *s = store__stmt(st, "DELETE FROM input_stream_waits WHERE run_id=? AND stream=?");
    if (!s)
        return ERR_STORE;
    store__bind_text(s, 1, run_id);
    store__bind_text(s, 2, stream);
    return store__exec_write(st, s);
}
