/*
 * bench/rtsub.c - the subscriber side of bench/realtime: N long-polling
 * subscribers of one run's Electric feed on raw non-blocking sockets, so the
 * figures measure triggerd's fan-out rather than a client's HTTP parsing.
 *
 *   rtsub HOST PORT PATH KEY N OFFSET HANDLE LAST_STEP
 *
 * Each subscriber keeps one keep-alive connection and re-polls with the
 * offset of the last response. A row's metadata carries {"step":k}; the
 * driver writes "SENT k <unix µs>" on stdin just before changing the run to
 * step k. rtsub prints "READY" once every subscriber's first live request is
 * sent, "DONE k" once every subscriber has seen step k, and at the end
 * "LAT <µs>" per delivery (arrival - sent). A subscriber polls again only
 * once every subscriber has the change (so triggerd's handling of 10,000
 * re-polls on this shared 2-core machine is not counted as delivery time).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_STEPS 4096
#define BUF 65536

typedef struct sub {
    int fd;
    char offset[64];
    char *in;
    size_t len;
    int last_step;
} sub;

static const char *g_path, *g_key, *g_handle, *g_host;
static int64_t g_sent[MAX_STEPS];
static int g_seen[MAX_STEPS];
static int64_t *g_lat;
static struct sub **g_repoll; /* subscribers that got this change, to poll again */
static size_t g_nrepoll;
static int g_done; /* a step every subscriber has seen, to announce */
static size_t g_nlat, g_caplat;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void send_poll(sub *s)
{
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s?offset=%s&handle=%s&live=true HTTP/1.1\r\nHost: %s\r\n"
                     "Authorization: Bearer %s\r\nx-trigger-electric-version: 1.0.0-beta.1\r\n\r\n",
                     g_path, s->offset, g_handle, g_host, g_key);
    if (write(s->fd, req, (size_t)n) != n) {
        perror("write");
        exit(1);
    }
}

/* The complete response at the head of s->in, or 0 when it is not all in:
 * *hdr_end receives the end of the headers, the result the response size. */
static size_t response_size(const sub *s, size_t *hdr_end)
{
    char *end = memmem(s->in, s->len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    *hdr_end = (size_t)(end - s->in) + 4;
    char *cl = memmem(s->in, *hdr_end, "content-length:", 15);
    if (!cl)
        cl = memmem(s->in, *hdr_end, "Content-Length:", 15);
    if (cl) {
        size_t body = (size_t)strtoul(cl + 15, NULL, 10);
        return s->len >= *hdr_end + body ? *hdr_end + body : 0;
    }
    char *last = memmem(s->in + *hdr_end, s->len - *hdr_end, "\r\n0\r\n\r\n", 7);
    if (!last && s->len - *hdr_end >= 5 && memcmp(s->in + *hdr_end, "0\r\n\r\n", 5) == 0)
        return *hdr_end + 5;
    return last ? (size_t)(last - s->in) + 7 : 0;
}

static void header_value(const char *in, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = in; p + nl < in + len; p++) {
        if (strncasecmp(p, name, nl) == 0 && (p == in || p[-1] == '\n')) {
            p += nl;
            while (*p == ' ')
                p++;
            size_t i = 0;
            while (p[i] != '\r' && i + 1 < cap)
                out[i] = p[i], i++;
            out[i] = 0;
            return;
        }
    }
}

