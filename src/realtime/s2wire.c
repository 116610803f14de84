/*
 * realtime/s2wire.c - protobuf and S2S framing for the S2 append API.
 *
 * Only the handful of messages of spec/s2.md 4 are handled, by hand: proto3
 * varints and length-delimited fields, unknown fields skipped, absent fields
 * read as empty or zero (as any proto3 decoder must).
 */
#include "realtime/s2wire.h"

#include <stdlib.h>
#include <string.h>

/* ---- protobuf primitives ---------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

static int varint(rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Reads a tag; *field and *wire receive its parts. */
static int tag(rd *r, uint32_t *field, uint32_t *wire)
{
    uint64_t t;
    if (varint(r, &t) || (t >> 3) == 0 || (t >> 3) > UINT32_MAX)
        return -1;
    *field = (uint32_t)(t >> 3);
    *wire = (uint32_t)(t & 7);
    return 0;
}

static int lenbytes(rd *r, s2_bytes *b)
{
    uint64_t n;
    if (varint(r, &n) || n > (uint64_t)(r->end - r->p))
        return -1;
    b->p = r->p;
    b->n = (size_t)n;
    r->p += n;
    return 0;
}

static int skip(rd *r, uint32_t wire)
{
    uint64_t v;
    s2_bytes b;
    switch (wire) {
    case 0:
        return varint(r, &v);
    case 1:
        if (r->end - r->p < 8)
            return -1;
        r->p += 8;
        return 0;
    case 2:
        return lenbytes(r, &b);
    case 5:
        if (r->end - r->p < 4)
            return -1;
        r->p += 4;
        return 0;
    default:
        return -1; /* groups (3, 4) are not proto3 */
    }
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* ---- AppendInput ------------------------------------------------------- */

static void *grow(void *arr, size_t n, size_t size)
{
    /* capacity is 4, then doubles at each power of two from 4, so n alone
     * tells when to grow */
    if (n && (n < 4 || (n & (n - 1))))
        return arr;
    void *p = realloc(arr, (n ? n * 2 : 4) * size);
    if (!p)
        abort();
    return p;
}

static int decode_header(s2_bytes m, s2_header *h)
{
    rd r = {m.p, m.p + m.n};
    memset(h, 0, sizeof *h);
    while (r.p < r.end) {
        uint32_t f, w;
        if (tag(&r, &f, &w))
            return -1;
        if ((f == 1 || f == 2) && w == 2) {
            if (lenbytes(&r, f == 1 ? &h->name : &h->value))
                return -1;
        } else if (skip(&r, w)) {
            return -1;
        }
    }
    return 0;
}

static int decode_record(s2_bytes m, s2_record *rec)
{
    rd r = {m.p, m.p + m.n};
    memset(rec, 0, sizeof *rec);
    while (r.p < r.end) {
        uint32_t f, w;
        if (tag(&r, &f, &w))
            return -1;
        if (f == 1 && w == 0) {
            if (varint(&r, &rec->ts))
                return -1;
            rec->has_ts = true;
        } else if (f == 2 && w == 2) {
            s2_bytes hm;
            if (lenbytes(&r, &hm))
                return -1;
            rec->headers = grow(rec->headers, rec->n_headers, sizeof *rec->headers);
            if (decode_header(hm, &rec->headers[rec->n_headers]))
                return -1;
            rec->n_headers++;
        } else if (f == 3 && w == 2) {
            if (lenbytes(&r, &rec->body))
                return -1;
        } else if (skip(&r, w)) {
            return -1;
        }
    }
    return 0;
}

void s2wire_input_free(s2_input *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->recs[i].headers);
    free(in->recs);
    memset(in, 0, sizeof *in);
}

int s2wire_decode_input(const uint8_t *p, size_t n, s2_input *out)
{
    rd r = {p, p + n};
    memset(out, 0, sizeof *out);
    while (r.p < r.end) {
        uint32_t f, w;
        if (tag(&r, &f, &w))
            goto fail;
        if (f == 1 && w == 2) {
            s2_bytes m;
            if (lenbytes(&r, &m))
                goto fail;
            out->recs = grow(out->recs, out->n, sizeof *out->recs);
            int rc = decode_record(m, &out->recs[out->n]);
            out->n++; /* counted even on failure, so free sees its headers */
            if (rc)
                goto fail;
        } else if (f == 2 && w == 0) {
            if (varint(&r, &out->match_seq))
                goto fail;
            out->has_match = true;
        } else if (f == 3 && w == 2) {
            if (lenbytes(&r, &out->fencing))
                goto fail;
            out->has_fencing = true;
        } else if (skip(&r, w)) {
            goto fail;
        }
    }
    return 0;
fail:
    s2wire_input_free(out);
    return -1;
}

