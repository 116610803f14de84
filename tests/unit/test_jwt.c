/*
 * tests/unit/test_jwt.c - public access tokens: tokens signed by the real
 * `jose` library verify, ours have jose's exact header, and every way a
 * token can be wrong (signature, alg, iss, aud, exp, nbf, shape) is refused.
 */
#include "auth/jwt.h"

#include "util/crypto.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Made with jose 5 (node):
 *   new SignJWT({pub:true, sub:"clx0envid000000000000000a",
 *                scopes:["read:runs:run_abc","read:tags:env:staging"], otu:true,
 *                realtime:{skipColumns:["payload"]}})
 *     .setProtectedHeader({alg:"HS256"}).setIssuer("https://id.trigger.dev")
 *     .setAudience("https://api.trigger.dev").setIssuedAt(1750000000)
 *     .setExpirationTime(4102444800).sign(new TextEncoder().encode(JOSE_KEY)) */
#define JOSE_KEY "tr_dev_J0seT3stK3yAbCdEfGhIj"
#define JOSE_TOKEN                                                                                 \
    "eyJhbGciOiJIUzI1NiJ9."                                                                        \
    "eyJwdWIiOnRydWUsInN1YiI6ImNseDBlbnZpZDAwMDAwMDAwMDAwMDAwMGEiLCJzY29wZXMiOlsicmVhZDpydW5zOnJ1" \
    "bl9hYmMiLCJyZWFkOnRhZ3M6ZW52OnN0YWdpbmciXSwib3R1Ijp0cnVlLCJyZWFsdGltZSI6eyJza2lwQ29sdW1ucyI6" \
    "WyJwYXlsb2FkIl19LCJpc3MiOiJodHRwczovL2lkLnRyaWdnZXIuZGV2IiwiYXVkIjoiaHR0cHM6Ly9hcGkudHJpZ2dl" \
    "ci5kZXYiLCJpYXQiOjE3NTAwMDAwMDAsImV4cCI6NDEwMjQ0NDgwMH0."                                     \
    "fqyKPoo2589avyXgZHgKNMH2rxo9o-iQUY1rhE-tBIw"

/* jose, same key: {pub:true, sub:"env1", scopes:["read:all"]}, iat 1600000000,
 * exp 1600000900 (a 15 min token from 2020). */
#define JOSE_EXPIRED                                                                               \
    "eyJhbGciOiJIUzI1NiJ9."                                                                        \
    "eyJwdWIiOnRydWUsInN1YiI6ImVudjEiLCJzY29wZXMiOlsicmVhZDphbGwiXSwiaXNzIjoiaHR0cHM6Ly9pZC50cmln" \
    "Z2VyLmRldiIsImF1ZCI6Imh0dHBzOi8vYXBpLnRyaWdnZXIuZGV2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE2MDAw" \
    "MDA5MDB9."                                                                                    \
    "TTXfKOCIVsszfvNIGeWlqZx6lfKtTW-j-MV5E7XOC8U"

/* jose, same key: audience ["https://other.example","https://api.trigger.dev"],
 * nbf 2000000000, exp 4102444800, scopes []. */
#define JOSE_AUD_ARRAY_NBF                                                                         \
    "eyJhbGciOiJIUzI1NiJ9."                                                                        \
    "eyJwdWIiOnRydWUsInN1YiI6ImVudjEiLCJzY29wZXMiOltdLCJpc3MiOiJodHRwczovL2lkLnRyaWdnZXIuZGV2Iiwi" \
    "YXVkIjpbImh0dHBzOi8vb3RoZXIuZXhhbXBsZSIsImh0dHBzOi8vYXBpLnRyaWdnZXIuZGV2Il0sIm5iZiI6MjAwMDAw" \
    "MDAwMCwiZXhwIjo0MTAyNDQ0ODAwfQ."                                                              \
    "b_ITZ0wAR35J0eYlkTPQeEY5RzbzRoX__DHv9RUjahg"

