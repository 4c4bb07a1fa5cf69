/* The agent's P-256: RFC 6979 A.2.5, every refusal with its own error, the scalars
 * and signatures that reach the formulas' exceptional cases, then differential
 * against OpenSSL (lpa/core): public keys, ECDH both ways, our signatures verified by
 * OpenSSL, OpenSSL's verified by ours with single-bit mutations refused. */
#include <openssl/bn.h>

#include "agent-test.h"

#define N_HEX "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
#define P_HEX "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"

/* RFC 6979 A.2.5: the key, and the signatures of "sample" and "test" with SHA-256. */
#define RFC_X "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
#define RFC_PUB                                                                                    \
	"0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"                       \
	"7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"

static uint8_t g_pub[P256_PUB_LEN];

static void setup(void)
{
	tu_hex("046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
	       "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
	       g_pub, P256_PUB_LEN);
}

/* The scalar v as 32 big-endian bytes: small v, or n - v for negative ones. */
static void scalar_bytes(long v, uint8_t out[32])
{
	BIGNUM *n = NULL, *b = BN_new();

	ck_assert_int_gt(BN_hex2bn(&n, N_HEX), 0);
	ck_assert_int_eq(BN_set_word(b, (BN_ULONG)(v < 0 ? -v : v)), 1);
	if (v < 0)
		ck_assert_int_eq(BN_sub(b, n, b), 1);
	ck_assert_int_eq(BN_bn2binpad(b, out, 32), 32);
	BN_free(n);
	BN_free(b);
}

/* OpenSSL's public key for d. */
static void ossl_public(const uint8_t d[32], uint8_t pub[P256_PUB_LEN])
{
	EVP_PKEY *k = NULL;

	ck_assert_int_eq(lpa_p256_from_private(d, &k), LPA_OK);
	ck_assert_int_eq(lpa_p256_public_bytes(k, pub), LPA_OK);
	lpa_pkey_free(&k);
}

/* OpenSSL's verdict on a signature over a digest (not a message). */
static int ossl_verify_digest(const uint8_t pub[P256_PUB_LEN], const uint8_t hash[32],
			      const uint8_t sig[P256_SIG_LEN])
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx;
	uint8_t der[80];
	size_t der_len;
	int ok;

	ck_assert_int_eq(lpa_p256_from_public(pub, &k), LPA_OK);
	ck_assert_int_eq(lpa_ecdsa_raw_to_der(sig, der, sizeof(der), &der_len), LPA_OK);
	ctx = EVP_PKEY_CTX_new(k, NULL);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
	ok = EVP_PKEY_verify(ctx, der, der_len, hash, 32) == 1;
	EVP_PKEY_CTX_free(ctx);
	lpa_pkey_free(&k);
	return ok;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= p[i];
	return d == 0;
}

START_TEST(p256_rfc6979_a25_sha256)
{
	static const struct {
		const char *msg, *sig;
	} v[] = {
		{"sample", "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
			   "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"},
		{"test", "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
			 "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083"},
	};
	uint8_t x[32], pub[P256_PUB_LEN], h[32], sig[P256_SIG_LEN];

	tu_hex(RFC_X, x, 32);
	ck_assert_int_eq(p256_public_from_private(x, pub), CRYPTO_OK);
	tu_assert_hex(pub, P256_PUB_LEN, RFC_PUB);
	for (size_t i = 0; i < TU_N(v); i++) {
		sha256(v[i].msg, strlen(v[i].msg), h);
		ck_assert_int_eq(p256_sign(x, h, NULL, 0, sig), CRYPTO_OK);
		tu_assert_hex(sig, P256_SIG_LEN, v[i].sig);
		/* extra of length 0 is the plain RFC 6979 nonce too */
		ck_assert_int_eq(p256_sign(x, h, h, 0, sig), CRYPTO_OK);
		tu_assert_hex(sig, P256_SIG_LEN, v[i].sig);
		ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, sig, P256_SIG_LEN), CRYPTO_OK);
	}
}
END_TEST

