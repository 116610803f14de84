/*
 * tests/unit/test_crypto.c - SHA-256 and HMAC-SHA256 against published
 * vectors (FIPS 180-2, RFC 4231) and strict base64url (RFC 4648 section 5).
 */
#include "util/crypto.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex_of(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void decodes_to(const char *in, const char *want, size_t want_len)
{
    size_t n = 12345;
    unsigned char *got = crypto_b64url_decode(in, strlen(in), &n);
    cr_assert_not_null(got, "rejected \"%s\"", in);
    cr_assert_eq(n, want_len, "length of \"%s\"", in);
    cr_assert_eq(memcmp(got, want, want_len), 0);
    cr_assert_eq(got[n], '\0');
    free(got);
}

static void decode_rejects(const char *in)
{
    size_t n = 12345;
    cr_assert_null(crypto_b64url_decode(in, strlen(in), &n), "accepted \"%s\"", in);
}

Test(crypto, sha256_of_abc_matches_fips_180_2)
{
    char out[65];
    crypto_sha256_hex("abc", 3, out);
    cr_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(crypto, sha256_of_the_empty_string)
{
    char out[65];
    crypto_sha256_hex("", 0, out);
    cr_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(crypto, sha256_of_the_two_block_fips_message)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char out[65];
    crypto_sha256_hex(m, strlen(m), out);
    cr_assert_str_eq(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(crypto, hmac_sha256_matches_rfc_4231_case_1)
{
    unsigned char key[20], mac[32];
    memset(key, 0x0b, sizeof key);
    crypto_hmac_sha256(key, sizeof key, "Hi There", 8, mac);
    char hex[65];
    hex_of(mac, 32, hex);
    cr_assert_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

Test(crypto, hmac_sha256_hex_with_a_string_key_matches_rfc_4231_case_2)
{
    const char *msg = "what do ya want for nothing?";
    char out[65];
    crypto_hmac_sha256_hex("Jefe", msg, strlen(msg), out);
    cr_assert_str_eq(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

Test(crypto, hmac_sha256_hashes_keys_longer_than_a_block_rfc_4231_case_6)
{
    unsigned char key[131], mac[32];
    memset(key, 0xaa, sizeof key);
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    crypto_hmac_sha256(key, sizeof key, msg, strlen(msg), mac);
    char hex[65];
    hex_of(mac, 32, hex);
    cr_assert_str_eq(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

Test(crypto, hmac_sha256_accepts_an_empty_key_and_message)
{
    /* python: hmac.new(b"", b"", sha256).hexdigest() */
    char out[65];
    crypto_hmac_sha256_hex("", "", 0, out);
    cr_assert_str_eq(out, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

Test(crypto, b64url_encodes_rfc_4648_vectors_without_padding)
{
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *got = crypto_b64url_encode(in[i], strlen(in[i]));
        cr_assert_not_null(got);
        cr_assert_str_eq(got, want[i]);
        free(got);
    }
}

Test(crypto, b64url_uses_dash_and_underscore_instead_of_plus_and_slash)
{
    const unsigned char in[] = {0xfb, 0xff, 0xbf};
    char *got = crypto_b64url_encode(in, sizeof in);
    cr_assert_str_eq(got, "-_-_");
    free(got);
}

Test(crypto, b64url_decodes_rfc_4648_vectors)
{
    decodes_to("", "", 0);
    decodes_to("Zg", "f", 1);
    decodes_to("Zm8", "fo", 2);
    decodes_to("Zm9v", "foo", 3);
    decodes_to("Zm9vYmFy", "foobar", 6);
    decodes_to("-_-_", "\xfb\xff\xbf", 3);
}

Test(crypto, b64url_decode_accepts_correct_padding)
{
    decodes_to("Zg==", "f", 1);
    decodes_to("Zm8=", "fo", 2);
}

Test(crypto, b64url_decode_rejects_foreign_chars_and_bad_padding)
{
    decode_rejects("+/+/");  /* standard alphabet */
    decode_rejects("Zm9v!"); /* punctuation */
    decode_rejects("Zm 9v"); /* whitespace */
    decode_rejects("Z");     /* a lone char encodes no byte */
    decode_rejects("Zg=");   /* padding to the wrong length */
    decode_rejects("Zg===");
    decode_rejects("Z===");
    decode_rejects("Zm9v====");
    decode_rejects("Z=g="); /* padding in the middle */
    decode_rejects("====");
}

Test(crypto, b64url_decode_rejects_non_canonical_trailing_bits)
{
    decode_rejects("Zh"); /* "Zg" with a low bit set: same byte, second spelling */
    decode_rejects("Zm9");
    decodes_to("Zm8", "fo", 2);
}

Test(crypto, b64url_decode_honours_the_length_argument)
{
    size_t n;
    unsigned char *got = crypto_b64url_decode("Zm9v.garbage", 4, &n);
    cr_assert_not_null(got);
    cr_assert_eq(n, 3);
    free(got);
    cr_assert_null(crypto_b64url_decode(NULL, 0, &n));
}

Test(crypto, b64url_round_trips_every_byte_value_at_every_length_mod_3)
{
    unsigned char in[258];
    for (int i = 0; i < 258; i++)
        in[i] = (unsigned char)i;
    for (size_t len = 255; len <= 258; len++) {
        char *enc = crypto_b64url_encode(in, len);
        cr_assert_not_null(enc);
        size_t n;
        unsigned char *dec = crypto_b64url_decode(enc, strlen(enc), &n);
        cr_assert_not_null(dec);
        cr_assert_eq(n, len);
        cr_assert_eq(memcmp(dec, in, len), 0);
        free(enc);
        free(dec);
    }
}

Test(crypto, equal_compares_whole_buffers)
{
    cr_assert(crypto_equal("abcdef", "abcdef", 6));
    cr_assert_not(crypto_equal("abcdef", "abcdeg", 6));
    cr_assert_not(crypto_equal("xbcdef", "abcdef", 6));
    cr_assert(crypto_equal("a", "b", 0));
}

Test(crypto, hmac_sha256_with_keys_taking_turns_uses_each_key)
{
    /* the keyed digest states are kept for the last key: switching keys
     * back and forth, and a message with the same key twice, still gives
     * each key's MAC (RFC 4231 cases 1 and 2) */
    unsigned char k1[20], mac[32];
    memset(k1, 0x0b, sizeof k1);
    const char *msg = "what do ya want for nothing?";
    for (int round = 0; round < 3; round++) {
        crypto_hmac_sha256(k1, sizeof k1, "Hi There", 8, mac);
        char hex[65];
        hex_of(mac, 32, hex);
        cr_assert_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        for (int twice = 0; twice < 2; twice++) {
            crypto_hmac_sha256_hex("Jefe", msg, strlen(msg), hex);
            cr_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        }
    }
}
