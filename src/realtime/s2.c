/*
 * realtime/s2.c - what an S2 append means (spec/s2.md 3, 4, 7, 9).
 *
 * Plain append semantics, as s2-lite: no dedup (the SDK's readers dedup on
 * the body's id, s2.md 5.6), one tail per stream that every writer shares
 * (the three append forms and the server's own appends), streams created on
 * first use. Trim deletes at once rather than in the background.
 */
#include "realtime/s2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "realtime/streams.h"
#include "store/store.h"
#include "util/utf8.h"

static int fail(s2_err *e, int status, const char *code, const char *msg)
{
    e->status = status;
    e->code = code;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    return -1;
}

static bool bytes_is(s2_bytes b, const char *s)
{
    return b.n == strlen(s) && memcmp(b.p, s, b.n) == 0;
}

/* Checks one batch against S2's limits and record rules. */
static int validate(const s2_input *in, s2_err *e)
{
    if (in->n == 0)
        return fail(e, 422, "invalid", "append batch must contain at least one record");
    if (in->n > S2_MAX_BATCH_RECORDS)
        return fail(e, 422, "invalid", "append batch exceeds 1000 records");
    size_t total = 0;
    for (size_t i = 0; i < in->n; i++) {
        const s2_record *r = &in->recs[i];
        size_t m = s2wire_metered(r);
        if (m > S2_MAX_RECORD_BYTES)
            return fail(e, 422, "invalid", "record exceeds 1 MiB metered");
        total += m;
        if (s2wire_is_command(r)) {
            s2_bytes op = r->headers[0].value;
            if (bytes_is(op, "trim")) {
                if (r->body.n != 8)
                    return fail(e, 422, "invalid", "trim command body must be 8 bytes");
            } else if (!bytes_is(op, "fence")) {
                return fail(e, 422, "invalid", "unknown command record");
            } else if (r->body.n > 36) {
                return fail(e, 422, "invalid", "fencing token exceeds 36 bytes");
            }
            continue;
        }
        for (size_t h = 0; h < r->n_headers; h++)
            if (r->headers[h].name.n == 0)
                return fail(e, 422, "invalid", "header name must not be empty");
    }
    if (total > S2_MAX_BATCH_BYTES)
        return fail(e, 422, "invalid", "append batch exceeds 1 MiB metered");
    return 0;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int s2_append(app *a, const char *name, const s2_input *in, int64_t now, s2_ack *ack, s2_err *e)
{
    if (validate(in, e))
        return -1;
    if (in->has_fencing && in->fencing.n > 0) {
        /* no stream here is ever fenced: its token is the empty one */
        fail(e, 412, "fencing_token_mismatch", "");
        return -1;
    }
    store_s2_tail t;
    if (store_s2_tail_get(a->st, name, &t))
        return fail(e, 500, "storage", "storage error");
    if (in->has_match && (int64_t)in->match_seq != t.next_seq) {
        e->tail = t.next_seq;
        return fail(e, 412, "seq_num_mismatch", "sequence number mismatch");
    }
    int64_t seq = t.next_seq, ts = t.last_ts;
    ack->start.seq = seq;
    for (size_t i = 0; i < in->n; i++) {
        const s2_record *r = &in->recs[i];
        int64_t rts = r->has_ts && (int64_t)r->ts < now ? (int64_t)r->ts : now;
        if (rts < ts)
            rts = ts; /* never decreasing, s2-lite's sequenced_records */
        ts = rts;
        if (i == 0)
            ack->start.ts = ts;
        size_t hlen;
        uint8_t *hdr = s2wire_encode_headers(r->headers, r->n_headers, &hlen);
        int rc = store_s2_insert(a->st, name, seq, ts, hdr, hlen, r->body.p, r->body.n);
        free(hdr);
        if (rc)
            return fail(e, 500, "storage", "storage error");
        if (s2wire_is_command(r) && bytes_is(r->headers[0].value, "trim")) {
            int64_t to = (int64_t)(be64(r->body.p) & INT64_MAX);
            if (to > seq)
                to = seq; /* min(provided, tail): the trim record itself stays */
            if (store_s2_trim(a->st, name, to))
                return fail(e, 500, "storage", "storage error");
        }
        seq++;
    }
    if (store_s2_tail_set(a->st, name, seq, ts, now))
        return fail(e, 500, "storage", "storage error");
    ack->end = (s2_pos){seq, ts};
    ack->tail = ack->end;
    if (a->streams)
        streams_note(a->streams, "", name, seq - 1);
    return 0;
}

/* ---- JSON -------------------------------------------------------------- */

static s2_bytes str_bytes(json_t *s)
{
    return (s2_bytes){(const uint8_t *)json_string_value(s), json_string_length(s)};
}

int s2_input_from_json(json_t *body, s2_input *in, s2_err *e)
{
    memset(in, 0, sizeof *in);
    json_t *recs = json_object_get(body, "records");
    if (!json_is_object(body) || !json_is_array(recs))
        return fail(e, 422, "invalid", "records: expected an array");
    json_t *m = json_object_get(body, "match_seq_num");
    if (m && !json_is_null(m)) {
        if (!json_is_integer(m) || json_integer_value(m) < 0)
            return fail(e, 422, "invalid", "match_seq_num: expected an unsigned integer");
        in->has_match = true;
        in->match_seq = (uint64_t)json_integer_value(m);
    }
    json_t *ft = json_object_get(body, "fencing_token");
    if (ft && !json_is_null(ft)) {
        if (!json_is_string(ft) || json_string_length(ft) > 36)
            return fail(e, 422, "invalid", "fencing_token: expected a string of at most 36 bytes");
        in->has_fencing = true;
        in->fencing = str_bytes(ft);
    }
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        if (!json_is_object(r))
            goto bad;
        s2_record rec = {0};
        json_t *b = json_object_get(r, "body");
        if (b && !json_is_null(b)) {
            if (!json_is_string(b))
                goto bad;
            rec.body = str_bytes(b);
        }
        json_t *ts = json_object_get(r, "timestamp");
        if (ts && !json_is_null(ts)) {
            if (!json_is_integer(ts) || json_integer_value(ts) < 0)
                goto bad;
            rec.has_ts = true;
            rec.ts = (uint64_t)json_integer_value(ts);
        }
        json_t *hs = json_object_get(r, "headers");
        s2_header hv[64];
        if (hs && !json_is_null(hs)) {
            if (!json_is_array(hs) || json_array_size(hs) > 64)
                goto bad;
            size_t j;
            json_t *h;
            json_array_foreach(hs, j, h)
            {
                json_t *k = json_array_get(h, 0), *v = json_array_get(h, 1);
                if (!json_is_array(h) || json_array_size(h) != 2 || !json_is_string(k) ||
                    !json_is_string(v))
                    goto bad;
                hv[j] = (s2_header){str_bytes(k), str_bytes(v)};
            }
            rec.headers = hv;
            rec.n_headers = json_array_size(hs);
        }
        s2wire_input_add(in, &rec);
    }
    return 0;
bad:
    s2wire_input_free(in);
    return fail(e, 422, "invalid",
                "records: expected {body?: string, headers?: [[string, string]]}");
}

