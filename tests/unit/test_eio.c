/*
 * tests/unit/test_eio.c - the Engine.IO / socket.io codec reads what
 * socket.io-client 4.x writes and writes what it reads (frames taken from
 * socket.io-parser 4.2's encoder and the dev CLI's events).
 */
#include "http/eio.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *s, sio_packet *p)
{
    return sio_parse(s, strlen(s), p);
}

Test(eio, splits_a_frame_into_type_and_payload)
{
    int t;
    const char *pl;
    size_t n;
    cr_assert_eq(eio_parse("3", 1, &t, &pl, &n), 0);
    cr_assert_eq(t, EIO_PONG);
    cr_assert_eq(n, 0);
    cr_assert_eq(eio_parse("440/x", 5, &t, &pl, &n), 0);
    cr_assert_eq(t, EIO_MESSAGE);
    cr_assert_eq(n, 4);
    cr_assert_eq(memcmp(pl, "40/x", 4), 0);
}

Test(eio, refuses_an_empty_frame_and_unknown_types)
{
    int t;
    const char *pl;
    size_t n;
    cr_assert_eq(eio_parse("", 0, &t, &pl, &n), -1);
    cr_assert_eq(eio_parse("9", 1, &t, &pl, &n), -1);
    cr_assert_eq(eio_parse("b", 1, &t, &pl, &n), -1);
}

Test(eio, open_packet_carries_sid_and_timings)
{
    char *s = eio_open("abc", 25000, 20000, 1000000);
    cr_assert_str_eq(
        s, "0{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,"
           "\"maxPayload\":1000000}");
    free(s);
}

Test(sio, reads_a_connect_to_a_namespace_without_payload)
{
    sio_packet p;
    cr_assert_eq(parse("0/dev-worker,", &p), 0);
    cr_assert_eq(p.type, SIO_CONNECT);
    cr_assert_str_eq(p.nsp, "/dev-worker");
    cr_assert_null(p.data);
    cr_assert_eq(p.ack_id, -1);
    sio_packet_clear(&p);
}

Test(sio, reads_a_connect_to_the_main_namespace_with_auth)
{
    sio_packet p;
    cr_assert_eq(parse("0{\"token\":\"x\"}", &p), 0);
    cr_assert_str_eq(p.nsp, "/");
    cr_assert(json_is_object(p.data));
    sio_packet_clear(&p);
}

Test(sio, reads_an_event_with_its_argument)
{
    sio_packet p;
    cr_assert_eq(
        parse("2/dev-worker,[\"run:subscribe\",{\"version\":\"1\",\"runFriendlyIds\":[\"run_a\"]}]",
              &p),
        0);
    cr_assert_eq(p.type, SIO_EVENT);
    cr_assert_str_eq(p.nsp, "/dev-worker");
    cr_assert_str_eq(json_string_value(json_array_get(p.data, 0)), "run:subscribe");
    json_t *ids = json_object_get(json_array_get(p.data, 1), "runFriendlyIds");
    cr_assert_str_eq(json_string_value(json_array_get(ids, 0)), "run_a");
    sio_packet_clear(&p);
}

Test(sio, reads_an_ack_id_before_the_data)
{
    sio_packet p;
    cr_assert_eq(parse("2/dev-worker,12[\"e\"]", &p), 0);
    cr_assert_eq(p.ack_id, 12);
    sio_packet_clear(&p);
    cr_assert_eq(parse("212[\"e\"]", &p), 0);
    cr_assert_eq(p.ack_id, 12);
    cr_assert_str_eq(p.nsp, "/");
    sio_packet_clear(&p);
}

Test(sio, reads_a_disconnect)
{
    sio_packet p;
    cr_assert_eq(parse("1/dev-worker,", &p), 0);
    cr_assert_eq(p.type, SIO_DISCONNECT);
    sio_packet_clear(&p);
}

Test(sio, refuses_malformed_packets)
{
    static const char *bad[] = {
        "",                       /* empty */
        "7",                      /* unknown type */
        "51-[\"e\",{}]",          /* binary */
        "2/dev-worker,{\"a\":1}", /* event data must be an array */
        "2/dev-worker,[]",        /* ... with a name */
        "2/dev-worker,[1]",       /* ... that is a string */
        "2/dev-worker,[\"e\"",    /* not JSON */
        "0/dev-worker,[1]",       /* connect payload must be an object */
        "1/dev-worker,{}",        /* disconnect has no payload */
        "2/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,[\"e\"]",
        "299999999999999999999[\"e\"]", /* ack id overflows */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sio_packet p;
        cr_assert_eq(parse(bad[i], &p), -1, "accepted %s", bad[i]);
        sio_packet_clear(&p);
    }
}

Test(sio, writes_a_connect_reply_with_sid)
{
    json_t *d = json_pack("{s:s}", "sid", "s1");
    char *s = sio_encode(SIO_CONNECT, "/dev-worker", d);
    cr_assert_str_eq(s, "40/dev-worker,{\"sid\":\"s1\"}");
    free(s);
    json_decref(d);
}

Test(sio, writes_the_main_namespace_without_prefix)
{
    char *s = sio_encode(SIO_DISCONNECT, "/", NULL);
    cr_assert_str_eq(s, "41");
    free(s);
}

Test(sio, writes_an_event_the_cli_reads)
{
    json_t *arg = json_pack("{s:s,s:{s:s}}", "version", "1", "run", "friendlyId", "run_x");
    char *s = sio_event("/dev-worker", "run:notify", arg);
    cr_assert_str_eq(s,
                     "42/dev-worker,[\"run:notify\",{\"version\":\"1\",\"run\":{\"friendlyId\":"
                     "\"run_x\"}}]");
    /* and reads back */
    sio_packet p;
    cr_assert_eq(sio_parse(s + 1, strlen(s + 1), &p), 0);
    cr_assert_eq(p.type, SIO_EVENT);
    sio_packet_clear(&p);
    free(s);
    json_decref(arg);
}
