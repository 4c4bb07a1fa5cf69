/* Symmetric primitives against their RFC / NIST vectors. */
#include "testutil.h"

static const char *cmac_key = "2b7e151628aed2a6abf7158809cf4f3c";
static const char *cmac_msg = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
			      "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";

static void cmac_case(size_t len, const char *want)
{
	uint8_t key[16], msg[64], mac[16];

	tu_hex(cmac_key, key, 16);
	tu_hex(cmac_msg, msg, 64);
	ck_assert_int_eq(lpa_aes_cmac(key, msg, len, mac), LPA_OK);
	tu_assert_hex(mac, 16, want);
}

START_TEST(cmac_rfc4493_empty)
{
	cmac_case(0, "bb1d6929e95937287fa37d129b756746");
}
END_TEST

START_TEST(cmac_rfc4493_16)
{
	cmac_case(16, "070a16b46b4d4144f79bdd9dd04a287c");
}
END_TEST

START_TEST(cmac_rfc4493_40)
{
	cmac_case(40, "dfa66747de9ae63030ca32611497c827");
}
END_TEST

START_TEST(cmac_rfc4493_64)
{
	cmac_case(64, "51f0bebf7e3b9d92fc49741779363cfe");
}
END_TEST

static const struct {
	const char *data, *kek, *wrapped;
} kw_vectors[] = {
	{"00112233445566778899AABBCCDDEEFF", "000102030405060708090A0B0C0D0E0F",
	 "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
	{"00112233445566778899AABBCCDDEEFF", "000102030405060708090A0B0C0D0E0F1011121314151617",
	 "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"},
	{"00112233445566778899AABBCCDDEEFF",
	 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
	 "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"},
	{"00112233445566778899AABBCCDDEEFF0001020304050607",
	 "000102030405060708090A0B0C0D0E0F1011121314151617",
	 "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2"},
	{"00112233445566778899AABBCCDDEEFF0001020304050607",
	 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
	 "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1"},
	{"00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
	 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
	 "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
};

/* All six RFC 3394 §4 vectors, both directions. */
START_TEST(keywrap_rfc3394)
{
	for (size_t i = 0; i < TU_N(kw_vectors); i++) {
		size_t dl = strlen(kw_vectors[i].data) / 2, kl = strlen(kw_vectors[i].kek) / 2;
		uint8_t data[32], kek[32], out[40], back[32];

		tu_hex(kw_vectors[i].data, data, dl);
		tu_hex(kw_vectors[i].kek, kek, kl);
		ck_assert_int_eq(lpa_aes_keywrap(kek, kl, data, dl, out), LPA_OK);
		tu_assert_hex(out, dl + 8, kw_vectors[i].wrapped);
		ck_assert_int_eq(lpa_aes_keyunwrap(kek, kl, out, dl + 8, back), LPA_OK);
		ck_assert_mem_eq(back, data, dl);
	}
}
END_TEST

START_TEST(keyunwrap_detects_tampering)
{
	uint8_t kek[16], w[24], out[16];

	tu_hex(kw_vectors[0].kek, kek, 16);
	tu_hex(kw_vectors[0].wrapped, w, 24);
	w[10] ^= 1;
	ck_assert_int_eq(lpa_aes_keyunwrap(kek, 16, w, 24, out), LPA_ERR_UNWRAP);
	ck_assert_int_eq(lpa_aes_keyunwrap(kek, 16, w, 20, out), LPA_ERR_LENGTH);
	ck_assert_int_eq(lpa_aes_keyunwrap(kek, 15, w, 24, out), LPA_ERR_INVAL);
}
END_TEST

/* RFC 5869 A.1. */
START_TEST(hkdf_rfc5869_case1)
{
	uint8_t ikm[22], salt[13], info[10], okm[42];

	memset(ikm, 0x0b, sizeof(ikm));
	tu_hex("000102030405060708090a0b0c", salt, 13);
	tu_hex("f0f1f2f3f4f5f6f7f8f9", info, 10);
	ck_assert_int_eq(lpa_hkdf_sha256(ikm, 22, salt, 13, info, 10, okm, 42), LPA_OK);
	tu_assert_hex(okm, 42,
		      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
		      "34007208d5b887185865");
}
END_TEST

/* NIST GCM test case 14 (AES-256, zero key and IV, one zero block). */
START_TEST(gcm_nist_case14)
{
	uint8_t key[32] = {0}, iv[12] = {0}, pt[16] = {0}, ct[16], tag[16], back[16];

	ck_assert_int_eq(lpa_aes256gcm_seal(key, iv, NULL, 0, pt, 16, ct, tag), LPA_OK);
	tu_assert_hex(ct, 16, "cea7403d4d606b6e074ec5d3baf39d18");
	tu_assert_hex(tag, 16, "d0d1c8a799996bf0265b98b5d48ab919");
	ck_assert_int_eq(lpa_aes256gcm_open(key, iv, NULL, 0, ct, 16, tag, back), LPA_OK);
	ck_assert_mem_eq(back, pt, 16);
}
END_TEST

START_TEST(gcm_rejects_modified_aad_and_wipes)
{
	uint8_t key[32] = {1}, iv[12] = {2}, aad[5] = "head", pt[16], ct[16], tag[16], back[16];

	memset(pt, 0x5a, sizeof(pt));
	ck_assert_int_eq(lpa_aes256gcm_seal(key, iv, aad, 5, pt, 16, ct, tag), LPA_OK);
	aad[0] ^= 0x80;
	memset(back, 0xee, sizeof(back));
	ck_assert_int_eq(lpa_aes256gcm_open(key, iv, aad, 5, ct, 16, tag, back), LPA_ERR_UNWRAP);
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(back[i], 0); /* no unauthenticated plaintext is left behind */
}
END_TEST

START_TEST(sha256_abc)
{
	uint8_t h[32];

	ck_assert_int_eq(lpa_sha256("abc", 3, h), LPA_OK);
	tu_assert_hex(h, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(cmac_rfc4493_empty),
		TU_CASE(cmac_rfc4493_16),
		TU_CASE(cmac_rfc4493_40),
		TU_CASE(cmac_rfc4493_64),
		TU_CASE(keywrap_rfc3394),
		TU_CASE(keyunwrap_detects_tampering),
		TU_CASE(hkdf_rfc5869_case1),
		TU_CASE(gcm_nist_case14),
		TU_CASE(gcm_rejects_modified_aad_and_wipes),
		TU_CASE(sha256_abc),
	};

	return tu_main("symmetric", cases, TU_N(cases));
}
