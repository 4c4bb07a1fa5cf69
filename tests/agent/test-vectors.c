/*
 * test-agent-vectors docs/protocols.md — the chip's side of the worked vectors, with
 * the agent's own crypto only: derive the three public keys, compute the ECDH secret
 * from the chip's end, the salt and the KEK, open the vector LPK1 with the vector DIK,
 * verify the KMS signature, then recompute the LPR1 and LPP1 check values and verify
 * their DIK signatures. The document is read, not copied: a changed vector changes
 * what is checked.
 */
#include <ctype.h>

#include "agent-test.h"
#include "vecset.h"

static struct vecset doc;
static const char *doc_path;

static const uint8_t *vec(const char *name, size_t len)
{
	const struct vec *v;

	if (doc.n == 0)
		vec_load(doc_path, &doc);
	v = vec_find(&doc, name);
	ck_assert_msg(v != NULL, "vector %s missing from %s", name, doc_path);
	ck_assert_msg(v->len == len, "%s: %zu bytes, want %zu", name, v->len, len);
	return v->val;
}

START_TEST(vectors_public_keys)
{
	static const char *const names[] = {"dik", "kms", "eph"};

	for (size_t i = 0; i < TU_N(names); i++) {
		char d[16], pub[16];
		uint8_t got[P256_PUB_LEN];

		snprintf(d, sizeof(d), "%s_d", names[i]);
		snprintf(pub, sizeof(pub), "%s_pub", names[i]);
		ck_assert_int_eq(p256_public_from_private(vec(d, 32), got), CRYPTO_OK);
		ck_assert_mem_eq(got, vec(pub, P256_PUB_LEN), P256_PUB_LEN);
	}
}
END_TEST

/* The KMS's ECDH(eph, DIK) equals the chip's ECDH(DIK, eph). */
START_TEST(vectors_ecdh_both_ends)
{
	uint8_t x[32];

	ck_assert_int_eq(p256_ecdh(vec("dik_d", 32), vec("eph_pub", 65), 65, x), CRYPTO_OK);
	ck_assert_mem_eq(x, vec("ecdh_x", 32), 32);
	ck_assert_int_eq(p256_ecdh(vec("eph_d", 32), vec("dik_pub", 65), 65, x), CRYPTO_OK);
	ck_assert_mem_eq(x, vec("ecdh_x", 32), 32);
}
END_TEST

START_TEST(vectors_kek)
{
	uint8_t salt[32], info[13 + 48], kek[32];

	sha256(vec("dik_pub", 65), 65, salt);
	ck_assert_mem_eq(salt, vec("salt", 32), 32);
	memcpy(info, "LPK1 key wrap", 13);
	memcpy(info + 13, vec("header", 48), 48);
	ck_assert_mem_eq(info, vec("info", sizeof(info)), sizeof(info));
	ck_assert_int_eq(hkdf_sha256(vec("ecdh_x", 32), 32, salt, 32, info, sizeof(info), kek, 32),
			 CRYPTO_OK);
	ck_assert_mem_eq(kek, vec("kek", 32), 32);
}
END_TEST

/* The whole chip path from the 237 package bytes: KMS signature, then ECDH from the
 * package's ephemeral key, KEK, GCM open to AppKey || NwkKey. */
START_TEST(vectors_open_lpk1_with_dik)
{
	uint8_t pkg[LPA_LPK1_LEN], h[32], x[32], salt[32], info[13 + 48], kek[32], keys[32];

	memcpy(pkg, vec("lpk1_signed", LPA_LPK1_SIGNED_LEN), LPA_LPK1_SIGNED_LEN);
	memcpy(pkg + LPA_LPK1_SIGNED_LEN, vec("lpk1_signature", 64), 64);
	sha256(pkg, LPA_LPK1_LEN, h);
	ck_assert_mem_eq(h, vec("lpk1_sha256", 32), 32);
	sha256(pkg, LPA_LPK1_SIGNED_LEN, h);
	ck_assert_int_eq(p256_verify(vec("kms_pub", 65), 65, h, pkg + LPA_LPK1_SIGNED_LEN, 64),
			 CRYPTO_OK);
	ck_assert_mem_eq(pkg, vec("aad", LPA_LPK1_AAD_LEN), LPA_LPK1_AAD_LEN);
	ck_assert_int_eq(p256_ecdh(vec("dik_d", 32), pkg + 48, 65, x), CRYPTO_OK);
	sha256(vec("dik_pub", 65), 65, salt);
	memcpy(info, "LPK1 key wrap", 13);
	memcpy(info + 13, pkg, 48);
	ck_assert_int_eq(hkdf_sha256(x, 32, salt, 32, info, sizeof(info), kek, 32), CRYPTO_OK);
	ck_assert_int_eq(
		gcm_open(kek, 32, pkg + 113, pkg, LPA_LPK1_AAD_LEN, pkg + 125, 32, pkg + 157, keys),
		CRYPTO_OK);
	ck_assert_mem_eq(keys, vec("app_key", 16), 16);
	ck_assert_mem_eq(keys + 16, vec("nwk_key", 16), 16);
	/* one changed AAD byte (the counter) and the chip refuses, releasing nothing */
	pkg[35] ^= 1;
	memset(keys, 0x55, sizeof(keys));
	ck_assert_int_eq(
		gcm_open(kek, 32, pkg + 113, pkg, LPA_LPK1_AAD_LEN, pkg + 125, 32, pkg + 157, keys),
		CRYPTO_ERR_TAG);
	for (size_t i = 0; i < sizeof(keys); i++)
		ck_assert_uint_eq(keys[i], 0);
	sha256(pkg, LPA_LPK1_SIGNED_LEN, h);
	ck_assert_int_eq(p256_verify(vec("kms_pub", 65), 65, h, pkg + LPA_LPK1_SIGNED_LEN, 64),
			 CRYPTO_ERR_SIGNATURE);
}
END_TEST