json_t *s2_err_json(const s2_err *e)
{
    if (e->status == 412 && strcmp(e->code, "seq_num_mismatch") == 0)
        return json_pack("{s:I}", "seq_num_mismatch", (json_int_t)e->tail);
    if (e->status == 412)
        return json_pack("{s:s}", "fencing_token_mismatch", "");
    return json_pack("{s:s,s:s}", "code", e->code, "message", e->msg);
}

static json_t *pos_json(s2_pos p)
{
    return json_pack("{s:I,s:I}", "seq_num", (json_int_t)p.seq, "timestamp", (json_int_t)p.ts);
}

json_t *s2_ack_json(const s2_ack *a)
{
    return json_pack("{s:o,s:o,s:o}", "start", pos_json(a->start), "end", pos_json(a->end), "tail",
                     pos_json(a->tail));
}

/* ---- tokens and names -------------------------------------------------- */

static char *env_prefix(const char *env_id)
{
    char *p;
    if (asprintf(&p, "env/%s/", env_id) < 0)
        abort();
    return p;
}

char *s2_token_mint(app *a, const store_env *env, int64_t now)
{
    (void)a;
    char *prefix = env_prefix(env->id);
    json_t *scopes = json_pack("[s]", "write:s2");
    json_t *extra = json_pack("{s:s}", "s2", prefix);
    char *tok = auth_mint(env, scopes, extra, now, S2_TOKEN_TTL_S);
    json_decref(scopes);
    json_decref(extra);
    free(prefix);
    return tok;
}