START_TEST(p256_public_check_refusals)
{
	uint8_t pub[P256_PUB_LEN + 1], p[32];

	tu_hex(P_HEX, p, 32);
	memcpy(pub, g_pub, P256_PUB_LEN);
	ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN), CRYPTO_OK);
	/* SEC1's point at infinity, and lengths */
	ck_assert_int_eq(p256_public_check((const uint8_t *)"", 1), CRYPTO_ERR_IDENTITY);
	ck_assert_int_eq(p256_public_check(pub, 0), CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(p256_public_check(pub, 33), CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN - 1), CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN + 1), CRYPTO_ERR_LENGTH);
	/* encodings other than uncompressed */
	for (unsigned b = 0; b < 256; b++) {
		pub[0] = (uint8_t)b;
		ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN),
				 b == 4 ? CRYPTO_OK : CRYPTO_ERR_ENCODING);
	}
	pub[0] = 4;
	/* coordinates >= p: p itself, p + y (still < 2^256 here? no: all-ones) */
	memcpy(pub + 1, p, 32);
	ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN), CRYPTO_ERR_RANGE);
	memset(pub + 1, 0xff, 32);
	ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN), CRYPTO_ERR_RANGE);
	memcpy(pub, g_pub, P256_PUB_LEN);
	memcpy(pub + 33, p, 32);
	ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN), CRYPTO_ERR_RANGE);
	/* Gy + p does not fit; -Gy = p - Gy is on the curve, p - Gy + ... is not */
	memcpy(pub, g_pub, P256_PUB_LEN);
	pub[64] ^= 1;
	ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN), CRYPTO_ERR_POINT);
	memset(pub + 1, 0, 64);
	ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN), CRYPTO_ERR_POINT);
	memset(pub, 0, P256_PUB_LEN);
	ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN), CRYPTO_ERR_ENCODING);
	/* every single-bit change of G's coordinates leaves the curve */
	for (unsigned bit = 8; bit < 8 * P256_PUB_LEN; bit++) {
		int ret;

		memcpy(pub, g_pub, P256_PUB_LEN);
		pub[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ret = p256_public_check(pub, P256_PUB_LEN);
		ck_assert_msg(ret == CRYPTO_ERR_POINT || ret == CRYPTO_ERR_RANGE, "bit %u: %d", bit,
			      ret);
	}
}
END_TEST

/* Private scalars 0, n, n + 1 and 2^256 - 1 are refused by every function taking one,
 * with its outputs zeroed. */
START_TEST(p256_private_range_refusals)
{
	uint8_t bad[4][32], pub[P256_PUB_LEN], x[32], h[32], sig[P256_SIG_LEN];

	memset(bad[0], 0, 32);
	tu_hex(N_HEX, bad[1], 32);
	memcpy(bad[2], bad[1], 32);
	bad[2][31]++;
	memset(bad[3], 0xff, 32);
	memset(h, 0x11, 32);
	for (int i = 0; i < 4; i++) {
		memset(pub, 0x55, sizeof(pub));
		ck_assert_int_eq(p256_public_from_private(bad[i], pub), CRYPTO_ERR_RANGE);
		ck_assert(all_zero(pub, sizeof(pub)));
		memset(x, 0x55, sizeof(x));
		ck_assert_int_eq(p256_ecdh(bad[i], g_pub, P256_PUB_LEN, x), CRYPTO_ERR_RANGE);
		ck_assert(all_zero(x, sizeof(x)));
		memset(sig, 0x55, sizeof(sig));
		ck_assert_int_eq(p256_sign(bad[i], h, NULL, 0, sig), CRYPTO_ERR_RANGE);
		ck_assert(all_zero(sig, sizeof(sig)));
	}
}
END_TEST

/* A bad peer key is refused with its own error before anything else. */
START_TEST(p256_ecdh_refuses_bad_peers)
{
	uint8_t d[32], pub[P256_PUB_LEN], x[32];

	scalar_bytes(7, d);
	memcpy(pub, g_pub, P256_PUB_LEN);
	pub[40] ^= 0x80;
	memset(x, 0x55, 32);
	ck_assert_int_eq(p256_ecdh(d, pub, P256_PUB_LEN, x), CRYPTO_ERR_POINT);
	ck_assert(all_zero(x, 32));
	ck_assert_int_eq(p256_ecdh(d, (const uint8_t *)"", 1, x), CRYPTO_ERR_IDENTITY);
	ck_assert_int_eq(p256_ecdh(d, g_pub, 64, x), CRYPTO_ERR_LENGTH);
	pub[0] = 0x02;
	ck_assert_int_eq(p256_ecdh(d, pub, P256_PUB_LEN, x), CRYPTO_ERR_ENCODING);
	ck_assert(all_zero(x, 32));
}
END_TEST