#define NOW 1760000000LL /* 2025-10-09, inside every "valid" window below */
#define ISS_AUD "\"iss\":\"https://id.trigger.dev\",\"aud\":\"https://api.trigger.dev\""

/* Builds a token from raw header and payload JSON text, HMAC'd with key
 * (or with an empty signature when key is NULL). Caller frees. */
static char *make_token(const char *header, const char *payload, const char *key)
{
    char *h = crypto_b64url_encode(header, strlen(header));
    char *p = crypto_b64url_encode(payload, strlen(payload));
    size_t cap = strlen(h) + strlen(p) + 64;
    char *tok = malloc(cap);
    snprintf(tok, cap, "%s.%s", h, p);
    if (key) {
        unsigned char mac[32];
        crypto_hmac_sha256(key, strlen(key), tok, strlen(tok), mac);
        char *s = crypto_b64url_encode(mac, sizeof mac);
        strcat(tok, ".");
        strcat(tok, s);
        free(s);
    } else {
        strcat(tok, ".");
    }
    free(h);
    free(p);
    return tok;
}

static int verify_raw(const char *header, const char *payload, int64_t now)
{
    char *tok = make_token(header, payload, "k");
    json_t *claims = (json_t *)0x1;
    int rc = jwt_verify(tok, "k", now, &claims);
    if (rc == 0)
        json_decref(claims);
    else
        cr_assert_null(claims, "claims must be NULL on failure");
    free(tok);
    return rc;
}

static int verify_payload(const char *payload, int64_t now)
{
    return verify_raw("{\"alg\":\"HS256\"}", payload, now);
}

static void refuses(const char *token)
{
    json_t *claims = NULL;
    cr_assert_eq(jwt_verify(token, JOSE_KEY, NOW, &claims), ERR_UNAUTHORIZED, "accepted %s",
                 token ? token : "(null)");
    cr_assert_null(claims);
}

Test(jwt, token_signed_by_jose_verifies_and_yields_its_claims)
{
    json_t *claims = NULL;
    cr_assert_eq(jwt_verify(JOSE_TOKEN, JOSE_KEY, NOW, &claims), 0);
    cr_assert_not_null(claims);
    cr_assert_str_eq(json_string_value(json_object_get(claims, "sub")),
                     "clx0envid000000000000000a");
    cr_assert(json_is_true(json_object_get(claims, "pub")));
    cr_assert(json_is_true(json_object_get(claims, "otu")));
    json_t *scopes = json_object_get(claims, "scopes");
    cr_assert_eq(json_array_size(scopes), 2);
    cr_assert_str_eq(json_string_value(json_array_get(scopes, 1)), "read:tags:env:staging");
    json_decref(claims);
}

Test(jwt, jose_token_with_an_audience_array_verifies_once_nbf_has_passed)
{
    json_t *claims = NULL;
    cr_assert_eq(jwt_verify(JOSE_AUD_ARRAY_NBF, JOSE_KEY, 2000000000, &claims), 0);
    json_decref(claims);
    claims = NULL;
    cr_assert_eq(jwt_verify(JOSE_AUD_ARRAY_NBF, JOSE_KEY, 1999999999, &claims), ERR_UNAUTHORIZED);
    cr_assert_null(claims);
}

Test(jwt, expired_jose_token_reports_expired)
{
    json_t *claims = NULL;
    cr_assert_eq(jwt_verify(JOSE_EXPIRED, JOSE_KEY, NOW, &claims), ERR_EXPIRED);
    cr_assert_null(claims);
}

Test(jwt, exp_is_valid_until_the_second_before_it_and_expired_at_it)
{
    json_t *claims = NULL;
    cr_assert_eq(jwt_verify(JOSE_EXPIRED, JOSE_KEY, 1600000899, &claims), 0);
    json_decref(claims);
    cr_assert_eq(jwt_verify(JOSE_EXPIRED, JOSE_KEY, 1600000900, &claims), ERR_EXPIRED);
}

