/*
 * http/eio.h - the Engine.IO v4 and socket.io v4 text codec the dev CLI's
 * push channel speaks (docs/dev-protocol.md, "Push channel"). Pure
 * functions over strings: http/ws.c carries the frames, api/devpush.c
 * decides what they mean. Binary packets (socket.io types 5 and 6) are
 * refused: the CLI never sends them.
 */
#ifndef TD_HTTP_EIO_H
#define TD_HTTP_EIO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Engine.IO packet types: the first character of a text frame. */
enum {
    EIO_OPEN = '0',
    EIO_CLOSE = '1',
    EIO_PING = '2',
    EIO_PONG = '3',
    EIO_MESSAGE = '4',
    EIO_UPGRADE = '5',
    EIO_NOOP = '6',
};

/* socket.io packet types: the first character of an Engine.IO message. */
enum {
    SIO_CONNECT = 0,
    SIO_DISCONNECT = 1,
    SIO_EVENT = 2,
    SIO_ACK = 3,
    SIO_CONNECT_ERROR = 4,
    SIO_BINARY_EVENT = 5,
    SIO_BINARY_ACK = 6,
};

#define SIO_NSP_MAX 64

typedef struct sio_packet {
    int type;               /* SIO_* */
    char nsp[SIO_NSP_MAX];  /* "/" when the packet names none */
    int64_t ack_id;         /* -1: none */
    json_t *data;           /* owned (sio_packet_clear), NULL when absent */
} sio_packet;

/* Splits an Engine.IO text frame into its type (EIO_*) and payload (a
 * pointer into frame). Returns 0, or -1 for an empty frame or unknown type. */
int eio_parse(const char *frame, size_t len, int *type, const char **payload, size_t *plen);

/* Parses a socket.io packet (an Engine.IO message's payload) into *p.
 * Returns 0, or -1 when malformed, binary, or its data is not JSON; *p
 * needs sio_packet_clear either way. */
int sio_parse(const char *s, size_t len, sio_packet *p);
void sio_packet_clear(sio_packet *p);

/* The Engine.IO open packet `0{"sid":..,"upgrades":[],"pingInterval":..,
 * "pingTimeout":..,"maxPayload":..}`. Caller frees. */
char *eio_open(const char *sid, int64_t ping_interval_ms, int64_t ping_timeout_ms,
               int64_t max_payload);

/* A whole Engine.IO message frame carrying a socket.io packet:
 * `4<type><nsp>,<data>` (the nsp and comma are left out for "/"). data is
 * borrowed and may be NULL. Caller frees. */
char *sio_encode(int type, const char *nsp, const json_t *data);

/* `4` + `2<nsp>,["name",arg]`: an event with one argument (borrowed). */
char *sio_event(const char *nsp, const char *name, const json_t *arg);

#endif