/* label || fields -> the first 8 bytes of AES-CMAC under key. */
static void check_value(const uint8_t key[16], const char *label, const uint8_t *fields, size_t len,
			uint8_t out[8])
{
	uint8_t in[64], mac[16];

	ck_assert_uint_le(8 + len, sizeof(in));
	memcpy(in, label, 8);
	memcpy(in + 8, fields, len);
	cmac_aes128(key, in, 8 + len, mac);
	memcpy(out, mac, 8);
}

/* A record (LPR1: fields [4,40), LPP1: [4,36)) as the chip builds it: its check
 * values and a DIK signature; the document's signature (one ECDSA sample) verifies,
 * and so does ours, which is RFC 6979's and therefore reproducible. */
static void check_record(const char *kind, size_t fields_end)
{
	char name[32], app_label[9], nwk_label[9];
	size_t signed_len = fields_end + 16;
	const uint8_t *sgn;
	uint8_t chk[8], h[32], sig[64], pub[65];

	snprintf(name, sizeof(name), "%s_signed", kind);
	sgn = vec(name, signed_len);
	snprintf(app_label, sizeof(app_label), "%c%c%c%c app", toupper(kind[0]), toupper(kind[1]),
		 toupper(kind[2]), kind[3]);
	snprintf(nwk_label, sizeof(nwk_label), "%.4s nwk", app_label);
	snprintf(name, sizeof(name), "%s_app_input", kind);
	ck_assert_mem_eq(vec(name, 8 + fields_end - 4), app_label, 8);
	check_value(vec("app_key", 16), app_label, sgn + 4, fields_end - 4, chk);
	snprintf(name, sizeof(name), "%s_app_check", kind);
	ck_assert_mem_eq(chk, vec(name, 8), 8);
	ck_assert_mem_eq(sgn + fields_end, chk, 8);
	check_value(vec("nwk_key", 16), nwk_label, sgn + 4, fields_end - 4, chk);
	snprintf(name, sizeof(name), "%s_nwk_check", kind);
	ck_assert_mem_eq(chk, vec(name, 8), 8);
	ck_assert_mem_eq(sgn + fields_end + 8, chk, 8);

	sha256(sgn, signed_len, h);
	snprintf(name, sizeof(name), "%s_signature", kind);
	ck_assert_int_eq(p256_verify(vec("dik_pub", 65), 65, h, vec(name, 64), 64), CRYPTO_OK);
	ck_assert_int_eq(p256_sign(vec("dik_d", 32), h, NULL, 0, sig), CRYPTO_OK);
	ck_assert_int_eq(p256_verify(vec("dik_pub", 65), 65, h, sig, 64), CRYPTO_OK);
	memcpy(pub, vec("dik_pub", 65), 65);
	{
		EVP_PKEY *k = NULL;

		ck_assert_int_eq(lpa_p256_from_public(pub, &k), LPA_OK);
		ck_assert_int_eq(lpa_p256_verify(k, sgn, signed_len, sig), LPA_OK);
		lpa_pkey_free(&k);
	}
}

START_TEST(vectors_lpr1_receipt)
{
	/* the receipt names the package by the first 16 bytes of its hash */
	ck_assert_mem_eq(vec("lpr1_signed", 56) + 24, vec("lpk1_sha256", 32), 16);
	check_record("lpr1", 40);
}
END_TEST

START_TEST(vectors_lpp1_proof)
{
	ck_assert_mem_eq(vec("lpp1_signed", 52) + 20, vec("challenge", 16), 16);
	check_record("lpp1", 36);
}
END_TEST

int main(int argc, char **argv)
{
	struct tu_case cases[] = {
		TU_CASE(vectors_public_keys),  TU_CASE(vectors_ecdh_both_ends),
		TU_CASE(vectors_kek),          TU_CASE(vectors_open_lpk1_with_dik),
		TU_CASE(vectors_lpr1_receipt), TU_CASE(vectors_lpp1_proof),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s docs/protocols.md\n", argv[0]);
		return 2;
	}
	doc_path = argv[1];
	return tu_main("agent-vectors", cases, TU_N(cases));
}
