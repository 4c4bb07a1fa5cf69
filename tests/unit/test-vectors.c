/*
 * test-vectors — the worked LPK1/LPR1/LPP1 vectors in docs/protocols.md are true.
 *
 *   test-vectors docs/protocols.md    recompute every deterministic value from the
 *                                     document's inputs, compare, verify its signatures
 *   test-vectors --generate FILE      write a fresh vector block (fixed inputs, new
 *                                     ECDSA signatures) for the document to FILE
 *
 * Values in the document are lines "name = hex", continued on indented hex-only lines.
 */
#include <ctype.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "testutil.h"
#include "vecset.h"

static struct vecset doc;
static const char *doc_path;
static FILE *vec_out;

static void vec_put(struct vecset *s, const char *name, const void *val, size_t len)
{
	struct vec *v = vec_find(s, name);

	if (v == NULL) {
		ck_assert_uint_lt(s->n, VEC_MAX);
		v = &s->v[s->n++];
		snprintf(v->name, sizeof(v->name), "%s", name);
	}
	ck_assert_uint_le(len, VEC_LEN);
	memcpy(v->val, val, len);
	v->len = len;
}

static const uint8_t *vec_get(struct vecset *s, const char *name, size_t len)
{
	struct vec *v = vec_find(s, name);

	ck_assert_msg(v != NULL, "vector value %s missing", name);
	ck_assert_msg(v->len == len, "%s: %zu bytes, want %zu", name, v->len, len);
	return v->val;
}

static uint64_t vec_uint(struct vecset *s, const char *name, unsigned n)
{
	return lpa_be_get(vec_get(s, name, n), n);
}

static void vec_print(const struct vec *v)
{
	char hex[2 * 32 + 1];

	for (size_t off = 0; off < v->len || off == 0; off += 32) {
		size_t n = v->len - off < 32 ? v->len - off : 32;

		lpa_hex_encode(v->val + off, n, hex);
		if (off == 0)
			fprintf(vec_out, "%-16s= %s\n", v->name, hex);
		else
			fprintf(vec_out, "%-18s%s\n", "", hex);
		if (v->len == 0)
			break;
	}
}

static EVP_PKEY *vec_key(struct vecset *s, const char *dname)
{
	EVP_PKEY *k = NULL;

	ck_assert_int_eq(lpa_p256_from_private(vec_get(s, dname, 32), &k), LPA_OK);
	return k;
}

