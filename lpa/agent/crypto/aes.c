/*
 * aes.c — AES-128/256 block encryption (FIPS-197) with no table and no branch on
 * secret data. The state is four 32-bit columns, byte r of a column in bits 8r..8r+7,
 * and every step works on the four bytes of a column at once: the S-box is computed as
 * the GF(2^8) inverse x^254 (an addition chain of 7 squarings and 4 products on byte
 * lanes, made of shifts, masks, XORs and multiplications by constants) followed by the
 * affine map. Slow next to a table but small (about 740 bytes of Thumb), and its time
 * depends on nothing but the key length: on ARMv6-M about 39,000 instructions per
 * AES-128 block and 54,000 per AES-256 block (counted in an emulated Cortex-M0).
 */
#include "crypto.h"

/* Doubles each of the four byte lanes in GF(2^8) (reduction by x^8 + x^4 + x^3 + x + 1). */
static uint32_t aes_xtime(uint32_t a)
{
	return ((a & 0x7f7f7f7fu) << 1) ^ (((a >> 7) & 0x01010101u) * 0x1bu);
}

/* Lane-wise product a * b in GF(2^8): the mask of each lane's next bit of b selects
 * whether a (doubled once per bit) is added, so there is no branch. */
static uint32_t aes_mul(uint32_t a, uint32_t b)
{
	uint32_t r = 0;

	for (int i = 0; i < 8; i++) {
		r ^= a & ((b & 0x01010101u) * 0xffu);
		b >>= 1;
		a = aes_xtime(a);
	}
	return r;
}

/* Lane-wise square. Squaring is linear in GF(2^8): bits 0..3 spread to the even
 * positions, and bits 4..7 land on x^8, x^10, x^12, x^14, which reduce to 0x1b, 0x6c,
 * 0xab and 0x9a. A sixth of the cost of aes_mul(a, a), still without a branch. */
static uint32_t aes_sq(uint32_t a)
{
	uint32_t t = a & 0x0f0f0f0fu, m = 0x01010101u;

	t = (t | t << 2) & 0x33333333u;
	t = (t | t << 1) & 0x55555555u;
	return t ^ ((a >> 4) & m) * 0x1bu ^ ((a >> 5) & m) * 0x6cu ^ ((a >> 6) & m) * 0xabu ^
	       ((a >> 7) & m) * 0x9au;
}

/* SubBytes on four lanes: x^254 (the inverse, 0 for 0), then the affine map
 * b ^ rotl(b,1) ^ rotl(b,2) ^ rotl(b,3) ^ rotl(b,4) ^ 0x63 in every lane. */
static uint32_t aes_sub(uint32_t x)
{
	uint32_t x2 = aes_sq(x), x3 = aes_mul(x2, x), x12, t, s;

	x12 = aes_sq(aes_sq(x3)); /* x^12 */
	t = aes_mul(x12, x3);     /* x^15 */
	for (int i = 0; i < 4; i++)
		t = aes_sq(t); /* x^240 */
	t = aes_mul(t, x12);   /* x^252 */
	t = aes_mul(t, x2);    /* x^254 */
	s = t ^ 0x63636363u;
	for (int i = 0; i < 4; i++) {
		t = ((t << 1) & 0xfefefefeu) | ((t >> 7) & 0x01010101u);
		s ^= t;
	}
	return s;
}

static uint32_t aes_ror8(uint32_t w)
{
	return (w >> 8) | (w << 24);
}

/* MixColumns on one column: out_r = 2(a_r ^ a_r+1) ^ a_r+1 ^ a_r+2 ^ a_r+3. */
static uint32_t aes_mix(uint32_t w)
{
	uint32_t u = w ^ aes_ror8(w);

	return aes_xtime(u) ^ aes_ror8(w) ^ (u >> 16 | u << 16);
}

static uint32_t aes_load(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int aes_setkey(struct aes *a, const uint8_t *key, size_t key_len)
{
	uint32_t nk = (uint32_t)key_len / 4, rcon = 1, t;

	if (key_len != 16 && key_len != 32) {
		aes_wipe(a);
		return CRYPTO_ERR_LENGTH;
	}
	a->rounds = nk + 6;
	for (uint32_t i = 0; i < nk; i++)
		a->rk[i] = aes_load(key + 4 * i);
	/* FIPS-197 §5.2; nk is 4 or 8, so i % nk is a mask. The branches follow i only. */
	for (uint32_t i = nk; i < 4 * (a->rounds + 1); i++) {
		t = a->rk[i - 1];
		if ((i & (nk - 1)) == 0) {
			t = aes_sub(aes_ror8(t)) ^ rcon;
			rcon = aes_xtime(rcon);
		} else if (nk == 8 && (i & 7) == 4) {
			t = aes_sub(t);
		}
		a->rk[i] = a->rk[i - nk] ^ t;
	}
	return CRYPTO_OK;
}

void aes_encrypt(const struct aes *a, const uint8_t in[AES_BLOCK], uint8_t out[AES_BLOCK])
{
	const uint32_t *rk = a->rk;
	uint32_t s[4], t[4];

	for (int c = 0; c < 4; c++)
		s[c] = aes_load(in + 4 * c) ^ rk[c];
	for (uint32_t r = 1;; r++) {
		rk += 4;
		for (int c = 0; c < 4; c++)
			t[c] = aes_sub(s[c]);
		/* ShiftRows: row r of column c comes from column c + r. */
		for (int c = 0; c < 4; c++)
			s[c] = (t[c] & 0xffu) | (t[(c + 1) & 3] & 0xff00u) |
			       (t[(c + 2) & 3] & 0xff0000u) | (t[(c + 3) & 3] & 0xff000000u);
		if (r == a->rounds)
			break;
		for (int c = 0; c < 4; c++)
			s[c] = aes_mix(s[c]) ^ rk[c];
	}
	/* in may be out: it was read completely before the first store. */
	for (int c = 0; c < 4; c++) {
		uint32_t w = s[c] ^ rk[c];

		for (int i = 0; i < 4; i++)
			out[4 * c + i] = (uint8_t)(w >> (8 * i));
	}
	ct_wipe(s, sizeof(s));
	ct_wipe(t, sizeof(t));
}

void aes_wipe(struct aes *a)
{
	ct_wipe(a, sizeof(*a));
}
