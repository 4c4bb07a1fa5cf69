/* The agent's SHA-256, HMAC-SHA256 and HKDF-SHA256: FIPS 180-4's examples, RFC 4231,
 * RFC 5869, the limits, then differential against OpenSSL (lpa_sha256, EVP_Q_mac,
 * lpa_hkdf_sha256). */
#include "agent-test.h"

static void hash_hex(const char *text, size_t len, const char *want)
{
	uint8_t out[SHA256_LEN];

	sha256(text, len, out);
	tu_assert_hex(out, SHA256_LEN, want);
}

/* FIPS 180-4 examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf"). */
START_TEST(sha256_fips_examples)
{
	hash_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hash_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	hash_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

/* One million 'a' (the long example), fed in uneven pieces. */
START_TEST(sha256_million_a)
{
	uint8_t chunk[997], out[SHA256_LEN];
	struct sha256 c;
	size_t left = 1000000;

	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&c);
	while (left > 0) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

		sha256_update(&c, chunk, n);
		left -= n;
	}
	sha256_final(&c, out);
	tu_assert_hex(out, SHA256_LEN,
		      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

/* The padding edges: 55, 56, 63, 64 and 65 bytes, one-shot and byte by byte. */
START_TEST(sha256_padding_edges_match_openssl)
{
	uint8_t msg[130], out[SHA256_LEN], want[SHA256_LEN];

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	for (size_t len = 0; len <= sizeof(msg); len++) {
		struct sha256 c;

		ck_assert_int_eq(lpa_sha256(msg, len, want), LPA_OK);
		sha256(msg, len, out);
		ck_assert_mem_eq(out, want, SHA256_LEN);
		sha256_init(&c);
		for (size_t i = 0; i < len; i++)
			sha256_update(&c, msg + i, 1);
		sha256_final(&c, out);
		ck_assert_mem_eq(out, want, SHA256_LEN);
	}
}
END_TEST

START_TEST(sha256_final_wipes_the_state)
{
	struct sha256 c;
	uint8_t out[SHA256_LEN], zero[sizeof(c)];

	memset(zero, 0, sizeof(zero));
	sha256_init(&c);
	sha256_update(&c, "secret", 6);
	sha256_final(&c, out);
	ck_assert_mem_eq(&c, zero, sizeof(c));
}
END_TEST

/* RFC 4231 test cases 1-7 (case 5 is truncated to 128 bits). */
static const struct {
	const char *key, *data, *mac;
} rfc4231[] = {
	{"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	 "dddddddddddddddd",
	 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
	{"0102030405060708090a0b0c0d0e0f10111213141516171819",
	 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
	 "cdcdcdcdcdcdcdcd",
	 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
	{"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "546573742057697468205472756e636174696f6e",
	 "a3b6167473100ee06e0c796c2955552b"},
	{"AA131",
	 "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048"
	 "617368204b6579204669727374",
	 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	{"AA131",
	 "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d"
	 "73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174"
	 "612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e"
	 "6720757365642062792074686520484d414320616c676f726974686d2e",
	 "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

START_TEST(hmac_rfc4231)
{
	for (size_t i = 0; i < TU_N(rfc4231); i++) {
		uint8_t key[200], data[200], mac[SHA256_LEN];
		size_t kl = strlen(rfc4231[i].key) / 2, dl = strlen(rfc4231[i].data) / 2;

		/* Cases 6 and 7: a key of 131 bytes 0xaa, longer than a block. */
		if (strcmp(rfc4231[i].key, "AA131") == 0) {
			kl = 131;
			memset(key, 0xaa, kl);
		} else {
			tu_hex(rfc4231[i].key, key, kl);
		}
		tu_hex(rfc4231[i].data, data, dl);
		hmac_sha256(key, kl, data, dl, mac);
		tu_assert_hex(mac, strlen(rfc4231[i].mac) / 2, rfc4231[i].mac);
	}
}
END_TEST

/* RFC 5869 appendix A, cases 1-3 (SHA-256). */
START_TEST(hkdf_rfc5869)
{
	uint8_t ikm[80], salt[80], info[80], okm[82];

	tu_hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", ikm, 22);
	tu_hex("000102030405060708090a0b0c", salt, 13);
	tu_hex("f0f1f2f3f4f5f6f7f8f9", info, 10);
	ck_assert_int_eq(hkdf_sha256(ikm, 22, salt, 13, info, 10, okm, 42), CRYPTO_OK);
	tu_assert_hex(okm, 42,
		      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
		      "34007208d5b887185865");

	for (unsigned i = 0; i < 80; i++) {
		ikm[i] = (uint8_t)i;
		salt[i] = (uint8_t)(0x60 + i);
		info[i] = (uint8_t)(0xb0 + i);
	}
	ck_assert_int_eq(hkdf_sha256(ikm, 80, salt, 80, info, 80, okm, 82), CRYPTO_OK);
	tu_assert_hex(okm, 82,
		      "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
		      "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
		      "cc30c58179ec3e87c14c01d5c1f3434f1d87");

	memset(ikm, 0x0b, 22);
	ck_assert_int_eq(hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, okm, 42), CRYPTO_OK);
	tu_assert_hex(okm, 42,
		      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
		      "9d201395faa4b61a96c8");
}
END_TEST

/* 255 * 32 bytes is the most RFC 5869 allows: one more is refused, output zeroed. */
START_TEST(hkdf_output_length_limit)
{
	static uint8_t okm[255 * SHA256_LEN + 1], want[255 * SHA256_LEN];
	const uint8_t ikm[4] = {1, 2, 3, 4};

	ck_assert_int_eq(hkdf_sha256(ikm, 4, NULL, 0, NULL, 0, okm, 255 * SHA256_LEN), CRYPTO_OK);
	ck_assert_int_eq(lpa_hkdf_sha256(ikm, 4, ikm, 0, ikm, 0, want, sizeof(want)), LPA_OK);
	ck_assert_mem_eq(okm, want, sizeof(want));
	memset(okm, 0x55, sizeof(okm));
	ck_assert_int_eq(hkdf_sha256(ikm, 4, NULL, 0, NULL, 0, okm, sizeof(okm)),
			 CRYPTO_ERR_LENGTH);
	for (size_t i = 0; i < sizeof(okm); i++)
		ck_assert_uint_eq(okm[i], 0);
	ck_assert_int_eq(hkdf_sha256(ikm, 4, NULL, 0, NULL, 0, NULL, 0), CRYPTO_OK);
}
END_TEST

START_TEST(sha256_matches_openssl)
{
	struct at_rng r = at_rng(0x5a256);
	long n = at_cases();
	static uint8_t msg[1200];

	for (long i = 0; i < n; i++) {
		size_t len = at_len(&r, sizeof(msg)), cut = at_below(&r, len + 1);
		uint8_t out[SHA256_LEN], want[SHA256_LEN];
		struct sha256 c;

		at_fill(&r, msg, len);
		ck_assert_int_eq(lpa_sha256(msg, len, want), LPA_OK);
		sha256_init(&c);
		sha256_update(&c, msg, cut);
		sha256_update(&c, msg + cut, len - cut);
		sha256_final(&c, out);
		ck_assert_mem_eq(out, want, SHA256_LEN);
	}
	at_report("sha256", n, &r);
}
END_TEST

START_TEST(hmac_matches_openssl)
{
	struct at_rng r = at_rng(0x4ac);
	long n = at_cases();
	static uint8_t key[200], msg[600];

	for (long i = 0; i < n; i++) {
		size_t kl = at_len(&r, sizeof(key)), len = at_len(&r, sizeof(msg));
		uint8_t out[SHA256_LEN], want[SHA256_LEN];
		size_t want_len = 0;

		at_fill(&r, key, kl);
		at_fill(&r, msg, len);
		ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, kl, msg,
						len, want, sizeof(want), &want_len));
		ck_assert_uint_eq(want_len, SHA256_LEN);
		hmac_sha256(key, kl, msg, len, out);
		ck_assert_mem_eq(out, want, SHA256_LEN);
	}
	at_report("hmac-sha256", n, &r);
}
END_TEST

START_TEST(hkdf_matches_openssl)
{
	struct at_rng r = at_rng(0x4bdf);
	long n = at_cases();
	static uint8_t ikm[100], salt[100], info[200], out[600], want[600];

	for (long i = 0; i < n; i++) {
		size_t il = at_len(&r, sizeof(ikm)), sl = at_len(&r, sizeof(salt));
		size_t fl = at_len(&r, sizeof(info)), ol = 1 + at_len(&r, sizeof(out) - 1);

		at_fill(&r, ikm, il);
		at_fill(&r, salt, sl);
		at_fill(&r, info, fl);
		ck_assert_int_eq(lpa_hkdf_sha256(ikm, il, salt, sl, info, fl, want, ol), LPA_OK);
		ck_assert_int_eq(hkdf_sha256(ikm, il, salt, sl, info, fl, out, ol), CRYPTO_OK);
		ck_assert_mem_eq(out, want, ol);
	}
	at_report("hkdf-sha256", n, &r);
}
END_TEST

int main(void)
{
	struct tu_case cases[] = {
		TU_CASE(sha256_fips_examples),
		TU_CASE(sha256_million_a),
		TU_CASE(sha256_padding_edges_match_openssl),
		TU_CASE(sha256_final_wipes_the_state),
		TU_CASE(hmac_rfc4231),
		TU_CASE(hkdf_rfc5869),
		TU_CASE(hkdf_output_length_limit),
		TU_CASE_SLOW(sha256_matches_openssl, at_timeout()),
		TU_CASE_SLOW(hmac_matches_openssl, at_timeout()),
		TU_CASE_SLOW(hkdf_matches_openssl, at_timeout()),
	};

	return tu_main("agent-hash", cases, TU_N(cases));
}