/* Every value that follows deterministically from the inputs in `in`, into `out`. */
static void vec_compute(struct vecset *in, struct vecset *out)
{
	EVP_PKEY *dik = vec_key(in, "dik_d"), *kms = vec_key(in, "kms_d"), *eph = NULL;
	uint8_t pub[65], pkg[LPA_LPK1_LEN], x[32], salt[32], info[13 + 48], kek[32], hash[32];
	uint8_t buf[64], chk[16];
	struct lpa_lpk1_hdr h = {0};
	lpa_secbuf *keys = lpa_secbuf_new(32);

	memcpy(lpa_secbuf_data(keys), vec_get(in, "app_key", 16), 16);
	memcpy(lpa_secbuf_data(keys) + 16, vec_get(in, "nwk_key", 16), 16);
	eph = vec_key(in, "eph_d");
	ck_assert_int_eq(lpa_p256_public_bytes(dik, pub), 0);
	vec_put(out, "dik_pub", pub, 65);
	ck_assert_int_eq(lpa_p256_public_bytes(kms, pub), 0);
	vec_put(out, "kms_pub", pub, 65);
	ck_assert_int_eq(lpa_p256_public_bytes(eph, pub), 0);
	vec_put(out, "eph_pub", pub, 65);

	h.lorawan = (uint8_t)vec_uint(in, "lorawan", 1);
	h.dev_eui = vec_uint(in, "dev_eui", 8);
	h.join_eui = vec_uint(in, "join_eui", 8);
	h.chip_uid = vec_uint(in, "chip_uid", 8);
	h.counter = (uint32_t)vec_uint(in, "counter", 4);
	h.key_id = (uint32_t)vec_uint(in, "key_id", 4);
	h.issued_at = vec_uint(in, "issued_at", 8);
	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dik, kms, eph, vec_get(in, "nonce", 12), pkg),
			 LPA_OK);
	vec_put(out, "header", pkg, 48);
	ck_assert_int_eq(lpa_p256_ecdh(eph, dik, x), 0);
	vec_put(out, "ecdh_x", x, 32);
	ck_assert_int_eq(lpa_sha256(vec_get(out, "dik_pub", 65), 65, salt), 0);
	vec_put(out, "salt", salt, 32);
	memcpy(info, "LPK1 key wrap", 13);
	memcpy(info + 13, pkg, 48);
	vec_put(out, "info", info, sizeof(info));
	ck_assert_int_eq(lpa_lpk1_kek(x, vec_get(out, "dik_pub", 65), pkg, kek), 0);
	vec_put(out, "kek", kek, 32);
	vec_put(out, "aad", pkg, 113);
	vec_put(out, "ciphertext", pkg + 125, 32);
	vec_put(out, "tag", pkg + 157, 16);
	vec_put(out, "lpk1_signed", pkg, 173);

	/* LPR1 over the document's package (its signature is part of the hash). */
	if (vec_find(in, "lpk1_signature") != NULL) {
		uint8_t full[LPA_LPK1_LEN];

		memcpy(full, pkg, 173);
		memcpy(full + 173, vec_get(in, "lpk1_signature", 64), 64);
		ck_assert_int_eq(lpa_sha256(full, sizeof(full), hash), 0);
	} else {
		ck_assert_int_eq(lpa_sha256(pkg, sizeof(pkg), hash), 0);
	}
	vec_put(out, "lpk1_sha256", hash, 32);
	memcpy(buf, "LPR1", 4);
	lpa_be_put(buf + 4, h.dev_eui, 8);
	lpa_be_put(buf + 12, h.chip_uid, 8);
	lpa_be_put(buf + 20, h.counter, 4);
	memcpy(buf + 24, hash, 16);
	{
		uint8_t m[44];

		memcpy(m, "LPR1 app", 8);
		memcpy(m + 8, buf + 4, 36);
		vec_put(out, "lpr1_app_input", m, 44);
		ck_assert_int_eq(lpa_aes_cmac(lpa_secbuf_cdata(keys), m, 44, chk), 0);
		memcpy(buf + 40, chk, 8);
		memcpy(m, "LPR1 nwk", 8);
		ck_assert_int_eq(lpa_aes_cmac(lpa_secbuf_cdata(keys) + 16, m, 44, chk), 0);
		memcpy(buf + 48, chk, 8);
	}
	vec_put(out, "lpr1_app_check", buf + 40, 8);
	vec_put(out, "lpr1_nwk_check", buf + 48, 8);
	vec_put(out, "lpr1_signed", buf, 56);

	memcpy(buf, "LPP1", 4);
	memcpy(buf + 20, vec_get(in, "challenge", 16), 16);
	{
		uint8_t m[40];

		memcpy(m, "LPP1 app", 8);
		memcpy(m + 8, buf + 4, 32);
		vec_put(out, "lpp1_app_input", m, 40);
		ck_assert_int_eq(lpa_aes_cmac(lpa_secbuf_cdata(keys), m, 40, chk), 0);
		memcpy(buf + 36, chk, 8);
		memcpy(m, "LPP1 nwk", 8);
		ck_assert_int_eq(lpa_aes_cmac(lpa_secbuf_cdata(keys) + 16, m, 40, chk), 0);
		memcpy(buf + 44, chk, 8);
	}
	vec_put(out, "lpp1_app_check", buf + 36, 8);
	vec_put(out, "lpp1_nwk_check", buf + 44, 8);
	vec_put(out, "lpp1_signed", buf, 52);

	/* LPE1: the enrolment request of the same chip, its bytes from the code. */
	{
		struct lpa_lpe1 e = {.agent_version = (uint16_t)vec_uint(in, "agent_version", 2),
				     .chip_uid = h.chip_uid,
				     .silicon_id = (uint32_t)vec_uint(in, "silicon_id", 4)};
		uint8_t lpe1[LPA_LPE1_LEN];

		memcpy(e.dik_pub, vec_get(out, "dik_pub", 65), 65);
		ck_assert_int_eq(lpa_lpe1_build(&e, dik, lpe1), LPA_OK);
		vec_put(out, "lpe1_signed", lpe1, 85);
	}
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&eph);
}