/*
 * The scalars near 0 and n: k = 2d mod n (|d| <= 4) are the ones whose last window
 * addition is a doubling; 1 and n - 1 are the extremes. Public keys and ECDH agree
 * with OpenSSL for each.
 */
START_TEST(p256_edge_scalars_match_openssl)
{
	EVP_PKEY *peer = NULL, *mine = NULL;
	uint8_t peer_pub[P256_PUB_LEN];

	ck_assert_int_eq(lpa_p256_generate(&peer), LPA_OK);
	ck_assert_int_eq(lpa_p256_public_bytes(peer, peer_pub), LPA_OK);
	for (long v = -17; v <= 17; v++) {
		uint8_t d[32], pub[P256_PUB_LEN], want[P256_PUB_LEN], x[32], wx[32];

		if (v == 0)
			continue;
		scalar_bytes(v, d);
		ossl_public(d, want);
		ck_assert_int_eq(p256_public_from_private(d, pub), CRYPTO_OK);
		ck_assert_msg(memcmp(pub, want, P256_PUB_LEN) == 0, "public key of %ld", v);
		ck_assert_int_eq(p256_ecdh(d, peer_pub, P256_PUB_LEN, x), CRYPTO_OK);
		ck_assert_int_eq(lpa_p256_from_private(d, &mine), LPA_OK);
		ck_assert_int_eq(lpa_p256_ecdh(mine, peer, wx), LPA_OK);
		lpa_pkey_free(&mine);
		ck_assert_msg(memcmp(x, wx, 32) == 0, "ECDH with %ld", v);
	}
	lpa_pkey_free(&peer);
}
END_TEST

START_TEST(p256_verify_refusals)
{
	uint8_t d[32], pub[P256_PUB_LEN], h[32], sig[P256_SIG_LEN], bad[P256_SIG_LEN + 1], n[32];

	scalar_bytes(0x1234567, d);
	tu_hex(N_HEX, n, 32);
	memset(h, 0xa5, 32);
	ck_assert_int_eq(p256_public_from_private(d, pub), CRYPTO_OK);
	ck_assert_int_eq(p256_sign(d, h, NULL, 0, sig), CRYPTO_OK);
	ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, sig, P256_SIG_LEN), CRYPTO_OK);
	/* lengths */
	memcpy(bad, sig, P256_SIG_LEN);
	ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, bad, 0), CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, bad, 63), CRYPTO_ERR_LENGTH);
	ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, bad, 65), CRYPTO_ERR_LENGTH);
	/* r or s zero, n, all-ones */
	for (int half = 0; half < 2; half++) {
		memcpy(bad, sig, P256_SIG_LEN);
		memset(bad + 32 * half, 0, 32);
		ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, bad, 64), CRYPTO_ERR_SIG_RANGE);
		memcpy(bad + 32 * half, n, 32);
		ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, bad, 64), CRYPTO_ERR_SIG_RANGE);
		memset(bad + 32 * half, 0xff, 32);
		ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, bad, 64), CRYPTO_ERR_SIG_RANGE);
		/* n - 1 is in range: a wrong but well-formed signature */
		memcpy(bad + 32 * half, n, 32);
		bad[32 * half + 31]--;
		ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, bad, 64), CRYPTO_ERR_SIGNATURE);
	}
	/* the key's errors come first */
	pub[0] = 3;
	ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, bad, 63), CRYPTO_ERR_ENCODING);
	ck_assert_int_eq(p256_verify(pub, 33, h, sig, 64), CRYPTO_ERR_LENGTH);
	pub[0] = 4;
	/* another digest */
	h[0] ^= 1;
	ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, sig, 64), CRYPTO_ERR_SIGNATURE);
}
END_TEST

/* Digests that are 0 mod n (u1 = 0), n - 1 and all-ones sign and verify, and OpenSSL
 * agrees. */
START_TEST(p256_sign_edge_digests)
{
	uint8_t d[32], pub[P256_PUB_LEN], h[3][32], sig[P256_SIG_LEN];

	scalar_bytes(-12345, d);
	ck_assert_int_eq(p256_public_from_private(d, pub), CRYPTO_OK);
	memset(h[0], 0, 32);
	tu_hex(N_HEX, h[1], 32);
	memset(h[2], 0xff, 32);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(p256_sign(d, h[i], NULL, 0, sig), CRYPTO_OK);
		ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h[i], sig, 64), CRYPTO_OK);
		ck_assert(ossl_verify_digest(pub, h[i], sig));
	}
	/* 0 and n are the same digest mod n: the same deterministic signature */
	{
		uint8_t s0[P256_SIG_LEN], s1[P256_SIG_LEN];

		ck_assert_int_eq(p256_sign(d, h[0], NULL, 0, s0), CRYPTO_OK);
		ck_assert_int_eq(p256_sign(d, h[1], NULL, 0, s1), CRYPTO_OK);
		ck_assert_mem_eq(s0, s1, P256_SIG_LEN);
	}
}
END_TEST