Test(jwt, expired_token_under_the_wrong_key_is_a_signature_failure_not_expiry)
{
    /* auth retries rotated keys only on ERR_UNAUTHORIZED, so the signature
     * must be judged before exp */
    json_t *claims = NULL;
    cr_assert_eq(jwt_verify(JOSE_EXPIRED, "tr_dev_other", NOW, &claims), ERR_UNAUTHORIZED);
}

Test(jwt, wrong_key_is_refused)
{
    json_t *claims = NULL;
    cr_assert_eq(jwt_verify(JOSE_TOKEN, "tr_dev_J0seT3stK3yAbCdEfGhIJ", NOW, &claims),
                 ERR_UNAUTHORIZED);
    cr_assert_eq(jwt_verify(JOSE_TOKEN, "", NOW, &claims), ERR_UNAUTHORIZED);
    cr_assert_eq(jwt_verify(JOSE_TOKEN, NULL, NOW, &claims), ERR_UNAUTHORIZED);
    cr_assert_null(claims);
}

Test(jwt, tampered_signature_is_refused)
{
    char tok[] = JOSE_TOKEN;
    char *last = tok + strlen(tok) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    refuses(tok);
}

Test(jwt, truncated_or_extended_signature_is_refused)
{
    char tok[sizeof JOSE_TOKEN + 4] = JOSE_TOKEN;
    tok[strlen(tok) - 1] = '\0';
    refuses(tok);
    strcpy(tok, JOSE_TOKEN);
    strcat(tok, "AAAA");
    refuses(tok);
}

Test(jwt, tampered_payload_is_refused)
{
    /* swap the payload for one granting read:all, keep jose's signature */
    const char *payload = "{\"pub\":true,\"sub\":\"clx0envid000000000000000a\","
                          "\"scopes\":[\"read:all\"]," ISS_AUD ",\"exp\":4102444800}";
    char *p64 = crypto_b64url_encode(payload, strlen(payload));
    const char *sig = strrchr(JOSE_TOKEN, '.');
    char tok[1024];
    snprintf(tok, sizeof tok, "eyJhbGciOiJIUzI1NiJ9.%s%s", p64, sig);
    free(p64);
    refuses(tok);
}

Test(jwt, alg_none_without_a_signature_is_refused)
{
    char *tok = make_token("{\"alg\":\"none\"}",
                           "{\"pub\":true,\"sub\":\"e\"," ISS_AUD ",\"exp\":4102444800}", NULL);
    refuses(tok);
    free(tok);
}

Test(jwt, alg_none_is_refused_even_with_a_valid_hmac)
{
    char *tok = make_token("{\"alg\":\"none\"}", "{" ISS_AUD "}", JOSE_KEY);
    refuses(tok);
    free(tok);
}