/* Loaded inside each test so that a malformed document is reported as a failure. */
static void doc_load(void)
{
	doc.n = 0;
	vec_load(doc_path, &doc);
}

START_TEST(deterministic_values_match)
{
	static struct vecset computed;
	size_t checked = 0;

	doc_load();
	vec_compute(&doc, &computed);
	for (size_t i = 0; i < computed.n; i++) {
		struct vec *want = vec_find(&doc, computed.v[i].name);

		ck_assert_msg(want != NULL, "docs lack %s", computed.v[i].name);
		ck_assert_msg(want->len == computed.v[i].len &&
				      memcmp(want->val, computed.v[i].val, want->len) == 0,
			      "docs value %s differs from the code's", computed.v[i].name);
		checked++;
	}
	ck_assert_uint_ge(checked, 20);
}
END_TEST

START_TEST(lpk1_signature_and_open)
{
	doc_load();
	EVP_PKEY *dik = vec_key(&doc, "dik_d"), *kms = NULL;
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpk1_hdr h;
	lpa_secbuf *keys = NULL;

	ck_assert_int_eq(lpa_p256_from_public(vec_get(&doc, "kms_pub", 65), &kms), 0);
	memcpy(pkg, vec_get(&doc, "lpk1_signed", 173), 173);
	memcpy(pkg + 173, vec_get(&doc, "lpk1_signature", 64), 64);
	ck_assert_int_eq(lpa_lpk1_verify(pkg, sizeof(pkg), kms), LPA_OK);
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, vec_uint(&doc, "chip_uid", 8), 0,
				       &h, &keys),
			 LPA_OK);
	ck_assert_mem_eq(lpa_secbuf_cdata(keys), vec_get(&doc, "app_key", 16), 16);
	ck_assert_mem_eq(lpa_secbuf_cdata(keys) + 16, vec_get(&doc, "nwk_key", 16), 16);
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&kms);
}
END_TEST

START_TEST(lpr1_and_lpp1_signatures)
{
	doc_load();
	EVP_PKEY *dik = NULL;
	uint8_t pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN], pp[LPA_LPP1_LEN];
	lpa_secbuf *keys = lpa_secbuf_new(32);
	struct lpa_lpr1 r;
	struct lpa_lpp1 p;

	memcpy(lpa_secbuf_data(keys), vec_get(&doc, "app_key", 16), 16);
	memcpy(lpa_secbuf_data(keys) + 16, vec_get(&doc, "nwk_key", 16), 16);
	ck_assert_int_eq(lpa_p256_from_public(vec_get(&doc, "dik_pub", 65), &dik), 0);
	memcpy(pkg, vec_get(&doc, "lpk1_signed", 173), 173);
	memcpy(pkg + 173, vec_get(&doc, "lpk1_signature", 64), 64);
	memcpy(rcpt, vec_get(&doc, "lpr1_signed", 56), 56);
	memcpy(rcpt + 56, vec_get(&doc, "lpr1_signature", 64), 64);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, keys, &r), LPA_OK);
	memcpy(pp, vec_get(&doc, "lpp1_signed", 52), 52);
	memcpy(pp + 52, vec_get(&doc, "lpp1_signature", 64), 64);
	ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik, vec_uint(&doc, "dev_eui", 8),
					 vec_uint(&doc, "chip_uid", 8),
					 vec_get(&doc, "challenge", 16),
					 (uint8_t)vec_uint(&doc, "lorawan", 1), keys, &p),
			 LPA_OK);
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&dik);
}
END_TEST

