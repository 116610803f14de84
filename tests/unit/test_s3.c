/*
 * tests/unit/test_s3.c - the S3 client's configuration and presigned URLs
 * (store/s3.c): the AWS presigned-URL example end to end from a
 * virtual-host endpoint, path-style URLs, ports and bad settings.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define MAY_24_2013 1369353600000LL

static s3_client *client(const char *url, const char *bucket)
{
    char err[256] = "";
    s3_config c = {.url = url, .bucket = bucket, .access_key = AK, .secret_key = SK};
    s3_client *s = s3_new(&c, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    return s;
}

Test(s3, virtual_host_presign_is_the_aws_example_url)
{
    s3_client *s = client("https://examplebucket.s3.amazonaws.com", NULL);
    char *u = s3_presign(s, "GET", "test.txt", MAY_24_2013, 86400);
    cr_expect_str_eq(u, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-"
                        "SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%"
                        "2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"
                        "SignedHeaders=host&X-Amz-Signature="
                        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    free(u);
    s3_free(s);
}

Test(s3, path_style_keeps_the_bucket_and_encodes_the_key_once)
{
    s3_client *s = client("http://127.0.0.1:9000/my-bucket/", NULL);
    cr_expect_str_eq(s3_base(s), "http://127.0.0.1:9000/my-bucket");
    char *u = s3_presign(s, "PUT", "packets/env_1/a%b=c.json", MAY_24_2013, 60);
    const char *want = "http://127.0.0.1:9000/my-bucket/packets/env_1/a%25b%3Dc.json?X-Amz-";
    cr_expect(strncmp(u, want, strlen(want)) == 0, "%s", u);
    cr_expect(strstr(u, "&X-Amz-Expires=60&") != NULL);
    free(u);
    s3_free(s);
}

Test(s3, bucket_setting_makes_a_bare_endpoint_path_style)
{
    s3_client *s = client("https://s3.eu-west-1.amazonaws.com:443", "b1");
    cr_expect_str_eq(s3_base(s), "https://s3.eu-west-1.amazonaws.com/b1", "default port dropped");
    s3_free(s);
    s = client("http://minio:9000/fromurl", "ignored");
    cr_expect_str_eq(s3_base(s), "http://minio:9000/fromurl", "a path in the URL wins");
    s3_free(s);
}

Test(s3, unusable_settings_are_refused_with_a_message)
{
    char err[256];
    const char *bad[] = {"ftp://h/b", "http:///b", "http://user:pw@h/b", "http://h/b?x=1", "h/b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        s3_config c = {.url = bad[i], .access_key = AK, .secret_key = SK};
        cr_expect_null(s3_new(&c, err, sizeof err), "%s", bad[i]);
        cr_expect(err[0], "a message for %s", bad[i]);
    }
    s3_config nokey = {.url = "http://h/b", .access_key = AK};
    cr_expect_null(s3_new(&nokey, err, sizeof err));
    cr_expect(strstr(err, "OBJECT_STORE_SECRET_ACCESS_KEY") != NULL);
}

Test(s3, a_bucket_that_does_not_answer_is_unavailable_after_the_retries)
{
    /* port 1 on loopback: connection refused at once */
    char err[256];
    s3_config c = {.url = "http://127.0.0.1:1/b", .access_key = AK, .secret_key = SK,
                   .attempts = 2, .backoff_ms = 1};
    s3_client *s = s3_new(&c, err, sizeof err);
    cr_assert_not_null(s);
    char *data = NULL;
    size_t len = 0;
    cr_expect_eq(s3_get(s, "k", &data, &len, NULL), -12 /* ERR_UNAVAILABLE */);
    cr_expect_null(data);
    cr_expect_eq(s3_put(s, "k", "x", 1, NULL), -12);
    s3_free(s);
}