int s2_token_check(app *a, const char *token, const char *name, int64_t now, s2_err *e)
{
    if (!token || !*token)
        return fail(e, 401, "authn", "missing access token");
    auth_result res = {0};
    err_t ae = {0};
    if (auth_resolve(a->au, token, true, now, &res, &ae) != 0 || res.kind != AUTH_JWT) {
        auth_result_clear(&res);
        return fail(e, 401, "authn", "invalid access token");
    }
    json_t *p = json_object_get(res.claims, "s2");
    json_t *exact = json_object_get(res.claims, "s2n");
    int rc = 0;
    if (json_is_string(exact))
        rc = fail(e, 403, "permission_denied",
                  strcmp(name, json_string_value(exact)) != 0
                      ? "the access token does not grant this stream"
                      : "a session token's grant cannot append: use the channel's /append route");
    else if (!json_is_string(p) || strncmp(name, json_string_value(p), json_string_length(p)) != 0)
        rc = fail(e, 403, "permission_denied", "the access token does not grant this stream");
    auth_result_clear(&res);
    return rc;
}

char *s2_token_mint_stream(app *a, const store_env *env, const char *name, int64_t now)
{
    (void)a;
    json_t *scopes = json_pack("[s]", "write:s2");
    json_t *extra = json_pack("{s:s}", "s2n", name);
    char *tok = auth_mint(env, scopes, extra, now, S2_TOKEN_TTL_S);
    json_decref(scopes);
    json_decref(extra);
    return tok;
}

/* Appends s to b with '%' and '/' escaped, so a key cannot reach into
 * another session's names. */
static void put_escaped(char *b, size_t *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '%' || *s == '/') {
            sprintf(b + *o, "%%%02X", (unsigned char)*s);
            *o += 3;
        } else {
            b[(*o)++] = *s;
        }
    }
    b[*o] = 0;
}

char *s2_session_stream_name(const char *env_id, const char *key, const char *channel,
                             const char *io)
{
    size_t cap =
        strlen(env_id) + 3 * strlen(key) + 3 * (channel ? strlen(channel) : 0) + strlen(io) + 64;
    char *b = malloc(cap);
    if (!b)
        abort();
    size_t o = (size_t)sprintf(b, "env/%s/sessions/", env_id);
    put_escaped(b, &o, key);
    if (channel) {
        o += (size_t)sprintf(b + o, "/channels/");
        put_escaped(b, &o, channel);
    }
    sprintf(b + o, "/%s", io);
    return b;
}

char *s2_run_stream_name(const char *env_id, const char *run_id, const char *key)
{
    char *n;
    if (asprintf(&n, "env/%s/runs/%s/%s", env_id, run_id, key) < 0)
        abort();
    return n;
}

/* ---- read format ------------------------------------------------------- */

/* The bytes as a JSON string, invalid UTF-8 replaced by U+FFFD (raw format). */
static json_t *lossy_string(const void *data, size_t n)
{
    json_t *s = json_stringn(n ? data : "", n);
    if (s)
        return s;
    size_t len;
    char *out = utf8_lossy(data, n, &len);
    s = json_stringn(out, len);
    free(out);
    return s;
}

static void add_header(void *ud, s2_bytes name, s2_bytes value)
{
    json_array_append_new(
        ud, json_pack("[o,o]", lossy_string(name.p, name.n), lossy_string(value.p, value.n)));
}

json_t *s2_record_json(const store_s2_rec *r)
{
    json_t *o =
        json_pack("{s:I,s:I}", "seq_num", (json_int_t)r->seq, "timestamp", (json_int_t)r->ts);
    if (r->headers_len) {
        json_t *h = json_array();
        s2wire_headers_each(r->headers, r->headers_len, add_header, h);
        json_object_set_new(o, "headers", h);
    }
    if (r->body_len)
        json_object_set_new(o, "body", lossy_string(r->body, r->body_len));
    return o;
}