/* protocols.md: exactly the five values it names follow from the sampled LPK1 signature;
 * another valid signature changes those and nothing else. */
START_TEST(signature_dependent_values_named)
{
	static const char *const dependent[] = {"lpk1_sha256", "lpr1_app_input", "lpr1_app_check",
						"lpr1_nwk_check", "lpr1_signed"};
	static struct vecset a, b;
	EVP_PKEY *kms;
	uint8_t sig[64];
	size_t changed = 0;

	doc_load();
	vec_compute(&doc, &a);
	kms = vec_key(&doc, "kms_d");
	ck_assert_int_eq(lpa_p256_sign(kms, vec_get(&a, "lpk1_signed", 173), 173, sig), 0);
	lpa_pkey_free(&kms);
	ck_assert_mem_ne(sig, vec_get(&doc, "lpk1_signature", 64), 64);
	vec_put(&doc, "lpk1_signature", sig, 64);
	vec_compute(&doc, &b);
	ck_assert_uint_eq(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		bool dep = false, same = a.v[i].len == b.v[i].len &&
					 memcmp(a.v[i].val, b.v[i].val, a.v[i].len) == 0;

		ck_assert_str_eq(a.v[i].name, b.v[i].name);
		for (size_t j = 0; j < TU_N(dependent); j++)
			dep |= strcmp(a.v[i].name, dependent[j]) == 0;
		ck_assert_msg(dep != same, "%s: %s on the LPK1 signature", a.v[i].name,
			      dep ? "documented as depending, but does not depend"
				  : "depends, but is not documented as depending");
		changed += !same;
	}
	ck_assert_uint_eq(changed, TU_N(dependent));
}
END_TEST

START_TEST(lpe1_signature)
{
	doc_load();
	uint8_t e[LPA_LPE1_LEN];
	struct lpa_lpe1 r;

	memcpy(e, vec_get(&doc, "lpe1_signed", 85), 85);
	memcpy(e + 85, vec_get(&doc, "lpe1_signature", 64), 64);
	ck_assert_int_eq(lpa_lpe1_verify(e, sizeof(e), &r), LPA_OK);
	ck_assert_uint_eq(r.chip_uid, vec_uint(&doc, "chip_uid", 8));
	ck_assert_uint_eq(r.silicon_id, vec_uint(&doc, "silicon_id", 4));
	ck_assert_mem_eq(r.dik_pub, vec_get(&doc, "dik_pub", 65), 65);
	e[100] ^= 1; /* the signature no longer verifies */
	ck_assert_int_eq(lpa_lpe1_verify(e, sizeof(e), &r), LPA_ERR_SIGNATURE);
}
END_TEST

