/*
 * http/eio.c - Engine.IO v4 / socket.io v4 text codec (see eio.h).
 *
 * socket.io packet text (socket.io-parser 4.x, `Encoder#encodeAsString`):
 * one type digit, for binary types "<attachments>-", then "<nsp>," when the
 * namespace is not "/", then the ack id digits, then the JSON data.
 */
#include "http/eio.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsontext.h"

int eio_parse(const char *frame, size_t len, int *type, const char **payload, size_t *plen)
{
    if (len == 0 || frame[0] < EIO_OPEN || frame[0] > EIO_NOOP)
        return -1;
    *type = frame[0];
    *payload = frame + 1;
    *plen = len - 1;
    return 0;
}

void sio_packet_clear(sio_packet *p)
{
    json_decref(p->data);
    p->data = NULL;
}

int sio_parse(const char *s, size_t len, sio_packet *p)
{
    memset(p, 0, sizeof *p);
    strcpy(p->nsp, "/");
    p->ack_id = -1;
    if (len == 0 || s[0] < '0' || s[0] > '6')
        return -1;
    p->type = s[0] - '0';
    if (p->type == SIO_BINARY_EVENT || p->type == SIO_BINARY_ACK)
        return -1;
    size_t i = 1;
    if (i < len && s[i] == '/') {
        size_t start = i;
        while (i < len && s[i] != ',')
            i++;
        if (i - start >= SIO_NSP_MAX)
            return -1;
        memcpy(p->nsp, s + start, i - start);
        p->nsp[i - start] = '\0';
        if (i < len)
            i++; /* the comma */
    }
    if (i < len && s[i] >= '0' && s[i] <= '9') {
        int64_t id = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (id > (INT64_MAX - 9) / 10)
                return -1;
            id = id * 10 + (s[i++] - '0');
        }
        p->ack_id = id;
    }
    if (i < len) {
        p->data = jsontext_loadb(s + i, len - i, JSON_DECODE_ANY, NULL);
        if (!p->data)
            return -1;
    }
    /* shapes socket.io-parser checks (`isPayloadValid`) */
    switch (p->type) {
    case SIO_CONNECT:
        return !p->data || json_is_object(p->data) ? 0 : -1;
    case SIO_DISCONNECT:
        return p->data ? -1 : 0;
    case SIO_CONNECT_ERROR:
        return json_is_object(p->data) || json_is_string(p->data) ? 0 : -1;
    case SIO_EVENT:
        return json_is_array(p->data) && json_array_size(p->data) > 0 &&
                       json_is_string(json_array_get(p->data, 0))
                   ? 0
                   : -1;
    case SIO_ACK:
        return json_is_array(p->data) && p->ack_id >= 0 ? 0 : -1;
    }
    return -1;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

char *eio_open(const char *sid, int64_t ping_interval_ms, int64_t ping_timeout_ms,
               int64_t max_payload)
{
    json_t *o = json_pack("{s:s,s:[],s:I,s:I,s:I}", "sid", sid, "upgrades", "pingInterval",
                          (json_int_t)ping_interval_ms, "pingTimeout", (json_int_t)ping_timeout_ms,
                          "maxPayload", (json_int_t)max_payload);
    char *body = jsontext_dumps(o, JSON_COMPACT);
    json_decref(o);
    size_t n = strlen(body);
    char *out = malloc(n + 2);
    if (!out)
        abort();
    out[0] = EIO_OPEN;
    memcpy(out + 1, body, n + 1);
    free(body);
    return out;
}

char *sio_encode(int type, const char *nsp, const json_t *data)
{
    char *body = data ? jsontext_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : xstrdup("");
    bool named = nsp && strcmp(nsp, "/") != 0;
    size_t n = 3 + (named ? strlen(nsp) + 1 : 0) + strlen(body);
    char *out = malloc(n);
    if (!out)
        abort();
    snprintf(out, n, "%c%d%s%s%s", EIO_MESSAGE, type, named ? nsp : "", named ? "," : "", body);
    free(body);
    return out;
}

char *sio_event(const char *nsp, const char *name, const json_t *arg)
{
    json_t *a = json_pack("[s,O]", name, arg);
    char *out = sio_encode(SIO_EVENT, nsp, a);
    json_decref(a);
    return out;
}
