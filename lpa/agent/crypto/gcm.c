/*
 * gcm.c — AES-GCM (NIST SP 800-38D) with a 96-bit IV and a 128-bit tag. GHASH is the
 * plain right-shift multiply of §6.3 over four big-endian words, with each conditional
 * XOR turned into an AND with a mask made from the bit (no table, no branch on H or on
 * the data): 128 steps per block (about 7,500 ARMv6-M instructions, an eighth of the
 * AES-256 block next to it), small, and its time depends on lengths only.
 *
 * gcm_open hashes the whole ciphertext and checks the tag before it produces a single
 * byte of plaintext; the only branch on secret-derived data is on the verdict.
 */
#include "crypto.h"

/* SP 800-38D §5.2.1.1: len(P) <= 2^39 - 256 bits, len(A) < 2^64 bits. */
#define GCM_MAX_LEN 0xfffffffe0ull
#define GCM_MAX_AAD 0x1fffffffffffffffull

struct gcm {
	struct aes aes;
	uint32_t h[4];  /* the hash key E(K, 0^128), big-endian words */
	uint32_t x[4];  /* the running GHASH value */
	uint8_t cb[16]; /* the counter block */
	uint8_t j0[16]; /* E(K, J0), which masks the tag */
	uint8_t ks[16]; /* the current keystream block */
};

static uint32_t gcm_load(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* x = x * H in GF(2^128); bit 0 is the most significant bit of the first byte. */
static void gcm_mult(struct gcm *g)
{
	uint32_t z0 = 0, z1 = 0, z2 = 0, z3 = 0, v0 = g->h[0], v1 = g->h[1], v2 = g->h[2],
		 v3 = g->h[3], m, w;

	for (int k = 0; k < 4; k++) {
		w = g->x[k];
		for (int i = 0; i < 32; i++, w <<= 1) {
			m = 0u - (w >> 31);
			z0 ^= v0 & m;
			z1 ^= v1 & m;
			z2 ^= v2 & m;
			z3 ^= v3 & m;
			/* V = V >> 1, reduced by R = 11100001 || 0^120 when a 1 is shifted out. */
			m = 0u - (v3 & 1u);
			v3 = v3 >> 1 | v2 << 31;
			v2 = v2 >> 1 | v1 << 31;
			v1 = v1 >> 1 | v0 << 31;
			v0 = (v0 >> 1) ^ (0xe1000000u & m);
		}
	}
	g->x[0] = z0;
	g->x[1] = z1;
	g->x[2] = z2;
	g->x[3] = z3;
}

/* Absorbs data zero-padded to whole blocks. */
static void gcm_hash(struct gcm *g, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		g->x[(i >> 2) & 3] ^= (uint32_t)p[i] << (24 - 8 * (i & 3));
		if ((i & 15) == 15 || i + 1 == len)
			gcm_mult(g);
	}
}

/* The tag over aad and ct: GHASH of both and their bit lengths, XOR E(K, J0). */
static void gcm_tag(struct gcm *g, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
		    size_t len, uint8_t tag[GCM_TAG_LEN])
{
	gcm_hash(g, aad, aad_len);
	gcm_hash(g, ct, len);
	/* Lengths in bits as two 64-bit big-endian numbers, split without 64-bit shifts. */
	g->x[0] ^= (uint32_t)(aad_len >> 29);
	g->x[1] ^= (uint32_t)aad_len << 3;
	g->x[2] ^= (uint32_t)(len >> 29);
	g->x[3] ^= (uint32_t)len << 3;
	gcm_mult(g);
	for (int i = 0; i < 16; i++)
		tag[i] = g->j0[i] ^ (uint8_t)(g->x[i >> 2] >> (24 - 8 * (i & 3)));
}

/* CTR from inc32(J0); out may be in. */
static void gcm_ctr(struct gcm *g, const uint8_t *in, size_t len, uint8_t *out)
{
	for (size_t i = 0; i < len; i++) {
		if ((i & 15) == 0) {
			for (int j = 15; j >= 12; j--)
				if (++g->cb[j] != 0)
					break;
			aes_encrypt(&g->aes, g->cb, g->ks);
		}
		out[i] = in[i] ^ g->ks[i & 15];
	}
}

static int gcm_start(struct gcm *g, const uint8_t *key, size_t key_len,
		     const uint8_t iv[GCM_IV_LEN])
{
	int r;

	if ((r = aes_setkey(&g->aes, key, key_len)) != CRYPTO_OK)
		return r;
	for (int i = 0; i < 16; i++)
		g->cb[i] = 0;
	aes_encrypt(&g->aes, g->cb, g->ks);
	for (int i = 0; i < 4; i++) {
		g->h[i] = gcm_load(g->ks + 4 * i);
		g->x[i] = 0;
	}
	/* J0 = IV || 0^31 || 1 for a 96-bit IV; keep E(K, J0) for the tag. */
	for (int i = 0; i < GCM_IV_LEN; i++)
		g->cb[i] = iv[i];
	g->cb[15] = 1;
	aes_encrypt(&g->aes, g->cb, g->j0);
	return CRYPTO_OK;
}

static int gcm_lengths_ok(size_t aad_len, size_t len)
{
#if SIZE_MAX > 0xffffffffu
	return len <= GCM_MAX_LEN && aad_len <= GCM_MAX_AAD;
#else
	/* A 32-bit size_t cannot exceed either limit. */
	(void)aad_len;
	(void)len;
	return 1;
#endif
}

int gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[GCM_IV_LEN], const uint8_t *aad,
	     size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[GCM_TAG_LEN])
{
	struct gcm g;
	int r = CRYPTO_ERR_LENGTH;

	if (!gcm_lengths_ok(aad_len, len) || (r = gcm_start(&g, key, key_len, iv)) != CRYPTO_OK)
		goto fail;
	gcm_ctr(&g, pt, len, ct);
	gcm_tag(&g, aad, aad_len, ct, len, tag);
	r = CRYPTO_OK;
fail:
	if (r != CRYPTO_OK)
		ct_wipe(tag, GCM_TAG_LEN);
	ct_wipe(&g, sizeof(g));
	return r;
}

int gcm_open(const uint8_t *key, size_t key_len, const uint8_t iv[GCM_IV_LEN], const uint8_t *aad,
	     size_t aad_len, const uint8_t *ct, size_t len, const uint8_t tag[GCM_TAG_LEN],
	     uint8_t *pt)
{
	struct gcm g;
	uint8_t t[GCM_TAG_LEN];
	int r = CRYPTO_ERR_LENGTH;

	/* An impossible length is refused before anything is touched. */
	if (!gcm_lengths_ok(aad_len, len))
		return CRYPTO_ERR_LENGTH;
	if ((r = gcm_start(&g, key, key_len, iv)) != CRYPTO_OK)
		goto fail;
	gcm_tag(&g, aad, aad_len, ct, len, t);
	if (ct_memcmp(t, tag, GCM_TAG_LEN) != 0) {
		r = CRYPTO_ERR_TAG;
		goto fail;
	}
	gcm_ctr(&g, ct, len, pt);
	r = CRYPTO_OK;
fail:
	if (r != CRYPTO_OK)
		ct_wipe(pt, len);
	ct_wipe(&g, sizeof(g));
	ct_wipe(t, sizeof(t));
	return r;
}
