/* The agent's AES-CMAC: RFC 4493's four examples, verification, the incremental form,
 * then differential against lpa/core's OpenSSL CMAC. */
#include "agent-test.h"

#define RFC_KEY "2b7e151628aed2a6abf7158809cf4f3c"
#define RFC_MSG                                                                                    \
	"6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"                         \
	"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"

static const struct {
	size_t len;
	const char *mac;
} rfc4493[] = {
	{0, "bb1d6929e95937287fa37d129b756746"},
	{16, "070a16b46b4d4144f79bdd9dd04a287c"},
	{40, "dfa66747de9ae63030ca32611497c827"},
	{64, "51f0bebf7e3b9d92fc49741779363cfe"},
};

START_TEST(cmac_rfc4493_examples)
{
	uint8_t key[16], msg[64], mac[16];

	tu_hex(RFC_KEY, key, 16);
	tu_hex(RFC_MSG, msg, 64);
	for (size_t i = 0; i < TU_N(rfc4493); i++) {
		cmac_aes128(key, msg, rfc4493[i].len, mac);
		tu_assert_hex(mac, 16, rfc4493[i].mac);
	}
}
END_TEST

START_TEST(cmac_empty_message_with_null_pointer)
{
	uint8_t key[16], mac[16];

	tu_hex(RFC_KEY, key, 16);
	cmac_aes128(key, NULL, 0, mac);
	tu_assert_hex(mac, 16, "bb1d6929e95937287fa37d129b756746");
}
END_TEST

/* Any split of the message gives the same MAC, including empty updates. */
START_TEST(cmac_incremental_equals_one_shot)
{
	uint8_t key[16], msg[64], mac[16], want[16];

	tu_hex(RFC_KEY, key, 16);
	tu_hex(RFC_MSG, msg, 64);
	for (size_t i = 0; i < TU_N(rfc4493); i++) {
		size_t len = rfc4493[i].len;

		tu_hex(rfc4493[i].mac, want, 16);
		for (size_t a = 0; a <= len; a++) {
			for (size_t b = a; b <= len; b += 7) {
				struct cmac_aes128 c;

				cmac_aes128_init(&c, key);
				cmac_aes128_update(&c, msg, a);
				cmac_aes128_update(&c, msg + a, 0);
				cmac_aes128_update(&c, msg + a, b - a);
				cmac_aes128_update(&c, msg + b, len - b);
				cmac_aes128_final(&c, mac);
				ck_assert_mem_eq(mac, want, 16);
			}
		}
	}
}
END_TEST

START_TEST(cmac_final_wipes_the_state)
{
	struct cmac_aes128 c;
	uint8_t key[16] = {1}, mac[16];

	cmac_aes128_init(&c, key);
	cmac_aes128_update(&c, "abc", 3);
	cmac_aes128_final(&c, mac);
	for (size_t j = 0; j < sizeof(c); j++)
		ck_assert_uint_eq(((uint8_t *)&c)[j], 0);
}
END_TEST

/* Every prefix length 1..16 verifies; each flipped bit of the compared prefix is refused. */
START_TEST(cmac_verify_truncated_macs)
{
	uint8_t key[16], msg[64], mac[16];

	tu_hex(RFC_KEY, key, 16);
	tu_hex(RFC_MSG, msg, 64);
	tu_hex(rfc4493[2].mac, mac, 16);
	for (size_t n = 1; n <= 16; n++) {
		ck_assert_int_eq(cmac_aes128_verify(key, msg, 40, mac, n), CRYPTO_OK);
		for (size_t b = 0; b < 8 * n; b++) {
			mac[b / 8] ^= (uint8_t)(1u << (b % 8));
			ck_assert_int_eq(cmac_aes128_verify(key, msg, 40, mac, n), CRYPTO_ERR_TAG);
			mac[b / 8] ^= (uint8_t)(1u << (b % 8));
		}
	}
	/* A different message under the same MAC. */
	ck_assert_int_eq(cmac_aes128_verify(key, msg, 39, mac, 16), CRYPTO_ERR_TAG);
	ck_assert_int_eq(cmac_aes128_verify(key, msg, 41, mac, 16), CRYPTO_ERR_TAG);
}
END_TEST

START_TEST(cmac_verify_rejects_mac_lengths)
{
	uint8_t key[16] = {0}, mac[32] = {0};

	ck_assert_int_eq(cmac_aes128_verify(key, "", 0, mac, 0), CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(cmac_aes128_verify(key, "", 0, mac, 17), CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(cmac_aes128_verify(key, "", 0, mac, 32), CRYPTO_ERR_LENGTH);
}
END_TEST

START_TEST(cmac_matches_openssl)
{
	struct at_rng r = at_rng(0xc3ac);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		uint8_t key[16], msg[300], want[16], got[16];
		size_t len = at_len(&r, sizeof(msg)), cut = len > 0 ? at_below(&r, len + 1) : 0;
		struct cmac_aes128 c;

		at_fill(&r, key, 16);
		at_fill(&r, msg, len);
		ck_assert_int_eq(lpa_aes_cmac(key, msg, len, want), LPA_OK);
		cmac_aes128(key, msg, len, got);
		ck_assert_mem_eq(got, want, 16);
		/* The incremental form at a random cut, and verification of a random prefix. */
		cmac_aes128_init(&c, key);
		cmac_aes128_update(&c, msg, cut);
		cmac_aes128_update(&c, msg + cut, len - cut);
		cmac_aes128_final(&c, got);
		ck_assert_mem_eq(got, want, 16);
		ck_assert_int_eq(cmac_aes128_verify(key, msg, len, want, 1 + at_below(&r, 16)),
				 CRYPTO_OK);
	}
	at_report("aes-cmac", n, &r);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(cmac_rfc4493_examples),
		TU_CASE(cmac_empty_message_with_null_pointer),
		TU_CASE(cmac_incremental_equals_one_shot),
		TU_CASE(cmac_final_wipes_the_state),
		TU_CASE(cmac_verify_truncated_macs),
		TU_CASE(cmac_verify_rejects_mac_lengths),
		TU_CASE_SLOW(cmac_matches_openssl, at_timeout()),
	};

	return tu_main("agent-cmac", cases, TU_N(cases));
}