/*
 * Signatures crafted (knowing d) so that u1 G and u2 Q are equal — the final sum is a
 * doubling — or opposite — it is the identity. For R = k G, r = x(R) mod n:
 * e = r d, s = 2 r d / k gives u1 = u2 d = k/2, a valid signature; e = -r d gives
 * u1 G = -u2 Q, never valid.
 */
START_TEST(p256_verify_sum_doubling_and_identity)
{
	BN_CTX *bc = BN_CTX_new();
	BIGNUM *n = NULL, *bd = BN_new(), *bk = BN_new(), *br = BN_new(), *be = BN_new(),
	       *bs = BN_new(), *t = BN_new();
	uint8_t d[32], k[32], pub[P256_PUB_LEN], rp[P256_PUB_LEN], h[32], sig[P256_SIG_LEN];

	ck_assert_int_gt(BN_hex2bn(&n, N_HEX), 0);
	scalar_bytes(0x51ed, d);
	scalar_bytes(0x7e57, k);
	ck_assert_int_eq(p256_public_from_private(d, pub), CRYPTO_OK);
	ck_assert_int_eq(p256_public_from_private(k, rp), CRYPTO_OK);
	ck_assert_ptr_nonnull(BN_bin2bn(d, 32, bd));
	ck_assert_ptr_nonnull(BN_bin2bn(k, 32, bk));
	ck_assert_ptr_nonnull(BN_bin2bn(rp + 1, 32, br));
	ck_assert_int_eq(BN_nnmod(br, br, n, bc), 1);
	ck_assert_int_eq(BN_mod_mul(be, br, bd, n, bc), 1); /* e = r d */
	ck_assert_ptr_nonnull(BN_mod_inverse(t, bk, n, bc));
	ck_assert_int_eq(BN_mod_mul(bs, be, t, n, bc), 1);
	ck_assert_int_eq(BN_mod_add(bs, bs, bs, n, bc), 1); /* s = 2 r d / k */
	ck_assert_int_eq(BN_bn2binpad(be, h, 32), 32);
	ck_assert_int_eq(BN_bn2binpad(br, sig, 32), 32);
	ck_assert_int_eq(BN_bn2binpad(bs, sig + 32, 32), 32);
	ck_assert(ossl_verify_digest(pub, h, sig));
	ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, sig, 64), CRYPTO_OK);

	ck_assert_int_eq(BN_sub(be, n, be), 1); /* e = -r d */
	ck_assert_int_eq(BN_bn2binpad(be, h, 32), 32);
	ck_assert(!ossl_verify_digest(pub, h, sig));
	ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, sig, 64), CRYPTO_ERR_SIGNATURE);

	BN_free(n);
	BN_free(bd);
	BN_free(bk);
	BN_free(br);
	BN_free(be);
	BN_free(bs);
	BN_free(t);
	BN_CTX_free(bc);
}
END_TEST

/* Hedged signatures differ from the plain one and from each other, are deterministic
 * for the same extra bytes, and verify everywhere. */
START_TEST(p256_sign_hedged)
{
	uint8_t x[32], pub[P256_PUB_LEN], h[32], plain[64], a[64], b[64], a2[64];
	uint8_t e1[32], e2[40];

	tu_hex(RFC_X, x, 32);
	tu_hex(RFC_PUB, pub, P256_PUB_LEN);
	sha256("sample", 6, h);
	memset(e1, 1, sizeof(e1));
	memset(e2, 2, sizeof(e2));
	ck_assert_int_eq(p256_sign(x, h, NULL, 0, plain), CRYPTO_OK);
	ck_assert_int_eq(p256_sign(x, h, e1, sizeof(e1), a), CRYPTO_OK);
	ck_assert_int_eq(p256_sign(x, h, e2, sizeof(e2), b), CRYPTO_OK);
	ck_assert_int_eq(p256_sign(x, h, e1, sizeof(e1), a2), CRYPTO_OK);
	ck_assert_mem_ne(plain, a, 64);
	ck_assert_mem_ne(a, b, 64);
	ck_assert_mem_eq(a, a2, 64);
	ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, a, 64), CRYPTO_OK);
	ck_assert(ossl_verify_digest(pub, h, a));
	ck_assert(ossl_verify_digest(pub, h, b));
}
END_TEST

