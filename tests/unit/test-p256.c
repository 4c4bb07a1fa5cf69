/* P-256 keys, ECDH, ECDSA and signature encodings. */
#include <openssl/evp.h>

#include "testutil.h"

START_TEST(ecdh_agrees)
{
	EVP_PKEY *a = NULL, *b = NULL;
	uint8_t x1[32], x2[32];

	ck_assert_int_eq(lpa_p256_generate(&a), LPA_OK);
	ck_assert_int_eq(lpa_p256_generate(&b), LPA_OK);
	ck_assert_int_eq(lpa_p256_ecdh(a, b, x1), LPA_OK);
	ck_assert_int_eq(lpa_p256_ecdh(b, a, x2), LPA_OK);
	ck_assert_mem_eq(x1, x2, 32);
	lpa_pkey_free(&a);
	lpa_pkey_free(&b);
}
END_TEST

/* d = 1 gives the generator: a known public key. */
START_TEST(from_private_known_point)
{
	uint8_t d[32] = {0}, pub[65];
	EVP_PKEY *k = NULL;
	lpa_secbuf *back = NULL;

	d[31] = 1;
	ck_assert_int_eq(lpa_p256_from_private(d, &k), LPA_OK);
	ck_assert_int_eq(lpa_p256_public_bytes(k, pub), LPA_OK);
	tu_assert_hex(pub, 65,
		      "04 6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
		      "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
	ck_assert_int_eq(lpa_p256_private_bytes(k, &back), LPA_OK);
	ck_assert_mem_eq(lpa_secbuf_cdata(back), d, 32);
	lpa_secbuf_free(&back);
	lpa_pkey_free(&k);
}
END_TEST

START_TEST(from_private_rejects_out_of_range)
{
	uint8_t zero[32] = {0}, order[32];
	EVP_PKEY *k = NULL;

	tu_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", order, 32);
	ck_assert_int_eq(lpa_p256_from_private(zero, &k), LPA_ERR_KEY);
	ck_assert_int_eq(lpa_p256_from_private(order, &k), LPA_ERR_KEY);
	ck_assert_ptr_null(k);
}
END_TEST

START_TEST(from_public_rejects_off_curve)
{
	uint8_t pub[65];
	EVP_PKEY *k = NULL;

	tu_hex("04 6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
	       "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
	       pub, 65);
	ck_assert_int_eq(lpa_p256_from_public(pub, &k), LPA_OK);
	lpa_pkey_free(&k);
	pub[64] ^= 1;
	ck_assert_int_eq(lpa_p256_from_public(pub, &k), LPA_ERR_KEY);
	pub[64] ^= 1;
	pub[0] = 0x02;
	ck_assert_int_eq(lpa_p256_from_public(pub, &k), LPA_ERR_KEY);
	ck_assert_ptr_null(k);
}
END_TEST

START_TEST(sign_verify_and_tamper)
{
	EVP_PKEY *k = NULL, *other = NULL;
	uint8_t sig[64];

	ck_assert_int_eq(lpa_p256_generate(&k), 0);
	ck_assert_int_eq(lpa_p256_generate(&other), 0);
	ck_assert_int_eq(lpa_p256_sign(k, "message", 7, sig), LPA_OK);
	ck_assert_int_eq(lpa_p256_verify(k, "message", 7, sig), LPA_OK);
	ck_assert_int_eq(lpa_p256_verify(k, "messagf", 7, sig), LPA_ERR_SIGNATURE);
	ck_assert_int_eq(lpa_p256_verify(other, "message", 7, sig), LPA_ERR_SIGNATURE);
	sig[5] ^= 0x10;
	ck_assert_int_eq(lpa_p256_verify(k, "message", 7, sig), LPA_ERR_SIGNATURE);
	memset(sig, 0, sizeof(sig)); /* r = s = 0 is never valid */
	ck_assert_int_eq(lpa_p256_verify(k, "message", 7, sig), LPA_ERR_SIGNATURE);
	lpa_pkey_free(&k);
	lpa_pkey_free(&other);
}
END_TEST

START_TEST(raw_der_round_trip)
{
	uint8_t raw[64], back[64], der[72];
	size_t n = 0;

	/* High bits set in r and s: DER must add a leading zero to both. */
	memset(raw, 0x80, 32);
	memset(raw + 32, 0x01, 32);
	ck_assert_int_eq(lpa_ecdsa_raw_to_der(raw, der, sizeof(der), &n), LPA_OK);
	ck_assert_uint_eq(n, 2 + 2 + 33 + 2 + 32);
	ck_assert_int_eq(lpa_ecdsa_der_to_raw(der, n, back), LPA_OK);
	ck_assert_mem_eq(raw, back, 64);
	ck_assert_int_eq(lpa_ecdsa_raw_to_der(raw, der, 10, &n), LPA_ERR_LENGTH);
}
END_TEST

START_TEST(der_rejects_trailing_and_garbage)
{
	uint8_t raw[64], der[80];
	size_t n = 0;

	memset(raw, 0x11, sizeof(raw));
	ck_assert_int_eq(lpa_ecdsa_raw_to_der(raw, der, sizeof(der), &n), LPA_OK);
	der[n] = 0;
	ck_assert_int_eq(lpa_ecdsa_der_to_raw(der, n + 1, raw), LPA_ERR_SIGNATURE);
	ck_assert_int_eq(lpa_ecdsa_der_to_raw((const uint8_t *)"\x30\x02\x02\x00", 4, raw),
			 LPA_ERR_SIGNATURE);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(ecdh_agrees),
		TU_CASE(from_private_known_point),
		TU_CASE(from_private_rejects_out_of_range),
		TU_CASE(from_public_rejects_off_curve),
		TU_CASE(sign_verify_and_tamper),
		TU_CASE(raw_der_round_trip),
		TU_CASE(der_rejects_trailing_and_garbage),
	};

	return tu_main("p256", cases, TU_N(cases));
}
