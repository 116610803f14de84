/*
 * store/sigv4.h - AWS Signature Version 4, as S3 checks it: the
 * Authorization header of a request the store sends, and the query of a
 * presigned URL it hands to clients. Pure functions of their inputs (the
 * time is an argument), so tests can replay AWS's documented examples.
 */
#ifndef TD_STORE_SIGV4_H
#define TD_STORE_SIGV4_H

#include <stddef.h>
#include <stdint.h>

typedef struct sigv4_key {
    const char *access_key;
    const char *secret_key;
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
} sigv4_key;

typedef struct sigv4_header {
    const char *name; /* lowercase */
    const char *value;
} sigv4_header;

typedef struct sigv4_req {
    const char *method;
    const char *path;  /* canonical URI, already percent-encoded (sigv4_uri_encode) */
    const char *query; /* canonical query string (sorted, encoded), "" for none */
    const sigv4_header *headers; /* every signed header, host included; any order */
    size_t n_headers;
    const char *payload_hash; /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;     /* "20130524T000000Z", as sent in x-amz-date */
} sigv4_req;

#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* "YYYYMMDDTHHMMSSZ" of a ms epoch time into out (17 bytes). */
void sigv4_amz_date(int64_t ms, char out[17]);

/* s percent-encoded the way SigV4 wants (unreserved A-Za-z0-9-._~ kept;
 * '/' kept when keep_slash). Malloc'd; caller frees. */
char *sigv4_uri_encode(const char *s, int keep_slash);

/* The value of the Authorization header for r. Malloc'd; caller frees. */
char *sigv4_authorization(const sigv4_key *k, const sigv4_req *r);

/* The query of a presigned URL for method on host+path (a canonical URI),
 * valid expires_s seconds from amz_date: "X-Amz-Algorithm=...&X-Amz-Signature=<hex>",
 * only the host header signed and the payload unsigned. Malloc'd; caller frees. */
char *sigv4_presign_query(const sigv4_key *k, const char *method, const char *host,
                          const char *path, int64_t expires_s, const char *amz_date);

#endif