/* Rejection sampling: 0, n and all-ones are skipped, the first candidate in range is
 * the key; too few bytes, or none in range, is CRYPTO_ERR_RNG with outputs zeroed. */
START_TEST(p256_keygen_rejection_sampling)
{
	uint8_t rnd[5 * 32], priv[32], pub[P256_PUB_LEN], want[P256_PUB_LEN];

	memset(rnd, 0, 32);
	tu_hex(N_HEX, rnd + 32, 32);
	memset(rnd + 64, 0xff, 32);
	scalar_bytes(-1, rnd + 96); /* n - 1: the largest key */
	memset(rnd + 128, 0x42, 32);
	ck_assert_int_eq(p256_keygen(rnd, sizeof(rnd), priv, pub), CRYPTO_OK);
	ck_assert_mem_eq(priv, rnd + 96, 32);
	ossl_public(priv, want);
	ck_assert_mem_eq(pub, want, P256_PUB_LEN);

	memset(priv, 0x55, 32);
	memset(pub, 0x55, sizeof(pub));
	ck_assert_int_eq(p256_keygen(rnd, 96, priv, pub), CRYPTO_ERR_RNG);
	ck_assert(all_zero(priv, 32) && all_zero(pub, sizeof(pub)));
	ck_assert_int_eq(p256_keygen(rnd + 96, 31, priv, pub), CRYPTO_ERR_RNG);
	ck_assert_int_eq(p256_keygen(rnd + 128, 32, priv, pub), CRYPTO_OK);
	ck_assert_mem_eq(priv, rnd + 128, 32);
}
END_TEST

START_TEST(p256_public_keys_match_openssl)
{
	struct at_rng r = at_rng(0x9b1c);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		uint8_t rnd[64], priv[32], pub[P256_PUB_LEN], want[P256_PUB_LEN];

		at_fill(&r, rnd, sizeof(rnd));
		ck_assert_int_eq(p256_keygen(rnd, sizeof(rnd), priv, pub), CRYPTO_OK);
		ossl_public(priv, want);
		ck_assert_mem_eq(pub, want, P256_PUB_LEN);
		ck_assert_int_eq(p256_public_check(pub, P256_PUB_LEN), CRYPTO_OK);
	}
	at_report("p256 public keys", n, &r);
}
END_TEST

/* Our x(a B) equals OpenSSL's x(b A), for our key a and OpenSSL's fresh key b. */
START_TEST(p256_ecdh_matches_openssl_both_ways)
{
	struct at_rng r = at_rng(0xecd4);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		uint8_t a[32], a_pub[P256_PUB_LEN], b_pub[P256_PUB_LEN], x[32], want[32];
		EVP_PKEY *b = NULL, *ap = NULL;

		at_fill(&r, a, 32);
		a[0] &= 0x7f; /* below n */
		a[31] |= 1;   /* not zero */
		ck_assert_int_eq(p256_public_from_private(a, a_pub), CRYPTO_OK);
		ck_assert_int_eq(lpa_p256_generate(&b), LPA_OK);
		ck_assert_int_eq(lpa_p256_public_bytes(b, b_pub), LPA_OK);
		ck_assert_int_eq(p256_ecdh(a, b_pub, P256_PUB_LEN, x), CRYPTO_OK);
		ck_assert_int_eq(lpa_p256_from_public(a_pub, &ap), LPA_OK);
		ck_assert_int_eq(lpa_p256_ecdh(b, ap, want), LPA_OK);
		ck_assert_mem_eq(x, want, 32);
		lpa_pkey_free(&b);
		lpa_pkey_free(&ap);
	}
	at_report("p256 ecdh", n, &r);
}
END_TEST