/* Records every step a response body shows (metadata "{\"step\":k}"). */
static void on_body(sub *s, const char *b, size_t len, int64_t at, size_t n_subs)
{
    const char *p = b, *end = b + len;
    while ((p = memmem(p, (size_t)(end - p), "step", 4))) {
        p += 4;
        for (int skip = 0; p < end && skip < 4 && (*p < '0' || *p > '9'); skip++)
            p++; /* the ": or \": between the key and its value */
        if (p >= end || *p < '0' || *p > '9')
            continue;
        int step = atoi(p);
        if (step <= s->last_step || step >= MAX_STEPS)
            continue;
        s->last_step = step;
        if (g_sent[step]) {
            if (g_nlat == g_caplat) {
                g_caplat = g_caplat ? g_caplat * 2 : 65536;
                g_lat = realloc(g_lat, g_caplat * sizeof *g_lat);
            }
            g_lat[g_nlat++] = at - g_sent[step];
        }
        if (++g_seen[step] == (int)n_subs)
            g_done = step;
    }
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: rtsub HOST PORT PATH KEY N OFFSET HANDLE LAST_STEP\n");
        return 2;
    }
    g_host = argv[1];
    int port = atoi(argv[2]);
    g_path = argv[3];
    g_key = argv[4];
    size_t n = (size_t)atol(argv[5]);
    g_handle = argv[7];
    int last = atoi(argv[8]);
    int ep = epoll_create1(0);
    sub *subs = calloc(n, sizeof *subs);
    g_repoll = calloc(n, sizeof *g_repoll);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, g_host, &addr.sin_addr);
    for (size_t i = 0; i < n; i++) {
        sub *s = &subs[i];
        s->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            perror("connect");
            return 1;
        }
        int one = 1;
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        snprintf(s->offset, sizeof s->offset, "%s", argv[6]);
        s->in = malloc(BUF);
        send_poll(s);
        fcntl(s->fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    }
    printf("READY\n");
    fflush(stdout);
    fcntl(0, F_SETFL, O_NONBLOCK);
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
    char line[256];
    size_t line_len = 0;
    struct epoll_event evs[256];
    while (g_seen[last] < (int)n) {
        int k = epoll_wait(ep, evs, 256, 30000);
        if (k <= 0) {
            fprintf(stderr, "rtsub: timed out waiting (step %d seen by %d of %zu)\n", last,
                    g_seen[last], n);
            break;
        }
        int64_t at = now_us();
        for (int i = 0; i < k; i++) {
            sub *s = evs[i].data.ptr;
            if (!s) { /* the driver's SENT lines */
                ssize_t r = read(0, line + line_len, sizeof line - 1 - line_len);
                if (r <= 0)
                    continue;
                line_len += (size_t)r;
                line[line_len] = 0;
                char *nl;
                while ((nl = strchr(line, '\n'))) {
                    *nl = 0;
                    int step;
                    long long t;
                    if (sscanf(line, "SENT %d %lld", &step, &t) == 2 && step > 0 &&
                        step < MAX_STEPS)
                        g_sent[step] = t;
                    line_len -= (size_t)(nl + 1 - line);
                    memmove(line, nl + 1, line_len + 1);
                }
                continue;
            }
            for (;;) { /* one read unless it filled the buffer: no EAGAIN round trip */
                ssize_t r = read(s->fd, s->in + s->len, BUF - s->len);
                if (r <= 0)
                    break;
                s->len += (size_t)r;
                if (s->len < BUF)
                    break;
            }
            size_t hdr, size;
            while ((size = response_size(s, &hdr))) {
                char off[64] = "";
                header_value(s->in, hdr, "electric-offset:", off, sizeof off);
                if (off[0])
                    snprintf(s->offset, sizeof s->offset, "%s", off);
                on_body(s, s->in + hdr, size - hdr, at, n);
                memmove(s->in, s->in + size, s->len - size);
                s->len -= size;
                if (s->last_step < last)
                    g_repoll[g_nrepoll++] = s;
                if (g_done) {
                    /* the next polls go out once this change reached everyone,
                     * so triggerd's handling of them is not counted in its
                     * delivery of this one */
                    for (size_t j = 0; j < g_nrepoll; j++)
                        send_poll(g_repoll[j]);
                    g_nrepoll = 0;
                    printf("DONE %d\n", g_done);
                    fflush(stdout);
                    g_done = 0;
                }
            }
        }
    }
    for (size_t i = 0; i < g_nlat; i++)
        printf("LAT %lld\n", (long long)g_lat[i]);
    return 0;
}
