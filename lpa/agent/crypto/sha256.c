/*
 * sha256.c — SHA-256 (FIPS 180-4). Small rather than fast: one compression loop over
 * a rolling 16-word schedule (64 bytes of stack instead of 256). Nothing here depends
 * on the data but its length, so hashing secrets is constant-time.
 */
#include "ct-private.h"

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of
 * the first 64 primes. */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t sha256_ror(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static void sha256_compress(uint32_t h[8], const uint8_t block[SHA256_BLOCK])
{
	uint32_t w[16], s[8];

	for (unsigned i = 0; i < 16; i++)
		w[i] = ct_load_be32(block + 4 * i);
	for (unsigned i = 0; i < 8; i++)
		s[i] = h[i];
	for (unsigned i = 0; i < 64; i++) {
		uint32_t t1, t2;

		if (i >= 16) {
			/* W[i] = s1(W[i-2]) + W[i-7] + s0(W[i-15]) + W[i-16], in place. */
			uint32_t w15 = w[(i + 1) & 15], w2 = w[(i + 14) & 15];
			uint32_t s0 = sha256_ror(w15, 7) ^ sha256_ror(w15, 18) ^ (w15 >> 3);
			uint32_t s1 = sha256_ror(w2, 17) ^ sha256_ror(w2, 19) ^ (w2 >> 10);

			w[i & 15] += s0 + w[(i + 9) & 15] + s1;
		}
		t1 = s[7] + (sha256_ror(s[4], 6) ^ sha256_ror(s[4], 11) ^ sha256_ror(s[4], 25)) +
		     ((s[4] & s[5]) ^ (~s[4] & s[6])) + sha256_k[i] + w[i & 15];
		t2 = (sha256_ror(s[0], 2) ^ sha256_ror(s[0], 13) ^ sha256_ror(s[0], 22)) +
		     ((s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]));
		for (unsigned j = 7; j > 0; j--)
			s[j] = s[j - 1];
		s[4] += t1;
		s[0] = t1 + t2;
	}
	for (unsigned i = 0; i < 8; i++)
		h[i] += s[i];
	ct_wipe(w, sizeof(w));
	ct_wipe(s, sizeof(s));
}

void sha256_init(struct sha256 *c)
{
	/* §5.3.3: the fractional parts of the square roots of the first 8 primes. */
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	for (unsigned i = 0; i < 8; i++)
		c->h[i] = iv[i];
	c->bytes = 0;
	c->fill = 0;
}

void sha256_update(struct sha256 *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->bytes += len;
	while (len > 0) {
		size_t n = SHA256_BLOCK - c->fill;

		if (n > len)
			n = len;
		ct_memcpy(c->buf + c->fill, p, n);
		c->fill += (uint32_t)n;
		p += n;
		len -= n;
		if (c->fill == SHA256_BLOCK) {
			sha256_compress(c->h, c->buf);
			c->fill = 0;
		}
	}
}

void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN])
{
	uint64_t bits = c->bytes << 3;

	/* §5.1.1: a one bit, zeros to 56 mod 64, the length in bits big-endian. */
	c->buf[c->fill++] = 0x80;
	while (c->fill != SHA256_BLOCK - 8) {
		if (c->fill == SHA256_BLOCK) {
			sha256_compress(c->h, c->buf);
			c->fill = 0;
		} else {
			c->buf[c->fill++] = 0;
		}
	}
	ct_store_be32(c->buf + 56, (uint32_t)(bits >> 32));
	ct_store_be32(c->buf + 60, (uint32_t)bits);
	sha256_compress(c->h, c->buf);
	for (unsigned i = 0; i < 8; i++)
		ct_store_be32(out + 4 * i, c->h[i]);
	ct_wipe(c, sizeof(*c));
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, out);
}
