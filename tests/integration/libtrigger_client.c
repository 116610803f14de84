/*
 * tests/integration/libtrigger_client.c - libtrigger against the real
 * triggerd, and against a scripted fake server for what the real one cannot
 * be made to do on demand (5xx, 429, lost replies).
 *
 * Suite `client` starts $TRIGGERD_BIN (default build/triggerd) per test on
 * a free port with a temporary data dir and a fixed dev key, waits for
 * /healthz, and stops it with SIGTERM afterwards (it must exit 0 and log no
 * sanitizer report). Suites `retry` and `local` need no server: a thread
 * in the test process plays one (fake_*), recording every request.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "trigger.h"

#define DEV_KEY "tr_dev_LibTriggerTest0000001"

/* ---- small helpers ------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A unique suffix so tags and task names never collide between tests. */
static const char *uniq(const char *prefix)
{
    static char buf[8][96];
    static unsigned n;
    char *b = buf[n++ % 8];
    snprintf(b, sizeof buf[0], "%s-%d-%lld-%u", prefix, (int)getpid(), (long long)now_ms(), n);
    return b;
}

/* Retries with tiny delays, so retryable failures do not slow the suite. */
static trigger_client *fast_client(const char *url, const char *key)
{
    trigger_client *c = trigger_client_new(url, key);
    cr_assert_not_null(c);
    trigger_retry r;
    trigger_retry_default(&r);
    r.min_timeout_ms = 5;
    r.max_timeout_ms = 40;
    r.ratelimit_jitter_ms = 0;
    cr_assert_eq(trigger_client_set_retry(c, &r), TRIGGER_OK);
    return c;
}

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* ---- the real server ---------------------------------------------------- */

static struct {
    pid_t pid;
    int port;
    char dir[128];
    char url[64];
} srv;

static bool healthy(int port)
{
    int fd = connect_local(port);
    if (fd < 0)
        return false;
    const char *rq = "GET /healthz HTTP/1.0\r\n\r\n";
    write_all(fd, rq, strlen(rq));
    char buf[64] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 12 && starts(buf + 9, "200");
}

static void spawn_server(void)
{
    const char *bin = getenv("TRIGGERD_BIN");
    int lfd = listen_local(&srv.port); /* a free port, released just before the exec */
    close(lfd);
    snprintf(srv.url, sizeof srv.url, "http://127.0.0.1:%d", srv.port);
    srv.pid = fork();
    cr_assert_geq(srv.pid, 0);
    if (srv.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        char log[256], data[256], listen[64];
        snprintf(log, sizeof log, "%s/server.log", srv.dir);
        snprintf(data, sizeof data, "%s/data", srv.dir);
        snprintf(listen, sizeof listen, "127.0.0.1:%d", srv.port);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("TRIGGERD_DEV_SECRET_KEY", DEV_KEY, 1);
        execl(bin ? bin : "build/triggerd", "triggerd", "--listen", listen, "--data", data,
              (char *)NULL);
        _exit(127);
    }
}