/* Fixed inputs for --generate: scalars from SHA-256 of labels, everything else literal. */
static void vec_generate(void)
{
	static struct vecset in, out;
	static const char *order[] = {"dik_d",
				      "dik_pub",
				      "kms_d",
				      "kms_pub",
				      "eph_d",
				      "eph_pub",
				      "app_key",
				      "nwk_key",
				      "lorawan",
				      "dev_eui",
				      "join_eui",
				      "chip_uid",
				      "counter",
				      "key_id",
				      "issued_at",
				      "nonce",
				      "header",
				      "ecdh_x",
				      "salt",
				      "info",
				      "kek",
				      "aad",
				      "ciphertext",
				      "tag",
				      "lpk1_signed",
				      "lpk1_signature",
				      "lpk1_sha256",
				      "lpr1_app_input",
				      "lpr1_app_check",
				      "lpr1_nwk_check",
				      "lpr1_signed",
				      "lpr1_signature",
				      "challenge",
				      "lpp1_app_input",
				      "lpp1_app_check",
				      "lpp1_nwk_check",
				      "lpp1_signed",
				      "lpp1_signature",
				      "agent_version",
				      "silicon_id",
				      "lpe1_signed",
				      "lpe1_signature"};
	uint8_t d[32], b[16], sig[64];
	EVP_PKEY *dik, *kms;

	lpa_sha256("lpa vector dik", 14, d);
	vec_put(&in, "dik_d", d, 32);
	lpa_sha256("lpa vector kms", 14, d);
	vec_put(&in, "kms_d", d, 32);
	lpa_sha256("lpa vector eph", 14, d);
	vec_put(&in, "eph_d", d, 32);
	tu_hex("000102030405060708090a0b0c0d0e0f", b, 16);
	vec_put(&in, "app_key", b, 16);
	tu_hex("101112131415161718191a1b1c1d1e1f", b, 16);
	vec_put(&in, "nwk_key", b, 16);
	vec_put(&in, "lorawan", (uint8_t[]){0x11}, 1);
	tu_hex("70b3d57ed0001234", b, 8);
	vec_put(&in, "dev_eui", b, 8);
	tu_hex("70b3d57ed0000000", b, 8);
	vec_put(&in, "join_eui", b, 8);
	tu_hex("0f2a1b3c4d5e6f70", b, 8);
	vec_put(&in, "chip_uid", b, 8);
	vec_put(&in, "counter", (uint8_t[]){0, 0, 0, 1}, 4);
	vec_put(&in, "key_id", (uint8_t[]){0, 0, 0, 1}, 4);
	tu_hex("000000006a8c5e00", b, 8);
	vec_put(&in, "issued_at", b, 8);
	tu_hex("a0a1a2a3a4a5a6a7a8a9aaab", b, 12);
	vec_put(&in, "nonce", b, 12);
	tu_hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf", b, 16);
	vec_put(&in, "challenge", b, 16);
	vec_put(&in, "agent_version", (uint8_t[]){1, 0}, 2);
	vec_put(&in, "silicon_id", (uint8_t[]){0xe2, 0x07, 0x21, 0x00}, 4);

	dik = vec_key(&in, "dik_d");
	kms = vec_key(&in, "kms_d");
	vec_compute(&in, &out);
	ck_assert_int_eq(lpa_p256_sign(kms, vec_get(&out, "lpk1_signed", 173), 173, sig), 0);
	vec_put(&in, "lpk1_signature", sig, 64);
	vec_compute(&in, &out); /* again: the receipt hashes the signed package */
	ck_assert_int_eq(lpa_p256_sign(dik, vec_get(&out, "lpr1_signed", 56), 56, sig), 0);
	vec_put(&out, "lpr1_signature", sig, 64);
	ck_assert_int_eq(lpa_p256_sign(dik, vec_get(&out, "lpp1_signed", 52), 52, sig), 0);
	vec_put(&out, "lpp1_signature", sig, 64);
	ck_assert_int_eq(lpa_p256_sign(dik, vec_get(&out, "lpe1_signed", 85), 85, sig), 0);
	vec_put(&out, "lpe1_signature", sig, 64);
	for (size_t i = 0; i < TU_N(order); i++) {
		struct vec *v = vec_find(&in, order[i]);

		vec_print(v != NULL ? v : vec_find(&out, order[i]));
	}
	lpa_pkey_free(&dik);
	lpa_pkey_free(&kms);
}

START_TEST(generate)
{
	vec_generate();
}
END_TEST

int main(int argc, char **argv)
{
	const struct tu_case cases[] = {
		TU_CASE(deterministic_values_match),
		TU_CASE(lpk1_signature_and_open),
		TU_CASE(lpr1_and_lpp1_signatures),
		TU_CASE(signature_dependent_values_named),
		TU_CASE(lpe1_signature),
	};

	if (argc == 3 && strcmp(argv[1], "--generate") == 0) {
		const struct tu_case gen[] = {TU_CASE(generate)};
		int r;

		if ((vec_out = fopen(argv[2], "w")) == NULL)
			return 2;
		r = tu_main("generate", gen, 1);
		fclose(vec_out);
		return r;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: test-vectors DOCS/protocols.md | --generate FILE\n");
		return 2;
	}
	doc_path = argv[1];
	return tu_main("vectors", cases, TU_N(cases));
}
