/*
 * store/objstore.c - the object store: a folder with HMAC-signed URLs, or an
 * S3 bucket (s3.c) with SigV4-presigned ones.
 *
 * In the folder each object is one file; its content type sits beside it in
 * "<file>.ct". Writes go to a temp file that is fsynced and renamed, so an
 * acknowledged upload survives a crash. Either backend blocks (disk or
 * network), so the server calls the _async forms, which run on the libuv
 * thread pool and answer on the loop.
 */
#include "store/objstore.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/crypto.h"
#include "util/err.h"
#include "util/id.h"

typedef struct job job;

struct objstore {
    char *dir;   /* the folder, or NULL on S3 */
    s3_client *s3;
    char *secret;
    char *desc;
    job *queue, **queue_tail; /* waiting for a thread */
    int running;
};

objstore *objstore_open(const char *dir, const char *secret)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return NULL;
    objstore *os = calloc(1, sizeof *os);
    if (!os)
        return NULL;
    os->dir = strdup(dir);
    os->secret = strdup(secret);
    os->queue_tail = &os->queue;
    if (!os->dir || !os->secret || asprintf(&os->desc, "folder %s", dir) < 0) {
        objstore_close(os);
        return NULL;
    }
    return os;
}

objstore *objstore_open_s3(const s3_config *cfg, const char *secret, char *err, size_t errcap)
{
    s3_client *s3 = s3_new(cfg, err, errcap);
    if (!s3)
        return NULL;
    objstore *os = calloc(1, sizeof *os);
    if (!os)
        abort();
    os->s3 = s3;
    os->secret = strdup(secret);
    os->queue_tail = &os->queue;
    if (!os->secret || asprintf(&os->desc, "s3 %s", s3_base(s3)) < 0)
        abort();
    return os;
}

void objstore_close(objstore *os)
{
    if (!os || os->running || os->queue)
        return; /* the loop stopped with jobs in flight: left to the exit */
    free(os->dir);
    s3_free(os->s3);
    free(os->secret);
    free(os->desc);
    free(os);
}

const char *objstore_describe(const objstore *os)
{
    return os->desc;
}

int objstore_key_valid(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len > 1024 || key[0] == '/' || key[len - 1] == '/')
        return 0;
    const char *seg = key;
    for (const char *p = key;; p++) {
        if (*p == '/' || *p == 0) {
            size_t n = (size_t)(p - seg);
            if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return 0;
            if (*p == 0)
                return 1;
            seg = p + 1;
            continue;
        }
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '=' || c == '%'))
            return 0;
    }
}

static void sign(objstore *os, const char *method, const char *key, int64_t expires_ms,
                 char out[65])
{
    char msg[1200];
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%lld", method, key, (long long)expires_ms);
    crypto_hmac_sha256_hex(os->secret, msg, (size_t)n, out);
}

char *objstore_sign(objstore *os, const char *method, const char *key, int64_t expires_ms)
{
    char sig[65];
    sign(os, method, key, expires_ms, sig);
    /* '%' is the only key character that needs escaping in a URL path */
    size_t cap = strlen(key) * 3 + 160, o = 0;
    char *url = malloc(cap);
    if (!url)
        return NULL;
    o += (size_t)snprintf(url, cap, "/objects/");
    for (const char *p = key; *p; p++)
        o += (size_t)(*p == '%' ? snprintf(url + o, cap - o, "%%25")
                                : snprintf(url + o, cap - o, "%c", *p));
    snprintf(url + o, cap - o, "?method=%s&expires=%lld&sig=%s", method, (long long)expires_ms,
             sig);
    return url;
}

char *objstore_url(objstore *os, const char *origin, const char *method, const char *key,
                   int64_t now_ms, int64_t expires_ms)
{
    if (os->s3 && strcmp(method, "POST") != 0) {
        int64_t s = (expires_ms - now_ms + 999) / 1000;
        return s3_presign(os->s3, method, key, now_ms, s < 1 ? 1 : s);
    }
    char *path = objstore_sign(os, method, key, expires_ms), *url = NULL;
    if (path && asprintf(&url, "%s%s", origin, path) < 0)
        url = NULL;
    free(path);
    return url;
}

int objstore_verify(objstore *os, const char *method, const char *key, int64_t expires_ms,
                    const char *sig, int64_t now_ms)
{
    char want[65];
    sign(os, method, key, expires_ms, want);
    if (strlen(sig) != 64 || !crypto_equal(want, sig, 64))
        return ERR_FORBIDDEN;
    if (now_ms > expires_ms)
        return ERR_EXPIRED;
    return 0;
}

