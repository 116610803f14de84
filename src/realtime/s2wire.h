/*
 * realtime/s2wire.h - the S2 wire codec (spec/s2.md 4, 5.3): the protobuf
 * messages the SDK sends and expects (AppendInput, AppendAck, Header) and
 * the S2S frames of an append session. Pure functions over byte buffers;
 * no I/O and no allocation beyond the decoded arrays.
 */
#ifndef TD_REALTIME_S2WIRE_H
#define TD_REALTIME_S2WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S2_MAX_BATCH_RECORDS 1000
#define S2_MAX_BATCH_BYTES (1024 * 1024) /* metered */
#define S2_MAX_RECORD_BYTES (1024 * 1024)
#define S2_MAX_FRAME (2 * 1024 * 1024) /* length field, as s2-lite and 0.25.0 */

#define S2_FRAME_TERMINAL 0x80
#define S2_FRAME_COMPRESSION 0x60

typedef struct s2_bytes {
    const uint8_t *p;
    size_t n;
} s2_bytes;

typedef struct s2_header {
    s2_bytes name, value;
} s2_header;

typedef struct s2_record {
    bool has_ts;
    uint64_t ts;
    s2_header *headers; /* owned array (s2wire_input_free), bytes borrowed */
    size_t n_headers;
    s2_bytes body;
} s2_record;

typedef struct s2_input {
    s2_record *recs; /* owned array */
    size_t n;
    bool has_match;
    uint64_t match_seq;
    bool has_fencing;
    s2_bytes fencing;
} s2_input;

typedef struct s2_pos {
    int64_t seq, ts;
} s2_pos;

typedef struct s2_ack {
    s2_pos start, end, tail;
} s2_ack;

/* Decodes a protobuf AppendInput from p[0..n). The result borrows p for its
 * bytes; free its arrays with s2wire_input_free. Returns 0, or -1 on
 * malformed protobuf (out is then empty). */
int s2wire_decode_input(const uint8_t *p, size_t n, s2_input *out);
void s2wire_input_free(s2_input *in);

/* Appends a record to in (the arrays grow); its headers are copied as
 * pointers, their bytes stay borrowed. For building inputs from JSON. */
void s2wire_input_add(s2_input *in, const s2_record *r);

/* S2's metered size of a record: 8 + 2*H + sum(name+value) + body. */
size_t s2wire_metered(const s2_record *r);

/* True for a command record: exactly one header, with an empty name. */
bool s2wire_is_command(const s2_record *r);

/* Encodes an AppendAck (start and end always present, even when zero) into
 * out, which must hold S2WIRE_ACK_MAX bytes. Returns the length. */
#define S2WIRE_ACK_MAX 96
size_t s2wire_encode_ack(const s2_ack *a, uint8_t *out);

/* Encodes headers as back-to-back protobuf Header messages, each with its
 * field tag 3 (SequencedRecord.headers), into a malloc'd buffer; *len
 * receives its size (0 and NULL when there are no headers). */
uint8_t *s2wire_encode_headers(const s2_header *h, size_t n, size_t *len);

/* Walks headers encoded by s2wire_encode_headers: fn per header, in order.
 * Returns 0, or -1 if the buffer is malformed. */
int s2wire_headers_each(const uint8_t *p, size_t n,
                        void (*fn)(void *ud, s2_bytes name, s2_bytes value), void *ud);

/* ---- S2S frames -------------------------------------------------------- */

/* Looks for one frame at the start of p[0..n). Returns the bytes it takes
 * (its payload in *payload, its flags in *flags), 0 when more bytes are
 * needed, or -1 when the length is 0 or beyond S2_MAX_FRAME. */
long s2wire_frame_parse(const uint8_t *p, size_t n, uint8_t *flags, s2_bytes *payload);

/* Writes the 4-byte frame prefix (3-byte length = 1 + payload_len, flags). */
void s2wire_frame_prefix(uint8_t out[4], size_t payload_len, uint8_t flags);

#endif
