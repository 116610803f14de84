/*
 * store/sigv4.c - AWS Signature Version 4 (header and query forms).
 *
 * The canonical request, string to sign and signing key follow AWS's
 * "Signature Version 4 signing process" for S3: header values trimmed with
 * inner runs of spaces folded, headers sorted by name, the signing key
 * derived from the secret through date, region, service and "aws4_request".
 */
#include "store/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/crypto.h"

void sigv4_amz_date(int64_t ms, char out[17])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

char *sigv4_uri_encode(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = 0;
    return out;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const sigv4_header *)a)->name, ((const sigv4_header *)b)->name);
}

/* value trimmed, inner runs of spaces folded to one */
static void put_trimmed(FILE *f, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    int space = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = 1;
            continue;
        }
        if (space)
            fputc(' ', f);
        space = 0;
        fputc(*v, f);
    }
}

/* Writes the scope "20130524/us-east-1/s3/aws4_request" into out. */
static void scope_of(const sigv4_key *k, const char *amz_date, char *out, size_t cap)
{
    snprintf(out, cap, "%.8s/%s/%s/aws4_request", amz_date, k->region, k->service);
}

/* hex signature of the canonical request (text) into sig; signed into
 * *signed_headers (malloc'd). Returns 0 or -1 on allocation failure. */
static int sign_request(const sigv4_key *k, const sigv4_req *r, char sig[65],
                        char **signed_headers)
{
    sigv4_header *h = malloc((r->n_headers ? r->n_headers : 1) * sizeof *h);
    if (!h)
        return -1;
    memcpy(h, r->headers, r->n_headers * sizeof *h);
    qsort(h, r->n_headers, sizeof *h, by_name);

    char *sh = NULL, *canon = NULL;
    size_t shn = 0, cn = 0;
    FILE *fs = open_memstream(&sh, &shn);
    FILE *fc = open_memstream(&canon, &cn);
    if (!fs || !fc) {
        if (fs)
            fclose(fs);
        if (fc)
            fclose(fc);
        free(sh);
        free(canon);
        free(h);
        return -1;
    }
    fprintf(fc, "%s\n%s\n%s\n", r->method, r->path, r->query ? r->query : "");
    for (size_t i = 0; i < r->n_headers; i++) {
        fprintf(fc, "%s:", h[i].name);
        put_trimmed(fc, h[i].value);
        fputc('\n', fc);
        fprintf(fs, "%s%s", i ? ";" : "", h[i].name);
    }
    fclose(fs);
    fprintf(fc, "\n%s\n%s", sh, r->payload_hash);
    fclose(fc);
    free(h);

    char canon_hash[65], scope[256];
    crypto_sha256_hex(canon, cn, canon_hash);
    free(canon);
    scope_of(k, r->amz_date, scope, sizeof scope);
    char sts[512];
    int sn = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope,
                      canon_hash);

    /* the signing key: secret -> date -> region -> service -> aws4_request */
    size_t kl = strlen(k->secret_key) + 5;
    char *k0 = malloc(kl);
    if (!k0) {
        free(sh);
        return -1;
    }
    snprintf(k0, kl, "AWS4%s", k->secret_key);
    unsigned char a[32], b[32];
    crypto_hmac_sha256(k0, kl - 1, r->amz_date, 8, a);
    free(k0);
    crypto_hmac_sha256(a, 32, k->region, strlen(k->region), b);
    crypto_hmac_sha256(b, 32, k->service, strlen(k->service), a);
    crypto_hmac_sha256(a, 32, "aws4_request", 12, b);
    crypto_hmac_sha256(b, 32, sts, (size_t)sn, a);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        sig[2 * i] = hex[a[i] >> 4];
        sig[2 * i + 1] = hex[a[i] & 15];
    }
    sig[64] = 0;
    *signed_headers = sh;
    return 0;
}

char *sigv4_authorization(const sigv4_key *k, const sigv4_req *r)
{
    char sig[65], scope[256];
    char *sh;
    if (sign_request(k, r, sig, &sh) != 0)
        return NULL;
    scope_of(k, r->amz_date, scope, sizeof scope);
    char *out = NULL;
    if (asprintf(&out, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                 k->access_key, scope, sh, sig) < 0)
        out = NULL;
    free(sh);
    return out;
}

char *sigv4_presign_query(const sigv4_key *k, const char *method, const char *host,
                          const char *path, int64_t expires_s, const char *amz_date)
{
    char scope[256], cred[600];
    scope_of(k, amz_date, scope, sizeof scope);
    snprintf(cred, sizeof cred, "%s/%s", k->access_key, scope);
    char *cred_enc = sigv4_uri_encode(cred, 0);
    char *query = NULL;
    if (!cred_enc ||
        asprintf(&query,
                 "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Date=%s"
                 "&X-Amz-Expires=%lld&X-Amz-SignedHeaders=host",
                 cred_enc, amz_date, (long long)expires_s) < 0) {
        free(cred_enc);
        return NULL;
    }
    free(cred_enc);
    sigv4_header h = {"host", host};
    sigv4_req r = {.method = method, .path = path, .query = query, .headers = &h, .n_headers = 1,
                   .payload_hash = "UNSIGNED-PAYLOAD", .amz_date = amz_date};
    char sig[65], *sh, *out = NULL;
    if (sign_request(k, &r, sig, &sh) == 0) {
        free(sh);
        if (asprintf(&out, "%s&X-Amz-Signature=%s", query, sig) < 0)
            out = NULL;
    }
    free(query);
    return out;
}