static void print_log(void)
{
    char path[256], buf[4096];
    snprintf(path, sizeof path, "%s/server.log", srv.dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    cr_log_error("triggerd log:\n%s", buf);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void start_server(void)
{
    snprintf(srv.dir, sizeof srv.dir, "/tmp/libtrigger-test-XXXXXX");
    cr_assert_not_null(mkdtemp(srv.dir));
    for (int tries = 0; tries < 3; tries++) { /* another process may take the port */
        spawn_server();
        for (int64_t end = now_ms() + 20000; now_ms() < end; nap_ms(25)) {
            if (healthy(srv.port))
                return;
            if (waitpid(srv.pid, NULL, WNOHANG) == srv.pid)
                break;
        }
        kill(srv.pid, SIGKILL);
        waitpid(srv.pid, NULL, 0);
    }
    print_log();
    nftw(srv.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); /* fini does not run after a failed init */
    cr_assert_fail("triggerd did not become healthy");
}

static bool log_has_sanitizer_report(void)
{
    char path[256], line[1024];
    snprintf(path, sizeof path, "%s/server.log", srv.dir);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, "ERROR: AddressSanitizer") || strstr(line, "ERROR: LeakSanitizer") ||
                strstr(line, "runtime error:");
    if (f)
        fclose(f);
    return found;
}

static void stop_server(void)
{
    int status = 0;
    kill(srv.pid, SIGTERM);
    int64_t end = now_ms() + 15000;
    while (waitpid(srv.pid, &status, WNOHANG) == 0) {
        if (now_ms() > end) {
            kill(srv.pid, SIGKILL);
            waitpid(srv.pid, &status, 0);
            break;
        }
        nap_ms(10);
    }
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !log_has_sanitizer_report();
    if (!clean)
        print_log();
    cr_expect(clean, "triggerd must exit 0 on SIGTERM without sanitizer reports (status %d)",
              status);
    nftw(srv.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* No Criterion .timeout: with parallel workers its timer bookkeeping leaks
 * in the runner (LeakSanitizer reports it in the ASan build); meson's test
 * timeout bounds the run instead. */
TestSuite(client, .init = start_server, .fini = stop_server);

static trigger_client *dev_client(void)
{
    return fast_client(srv.url, DEV_KEY);
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        cr_assert_eq(rc_, TRIGGER_OK, "%s: %s: %s", #call, trigger_strerror(rc_),                  \
                     trigger_client_last_error(c));                                                \
    } while (0)

static bool json_equal_text(const char *a, const char *b)
{
    json_t *ja = json_loads(a, JSON_DECODE_ANY, NULL), *jb = json_loads(b, JSON_DECODE_ANY, NULL);
    bool eq = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

/* ---- triggering --------------------------------------------------------- */

Test(client, trigger_with_options_is_retrievable_with_sorted_tags)
{
    trigger_client *c = dev_client();
    trigger_options o = {
        .queue = "lt-queue",
        .concurrency_key = "user-1",
        .delay = "1h",
        .ttl = "2h",
        .idempotency_key = uniq("idem"),
        .idempotency_key_ttl = "1h",
        .tags = (const char *[]){"zeta", "alpha", "mid", NULL},
        .metadata_json = "{\"source\":\"libtrigger\",\"n\":3}",
        .priority = 10,
        .machine = "small-2x",
        .max_attempts = 3,
        .max_duration = 120,
        .test = true,
    };
    trigger_handle h;
    OK(trigger_task(c, "hello-world", "{\"name\":\"C\",\"list\":[1,2]}", &o, &h));
    cr_assert(starts(h.id, "run_"), "run id %s", h.id);
    cr_assert_not(h.is_cached);

    trigger_run *r = NULL;
    OK(trigger_runs_retrieve(c, h.id, &r));
    cr_assert_str_eq(r->id, h.id);
    cr_assert_str_eq(r->status, "DELAYED");
    cr_assert_str_eq(r->task_identifier, "hello-world");
    cr_assert_eq(r->tags_count, 3);
    cr_assert_str_eq(r->tags[0], "alpha");
    cr_assert_str_eq(r->tags[1], "mid");
    cr_assert_str_eq(r->tags[2], "zeta");
    cr_assert(json_equal_text(r->payload_json, "{\"name\":\"C\",\"list\":[1,2]}"), "payload %s",
              r->payload_json);
    cr_assert(json_equal_text(r->metadata_json, o.metadata_json), "metadata %s", r->metadata_json);
    cr_assert_str_eq(r->idempotency_key, o.idempotency_key);
    cr_assert(r->is_test);
    cr_assert_not_null(r->delayed_until);
    cr_assert(r->created_at && strlen(r->created_at) >= 20 && r->created_at[10] == 'T');
    cr_assert_not_null(r->updated_at);
    cr_assert_null(r->output_json);
    cr_assert_null(r->error_message);
    cr_assert_eq(r->attempt_count, 0);
    cr_assert_str_eq(trigger_client_last_error(c), "");
    trigger_run_free(r);
    trigger_client_free(c);
}

Test(client, trigger_without_options_is_queued)
{
    trigger_client *c = dev_client();
    trigger_handle h;
    OK(trigger_task(c, "hello-world", "42", NULL, &h));
    trigger_run *r = NULL;
    OK(trigger_runs_retrieve(c, h.id, &r));
    cr_assert_str_eq(r->status, "QUEUED");
    cr_assert_eq(r->tags_count, 0);
    cr_assert_str_eq(r->payload_json, "42");
    cr_assert_not(r->is_test);
    trigger_run_free(r);
    trigger_client_free(c);
}

Test(client, idempotency_key_reuse_returns_the_same_run_cached)
{
    trigger_client *c = dev_client();
    trigger_options o = {.idempotency_key = uniq("once")};
    trigger_handle a, b, other;
    OK(trigger_task(c, "idem-task", "{\"n\":1}", &o, &a));
    OK(trigger_task(c, "idem-task", "{\"n\":2}", &o, &b));
    cr_assert_str_eq(b.id, a.id);
    cr_assert_not(a.is_cached);
    cr_assert(b.is_cached);
    OK(trigger_task(c, "idem-task", "{\"n\":3}", NULL, &other)); /* no key: a new run */
    cr_assert_str_neq(other.id, a.id);
    trigger_client_free(c);
}

Test(client, invalid_payload_json_is_refused_locally)
{
    trigger_client *c = dev_client();
    trigger_handle h;
    cr_assert_eq(trigger_task(c, "hello-world", "{not json", NULL, &h), TRIGGER_EBADREQ);
    cr_assert(strstr(trigger_client_last_error(c), "payload_json"));
    trigger_options o = {.metadata_json = "[1,"};
    cr_assert_eq(trigger_task(c, "hello-world", "{}", &o, &h), TRIGGER_EBADREQ);
    cr_assert_eq(trigger_client_last_status(c), 0, "nothing was sent");
    trigger_client_free(c);
}

Test(client, server_validation_errors_carry_the_message)
{
    trigger_client *c = dev_client();
    trigger_handle h;
    const char *tags[12];
    for (int i = 0; i < 11; i++)
        tags[i] = uniq("t");
    tags[11] = NULL;
    trigger_options o = {.tags = tags};
    int rc = trigger_task(c, "hello-world", "{}", &o, &h);
    cr_assert(rc == TRIGGER_EUNPROCESSABLE || rc == TRIGGER_EBADREQ, "rc %d", rc);
    cr_assert(strstr(trigger_client_last_error(c), "tags"), "message: %s",
              trigger_client_last_error(c));
    trigger_client_free(c);
}

/* ---- batches ------------------------------------------------------------ */

Test(client, batch_of_50_creates_50_runs)
{
    trigger_client *c = dev_client();
    enum { N = 50 };
    trigger_batch_item items[N];
    char payloads[N][32];
    const char *tag = uniq("batch");
    trigger_options o = {.tags = (const char *[]){tag, NULL}};
    for (int i = 0; i < N; i++) {
        snprintf(payloads[i], sizeof payloads[i], "{\"i\":%d}", i);
        items[i] = (trigger_batch_item){i % 2 ? "batch-odd" : "batch-even", payloads[i], &o};
    }
    trigger_batch *b = NULL;
    OK(trigger_batch_trigger(c, items, N, NULL, &b));
    cr_assert(starts(b->id, "batch_"), "batch id %s", b->id);
    cr_assert_eq(b->run_count, N);
    cr_assert_eq(b->runs_count, N);
    cr_assert_not(b->is_cached);
    for (int i = 0; i < N; i++) {
        cr_assert(starts(b->run_ids[i], "run_"));
        for (int k = 0; k < i; k++)
            cr_assert_str_neq(b->run_ids[i], b->run_ids[k]);
    }
    /* Runs come back in item order: check one of each task. */
    for (int i = 7; i <= 8; i++) {
        trigger_run *r = NULL;
        OK(trigger_runs_retrieve(c, b->run_ids[i], &r));
        cr_assert_str_eq(r->task_identifier, i % 2 ? "batch-odd" : "batch-even");
        cr_assert(json_equal_text(r->payload_json, payloads[i]), "payload %s", r->payload_json);
        cr_assert_eq(r->tags_count, 1);
        trigger_run_free(r);
    }
    trigger_batch *again = NULL;
    OK(trigger_batch_retrieve(c, b->id, &again));
    cr_assert_str_eq(again->id, b->id);
    cr_assert_eq(again->runs_count, N);
    cr_assert_str_eq(again->run_ids[N - 1], b->run_ids[N - 1]);
    trigger_batch_free(again);
    trigger_batch_free(b);
    trigger_client_free(c);
}

Test(client, batch_with_an_idempotency_key_is_cached_the_second_time)
{
    trigger_client *c = dev_client();
    trigger_batch_item items[2] = {{"bk", "{}", NULL}, {"bk", "{\"x\":1}", NULL}};
    trigger_batch_options bo = {.idempotency_key = uniq("bkey")};
    trigger_batch *a = NULL, *b = NULL;
    OK(trigger_batch_trigger(c, items, 2, &bo, &a));
    OK(trigger_batch_trigger(c, items, 2, &bo, &b));
    cr_assert_str_eq(b->id, a->id);
    cr_assert(b->is_cached);
    cr_assert_eq(b->runs_count, 2);
    trigger_batch_free(a);
    trigger_batch_free(b);
    trigger_client_free(c);
}

Test(client, empty_batch_is_refused_locally)
{
    trigger_client *c = dev_client();
    trigger_batch *b = NULL;
    trigger_batch_item items[1] = {{"", "{}", NULL}};
    cr_assert_eq(trigger_batch_trigger(c, items, 0, NULL, &b), TRIGGER_EBADREQ);
    cr_assert_eq(trigger_batch_trigger(c, items, 1, NULL, &b), TRIGGER_EBADREQ);
    cr_assert_null(b);
    cr_assert_eq(trigger_client_last_status(c), 0);
    trigger_client_free(c);
}

/* ---- runs --------------------------------------------------------------- */

Test(client, list_filters_by_tag_and_pages_with_the_cursor)
{
    trigger_client *c = dev_client();
    const char *tag = uniq("page");
    trigger_options tagged = {.tags = (const char *[]){tag, "common", NULL}};
    trigger_options untagged = {.tags = (const char *[]){"common", NULL}};
    char ids[7][TRIGGER_ID_MAX];
    for (int i = 0; i < 7; i++) {
        trigger_handle h;
        OK(trigger_task(c, "list-task", "{}", &tagged, &h));
        strcpy(ids[i], h.id);
        OK(trigger_task(c, "list-task", "{}", &untagged, &h));
    }
    trigger_list_filter f = {.tag = tag, .limit = 3};
    size_t sizes[3] = {3, 3, 1}, seen = 0;
    char *cursor = NULL;
    for (int page = 0; page < 3; page++) {
        f.cursor = cursor;
        trigger_run_page *p = NULL;
        OK(trigger_runs_list(c, &f, &p));
        cr_assert_eq(p->count, sizes[page], "page %d has %zu runs", page, p->count);
        for (size_t i = 0; i < p->count; i++, seen++) {
            /* newest first */
            cr_assert_str_eq(p->runs[i].id, ids[6 - seen]);
            cr_assert_str_eq(p->runs[i].task_identifier, "list-task");
            cr_assert_eq(p->runs[i].tags_count, 2);
            cr_assert_not_null(p->runs[i].status);
        }
        free(cursor);
        cursor = p->next_cursor ? strdup(p->next_cursor) : NULL;
        if (page < 2)
            cr_assert_not_null(cursor, "page %d must have a next cursor", page);
        trigger_run_page_free(p);
    }
    cr_assert_null(cursor, "the last page has no next cursor");

    trigger_list_filter by_status = {.tag = tag, .status = "QUEUED", .task = "list-task"};
    trigger_run_page *p = NULL;
    OK(trigger_runs_list(c, &by_status, &p));
    cr_assert_eq(p->count, 7);
    trigger_run_page_free(p);
    by_status.status = "COMPLETED";
    OK(trigger_runs_list(c, &by_status, &p));
    cr_assert_eq(p->count, 0);
    cr_assert_null(p->next_cursor);
    trigger_run_page_free(p);
    trigger_client_free(c);
}

Test(client, cancel_moves_a_delayed_run_to_canceled)
{
    trigger_client *c = dev_client();
    trigger_options o = {.delay = "10m"};
    trigger_handle h;
    OK(trigger_task(c, "cancel-task", "{}", &o, &h));
    OK(trigger_runs_cancel(c, h.id));
    trigger_run *r = NULL;
    OK(trigger_runs_retrieve(c, h.id, &r));
    cr_assert_str_eq(r->status, "CANCELED");
    trigger_run_free(r);
    OK(trigger_runs_cancel(c, h.id)); /* canceling a finished run is a no-op */
    trigger_client_free(c);
}

Test(client, replay_creates_a_new_run_with_the_same_task_and_payload)
{
    trigger_client *c = dev_client();
    trigger_handle h, re;
    OK(trigger_task(c, "replay-task", "{\"again\":true}", NULL, &h));
    OK(trigger_runs_replay(c, h.id, &re));
    cr_assert_str_neq(re.id, h.id);
    cr_assert(starts(re.id, "run_"));
    trigger_run *r = NULL;
    OK(trigger_runs_retrieve(c, re.id, &r));
    cr_assert_str_eq(r->task_identifier, "replay-task");
    cr_assert(json_equal_text(r->payload_json, "{\"again\":true}"), "payload %s", r->payload_json);
    trigger_run_free(r);
    trigger_client_free(c);
}

Test(client, reschedule_moves_a_delayed_run_and_refuses_others)
{
    trigger_client *c = dev_client();
    trigger_options o = {.delay = "1h"};
    trigger_handle h, now;
    OK(trigger_task(c, "resched-task", "{}", &o, &h));
    trigger_run *before = NULL, *after = NULL;
    OK(trigger_runs_retrieve(c, h.id, &before));
    OK(trigger_runs_reschedule(c, h.id, "3h", &after));
    cr_assert_str_eq(after->id, h.id);
    cr_assert_str_eq(after->status, "DELAYED");
    cr_assert(strcmp(after->delayed_until, before->delayed_until) > 0, "%s !> %s",
              after->delayed_until, before->delayed_until);
    trigger_run_free(before);
    trigger_run_free(after);
    OK(trigger_runs_reschedule(c, h.id, "2h", NULL));

    cr_assert_eq(trigger_runs_reschedule(c, h.id, "soonish", NULL), TRIGGER_EBADREQ);
    cr_assert(strstr(trigger_client_last_error(c), "Invalid delay"), "%s",
              trigger_client_last_error(c));
    OK(trigger_task(c, "resched-task", "{}", NULL, &now));
    cr_assert_eq(trigger_runs_reschedule(c, now.id, "1h", NULL), TRIGGER_EBADREQ);
    cr_assert(strstr(trigger_client_last_error(c), "not delayed"), "%s",
              trigger_client_last_error(c));
    cr_assert_eq(trigger_client_last_status(c), 400);
    trigger_client_free(c);
}

/* ---- failures ----------------------------------------------------------- */

Test(client, a_wrong_key_is_eauth)
{
    trigger_client *c = fast_client(srv.url, "tr_dev_WrongWrongWrong00000");
    trigger_handle h;
    cr_assert_eq(trigger_task(c, "hello-world", "{}", NULL, &h), TRIGGER_EAUTH);
    cr_assert_eq(trigger_client_last_status(c), 401);
    cr_assert_str_neq(trigger_client_last_error(c), "");
    trigger_run_page *p = NULL;
    cr_assert_eq(trigger_runs_list(c, NULL, &p), TRIGGER_EAUTH);
    cr_assert_null(p);
    trigger_client_free(c);
}

Test(client, an_unknown_run_is_enotfound)
{
    trigger_client *c = dev_client();
    trigger_run *r = NULL;
    cr_assert_eq(trigger_runs_retrieve(c, "run_doesnotexist0000000000", &r), TRIGGER_ENOTFOUND);
    cr_assert_null(r);
    cr_assert_eq(trigger_client_last_status(c), 404);
    cr_assert_str_neq(trigger_client_last_error(c), "");
    cr_assert_eq(trigger_runs_cancel(c, "run_doesnotexist0000000000"), TRIGGER_ENOTFOUND);
    trigger_handle h;
    cr_assert_eq(trigger_runs_replay(c, "run_doesnotexist0000000000", &h), TRIGGER_ENOTFOUND);
    trigger_batch *b = NULL;
    cr_assert_eq(trigger_batch_retrieve(c, "batch_nope", &b), TRIGGER_ENOTFOUND);
    trigger_client_free(c);
}

Test(client, an_unreachable_server_is_enetwork)
{
    int port;
    close(listen_local(&port)); /* nothing listens there now */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    trigger_client *c = fast_client(url, DEV_KEY);
    trigger_handle h;
    int64_t t0 = now_ms();
    cr_assert_eq(trigger_task(c, "hello-world", "{}", NULL, &h), TRIGGER_ENETWORK);
    /* four waits between five attempts: 5 + 8 + 12.8 + 20.5 ms */
    cr_assert_geq(now_ms() - t0, 40);
    cr_assert_str_neq(trigger_client_last_error(c), "");
    cr_assert_eq(trigger_client_last_status(c), 0);
    trigger_client_free(c);
}

/* ---- the scripted fake server ------------------------------------------- */

/* What the fake answers to request i (the last entry repeats). With
 * forward, the request first goes to the real server; status 0 then relays
 * its reply, any other status replaces it (a reply lost on the way back). */
typedef struct fake_reply {
    int status;
    const char *headers; /* extra "Name: value\r\n" lines */
    const char *body;
    bool forward;
} fake_reply;

#define FAKE_MAX 16

typedef struct fake {
    int lfd, port, upstream;
    pthread_t thread;
    const fake_reply *script;
    size_t nscript;
    pthread_mutex_t mu;
    int count;
    char head[FAKE_MAX][4096]; /* request line and headers */
    char body[FAKE_MAX][4096];
    int64_t at[FAKE_MAX]; /* arrival, ms */
} fake;

/* Reads one request (headers, then Content-Length bytes) into buf. */
static ssize_t read_request(int fd, char *buf, size_t cap, size_t *head_len)
{
    size_t n = 0;
    char *end = NULL;
    while (!end && n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return -1;
    *head_len = (size_t)(end - buf) + 4;
    size_t want = 0;
    for (char *p = buf; p && p < end; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL)
        if (strncasecmp(p, "content-length:", 15) == 0)
            want = strtoul(p + 15, NULL, 10);
    while (n < *head_len + want && n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
    }
    buf[n] = 0;
    return (ssize_t)n;
}

/* Sends the request to the real server with Connection: close, returns its
 * whole reply in out. */
static void forward(const fake *f, const char *rq, size_t len, char *out, size_t cap)
{
    out[0] = 0;
    int fd = connect_local(f->upstream);
    if (fd < 0)
        return;
    const char *eol = strstr(rq, "\r\n");
    write_all(fd, rq, (size_t)(eol - rq) + 2);
    write_all(fd, "Connection: close\r\n", 19);
    write_all(fd, eol + 2, len - (size_t)(eol + 2 - rq));
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fd);
}

static void serve_one(fake *f, int cfd)
{
    enum { RQ_MAX = 1 << 20, UP_MAX = 1 << 16 };
    char *rq = malloc(RQ_MAX), *up = malloc(UP_MAX);
    size_t head_len = 0;
    ssize_t len = rq && up ? read_request(cfd, rq, RQ_MAX, &head_len) : -1;
    if (len < 0)
        goto out;
    pthread_mutex_lock(&f->mu);
    int i = f->count++;
    if (i < FAKE_MAX) {
        snprintf(f->head[i], sizeof f->head[i], "%.*s", (int)head_len, rq);
        snprintf(f->body[i], sizeof f->body[i], "%s", rq + head_len);
        f->at[i] = now_ms();
    }
    pthread_mutex_unlock(&f->mu);
    const fake_reply *s = &f->script[(size_t)i < f->nscript ? (size_t)i : f->nscript - 1];
    if (s->forward)
        forward(f, rq, (size_t)len, up, UP_MAX);
    if (s->forward && s->status == 0) {
        write_all(cfd, up, strlen(up));
        goto out;
    }
    char reply[8192];
    const char *body = s->body ? s->body : "";
    int n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                     s->status, strlen(body), s->headers ? s->headers : "", body);
    write_all(cfd, reply, (size_t)n);
out:
    free(rq);
    free(up);
}

static void *fake_main(void *ud)
{
    fake *f = ud;
    for (;;) {
        int cfd = accept(f->lfd, NULL, NULL);
        if (cfd < 0)
            return NULL;
        struct timeval tv = {.tv_sec = 5};
        setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        serve_one(f, cfd);
        close(cfd);
    }
}

static fake *fake_start(const fake_reply *script, size_t n, int upstream)
{
    fake *f = calloc(1, sizeof *f);
    cr_assert_not_null(f);
    f->script = script;
    f->nscript = n;
    f->upstream = upstream;
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = listen_local(&f->port);
    cr_assert_eq(listen(f->lfd, 16), 0);
    cr_assert_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
    return f;
}

static void fake_url(const fake *f, char *url, size_t cap)
{
    snprintf(url, cap, "http://127.0.0.1:%d", f->port);
}

static int fake_count(fake *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->count;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* The value of header `name` in request i (lower-case name), or "". */
static const char *fake_header(fake *f, int i, const char *name)
{
    static char v[512];
    v[0] = 0;
    size_t n = strlen(name);
    for (const char *p = strstr(f->head[i], "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *s = p + 3 + n, *e = strstr(s, "\r\n");
            while (*s == ' ')
                s++;
            snprintf(v, sizeof v, "%.*s", (int)(e - s), s);
            break;
        }
    }
    return v;
}

static void fake_stop(fake *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- request dedup through a lost reply --------------------------------- */

Test(client, a_trigger_retried_after_a_lost_reply_does_not_duplicate)
{
    /* The first attempt reaches triggerd, which creates the run, but the
     * client sees a 500; the retry carries the same request key, so the
     * server replays the first run instead of creating a second. */
    fake_reply script[] = {
        {.status = 500, .body = "{\"error\":\"lost\"}", .forward = true},
        {.forward = true},
    };
    fake *f = fake_start(script, 2, srv.port);
    char url[64];
    fake_url(f, url, sizeof url);
    trigger_client *c = fast_client(url, DEV_KEY);
    const char *task = uniq("dedup");
    trigger_handle h;
    OK(trigger_task(c, task, "{}", NULL, &h));
    cr_assert_eq(fake_count(f), 2);
    char k0[64];
    snprintf(k0, sizeof k0, "%s", fake_header(f, 0, "x-trigger-request-idempotency-key"));
    cr_assert_str_eq(fake_header(f, 1, "x-trigger-request-idempotency-key"), k0);
    fake_stop(f);
    trigger_client_free(c);

    c = dev_client();
    trigger_list_filter lf = {.task = task};
    trigger_run_page *p = NULL;
    OK(trigger_runs_list(c, &lf, &p));
    cr_assert_eq(p->count, 1, "the retry must not create a second run");
    cr_assert_str_eq(p->runs[0].id, h.id);
    trigger_run_page_free(p);
    trigger_client_free(c);
}

Test(client, the_example_prints_the_run_id_and_status)
{
    const char *bin = getenv("TRIGGER_HELLO_BIN");
    if (!bin)
        cr_skip_test("TRIGGER_HELLO_BIN not set (run through meson test)");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "TRIGGER_API_URL=%s TRIGGER_SECRET_KEY=%s %s libtrigger", srv.url,
             DEV_KEY, bin);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[256] = {0};
    cr_assert_not_null(fgets(line, sizeof line, p));
    cr_assert_eq(pclose(p), 0);
    char id[128], status[64];
    cr_assert_eq(sscanf(line, "%127s %63s", id, status), 2, "output: %s", line);
    cr_assert(starts(id, "run_"), "output: %s", line);
    cr_assert_str_eq(status, "QUEUED");
    trigger_client *c = dev_client();
    trigger_run *r = NULL;
    OK(trigger_runs_retrieve(c, id, &r));
    cr_assert_str_eq(r->task_identifier, "hello-world");
    cr_assert(json_equal_text(r->payload_json, "{\"message\":\"hello\",\"name\":\"libtrigger\"}"));
    trigger_run_free(r);
    trigger_client_free(c);
}

/* ---- wait tokens -------------------------------------------------------- */

Test(client, a_token_is_created_retrieved_and_completed)
{
    trigger_client *c = dev_client();
    trigger_token_options o = {.timeout = "1h",
                               .idempotency_key = uniq("tok"),
                               .tags = (const char *[]){"approval", NULL}};
    trigger_token *t = NULL, *again = NULL, *got = NULL;
    OK(trigger_token_create(c, &o, &t));
    cr_assert(starts(t->id, "waitpoint_"), "%s", t->id);
    cr_assert(t->url && strstr(t->url, t->id) && strstr(t->url, "/callback/"), "%s", t->url);
    cr_assert_not(t->is_cached);
    cr_assert_not_null(t->public_access_token);

    OK(trigger_token_create(c, &o, &again)); /* same idempotency key */
    cr_assert_str_eq(again->id, t->id);
    cr_assert(again->is_cached);

    OK(trigger_token_retrieve(c, t->id, &got));
    cr_assert_str_eq(got->status, "WAITING");
    cr_assert_null(got->output_json);
    cr_assert_not_null(got->timeout_at);
    cr_assert_eq(got->tags_count, 1);
    cr_assert_str_eq(got->tags[0], "approval");
    trigger_token_free(got);

    OK(trigger_token_complete(c, t->id, "{\"approved\":true,\"by\":\"C\"}"));
    OK(trigger_token_complete(c, t->id, "{\"ignored\":1}")); /* completing twice is fine */
    OK(trigger_token_retrieve(c, t->id, &got));
    cr_assert_str_eq(got->status, "COMPLETED");
    cr_assert(json_equal_text(got->output_json, "{\"approved\":true,\"by\":\"C\"}"), "%s",
              got->output_json);
    cr_assert_not(got->output_is_error);
    cr_assert_not_null(got->completed_at);
    trigger_token_free(got);
    trigger_token_free(again);
    trigger_token_free(t);
    trigger_client_free(c);
}

Test(client, an_unknown_token_fails)
{
    /* spec/api.md 6.8 [46]: the reference server answers 500 here (its
     * presenter throws); triggerd answers 404. Both surface as errors. */
    trigger_client *c = dev_client();
    trigger_token *t = NULL;
    int rc = trigger_token_retrieve(c, "waitpoint_nope000000000000000", &t);
    cr_assert(rc == TRIGGER_ENOTFOUND || rc == TRIGGER_ESERVER, "rc %d", rc);
    cr_assert_null(t);
    cr_assert_eq(trigger_token_complete(c, "waitpoint_nope000000000000000", NULL),
                 TRIGGER_ENOTFOUND);
    cr_assert_eq(trigger_token_complete(c, "waitpoint_x", "{oops"), TRIGGER_EBADREQ);
    trigger_client_free(c);
}

/* ---- retry policy against scripted replies ------------------------------- */

TestSuite(retry);

static fake *scripted(const fake_reply *script, size_t n, trigger_client **c)
{
    fake *f = fake_start(script, n, 0);
    char url[64];
    fake_url(f, url, sizeof url);
    *c = fast_client(url, DEV_KEY);
    return f;
}

Test(retry, every_request_sends_the_sdk_headers)
{
    fake_reply script[] = {{200, NULL, "{\"id\":\"run_abc\",\"isCached\":false}", false}};
    trigger_client *c;
    fake *f = scripted(script, 1, &c);
    trigger_handle h;
    OK(trigger_task(c, "my task/ü", "{\"a\":1}", NULL, &h));
    cr_assert_str_eq(h.id, "run_abc");
    cr_assert(starts(f->head[0], "POST /api/v1/tasks/my%20task%2F%C3%BC/trigger HTTP/1.1"), "%s",
              f->head[0]);
    cr_assert_str_eq(fake_header(f, 0, "authorization"), "Bearer " DEV_KEY);
    cr_assert_str_eq(fake_header(f, 0, "content-type"), "application/json");
    cr_assert_str_eq(fake_header(f, 0, "x-trigger-api-version"), "2025-07-16");
    cr_assert_str_eq(fake_header(f, 0, "trigger-version"), TRIGGER_SDK_COMPAT_VERSION);
    cr_assert_str_eq(fake_header(f, 0, "x-trigger-source"), "sdk");
    const char *key = fake_header(f, 0, "x-trigger-request-idempotency-key");
    cr_assert_eq(strlen(key), 36, "uuid: %s", key);
    cr_assert(key[8] == '-' && key[14] == '4' && strchr("89ab", key[19]), "uuid v4: %s", key);
    json_t *body = json_loads(f->body[0], 0, NULL);
    cr_assert_not_null(body, "body: %s", f->body[0]);
    cr_assert_str_eq(json_string_value(json_object_get(body, "payload")), "{\"a\":1}");
    json_t *opts = json_object_get(body, "options");
    cr_assert_str_eq(json_string_value(json_object_get(opts, "payloadType")), "application/json");
    json_decref(body);
    fake_stop(f);
    trigger_client_free(c);
}

Test(retry, options_go_on_the_wire_with_their_sdk_names)
{
    fake_reply script[] = {{200, NULL, "{\"id\":\"run_abc\"}", false}};
    trigger_client *c;
    fake *f = scripted(script, 1, &c);
    trigger_options o = {.queue = "q",
                         .concurrency_key = "ck",
                         .delay = "5m",
                         .ttl = "1h",
                         .idempotency_key = "ik",
                         .idempotency_key_ttl = "2d",
                         .tags = (const char *[]){"a", "b", NULL},
                         .metadata_json = "{\"m\":1}",
                         .priority = 7,
                         .machine = "micro",
                         .max_attempts = 2,
                         .max_duration = 30,
                         .test = true};
    trigger_handle h;
    OK(trigger_task(c, "t", NULL, &o, &h));
    json_t *body = json_loads(f->body[0], 0, NULL);
    cr_assert_not_null(body);
    cr_assert_null(json_object_get(body, "payload"));
    json_t *want =
        json_pack("{s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:[s,s], s:s, s:s, s:i, s:s, s:i, s:i, s:b}",
                  "queue", "name", "q", "concurrencyKey", "ck", "delay", "5m", "ttl", "1h",
                  "idempotencyKey", "ik", "idempotencyKeyTTL", "2d", "tags", "a", "b", "metadata",
                  "{\"m\":1}", "metadataType", "application/json", "priority", 7, "machine",
                  "micro", "maxAttempts", 2, "maxDuration", 30, "test", 1);
    char *got = json_dumps(json_object_get(body, "options"), JSON_SORT_KEYS);
    char *exp = json_dumps(want, JSON_SORT_KEYS);
    cr_assert_str_eq(got, exp);
    free(got);
    free(exp);
    json_decref(want);
    json_decref(body);
    fake_stop(f);
    trigger_client_free(c);
}

Test(retry, server_errors_are_retried_with_the_same_request_key)
{
    fake_reply script[] = {
        {503, NULL, "{\"error\":\"busy\"}", false},
        {500, NULL, "oops", false},
        {200, NULL, "{\"id\":\"run_third\"}", false},
    };
    trigger_client *c;
    fake *f = scripted(script, 3, &c);
    trigger_handle h;
    OK(trigger_task(c, "t", "{}", NULL, &h));
    cr_assert_str_eq(h.id, "run_third");
    cr_assert_eq(fake_count(f), 3);
    char k0[64];
    snprintf(k0, sizeof k0, "%s", fake_header(f, 0, "x-trigger-request-idempotency-key"));
    cr_assert_str_eq(fake_header(f, 2, "x-trigger-request-idempotency-key"), k0);
    /* backoff: 5 ms, then 8 ms */
    cr_assert_geq(f->at[1] - f->at[0], 4);
    cr_assert_geq(f->at[2] - f->at[1], 7);
    /* the next logical call gets a new key */
    OK(trigger_task(c, "t", "{}", NULL, &h));
    cr_assert_str_neq(fake_header(f, 3, "x-trigger-request-idempotency-key"), k0);
    fake_stop(f);
    trigger_client_free(c);
}

Test(retry, x_should_retry_false_stops_at_the_first_attempt)
{
    fake_reply script[] = {{500, "x-should-retry: false\r\n", "{\"error\":\"do not\"}", false}};
    trigger_client *c;
    fake *f = scripted(script, 1, &c);
    trigger_handle h;
    cr_assert_eq(trigger_task(c, "t", "{}", NULL, &h), TRIGGER_ESERVER);
    cr_assert_eq(fake_count(f), 1);
    cr_assert_str_eq(trigger_client_last_error(c), "do not");
    cr_assert_eq(trigger_client_last_status(c), 500);
    fake_stop(f);
    trigger_client_free(c);
}

Test(retry, x_should_retry_true_retries_even_a_404)
{
    fake_reply script[] = {{404, "x-should-retry: true\r\n", "{\"error\":\"Not found\"}", false},
                           {200, NULL, "{\"id\":\"run_x\",\"status\":\"QUEUED\"}", false}};
    trigger_client *c;
    fake *f = scripted(script, 2, &c);
    trigger_run *r = NULL;
    OK(trigger_runs_retrieve(c, "run_x", &r));
    cr_assert_eq(fake_count(f), 2);
    cr_assert_str_eq(r->status, "QUEUED");
    trigger_run_free(r);
    fake_stop(f);
    trigger_client_free(c);
}

Test(retry, client_errors_are_not_retried)
{
    fake_reply script[] = {{400, NULL, "{\"error\":\"bad body\"}", false},
                           {403, NULL, "{\"error\":\"Unauthorized\"}", false},
                           {422, NULL, "{\"error\":\"too many tags\"}", false},
                           {413, NULL, "not json at all", false}};
    trigger_client *c;
    fake *f = scripted(script, 4, &c);
    trigger_handle h;
    cr_assert_eq(trigger_task(c, "t", "{}", NULL, &h), TRIGGER_EBADREQ);
    cr_assert_str_eq(trigger_client_last_error(c), "bad body");
    cr_assert_eq(trigger_task(c, "t", "{}", NULL, &h), TRIGGER_EFORBIDDEN);
    cr_assert_eq(trigger_task(c, "t", "{}", NULL, &h), TRIGGER_EUNPROCESSABLE);
    cr_assert_str_eq(trigger_client_last_error(c), "too many tags");
    cr_assert_eq(trigger_task(c, "t", "{}", NULL, &h), TRIGGER_EBADREQ);
    cr_assert_str_eq(trigger_client_last_error(c), "413 not json at all");
    cr_assert_eq(fake_count(f), 4);
    fake_stop(f);
    trigger_client_free(c);
}

Test(retry, conflicts_and_timeouts_are_retried_until_max_attempts)
{
    fake_reply script[] = {{409, NULL, "{\"error\":\"conflict\"}", false},
                           {408, NULL, "{\"error\":\"timeout\"}", false},
                           {409, NULL, "{\"error\":\"still conflict\"}", false}};
    trigger_client *c;
    fake *f = scripted(script, 3, &c);
    trigger_handle h;
    cr_assert_eq(trigger_task(c, "t", "{}", NULL, &h), TRIGGER_ECONFLICT);
    cr_assert_eq(fake_count(f), 5, "the default policy makes 5 attempts");
    cr_assert_str_eq(trigger_client_last_error(c), "still conflict");

    trigger_retry once;
    trigger_retry_default(&once);
    once.max_attempts = 1;
    OK(trigger_client_set_retry(c, &once));
    cr_assert_eq(trigger_task(c, "t", "{}", NULL, &h), TRIGGER_ECONFLICT);
    cr_assert_eq(fake_count(f), 6);
    once.max_attempts = 0;
    cr_assert_eq(trigger_client_set_retry(c, &once), TRIGGER_EBADREQ);
    fake_stop(f);
    trigger_client_free(c);
}

Test(retry, a_429_waits_until_x_ratelimit_reset)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long reset = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 400;
    char hdr[96];
    snprintf(hdr, sizeof hdr, "x-ratelimit-reset: %lld\r\n", reset);
    fake_reply script[] = {{429, hdr, "{\"error\":\"Rate limit exceeded\"}", false},
                           {429, "x-ratelimit-reset: 1000\r\n", "{\"error\":\"again\"}", false},
                           {200, NULL, "{\"id\":\"run_late\"}", false}};
    trigger_client *c;
    fake *f = scripted(script, 3, &c);
    trigger_handle h;
    OK(trigger_task(c, "t", "{}", NULL, &h));
    cr_assert_eq(fake_count(f), 3);
    /* the first wait follows the header (~400 ms, far above the 8 ms backoff);
     * a reset in the past falls back to the backoff */
    cr_assert_geq(f->at[1] - f->at[0], 350, "waited %lld ms", (long long)(f->at[1] - f->at[0]));
    cr_assert_lt(f->at[2] - f->at[1], 300, "waited %lld ms", (long long)(f->at[2] - f->at[1]));
    fake_stop(f);
    trigger_client_free(c);

    fake_reply limited[] = {{429, NULL, "{\"error\":\"Rate limit exceeded\"}", false}};
    f = scripted(limited, 1, &c);
    cr_assert_eq(trigger_task(c, "t", "{}", NULL, &h), TRIGGER_ERATELIMIT);
    cr_assert_eq(fake_count(f), 5);
    fake_stop(f);
    trigger_client_free(c);
}

Test(retry, a_batch_stream_is_resent_until_sealed)
{
    fake_reply script[] = {
        {202, NULL, "{\"id\":\"batch_s\",\"runCount\":2,\"isCached\":false}", false},
        {200, NULL, "{\"id\":\"batch_s\",\"itemsAccepted\":1,\"sealed\":false}", false},
        {200, NULL, "{\"id\":\"batch_s\",\"itemsAccepted\":1,\"sealed\":true}", false},
        {200, NULL,
         "{\"id\":\"batch_s\",\"status\":\"PROCESSING\",\"runCount\":2,"
         "\"runs\":[\"run_a\",\"run_b\"]}",
         false},
    };
    trigger_client *c;
    fake *f = scripted(script, 4, &c);
    trigger_options o = {.tags = (const char *[]){"x", NULL}};
    trigger_batch_item items[2] = {{"t1", "{\"n\":1}", &o}, {"t2", NULL, NULL}};
    trigger_batch *b = NULL;
    OK(trigger_batch_trigger(c, items, 2, NULL, &b));
    cr_assert_eq(fake_count(f), 4);
    cr_assert(starts(f->head[0], "POST /api/v3/batches HTTP"), "%s", f->head[0]);
    cr_assert_str_eq(f->body[0], "{\"runCount\":2}");
    cr_assert(starts(f->head[1], "POST /api/v3/batches/batch_s/items HTTP"));
    cr_assert_str_eq(fake_header(f, 1, "content-type"), "application/x-ndjson");
    cr_assert_str_eq(f->body[1], f->body[2]);
    /* two NDJSON lines, each {index, task, payload?, options} */
    char *nl = strchr(f->body[1], '\n');
    cr_assert_not_null(nl);
    *nl = 0;
    json_t *l0 = json_loads(f->body[1], 0, NULL), *l1 = json_loads(nl + 1, 0, NULL);
    cr_assert(l0 && l1, "lines: %s | %s", f->body[1], nl + 1);
    cr_assert_eq(json_integer_value(json_object_get(l0, "index")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(l0, "task")), "t1");
    cr_assert_str_eq(json_string_value(json_object_get(l0, "payload")), "{\"n\":1}");
    cr_assert_eq(json_array_size(json_object_get(json_object_get(l0, "options"), "tags")), 1);
    cr_assert_eq(json_integer_value(json_object_get(l1, "index")), 1);
    cr_assert_null(json_object_get(l1, "payload"));
    json_decref(l0);
    json_decref(l1);
    cr_assert(starts(f->head[3], "GET /api/v2/batches/batch_s HTTP"));
    cr_assert_str_eq(b->id, "batch_s");
    cr_assert_eq(b->runs_count, 2);
    cr_assert_str_eq(b->run_ids[1], "run_b");
    trigger_batch_free(b);
    fake_stop(f);
    trigger_client_free(c);
}

Test(retry, an_unparsable_success_is_eserver)
{
    fake_reply script[] = {{200, NULL, "<html>proxy</html>", false}};
    trigger_client *c;
    fake *f = scripted(script, 1, &c);
    trigger_handle h;
    cr_assert_eq(trigger_task(c, "t", "{}", NULL, &h), TRIGGER_ESERVER);
    cr_assert_eq(fake_count(f), 1);
    fake_stop(f);
    trigger_client_free(c);
}

/* ---- construction ------------------------------------------------------- */

TestSuite(local);

Test(local, client_new_reads_url_and_key_from_the_environment)
{
    fake_reply script[] = {{200, NULL, "{\"data\":[],\"pagination\":{}}", false}};
    fake *f = fake_start(script, 1, 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", f->port); /* trailing '/' is dropped */
    setenv("TRIGGER_API_URL", url, 1);
    setenv("TRIGGER_SECRET_KEY", "tr_dev_FromTheEnvironment000", 1);
    trigger_client *c = trigger_client_new(NULL, NULL);
    cr_assert_not_null(c);
    trigger_list_filter lf = {.status = "QUEUED,DELAYED", .tag = "a b", .limit = 5};
    trigger_run_page *p = NULL;
    OK(trigger_runs_list(c, &lf, &p));
    cr_assert_eq(p->count, 0);
    cr_assert_null(p->next_cursor);
    cr_assert_str_eq(fake_header(f, 0, "authorization"), "Bearer tr_dev_FromTheEnvironment000");
    cr_assert(starts(f->head[0], "GET /api/v1/runs?page%5Bsize%5D=5&filter%5Bstatus%5D=QUEUED"
                                 "%2CDELAYED&filter%5Btag%5D=a%20b HTTP/1.1"),
              "%s", f->head[0]);
    trigger_run_page_free(p);
    trigger_client_free(c);
    fake_stop(f);
}

Test(local, client_new_without_a_key_is_null)
{
    unsetenv("TRIGGER_SECRET_KEY");
    cr_assert_null(trigger_client_new("http://127.0.0.1:1", NULL));
    cr_assert_null(trigger_client_new("http://127.0.0.1:1", ""));
    trigger_client *c = trigger_client_new("http://127.0.0.1:1", DEV_KEY);
    cr_assert_not_null(c);
    cr_assert_str_eq(trigger_client_last_error(c), "");
    cr_assert_eq(trigger_client_last_status(c), 0);
    trigger_client_free(c);
    trigger_client_free(NULL);
}

Test(local, strerror_names_every_code)
{
    for (int e = TRIGGER_ENOMEM; e <= TRIGGER_OK; e++)
        cr_assert_str_neq(trigger_strerror(e), "unknown error", "code %d", e);
    cr_assert_str_eq(trigger_strerror(TRIGGER_ENOTFOUND), "not found");
    cr_assert_str_eq(trigger_strerror(42), "unknown error");
}
