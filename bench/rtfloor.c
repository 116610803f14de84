/*
 * bench/rtfloor.c - the machine's floor for bench/realtime's fan-out: the
 * time a bare C loop takes to writev one small HTTP-sized response (700
 * bytes, two iovecs, as h2o writes a long-poll reply) to each of N loopback
 * TCP connections, while a reader thread on the other end epolls them all.
 * Whatever triggerd does per subscriber comes on top of this. Prints, per
 * round, the write loop's time and delivery p50/p99 from the loop's start.
 *
 *   rtfloor [N] [rounds]        (default 9900 and 5: N*2 fds must fit the limit)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int g_n;
static int *g_cli, *g_srv;
static double g_start, *g_lat;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Reads one response from every connection, stamping each arrival. */
static void *reader(void *arg)
{
    (void)arg;
    int ep = epoll_create1(0);
    for (int i = 0; i < g_n; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, g_cli[i], &e);
    }
    char buf[4096];
    struct epoll_event ev[256];
    int got = 0;
    while (got < g_n) {
        int k = epoll_wait(ep, ev, 256, 10000);
        if (k <= 0)
            break;
        double t = now_ms();
        for (int j = 0; j < k; j++)
            if (read(g_cli[ev[j].data.u32], buf, sizeof buf) > 0)
                g_lat[got++] = t - g_start;
    }
    close(ep);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    g_n = argc > 1 ? atoi(argv[1]) : 9900;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    g_cli = calloc((size_t)g_n, sizeof *g_cli);
    g_srv = calloc((size_t)g_n, sizeof *g_srv);
    g_lat = calloc((size_t)g_n, sizeof *g_lat);
    if (!g_cli || !g_srv || !g_lat)
        abort();
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 4096) ||
        getsockname(l, (struct sockaddr *)&sa, &sl)) {
        perror("rtfloor: listen");
        return 1;
    }
    for (int i = 0; i < g_n; i++) {
        g_cli[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (g_cli[i] < 0 || connect(g_cli[i], (struct sockaddr *)&sa, sizeof sa) ||
            (g_srv[i] = accept(l, NULL, NULL)) < 0) {
            perror("rtfloor: connect (raise ulimit -n or lower N)");
            return 1;
        }
        int one = 1;
        setsockopt(g_srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char head[420], body[280];
    memset(head, 'h', sizeof head);
    memset(body, 'b', sizeof body);
    printf("rtfloor: %d loopback connections, one 700-byte writev each\n", g_n);
    for (int r = 0; r < rounds; r++) {
        pthread_t th;
        pthread_create(&th, NULL, reader, NULL);
        usleep(100000); /* the reader is parked in epoll_wait */
        g_start = now_ms();
        for (int i = 0; i < g_n; i++) {
            struct iovec v[2] = {{head, sizeof head}, {body, sizeof body}};
            if (writev(g_srv[i], v, 2) < 0)
                perror("rtfloor: writev");
        }
        double loop = now_ms() - g_start;
        pthread_join(th, NULL);
        qsort(g_lat, (size_t)g_n, sizeof *g_lat, cmp);
        printf("  write loop %.1f ms (%.1f µs each); delivered p50 %.1f ms, p99 %.1f ms\n", loop,
               loop * 1000 / g_n, g_lat[g_n / 2], g_lat[g_n * 99 / 100]);
    }
    return 0;
}
