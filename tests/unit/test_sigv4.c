/*
 * tests/unit/test_sigv4.c - SigV4 against AWS's documented examples: the
 * S3 "signature calculations for the Authorization header" examples (GET
 * Object, PUT Object, GET Bucket Lifecycle, GET Bucket), the presigned URL
 * example of "authenticating requests: using query parameters", and
 * get-vanilla of the SigV4 test suite.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "store/sigv4.h"
#include "util/crypto.h"

static const sigv4_key S3_EXAMPLE = {"AKIAIOSFODNN7EXAMPLE",
                                     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};
#define HOST "examplebucket.s3.amazonaws.com"
#define DATE "20130524T000000Z"
#define CRED "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "

static void expect_auth(const sigv4_req *r, const char *want)
{
    char *got = sigv4_authorization(&S3_EXAMPLE, r);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want);
    free(got);
}

Test(sigv4, get_object_with_range_matches_the_aws_example)
{
    sigv4_header h[] = {{"x-amz-date", DATE},
                        {"host", HOST},
                        {"range", "bytes=0-9"},
                        {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}};
    sigv4_req r = {"GET", "/test.txt", "", h, 4, SIGV4_EMPTY_SHA256, DATE};
    expect_auth(&r, CRED "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

Test(sigv4, put_object_with_an_encoded_key_matches_the_aws_example)
{
    const char *body = "Welcome to Amazon S3.";
    char hash[65];
    crypto_sha256_hex(body, strlen(body), hash);
    cr_assert_str_eq(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    char *path = sigv4_uri_encode("/test$file.text", 1);
    cr_assert_str_eq(path, "/test%24file.text");
    sigv4_header h[] = {{"date", "Fri, 24 May 2013 00:00:00 GMT"},
                        {"host", HOST},
                        {"x-amz-content-sha256", hash},
                        {"x-amz-date", DATE},
                        {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    sigv4_req r = {"PUT", path, "", h, 5, hash, DATE};
    expect_auth(&r, CRED "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
                     "x-amz-storage-class, "
                     "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    free(path);
}

Test(sigv4, queries_match_the_aws_bucket_examples)
{
    sigv4_header h[] = {
        {"host", HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", DATE}};
    sigv4_req life = {"GET", "/", "lifecycle=", h, 3, SIGV4_EMPTY_SHA256, DATE};
    expect_auth(&life,
                CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                     "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    sigv4_req list = {"GET", "/", "max-keys=2&prefix=J", h, 3, SIGV4_EMPTY_SHA256, DATE};
    expect_auth(&list,
                CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                     "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

Test(sigv4, presigned_get_matches_the_aws_example)
{
    char *q = sigv4_presign_query(&S3_EXAMPLE, "GET", HOST, "/test.txt", 86400, DATE);
    cr_assert_not_null(q);
    cr_expect_str_eq(
        q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
           "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
           "X-Amz-SignedHeaders=host&X-Amz-Signature="
           "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    free(q);
}

Test(sigv4, get_vanilla_of_the_test_suite)
{
    sigv4_key k = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
                   "service"};
    sigv4_header h[] = {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}};
    sigv4_req r = {"GET", "/", "", h, 2, SIGV4_EMPTY_SHA256, "20150830T123600Z"};
    char *got = sigv4_authorization(&k, &r);
    cr_expect_str_eq(got, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                          "aws4_request, SignedHeaders=host;x-amz-date, "
                          "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    free(got);
}

Test(sigv4, header_values_are_trimmed_and_inner_spaces_folded)
{
    sigv4_header a[] = {{"host", HOST}, {"x-amz-date", DATE}, {"x-meta", "  a   b  "}};
    sigv4_header b[] = {{"host", HOST}, {"x-amz-date", DATE}, {"x-meta", "a b"}};
    sigv4_req ra = {"GET", "/k", "", a, 3, SIGV4_EMPTY_SHA256, DATE};
    sigv4_req rb = {"GET", "/k", "", b, 3, SIGV4_EMPTY_SHA256, DATE};
    char *x = sigv4_authorization(&S3_EXAMPLE, &ra), *y = sigv4_authorization(&S3_EXAMPLE, &rb);
    cr_expect_str_eq(x, y);
    free(x);
    free(y);
}

Test(sigv4, uri_encode_keeps_unreserved_and_optionally_slashes)
{
    char *a = sigv4_uri_encode("a b/c~d_e.f-g%=", 1), *b = sigv4_uri_encode("a/b", 0);
    cr_expect_str_eq(a, "a%20b/c~d_e.f-g%25%3D");
    cr_expect_str_eq(b, "a%2Fb");
    free(a);
    free(b);
}

Test(sigv4, amz_date_is_utc_basic_format)
{
    char d[17];
    sigv4_amz_date(1369353600000LL, d); /* 2013-05-24T00:00:00Z */
    cr_expect_str_eq(d, DATE);
}
