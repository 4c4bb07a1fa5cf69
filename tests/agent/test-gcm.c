/*
 * The agent's AES-GCM: the GCM specification's test cases (McGrew & Viega, the 96-bit
 * IV ones for AES-128 and AES-256), refusal of every single-bit change, lengths, in-place
 * use, then differential against OpenSSL (lpa/core's AES-256-GCM, EVP's AES-128-GCM).
 */
#include <openssl/evp.h>

#include "agent-test.h"

struct gcm_vec {
	const char *name, *key, *iv, *aad, *pt, *ct, *tag;
};

#define TC_K128 "feffe9928665731c6d6a8f9467308308"
#define TC_IV "cafebabefacedbaddecaf888"
#define TC_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define TC_P60                                                                                     \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                         \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define TC_C128_60                                                                                 \
	"42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"                         \
	"21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
#define TC_C256_60                                                                                 \
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"                         \
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
#define Z16 "00000000000000000000000000000000"
#define Z12 "000000000000000000000000"

/* "The Galois/Counter Mode of Operation (GCM)", McGrew & Viega, Appendix B. */
static const struct gcm_vec spec[] = {
	{"TC1", Z16, Z12, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"},
	{"TC2", Z16, Z12, "", Z16, "0388dace60b6a392f328c2b971b2fe78",
	 "ab6e47d42cec13bdf53a67b21257bddf"},
	{"TC3", TC_K128, TC_IV, "", TC_P60 "1aafd255", TC_C128_60 "473f5985",
	 "4d5c2af327cd64a62cf35abd2ba6fab4"},
	{"TC4", TC_K128, TC_IV, TC_AAD, TC_P60, TC_C128_60, "5bc94fbc3221a5db94fae95ae7121a47"},
	{"TC13", Z16 Z16, Z12, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
	{"TC14", Z16 Z16, Z12, "", Z16, "cea7403d4d606b6e074ec5d3baf39d18",
	 "d0d1c8a799996bf0265b98b5d48ab919"},
	{"TC15", TC_K128 TC_K128, TC_IV, "", TC_P60 "1aafd255", TC_C256_60 "898015ad",
	 "b094dac5d93471bdec1a502270e3cc6c"},
	{"TC16", TC_K128 TC_K128, TC_IV, TC_AAD, TC_P60, TC_C256_60,
	 "76fc6ece0f4e1768cddf8853bb2d551b"},
};

/* A vector decoded; lengths from the hex. */
struct gcm_case {
	uint8_t key[32], iv[12], aad[64], pt[64], ct[64], tag[16];
	size_t key_len, aad_len, len;
};

static size_t hex_into(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	ck_assert_uint_le(n, cap);
	if (n > 0)
		tu_hex(hex, out, n);
	return n;
}

static void gcm_case_load(const struct gcm_vec *v, struct gcm_case *c)
{
	memset(c, 0, sizeof(*c));
	c->key_len = hex_into(v->key, c->key, sizeof(c->key));
	ck_assert_uint_eq(hex_into(v->iv, c->iv, sizeof(c->iv)), 12);
	c->aad_len = hex_into(v->aad, c->aad, sizeof(c->aad));
	c->len = hex_into(v->pt, c->pt, sizeof(c->pt));
	ck_assert_uint_eq(hex_into(v->ct, c->ct, sizeof(c->ct)), c->len);
	ck_assert_uint_eq(hex_into(v->tag, c->tag, sizeof(c->tag)), 16);
}

START_TEST(gcm_spec_seal)
{
	for (size_t i = 0; i < TU_N(spec); i++) {
		struct gcm_case c;
		uint8_t ct[64], tag[16];

		gcm_case_load(&spec[i], &c);
		ck_assert_msg(gcm_seal(c.key, c.key_len, c.iv, c.aad, c.aad_len, c.pt, c.len, ct,
				       tag) == CRYPTO_OK,
			      "%s", spec[i].name);
		ck_assert_msg(memcmp(ct, c.ct, c.len) == 0, "%s ciphertext", spec[i].name);
		ck_assert_msg(memcmp(tag, c.tag, 16) == 0, "%s tag", spec[i].name);
	}
}
END_TEST

START_TEST(gcm_spec_open)
{
	for (size_t i = 0; i < TU_N(spec); i++) {
		struct gcm_case c;
		uint8_t pt[64];

		gcm_case_load(&spec[i], &c);
		ck_assert_msg(gcm_open(c.key, c.key_len, c.iv, c.aad, c.aad_len, c.ct, c.len, c.tag,
				       pt) == CRYPTO_OK,
			      "%s", spec[i].name);
		ck_assert_msg(memcmp(pt, c.pt, c.len) == 0, "%s plaintext", spec[i].name);
	}
}
END_TEST

/* Seal and open with the output over the input. */
START_TEST(gcm_in_place)
{
	for (size_t i = 0; i < TU_N(spec); i++) {
		struct gcm_case c;
		uint8_t buf[64], tag[16];

		gcm_case_load(&spec[i], &c);
		memcpy(buf, c.pt, c.len);
		ck_assert_int_eq(
			gcm_seal(c.key, c.key_len, c.iv, c.aad, c.aad_len, buf, c.len, buf, tag),
			CRYPTO_OK);
		ck_assert_mem_eq(buf, c.ct, c.len);
		ck_assert_mem_eq(tag, c.tag, 16);
		ck_assert_int_eq(
			gcm_open(c.key, c.key_len, c.iv, c.aad, c.aad_len, buf, c.len, tag, buf),
			CRYPTO_OK);
		ck_assert_mem_eq(buf, c.pt, c.len);
	}
}
END_TEST

/* Empty plaintext and AAD may come as NULL pointers. */
START_TEST(gcm_empty_with_null_pointers)
{
	uint8_t key[16] = {0}, iv[12] = {0}, tag[16];

	ck_assert_int_eq(gcm_seal(key, 16, iv, NULL, 0, NULL, 0, NULL, tag), CRYPTO_OK);
	tu_assert_hex(tag, 16, "58e2fccefa7e3061367f1d57a4e7455a");
	ck_assert_int_eq(gcm_open(key, 16, iv, NULL, 0, NULL, 0, tag, NULL), CRYPTO_OK);
	tag[0] ^= 1;
	ck_assert_int_eq(gcm_open(key, 16, iv, NULL, 0, NULL, 0, tag, NULL), CRYPTO_ERR_TAG);
}
END_TEST

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Opens c with one bit of field (ct, aad, tag or iv) flipped: refused, pt zeroed, both
 * into a separate buffer and in place. */
static void gcm_flip_refused(const struct gcm_case *c, int field, size_t bit)
{
	struct gcm_case m = *c;
	uint8_t pt[64], *p = field == 0 ? m.ct : field == 1 ? m.aad : field == 2 ? m.tag : m.iv;

	p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	memset(pt, 0xa5, sizeof(pt));
	ck_assert_int_eq(gcm_open(m.key, m.key_len, m.iv, m.aad, m.aad_len, m.ct, m.len, m.tag, pt),
			 CRYPTO_ERR_TAG);
	ck_assert(all_zero(pt, m.len));
	ck_assert_uint_eq(pt[m.len], 0xa5); /* and nothing beyond */
	ck_assert_int_eq(
		gcm_open(m.key, m.key_len, m.iv, m.aad, m.aad_len, m.ct, m.len, m.tag, m.ct),
		CRYPTO_ERR_TAG);
	ck_assert(all_zero(m.ct, m.len));
}

START_TEST(gcm_refuses_every_bit_flip)
{
	static const char *const names[] = {"TC2", "TC4", "TC14", "TC16"};

	for (size_t v = 0; v < TU_N(names); v++) {
		struct gcm_case c;

		for (size_t i = 0; i < TU_N(spec); i++)
			if (strcmp(spec[i].name, names[v]) == 0)
				gcm_case_load(&spec[i], &c);
		for (size_t b = 0; b < 8 * c.len; b++)
			gcm_flip_refused(&c, 0, b);
		for (size_t b = 0; b < 8 * c.aad_len; b++)
			gcm_flip_refused(&c, 1, b);
		for (size_t b = 0; b < 8 * 16; b++)
			gcm_flip_refused(&c, 2, b);
		for (size_t b = 0; b < 8 * 12; b++)
			gcm_flip_refused(&c, 3, b);
	}
}
END_TEST

/* A ciphertext that is one byte shorter or longer (with its tag) is refused too. */
START_TEST(gcm_refuses_truncation_and_extension)
{
	struct gcm_case c;
	uint8_t pt[64];

	gcm_case_load(&spec[3], &c); /* TC4 */
	ck_assert_int_eq(gcm_open(c.key, 16, c.iv, c.aad, c.aad_len, c.ct, c.len - 1, c.tag, pt),
			 CRYPTO_ERR_TAG);
	ck_assert(all_zero(pt, c.len - 1));
	ck_assert_int_eq(gcm_open(c.key, 16, c.iv, c.aad, c.aad_len, c.ct, c.len + 1, c.tag, pt),
			 CRYPTO_ERR_TAG);
	ck_assert_int_eq(gcm_open(c.key, 16, c.iv, c.aad, c.aad_len - 1, c.ct, c.len, c.tag, pt),
			 CRYPTO_ERR_TAG);
	/* The AAD and the ciphertext are not interchangeable. */
	ck_assert_int_eq(gcm_open(c.key, 16, c.iv, c.ct, c.len, c.aad, c.aad_len, c.tag, pt),
			 CRYPTO_ERR_TAG);
}
END_TEST

START_TEST(gcm_rejects_key_lengths)
{
	static const size_t bad[] = {0, 15, 17, 24, 31, 33};
	uint8_t key[64] = {0}, iv[12] = {0}, pt[32] = {0}, ct[32], tag[16];

	for (size_t i = 0; i < TU_N(bad); i++) {
		memset(tag, 0xa5, sizeof(tag));
		ck_assert_int_eq(gcm_seal(key, bad[i], iv, NULL, 0, pt, sizeof(pt), ct, tag),
				 CRYPTO_ERR_LENGTH);
		ck_assert(all_zero(tag, sizeof(tag)));
		memset(pt, 0xa5, sizeof(pt));
		ck_assert_int_eq(gcm_open(key, bad[i], iv, NULL, 0, ct, sizeof(ct), tag, pt),
				 CRYPTO_ERR_LENGTH);
		ck_assert(all_zero(pt, sizeof(pt)));
	}
}
END_TEST

/* SP 800-38D's limits, refused before any memory is touched (the pointers are NULL). */
START_TEST(gcm_rejects_impossible_lengths)
{
#if SIZE_MAX > 0xffffffffu
	uint8_t key[16] = {0}, iv[12] = {0}, tag[16] = {0};
	const size_t too_long = 0xfffffffe1ull, aad_too_long = 0x2000000000000000ull;

	ck_assert_int_eq(gcm_seal(key, 16, iv, NULL, 0, NULL, too_long, NULL, tag),
			 CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(gcm_open(key, 16, iv, NULL, 0, NULL, too_long, tag, NULL),
			 CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(gcm_seal(key, 16, iv, NULL, aad_too_long, NULL, 0, NULL, tag),
			 CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(gcm_open(key, 16, iv, NULL, aad_too_long, NULL, 0, tag, NULL),
			 CRYPTO_ERR_LENGTH);
#else
	ck_assert(1); /* a 32-bit size_t cannot express them */
#endif
}
END_TEST

/* OpenSSL AES-GCM of either key size (EVP), as the reference. */
static int openssl_gcm(int enc, const uint8_t *key, size_t key_len, const uint8_t *iv,
		       const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
		       uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *cipher = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	int n = 0, ok;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc), 1);
	if (aad_len > 0)
		ck_assert_int_eq(EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len), 1);
	if (len > 0)
		ck_assert_int_eq(EVP_CipherUpdate(ctx, out, &n, in, (int)len), 1);
	if (!enc)
		ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag), 1);
	ok = EVP_CipherFinal_ex(ctx, out + (len > 0 ? len : 0), &n) == 1;
	if (enc && ok)
		ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/* The reference through lpa/core where it has it (AES-256), EVP otherwise. */
static void ref_seal(const uint8_t *key, size_t key_len, const uint8_t *iv, const uint8_t *aad,
		     size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t *tag)
{
	if (key_len == 32)
		ck_assert_int_eq(lpa_aes256gcm_seal(key, iv, aad, aad_len, pt, len, ct, tag),
				 LPA_OK);
	else
		ck_assert(openssl_gcm(1, key, key_len, iv, aad, aad_len, pt, len, ct, tag));
}

static int ref_open(const uint8_t *key, size_t key_len, const uint8_t *iv, const uint8_t *aad,
		    size_t aad_len, const uint8_t *ct, size_t len, uint8_t *tag, uint8_t *pt)
{
	if (key_len == 32)
		return lpa_aes256gcm_open(key, iv, aad, aad_len, ct, len, tag, pt) == LPA_OK;
	return openssl_gcm(0, key, key_len, iv, aad, aad_len, ct, len, pt, tag);
}

#define DIFF_MAX 300

/* Random key, IV, AAD and plaintext: our seal equals OpenSSL's, ours opens OpenSSL's
 * output (every other case in place), and one flipped bit is refused by both. */
static void gcm_differential(size_t key_len, uint64_t seed, const char *what)
{
	struct at_rng r = at_rng(seed);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		uint8_t key[32], iv[12], aad[DIFF_MAX], pt[DIFF_MAX], ct[DIFF_MAX + 1],
			want[DIFF_MAX + 1], tag[16], want_tag[16], out[DIFF_MAX + 1];
		size_t aad_len = at_len(&r, 64), len = at_len(&r, DIFF_MAX), bit;
		uint8_t *in_place = i % 2 ? ct : out;

		at_fill(&r, key, key_len);
		at_fill(&r, iv, 12);
		at_fill(&r, aad, aad_len);
		at_fill(&r, pt, len);
		ref_seal(key, key_len, iv, aad, aad_len, pt, len, want, want_tag);
		ck_assert_int_eq(gcm_seal(key, key_len, iv, aad, aad_len, pt, len, ct, tag),
				 CRYPTO_OK);
		ck_assert_mem_eq(ct, want, len);
		ck_assert_mem_eq(tag, want_tag, 16);
		ck_assert_int_eq(gcm_open(key, key_len, iv, aad, aad_len, ct, len, tag, in_place),
				 CRYPTO_OK);
		ck_assert_mem_eq(in_place, pt, len);

		/* One bit anywhere in ct || aad || tag. */
		memcpy(ct, want, len);
		bit = at_below(&r, 8 * (len + aad_len + 16));
		if (bit < 8 * len)
			ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		else if (bit < 8 * (len + aad_len))
			aad[bit / 8 - len] ^= (uint8_t)(1u << (bit % 8));
		else
			tag[bit / 8 - len - aad_len] ^= (uint8_t)(1u << (bit % 8));
		ck_assert(!ref_open(key, key_len, iv, aad, aad_len, ct, len, tag, out));
		memset(out, 0xa5, sizeof(out));
		ck_assert_int_eq(gcm_open(key, key_len, iv, aad, aad_len, ct, len, tag, out),
				 CRYPTO_ERR_TAG);
		ck_assert(all_zero(out, len));
	}
	at_report(what, n, &r);
}

START_TEST(gcm128_matches_openssl)
{
	gcm_differential(16, 0x6c3128, "aes128-gcm");
}
END_TEST

START_TEST(gcm256_matches_lpa_core)
{
	gcm_differential(32, 0x6c3256, "aes256-gcm");
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(gcm_spec_seal),
		TU_CASE(gcm_spec_open),
		TU_CASE(gcm_in_place),
		TU_CASE(gcm_empty_with_null_pointers),
		TU_CASE_SLOW(gcm_refuses_every_bit_flip, 60),
		TU_CASE(gcm_refuses_truncation_and_extension),
		TU_CASE(gcm_rejects_key_lengths),
		TU_CASE(gcm_rejects_impossible_lengths),
		TU_CASE_SLOW(gcm128_matches_openssl, at_timeout()),
		TU_CASE_SLOW(gcm256_matches_lpa_core, at_timeout()),
	};

	return tu_main("agent-gcm", cases, TU_N(cases));
}