/* Creates every directory on the way to path's file. */
static int mkdirs_for(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return ERR_IO;
    }
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    char tmp[4200];
    char rnd[9];
    id_alnum(rnd, 8);
    snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ERR_IO;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail;
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return ERR_IO;
    }
    return 0;
fail:
    close(fd);
    unlink(tmp);
    return ERR_IO;
}

int objstore_put(objstore *os, const char *key, const void *data, size_t len,
                 const char *content_type)
{
    if (!objstore_key_valid(key))
        return ERR_INVALID;
    if (os->s3)
        return s3_put(os->s3, key, data, len, content_type);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", os->dir, key);
    if (mkdirs_for(path))
        return ERR_IO;
    char ctpath[4100];
    snprintf(ctpath, sizeof ctpath, "%s.ct", path);
    const char *ct = content_type ? content_type : "application/octet-stream";
    if (write_file(ctpath, ct, strlen(ct)))
        return ERR_IO;
    if (write_file(path, data, len))
        return ERR_IO;
    /* make the renames durable */
    char *slash = strrchr(path, '/');
    *slash = 0;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static int read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        fclose(f);
        return ERR_IO;
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        fclose(f);
        return ERR_NOMEM;
    }
    size_t n = fread(buf, 1, (size_t)sb.st_size, f);
    fclose(f);
    buf[n] = 0;
    *data = buf;
    if (len)
        *len = n;
    return 0;
}

int objstore_get(objstore *os, const char *key, char **data, size_t *len, char **content_type)
{
    if (!objstore_key_valid(key))
        return ERR_NOT_FOUND;
    if (os->s3)
        return s3_get(os->s3, key, data, len, content_type);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", os->dir, key);
    int rc = read_file(path, data, len);
    if (rc)
        return rc;
    if (content_type) {
        char ctpath[4100];
        snprintf(ctpath, sizeof ctpath, "%s.ct", path);
        if (read_file(ctpath, content_type, NULL))
            *content_type = NULL;
    }
    return 0;
}

/* ---- off the loop ------------------------------------------------------- */

struct job {
    uv_work_t work;
    objstore *os;
    job *next;
    bool put;
    char *key;
    char *data; /* the put's copy, or the get's result */
    size_t len;
    char *content_type;
    int rc;
    objstore_done done;
    void *ud;
};

static void job_work(uv_work_t *w)
{
    job *j = w->data;
    if (j->put) {
        j->rc = objstore_put(j->os, j->key, j->data, j->len, j->content_type);
        return;
    }
    j->rc = objstore_get(j->os, j->key, &j->data, &j->len, &j->content_type);
}

static void start_next(objstore *os, uv_loop_t *loop);

static void job_done(uv_work_t *w, int status)
{
    job *j = w->data;
    objstore *os = j->os;
    os->running--;
    if (status != 0 && j->rc == 0)
        j->rc = ERR_IO; /* cancelled */
    if (j->put || j->rc) {
        free(j->data);
        free(j->content_type);
        j->data = j->content_type = NULL;
        j->len = 0;
    }
    start_next(os, w->loop);
    j->done(j->ud, j->rc, j->data, j->len, j->content_type);
    free(j->key);
    free(j);
}

static void start_next(objstore *os, uv_loop_t *loop)
{
    while (os->queue && os->running < OBJSTORE_MAX_RUNNING) {
        job *j = os->queue;
        os->queue = j->next;
        if (!os->queue)
            os->queue_tail = &os->queue;
        os->running++;
        j->work.data = j;
        if (uv_queue_work(loop, &j->work, job_work, job_done) != 0) {
            os->running--;
            j->rc = ERR_IO;
            free(j->data);
            free(j->content_type);
            j->done(j->ud, j->rc, NULL, 0, NULL);
            free(j->key);
            free(j);
        }
    }
}

static void submit(objstore *os, uv_loop_t *loop, job *j)
{
    j->os = os;
    *os->queue_tail = j;
    os->queue_tail = &j->next;
    start_next(os, loop);
}

void objstore_put_async(objstore *os, uv_loop_t *loop, const char *key, const void *data,
                        size_t len, const char *content_type, objstore_done done, void *ud)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->put = true;
    j->key = strdup(key);
    j->data = malloc(len ? len : 1);
    j->content_type = content_type ? strdup(content_type) : NULL;
    if (!j->key || !j->data || (content_type && !j->content_type))
        abort();
    if (len)
        memcpy(j->data, data, len);
    j->len = len;
    j->done = done;
    j->ud = ud;
    submit(os, loop, j);
}

void objstore_get_async(objstore *os, uv_loop_t *loop, const char *key, objstore_done done,
                        void *ud)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->key = strdup(key);
    if (!j->key)
        abort();
    j->done = done;
    j->ud = ud;
    submit(os, loop, j);
}
