/*
 * http/h2c.h - cleartext HTTP/2 with prior knowledge (RFC 9113) on the API
 * port, for requests whose body must be handled while it still streams in
 * (S2 append sessions, spec/s2.md 5). libh2o 2.2 buffers whole request
 * bodies, so these connections are served by nghttp2 instead: server.c
 * sniffs the connection preface and hands the socket here.
 *
 * A request is a stream: dispatch sees its head and either replies at once
 * (h2c_reply) or starts a response (h2c_respond) and installs a handler
 * that gets each DATA chunk, the end of the request body, and the stream's
 * close. Everything runs on the loop; no call blocks.
 */
#ifndef TD_HTTP_H2C_H
#define TD_HTTP_H2C_H

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct h2c_stream h2c_stream;

typedef struct h2c_handler {
    /* a chunk of the request body (borrowed for the call) */
    void (*on_data)(void *ud, h2c_stream *s, const uint8_t *p, size_t n);
    /* the client half-closed: the request body is complete */
    void (*on_end)(void *ud, h2c_stream *s);
    /* the stream is gone (finished, reset, connection closed); s is invalid
     * after this call, which is always the last */
    void (*on_close)(void *ud);
} h2c_handler;

/* Called for every request once its headers are in. */
typedef void (*h2c_dispatch)(void *ctx, h2c_stream *s);

/* Serves sock (its first bytes, the preface included, already in
 * sock->input) as an h2c connection until either side closes it. An idle
 * connection (no open stream for idle_ms) is closed with GOAWAY. */
void h2c_serve(h2o_socket_t *sock, uv_loop_t *loop, int64_t idle_ms, h2c_dispatch fn, void *ctx);

/* The request's method, path (with query) and a header by lower-case name;
 * borrowed, valid for the stream's life. NULL when absent. */
const char *h2c_method(h2c_stream *s);
const char *h2c_path(h2c_stream *s);
const char *h2c_header(h2c_stream *s, const char *name);

/* Installs the body handler (h, borrowed, must outlive the stream). */
void h2c_set_handler(h2c_stream *s, const h2c_handler *h, void *ud);

/* Sends the response HEADERS now; the body follows with h2c_write and
 * ends with h2c_end. */
void h2c_respond(h2c_stream *s, int status, const char *content_type);
/* Queues response body bytes (copied). */
void h2c_write(h2c_stream *s, const void *p, size_t n);
/* Ends the response body (END_STREAM once what is queued is sent). */
void h2c_end(h2c_stream *s);
/* A whole response: status, content type and body. */
void h2c_reply(h2c_stream *s, int status, const char *content_type, const void *body, size_t n);

#endif