START_TEST(p256_signatures_verify_in_openssl)
{
	struct at_rng r = at_rng(0x5167);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		uint8_t rnd[64], d[32], pub[P256_PUB_LEN], msg[100], h[32], sig[P256_SIG_LEN];
		uint8_t extra[32];
		size_t len = at_len(&r, sizeof(msg)), extra_len = at_below(&r, 2) * 32;
		EVP_PKEY *k = NULL;

		at_fill(&r, rnd, sizeof(rnd));
		at_fill(&r, msg, len);
		at_fill(&r, extra, sizeof(extra));
		ck_assert_int_eq(p256_keygen(rnd, sizeof(rnd), d, pub), CRYPTO_OK);
		sha256(msg, len, h);
		ck_assert_int_eq(p256_sign(d, h, extra, extra_len, sig), CRYPTO_OK);
		ck_assert_int_eq(lpa_p256_from_public(pub, &k), LPA_OK);
		ck_assert_int_eq(lpa_p256_verify(k, msg, len, sig), LPA_OK);
		lpa_pkey_free(&k);
	}
	at_report("p256 sign (verified by OpenSSL)", n, &r);
}
END_TEST

/* Our verdict on one bit flipped anywhere in the signature or the digest. */
static void refuse_mutation(const uint8_t pub[P256_PUB_LEN], const uint8_t h[32],
			    const uint8_t sig[P256_SIG_LEN], unsigned bit)
{
	uint8_t mh[32], ms[P256_SIG_LEN];
	int ret;

	memcpy(mh, h, 32);
	memcpy(ms, sig, P256_SIG_LEN);
	if (bit < 8 * P256_SIG_LEN)
		ms[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	else
		mh[(bit - 8 * P256_SIG_LEN) / 8] ^= (uint8_t)(1u << (bit % 8));
	ret = p256_verify(pub, P256_PUB_LEN, mh, ms, P256_SIG_LEN);
	ck_assert_msg(ret == CRYPTO_ERR_SIGNATURE || ret == CRYPTO_ERR_SIG_RANGE,
		      "mutated bit %u accepted (%d)", bit, ret);
}

/*
 * OpenSSL signs, we verify; one random bit flipped (signature or digest) is refused in
 * every case, and every one of the 768 single-bit mutations in one case of 1,000.
 */
START_TEST(p256_openssl_signatures_verify)
{
	struct at_rng r = at_rng(0x0551);
	long n = at_cases(), swept = 0;

	for (long i = 0; i < n; i++) {
		uint8_t pub[P256_PUB_LEN], msg[100], h[32], sig[P256_SIG_LEN];
		size_t len = at_len(&r, sizeof(msg));
		EVP_PKEY *k = NULL;

		ck_assert_int_eq(lpa_p256_generate(&k), LPA_OK);
		ck_assert_int_eq(lpa_p256_public_bytes(k, pub), LPA_OK);
		at_fill(&r, msg, len);
		ck_assert_int_eq(lpa_p256_sign(k, msg, len, sig), LPA_OK);
		lpa_pkey_free(&k);
		sha256(msg, len, h);
		ck_assert_int_eq(p256_verify(pub, P256_PUB_LEN, h, sig, P256_SIG_LEN), CRYPTO_OK);
		refuse_mutation(pub, h, sig, (unsigned)at_below(&r, 8 * (P256_SIG_LEN + 32)));
		if (i % 1000 == 0) {
			for (unsigned bit = 0; bit < 8 * (P256_SIG_LEN + 32); bit++)
				refuse_mutation(pub, h, sig, bit);
			swept++;
		}
	}
	at_report("p256 verify (OpenSSL signatures)", n, &r);
	printf("p256 verify: all 768 single-bit mutations refused in %ld of them\n", swept);
}
END_TEST

int main(void)
{
	struct tu_case cases[] = {
		TU_CASE(p256_rfc6979_a25_sha256),
		TU_CASE(p256_public_check_refusals),
		TU_CASE(p256_private_range_refusals),
		TU_CASE(p256_ecdh_refuses_bad_peers),
		TU_CASE(p256_edge_scalars_match_openssl),
		TU_CASE(p256_verify_refusals),
		TU_CASE(p256_sign_edge_digests),
		TU_CASE(p256_verify_sum_doubling_and_identity),
		TU_CASE(p256_sign_hedged),
		TU_CASE(p256_keygen_rejection_sampling),
		TU_CASE_SLOW(p256_public_keys_match_openssl, at_timeout()),
		TU_CASE_SLOW(p256_ecdh_matches_openssl_both_ways, at_timeout()),
		TU_CASE_SLOW(p256_signatures_verify_in_openssl, at_timeout()),
		TU_CASE_SLOW(p256_openssl_signatures_verify, at_timeout()),
	};

	return tu_main_fixture("agent-p256", cases, TU_N(cases), setup, NULL);
}
