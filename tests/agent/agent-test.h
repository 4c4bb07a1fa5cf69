/*
 * agent-test.h — what the agent crypto tests share: a seeded PRNG for the differential
 * tests and their case count.
 *
 * Every differential test runs 1,000 cases from a fixed seed. A campaign runs more:
 *   LPA_DIFF_CASES=100000 build/tests/agent/test-agent-gcm
 * (LPA_DIFF_SEED=N picks another seed; each test prints its count and seed.)
 */
#ifndef LPA_AGENT_TEST_H
#define LPA_AGENT_TEST_H

#include <stdio.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "testutil.h"

#define AT_DEFAULT_CASES 1000

/* A P-256 key whose private scalar is SHA-256(label): the same key in every run. */
static inline EVP_PKEY *at_key_from_label(const char *label)
{
	uint8_t d[32];
	EVP_PKEY *k = NULL;

	ck_assert_int_eq(lpa_sha256(label, strlen(label), d), LPA_OK);
	ck_assert_int_eq(lpa_p256_from_private(d, &k), LPA_OK);
	return k;
}

static inline long at_cases(void)
{
	const char *e = getenv("LPA_DIFF_CASES");
	long n = e != NULL ? strtol(e, NULL, 10) : 0;

	return n > 0 ? n : AT_DEFAULT_CASES;
}

/* Seconds for a differential TCase: generous for the suite, open-ended for a campaign. */
static inline int at_timeout(void)
{
	return at_cases() > AT_DEFAULT_CASES ? 24 * 3600 : 60;
}

/* splitmix64: small, and the same sequence everywhere for a seed. */
struct at_rng {
	uint64_t s, seed;
};

static inline struct at_rng at_rng(uint64_t seed)
{
	const char *e = getenv("LPA_DIFF_SEED");
	struct at_rng r;

	r.seed = r.s = e != NULL ? strtoull(e, NULL, 0) : seed;
	return r;
}

static inline uint64_t at_u64(struct at_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform enough in [0, n) for test lengths. */
static inline size_t at_below(struct at_rng *r, size_t n)
{
	return (size_t)(at_u64(r) % n);
}

static inline void at_fill(struct at_rng *r, void *p, size_t n)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)at_u64(r);
}

/* A length for a differential case: mostly short, sometimes around block edges, now
 * and then long. */
static inline size_t at_len(struct at_rng *r, size_t max)
{
	size_t n;

	switch (at_below(r, 4)) {
	case 0:
		n = at_below(r, 17);
		break;
	case 1:
		n = 16 * (1 + at_below(r, 7)) + at_below(r, 3) - 1;
		break;
	case 2:
		n = at_below(r, 80);
		break;
	default:
		n = at_below(r, max + 1);
		break;
	}
	return n > max ? max : n;
}

/* One AES block through OpenSSL EVP (ECB, no padding), key 16 or 32 bytes: the
 * reference block cipher (lpa/core keeps its AES-128 block helper private). */
static inline void at_openssl_block(const uint8_t *key, size_t key_len, const uint8_t in[16],
				    uint8_t out[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_EncryptInit_ex(ctx,
					    key_len == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb(),
					    NULL, key, NULL),
			 1);
	ck_assert_int_eq(EVP_CIPHER_CTX_set_padding(ctx, 0), 1);
	ck_assert_int_eq(EVP_EncryptUpdate(ctx, out, &n, in, 16), 1);
	ck_assert_int_eq(n, 16);
	EVP_CIPHER_CTX_free(ctx);
}

static inline void at_report(const char *what, long n, const struct at_rng *r)
{
	printf("%s: %ld differential cases agree (seed 0x%llx)\n", what, n,
	       (unsigned long long)r->seed);
	fflush(stdout);
}

#endif