Test(jwt, algs_other_than_exactly_hs256_are_refused)
{
    cr_assert_eq(verify_raw("{\"alg\":\"HS512\"}", "{" ISS_AUD "}", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_raw("{\"alg\":\"RS256\"}", "{" ISS_AUD "}", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_raw("{\"alg\":\"hs256\"}", "{" ISS_AUD "}", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_raw("{\"alg\":[\"HS256\"]}", "{" ISS_AUD "}", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_raw("{\"typ\":\"JWT\"}", "{" ISS_AUD "}", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_raw("[\"HS256\"]", "{" ISS_AUD "}", NOW), ERR_UNAUTHORIZED);
}

Test(jwt, a_typ_header_is_tolerated_like_jose_does)
{
    cr_assert_eq(verify_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{" ISS_AUD "}", NOW), 0);
}

Test(jwt, critical_header_extensions_are_refused)
{
    cr_assert_eq(
        verify_raw("{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", "{" ISS_AUD "}", NOW),
        ERR_UNAUTHORIZED);
}

Test(jwt, wrong_or_missing_issuer_is_refused)
{
    const char *aud = "\"aud\":\"https://api.trigger.dev\"";
    char p[256];
    snprintf(p, sizeof p, "{\"iss\":\"https://id.trigger.dev/\",%s}", aud);
    cr_assert_eq(verify_payload(p, NOW), ERR_UNAUTHORIZED);
    snprintf(p, sizeof p, "{\"iss\":\"https://evil.example\",%s}", aud);
    cr_assert_eq(verify_payload(p, NOW), ERR_UNAUTHORIZED);
    snprintf(p, sizeof p, "{\"iss\":[\"https://id.trigger.dev\"],%s}", aud);
    cr_assert_eq(verify_payload(p, NOW), ERR_UNAUTHORIZED);
    snprintf(p, sizeof p, "{%s}", aud);
    cr_assert_eq(verify_payload(p, NOW), ERR_UNAUTHORIZED);
}

Test(jwt, wrong_or_missing_audience_is_refused)
{
    const char *iss = "\"iss\":\"https://id.trigger.dev\"";
    char p[256];
    snprintf(p, sizeof p, "{%s,\"aud\":\"https://api.trigger.dev.evil\"}", iss);
    cr_assert_eq(verify_payload(p, NOW), ERR_UNAUTHORIZED);
    snprintf(p, sizeof p, "{%s,\"aud\":[\"https://other.example\"]}", iss);
    cr_assert_eq(verify_payload(p, NOW), ERR_UNAUTHORIZED);
    snprintf(p, sizeof p, "{%s,\"aud\":[]}", iss);
    cr_assert_eq(verify_payload(p, NOW), ERR_UNAUTHORIZED);
    snprintf(p, sizeof p, "{%s,\"aud\":{\"0\":\"https://api.trigger.dev\"}}", iss);
    cr_assert_eq(verify_payload(p, NOW), ERR_UNAUTHORIZED);
    snprintf(p, sizeof p, "{%s}", iss);
    cr_assert_eq(verify_payload(p, NOW), ERR_UNAUTHORIZED);
}

Test(jwt, exp_and_iat_and_nbf_are_optional)
{
    cr_assert_eq(verify_payload("{" ISS_AUD "}", NOW), 0);
}

Test(jwt, non_numeric_time_claims_are_refused)
{
    cr_assert_eq(verify_payload("{" ISS_AUD ",\"exp\":\"4102444800\"}", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_payload("{" ISS_AUD ",\"exp\":null}", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_payload("{" ISS_AUD ",\"nbf\":\"0\"}", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_payload("{" ISS_AUD ",\"iat\":\"now\"}", NOW), ERR_UNAUTHORIZED);
}

Test(jwt, fractional_exp_is_compared_as_a_number)
{
    cr_assert_eq(verify_payload("{" ISS_AUD ",\"exp\":1000.5}", 1000), 0);
    cr_assert_eq(verify_payload("{" ISS_AUD ",\"exp\":1000.5}", 1001), ERR_EXPIRED);
}

Test(jwt, a_future_nbf_is_refused)
{
    cr_assert_eq(verify_payload("{" ISS_AUD ",\"nbf\":1001}", 1000), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_payload("{" ISS_AUD ",\"nbf\":1000}", 1000), 0);
}

Test(jwt, payloads_that_are_not_json_objects_are_refused)
{
    cr_assert_eq(verify_payload("[1,2]", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_payload("\"str\"", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_payload("{\"iss\":", NOW), ERR_UNAUTHORIZED);
    cr_assert_eq(verify_payload("", NOW), ERR_UNAUTHORIZED);
}

Test(jwt, malformed_compact_forms_are_refused)
{
    refuses(NULL);
    refuses("");
    refuses("tr_dev_abcdef");
    refuses("a.b");
    refuses("..");
    refuses("eyJhbGciOiJIUzI1NiJ9.e30");
    refuses("a.b.c.d.e"); /* JWE shape */
    char tok[sizeof JOSE_TOKEN + 8] = JOSE_TOKEN;
    strcat(tok, ".x");
    refuses(tok);
    strcpy(tok, JOSE_TOKEN);
    strcat(tok, "=");
    refuses(tok); /* padding is not JWS base64url */
    strcpy(tok, JOSE_TOKEN);
    tok[25] = '+';
    refuses(tok);
}

Test(jwt, sign_writes_exactly_the_jose_header)
{
    json_t *claims = json_pack("{s:s,s:b}", "sub", "env1", "pub", 1);
    char *tok = jwt_sign(claims, "key");
    cr_assert_not_null(tok);
    cr_assert_eq(strncmp(tok, "eyJhbGciOiJIUzI1NiJ9.", 21), 0, "header of %s", tok);
    size_t n;
    unsigned char *h = crypto_b64url_decode(tok, 20, &n);
    cr_assert_str_eq((char *)h, "{\"alg\":\"HS256\"}");
    free(h);
    free(tok);
    json_decref(claims);
}

Test(jwt, sign_reproduces_the_jose_token_byte_for_byte)
{
    /* same claims in the same order as the jose vector -> same token */
    json_t *claims = json_loads("{\"pub\":true,\"sub\":\"clx0envid000000000000000a\","
                                "\"scopes\":[\"read:runs:run_abc\",\"read:tags:env:staging\"],"
                                "\"otu\":true,\"realtime\":{\"skipColumns\":[\"payload\"]}," ISS_AUD
                                ",\"iat\":1750000000,\"exp\":4102444800}",
                                0, NULL);
    cr_assert_not_null(claims);
    char *tok = jwt_sign(claims, JOSE_KEY);
    cr_assert_str_eq(tok, JOSE_TOKEN);
    free(tok);
    json_decref(claims);
}

Test(jwt, signed_token_round_trips_through_verify)
{
    json_t *claims = json_pack("{s:s,s:b,s:[s],s:s,s:s,s:I}", "sub", "env1", "pub", 1, "scopes",
                               "read:runs:run_1", "iss", JWT_ISSUER, "aud", JWT_AUDIENCE, "exp",
                               (json_int_t)(NOW + 3600));
    char *tok = jwt_sign(claims, "tr_prod_secret");
    json_t *out = NULL;
    cr_assert_eq(jwt_verify(tok, "tr_prod_secret", NOW, &out), 0);
    cr_assert(json_equal(out, claims));
    json_decref(out);
    cr_assert_eq(jwt_verify(tok, "tr_prod_secret", NOW + 3600, &out), ERR_EXPIRED);
    free(tok);
    json_decref(claims);
}

Test(jwt, sign_refuses_non_object_claims_and_a_missing_key)
{
    json_t *arr = json_array();
    cr_assert_null(jwt_sign(arr, "k"));
    cr_assert_null(jwt_sign(NULL, "k"));
    json_t *obj = json_object();
    cr_assert_null(jwt_sign(obj, NULL));
    json_decref(arr);
    json_decref(obj);
}

Test(jwt, peek_reads_the_payload_without_checking_the_signature)
{
    char tok[] = JOSE_EXPIRED;
    tok[strlen(tok) - 3] ^= 1; /* break the signature */
    json_t *p = jwt_peek_payload(tok);
    cr_assert_not_null(p);
    cr_assert(json_is_true(json_object_get(p, "pub")));
    cr_assert_str_eq(json_string_value(json_object_get(p, "sub")), "env1");
    json_decref(p);
}

Test(jwt, peek_returns_null_for_secret_keys_and_non_object_payloads)
{
    cr_assert_null(jwt_peek_payload(NULL));
    cr_assert_null(jwt_peek_payload(""));
    cr_assert_null(jwt_peek_payload("tr_dev_abcdefghijklmnopqrst"));
    cr_assert_null(jwt_peek_payload("tr_dev.abc.def"));
    cr_assert_null(jwt_peek_payload("eyJhbGciOiJIUzI1NiJ9..sig"));
    char *arr = make_token("{\"alg\":\"HS256\"}", "[true]", "k");
    cr_assert_null(jwt_peek_payload(arr));
    free(arr);
}

Test(jwt, peek_accepts_an_unsigned_token_like_jose_decode_jwt)
{
    char *tok = make_token("{\"alg\":\"none\"}", "{\"pub\":true}", NULL);
    json_t *p = jwt_peek_payload(tok);
    cr_assert_not_null(p);
    json_decref(p);
    free(tok);
}
