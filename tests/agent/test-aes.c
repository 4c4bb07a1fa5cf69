/* The agent's AES block cipher: FIPS-197 vectors, then differential against OpenSSL. */
#include "agent-test.h"

static void aes_vector(const char *key_hex, size_t key_len, const char *pt_hex, const char *ct_hex)
{
	struct aes a;
	uint8_t key[32], pt[16], out[16];

	tu_hex(key_hex, key, key_len);
	tu_hex(pt_hex, pt, 16);
	ck_assert_int_eq(aes_setkey(&a, key, key_len), CRYPTO_OK);
	ck_assert_uint_eq(a.rounds, key_len == 16 ? 10 : 14);
	aes_encrypt(&a, pt, out);
	tu_assert_hex(out, 16, ct_hex);
}

/* FIPS-197 Appendix C.1 and B (the cipher example). */
START_TEST(aes128_fips197)
{
	aes_vector("000102030405060708090a0b0c0d0e0f", 16, "00112233445566778899aabbccddeeff",
		   "69c4e0d86a7b0430d8cdb78070b4c55a");
	aes_vector("2b7e151628aed2a6abf7158809cf4f3c", 16, "3243f6a8885a308d313198a2e0370734",
		   "3925841d02dc09fbdc118597196a0b32");
}
END_TEST

/* FIPS-197 Appendix C.3. */
START_TEST(aes256_fips197)
{
	aes_vector("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 32,
		   "00112233445566778899aabbccddeeff", "8ea2b7ca516745bfeafc49904b496089");
}
END_TEST

/* AES-192 is not needed and not offered; every other length is refused too. */
START_TEST(aes_rejects_key_lengths)
{
	static const size_t bad[] = {0, 1, 15, 17, 24, 31, 33, 64};
	uint8_t key[64] = {0};
	struct aes a;

	for (size_t i = 0; i < TU_N(bad); i++) {
		memset(&a, 0xa5, sizeof(a));
		ck_assert_int_eq(aes_setkey(&a, key, bad[i]), CRYPTO_ERR_LENGTH);
		for (size_t j = 0; j < sizeof(a); j++)
			ck_assert_uint_eq(((uint8_t *)&a)[j], 0);
	}
}
END_TEST

START_TEST(aes_in_place)
{
	struct aes a;
	uint8_t key[16], buf[16];

	tu_hex("000102030405060708090a0b0c0d0e0f", key, 16);
	tu_hex("00112233445566778899aabbccddeeff", buf, 16);
	ck_assert_int_eq(aes_setkey(&a, key, 16), CRYPTO_OK);
	aes_encrypt(&a, buf, buf);
	tu_assert_hex(buf, 16, "69c4e0d86a7b0430d8cdb78070b4c55a");
}
END_TEST

START_TEST(aes_wipe_zeroes_the_schedule)
{
	struct aes a;
	uint8_t key[32] = {1};

	ck_assert_int_eq(aes_setkey(&a, key, 32), CRYPTO_OK);
	aes_wipe(&a);
	for (size_t j = 0; j < sizeof(a); j++)
		ck_assert_uint_eq(((uint8_t *)&a)[j], 0);
}
END_TEST

/* Random keys and blocks against OpenSSL's AES; each key's schedule encrypts three
 * chained blocks, to cover its reuse. */
START_TEST(aes128_matches_openssl)
{
	struct at_rng r = at_rng(0xae5128);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		struct aes a;
		uint8_t key[16], in[16], want[16], got[16];

		at_fill(&r, key, 16);
		at_fill(&r, in, 16);
		ck_assert_int_eq(aes_setkey(&a, key, 16), CRYPTO_OK);
		for (int k = 0; k < 3; k++) {
			at_openssl_block(key, 16, in, want);
			aes_encrypt(&a, in, got);
			ck_assert_mem_eq(got, want, 16);
			memcpy(in, got, 16);
		}
	}
	at_report("aes128", n, &r);
}
END_TEST

START_TEST(aes256_matches_openssl)
{
	struct at_rng r = at_rng(0xae5256);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		struct aes a;
		uint8_t key[32], in[16], want[16], got[16];

		at_fill(&r, key, 32);
		at_fill(&r, in, 16);
		ck_assert_int_eq(aes_setkey(&a, key, 32), CRYPTO_OK);
		for (int k = 0; k < 3; k++) {
			at_openssl_block(key, 32, in, want);
			aes_encrypt(&a, in, got);
			ck_assert_mem_eq(got, want, 16);
			memcpy(in, got, 16);
		}
	}
	at_report("aes256", n, &r);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(aes128_fips197),
		TU_CASE(aes256_fips197),
		TU_CASE(aes_rejects_key_lengths),
		TU_CASE(aes_in_place),
		TU_CASE(aes_wipe_zeroes_the_schedule),
		TU_CASE_SLOW(aes128_matches_openssl, at_timeout()),
		TU_CASE_SLOW(aes256_matches_openssl, at_timeout()),
	};

	return tu_main("agent-aes", cases, TU_N(cases));
}