void s2wire_input_add(s2_input *in, const s2_record *r)
{
    in->recs = grow(in->recs, in->n, sizeof *in->recs);
    s2_record *d = &in->recs[in->n++];
    *d = *r;
    d->headers = NULL;
    d->n_headers = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        d->headers = grow(d->headers, d->n_headers, sizeof *d->headers);
        d->headers[d->n_headers++] = r->headers[i];
    }
}

size_t s2wire_metered(const s2_record *r)
{
    size_t n = 8 + 2 * r->n_headers + r->body.n;
    for (size_t i = 0; i < r->n_headers; i++)
        n += r->headers[i].name.n + r->headers[i].value.n;
    return n;
}

bool s2wire_is_command(const s2_record *r)
{
    return r->n_headers == 1 && r->headers[0].name.n == 0;
}

/* ---- AppendAck, headers ------------------------------------------------ */

static uint8_t *put_pos(uint8_t *o, uint32_t field, s2_pos p)
{
    uint64_t seq = (uint64_t)p.seq, ts = (uint64_t)p.ts;
    size_t len = (seq ? 1 + varint_len(seq) : 0) + (ts ? 1 + varint_len(ts) : 0);
    *o++ = (uint8_t)(field << 3 | 2);
    o = put_varint(o, len); /* present even when empty: the client checks */
    if (seq) {
        *o++ = 1 << 3;
        o = put_varint(o, seq);
    }
    if (ts) {
        *o++ = 2 << 3;
        o = put_varint(o, ts);
    }
    return o;
}

size_t s2wire_encode_ack(const s2_ack *a, uint8_t *out)
{
    uint8_t *o = out;
    o = put_pos(o, 1, a->start);
    o = put_pos(o, 2, a->end);
    o = put_pos(o, 3, a->tail);
    return (size_t)(o - out);
}

uint8_t *s2wire_encode_headers(const s2_header *h, size_t n, size_t *len)
{
    *len = 0;
    if (!n)
        return NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        cap += 3 * 10 + h[i].name.n + h[i].value.n;
    uint8_t *buf = malloc(cap), *o = buf;
    if (!buf)
        abort();
    for (size_t i = 0; i < n; i++) {
        size_t inner =
            1 + varint_len(h[i].name.n) + h[i].name.n + 1 + varint_len(h[i].value.n) + h[i].value.n;
        *o++ = 3 << 3 | 2;
        o = put_varint(o, inner);
        /* both fields always written, so an empty name survives the trip */
        *o++ = 1 << 3 | 2;
        o = put_varint(o, h[i].name.n);
        if (h[i].name.n)
            memcpy(o, h[i].name.p, h[i].name.n);
        o += h[i].name.n;
        *o++ = 2 << 3 | 2;
        o = put_varint(o, h[i].value.n);
        if (h[i].value.n)
            memcpy(o, h[i].value.p, h[i].value.n);
        o += h[i].value.n;
    }
    *len = (size_t)(o - buf);
    return buf;
}

int s2wire_headers_each(const uint8_t *p, size_t n,
                        void (*fn)(void *ud, s2_bytes name, s2_bytes value), void *ud)
{
    rd r = {p, p + n};
    while (r.p < r.end) {
        uint32_t f, w;
        s2_bytes m;
        if (tag(&r, &f, &w) || f != 3 || w != 2 || lenbytes(&r, &m))
            return -1;
        s2_header h;
        if (decode_header(m, &h))
            return -1;
        fn(ud, h.name, h.value);
    }
    return 0;
}

/* ---- S2S frames -------------------------------------------------------- */

long s2wire_frame_parse(const uint8_t *p, size_t n, uint8_t *flags, s2_bytes *payload)
{
    if (n < 3)
        return 0;
    size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
    if (len == 0 || len > S2_MAX_FRAME)
        return -1;
    if (n < 3 + len)
        return 0;
    *flags = p[3];
    payload->p = p + 4;
    payload->n = len - 1;
    return (long)(3 + len);
}

void s2wire_frame_prefix(uint8_t out[4], size_t payload_len, uint8_t flags)
{
    size_t len = payload_len + 1;
    out[0] = (uint8_t)(len >> 16);
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    out[3] = flags;
}
