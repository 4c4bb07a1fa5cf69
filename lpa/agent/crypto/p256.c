/*
 * p256.c — NIST P-256: key generation, public-key validation, ECDH, ECDSA with
 * RFC 6979 nonces. Written for the Cortex-M0+, whose only multiplier is 32x32->32.
 *
 * Layers, bottom up:
 *  - 256-bit integers as eight 32-bit words, least significant first. Every 32x32->64
 *    product is built from four 16x16->32 ones (mac32) and every carry is computed
 *    with 32-bit compares, so no libgcc helper (__aeabi_lmul) is called, nothing
 *    branches on data, and gcc's poor 64-bit code for Thumb-1 stays out of the loops.
 *  - Field elements mod p, always fully reduced; products reduced with the Solinas
 *    form of p (FIPS 186-4 D.2.3). Scalars mod n in the Montgomery domain (n has no
 *    special form, and only a few hundred products mod n are ever needed).
 *  - Points in Jacobian coordinates (x = X/Z^2, y = Y/Z^3, the identity has Z = 0):
 *    doubling dbl-2001-b (3M + 5S, a = -3), addition add-2007-bl (11M + 5S), both
 *    from the Explicit-Formulas Database. The doubling has no exception on a curve of
 *    prime order; the addition is wrong for the identity (handled by selecting the
 *    other operand by mask) and for equal operands, which the scalar multiplication
 *    below meets in one place only, where it also computes the doubling and selects.
 *  - Scalar multiplication by a fixed window of 3 bits with signed digits in [-4, 4]
 *    (Booth recoding), 86 windows: 255 doublings, 85 additions; the addend is read
 *    from a 4-entry table by scanning every entry.
 * Secrets never choose a branch or an address. Where a value derived from a secret is
 * public by design (whether a candidate scalar was rejected, a signature's r and s),
 * CT_PUBLIC says so before the code branches on it. The field arithmetic does not wipe
 * its temporaries; every public function that handles a secret ends with
 * ct_stack_scrub(), which zeroes the stack its work used (tests/agent check on the
 * ARMv6-M build that it covers it all).
 */
#include "ct-private.h"

#define W 8 /* words per 256-bit number */

struct pt {
	uint32_t x[W], y[W], z[W];
};

static const uint32_t p256_p[W] = {0xffffffff, 0xffffffff, 0xffffffff, 0x00000000,
				   0x00000000, 0x00000000, 0x00000001, 0xffffffff};
static const uint32_t p256_n[W] = {0xfc632551, 0xf3b9cac2, 0xa7179e84, 0xbce6faad,
				   0xffffffff, 0xffffffff, 0x00000000, 0xffffffff};
static const uint32_t p256_b[W] = {0x27d2604b, 0x3bce3c3e, 0xcc53b0f6, 0x651d06b0,
				   0x769886bc, 0xb3ebbd55, 0xaa3a93e7, 0x5ac635d8};
/* 2^512 mod n, to enter the Montgomery domain, and -1/n mod 2^32. */
static const uint32_t p256_n_r2[W] = {0xbe79eea2, 0x83244c95, 0x49bd6fa6, 0x4699799c,
				      0x2b6bec59, 0x2845b239, 0xf3d95620, 0x66e12d94};
#define P256_N_INV 0xee00bc4fu
static const struct pt p256_g = {
	{0xd898c296, 0xf4a13945, 0x2deb33a0, 0x77037d81, 0x63a440f2, 0xf8bce6e5, 0xe12c4247,
	 0x6b17d1f2},
	{0x37bf51f5, 0xcbb64068, 0x6b315ece, 0x2bce3357, 0x7c0f9e16, 0x8ee7eb4a, 0xfe1a7f9b,
	 0x4fe342e2},
	{1, 0, 0, 0, 0, 0, 0, 0},
};

/* ------------------------------------------------------------ 256-bit integers */

static void u256_copy(uint32_t r[W], const uint32_t a[W])
{
	for (unsigned i = 0; i < W; i++)
		r[i] = a[i];
}

static void u256_set_small(uint32_t r[W], uint32_t v)
{
	r[0] = v;
	for (unsigned i = 1; i < W; i++)
		r[i] = 0;
}

/* r = mask ? a : r. */
static void u256_cmov(uint32_t r[W], const uint32_t a[W], uint32_t mask)
{
	for (unsigned i = 0; i < W; i++)
		r[i] ^= mask & (r[i] ^ a[i]);
}

/* r = a + b, returns the carry. r may alias a or b. */
static uint32_t u256_add(uint32_t r[W], const uint32_t a[W], const uint32_t b[W])
{
	uint32_t c = 0;

	for (unsigned i = 0; i < W; i++) {
		uint32_t s = a[i] + c, c1 = s < c;
		uint32_t t = s + b[i];

		c = c1 + (t < s);
		r[i] = t;
	}
	return c;
}

/* r = a - b, returns the borrow. r may alias a or b. */
static uint32_t u256_sub(uint32_t r[W], const uint32_t a[W], const uint32_t b[W])
{
	uint32_t borrow = 0;

	for (unsigned i = 0; i < W; i++) {
		uint32_t x = a[i], y = b[i];
		uint32_t d = x - y, b1 = x < y;

		r[i] = d - borrow;
		borrow = b1 | (d < borrow);
	}
	return borrow;
}

/* All-ones when a is zero. */
static uint32_t u256_mask_zero(const uint32_t a[W])
{
	uint32_t d = 0;

	for (unsigned i = 0; i < W; i++)
		d |= a[i];
	return ~ct_mask_nonzero(d);
}

/* All-ones when a < m. */
static uint32_t u256_mask_lt(const uint32_t a[W], const uint32_t m[W])
{
	uint32_t t[W];

	return ct_mask_bit(u256_sub(t, a, m));
}

/*
 * lo + hi * 2^32 = (ah 2^16 + al) * b + c + d, which cannot overflow ((2^32-1)^2 +
 * 2 (2^32-1) = 2^64 - 1), from four 16x16->32 products: ARMv6-M has no long multiply.
 * The caller splits a once per row.
 */
static inline __attribute__((always_inline)) uint32_t mac32(uint32_t al, uint32_t ah, uint32_t b,
							    uint32_t c, uint32_t d, uint32_t *hi)
{
	uint32_t bl = b & 0xffff, bh = b >> 16;
	uint32_t lo = al * bl, h = ah * bh, m = al * bh, m2 = ah * bl;

	m += m2;
	h += (uint32_t)(m < m2) << 16;
	h += m >> 16;
	m <<= 16;
	lo += m;
	h += lo < m;
	lo += c;
	h += lo < c;
	lo += d;
	h += lo < d;
	*hi = h;
	return lo;
}

/* t[0..n) += a * b[0..n) for one word a; returns the carry out of t[n-1]. One row of
 * the schoolbook products and of the Montgomery reduction: a function of its own,
 * called 8 times per product, so mac32 is inlined once for all of them. */
static __attribute__((noinline)) uint32_t u256_mul_row(uint32_t *t, uint32_t a, const uint32_t *b,
						       unsigned n)
{
	uint32_t al = a & 0xffff, ah = a >> 16, c = 0;

	for (unsigned j = 0; j < n; j++)
		t[j] = mac32(al, ah, b[j], t[j], c, &c);
	return c;
}

/* t = a * b, 512 bits (schoolbook, operand scanning). */
static void u256_mul(uint32_t t[2 * W], const uint32_t a[W], const uint32_t b[W])
{
	for (unsigned i = 0; i < W; i++)
		t[i] = 0;
	for (unsigned i = 0; i < W; i++)
		t[i + W] = u256_mul_row(t + i, a[i], b, W);
}

/* t = a^2: the 28 products a_i a_j (i < j) once, doubled, plus the 8 squares. */
static void u256_sqr(uint32_t t[2 * W], const uint32_t a[W])
{
	uint32_t c = 0, hi;

	for (unsigned i = 0; i < 2 * W; i++)
		t[i] = 0;
	for (unsigned i = 0; i < W - 1; i++)
		t[i + W] = u256_mul_row(t + 2 * i + 1, a[i], a + i + 1, W - 1 - i);
	c = 0;
	for (unsigned i = 0; i < 2 * W; i++) {
		uint32_t v = t[i];

		t[i] = v << 1 | c;
		c = v >> 31;
	}
	c = 0;
	for (unsigned i = 0; i < W; i++) {
		uint32_t s;

		t[2 * i] = mac32(a[i] & 0xffff, a[i] >> 16, a[i], t[2 * i], c, &hi);
		s = t[2 * i + 1] + hi;
		c = s < hi;
		t[2 * i + 1] = s;
	}
}

/* Reads bytes big-endian into words. */
static void u256_from_bytes(uint32_t r[W], const uint8_t b[32])
{
	for (unsigned i = 0; i < W; i++)
		r[W - 1 - i] = ct_load_be32(b + 4 * i);
}

static void u256_to_bytes(uint8_t b[32], const uint32_t a[W])
{
	for (unsigned i = 0; i < W; i++)
		ct_store_be32(b + 4 * i, a[W - 1 - i]);
}

/* ----------------------------------------------------- arithmetic mod p and mod n */

/* r += m & mask; the carry out is dropped (callers know it cancels a borrow). */
static void u256_add_masked(uint32_t r[W], const uint32_t m[W], uint32_t mask)
{
	uint32_t c = 0;

	for (unsigned i = 0; i < W; i++) {
		uint32_t s = r[i] + c, c1 = s < c;
		uint32_t t = s + (m[i] & mask);

		c = c1 + (t < s);
		r[i] = t;
	}
}

/* r = a + b mod m, for a, b < m. r may alias a or b. */
static void mod_add(uint32_t r[W], const uint32_t a[W], const uint32_t b[W], const uint32_t m[W])
{
	uint32_t carry = 0, borrow = 0;

	/* a + b - m in one pass, tracking the addition's carry and the subtraction's
	 * borrow; a + b - m < m, so it went negative exactly when the borrow is not
	 * cancelled by a carry, and then m is added back. */
	for (unsigned i = 0; i < W; i++) {
		uint32_t s = a[i] + carry, c1 = s < carry;
		uint32_t t = s + b[i], d;

		carry = c1 + (t < s);
		d = t - m[i];
		c1 = t < m[i];
		r[i] = d - borrow;
		borrow = c1 | (d < borrow);
	}
	u256_add_masked(r, m, ct_mask_bit(borrow & ~carry));
}

/* r = a - b mod m, for a, b < m. r may alias a or b. */
static void mod_sub(uint32_t r[W], const uint32_t a[W], const uint32_t b[W], const uint32_t m[W])
{
	u256_add_masked(r, m, ct_mask_bit(u256_sub(r, a, b)));
}

static void fp_add(uint32_t r[W], const uint32_t a[W], const uint32_t b[W])
{
	mod_add(r, a, b, p256_p);
}

static void fp_sub(uint32_t r[W], const uint32_t a[W], const uint32_t b[W])
{
	mod_sub(r, a, b, p256_p);
}

/* Adds top * (2^256 mod p) = top * (2^224 - 2^192 - 2^96 + 1) to t; returns the new
 * signed carry out of bit 256. */
static int32_t fp_fold(uint32_t t[W], int32_t top)
{
	int64_t acc = (int64_t)t[0] + top;

	t[0] = (uint32_t)acc;
	acc = (acc >> 32) + t[1]; /* >> of a negative value: arithmetic in GNU C */
	t[1] = (uint32_t)acc;
	acc = (acc >> 32) + t[2];
	t[2] = (uint32_t)acc;
	acc = (acc >> 32) + t[3] - top;
	t[3] = (uint32_t)acc;
	acc = (acc >> 32) + t[4];
	t[4] = (uint32_t)acc;
	acc = (acc >> 32) + t[5];
	t[5] = (uint32_t)acc;
	acc = (acc >> 32) + t[6] - top;
	t[6] = (uint32_t)acc;
	acc = (acc >> 32) + t[7] + top;
	t[7] = (uint32_t)acc;
	return (int32_t)(acc >> 32);
}

/*
 * r = c mod p for a 512-bit c, with p's Solinas form: writing c in 32-bit words
 * c15..c0, c = T + 2 S1 + 2 S2 + S3 + S4 - D1 - D2 - D3 - D4 (mod p) (FIPS 186-4
 * D.2.3), summed here one output word at a time. Doubled and tripled terms are
 * repeated additions: multiplying a 64-bit value would call __aeabi_lmul.
 */
static void fp_reduce(uint32_t r[W], const uint32_t c[2 * W])
{
	int64_t acc;
	int32_t top;

	acc = (int64_t)c[0] + c[8] + c[9] - c[11] - c[12] - c[13] - c[14];
	r[0] = (uint32_t)acc;
	acc = (acc >> 32) + c[1] + c[9] + c[10] - c[12] - c[13] - c[14] - c[15];
	r[1] = (uint32_t)acc;
	acc = (acc >> 32) + c[2] + c[10] + c[11] - c[13] - c[14] - c[15];
	r[2] = (uint32_t)acc;
	acc = (acc >> 32) + c[3] + c[11] + c[11] + c[12] + c[12] + c[13] - c[15] - c[8] - c[9];
	r[3] = (uint32_t)acc;
	acc = (acc >> 32) + c[4] + c[12] + c[12] + c[13] + c[13] + c[14] - c[9] - c[10];
	r[4] = (uint32_t)acc;
	acc = (acc >> 32) + c[5] + c[13] + c[13] + c[14] + c[14] + c[15] - c[10] - c[11];
	r[5] = (uint32_t)acc;
	acc = (acc >> 32) + c[6] + c[14] + c[14] + c[14] + c[15] + c[15] + c[13] - c[8] - c[9];
	r[6] = (uint32_t)acc;
	acc = (acc >> 32) + c[7] + c[15] + c[15] + c[15] + c[8] - c[10] - c[11] - c[12] - c[13];
	r[7] = (uint32_t)acc;
	top = (int32_t)(acc >> 32);
	/* The sum lies in (-4 * 2^256, 7 * 2^256): top is in [-4, 6]. One fold leaves a
	 * carry of -1, 0 or 1, a second none at all (what it adds is below 7 * 2^224,
	 * far from wrapping); then r < 2^256 < 2p needs one conditional subtraction. */
	top = fp_fold(r, top);
	(void)fp_fold(r, top);
	u256_add_masked(r, p256_p, ct_mask_bit(u256_sub(r, r, p256_p)));
}

/* r = a * b mod p. r may alias a or b. */
static void fp_mul(uint32_t r[W], const uint32_t a[W], const uint32_t b[W])
{
	uint32_t t[2 * W];

	u256_mul(t, a, b);
	fp_reduce(r, t);
}

static void fp_sqr(uint32_t r[W], const uint32_t a[W])
{
	uint32_t t[2 * W];

	u256_sqr(t, a);
	fp_reduce(r, t);
}

/* r = t / 2^256 mod n (Montgomery reduction) for t < n 2^256; t is destroyed. */
static void fn_redc(uint32_t r[W], uint32_t t[2 * W])
{
	uint32_t hi = 0, borrow;

	/* Row by row, add the multiple of n that zeroes the lowest word; the carry out of
	 * each row's top word rides into the next row's top word. */
	for (unsigned i = 0; i < W; i++) {
		uint32_t c = u256_mul_row(t + i, t[i] * P256_N_INV, p256_n, W);
		uint32_t s = t[i + W] + c;

		c = s < c;
		t[i + W] = s + hi;
		hi = c + (t[i + W] < s);
	}
	/* hi * 2^256 + t[8..15] < 2n: subtract n once when needed (as in mod_add). */
	borrow = u256_sub(r, t + W, p256_n);
	u256_cmov(r, t + W, ~ct_mask_eq(hi, borrow));
}

/* r = a * b / 2^256 mod n, for a, b < n; r may alias a or b. */
static void fn_mul(uint32_t r[W], const uint32_t a[W], const uint32_t b[W])
{
	uint32_t t[2 * W];

	u256_mul(t, a, b);
	fn_redc(r, t);
}

static void fn_sqr(uint32_t r[W], const uint32_t a[W])
{
	uint32_t t[2 * W];

	u256_sqr(t, a);
	fn_redc(r, t);
}

/* r = a^(2^k) * b: k squarings, then a multiplication. r may alias a or b. */
static void fp_sqr_mul(uint32_t r[W], const uint32_t a[W], unsigned k, const uint32_t b[W])
{
	uint32_t t[W];

	u256_copy(t, a);
	while (k-- > 0)
		fp_sqr(t, t);
	fp_mul(r, t, b);
}

/*
 * r = a^(p-2) mod p, the inverse of a (Fermat; 0 for a = 0). p - 2 is, from the top,
 * 32 ones, 31 zeros, a one, 96 zeros, 94 ones, 0, 1: with x_k = a^(2^k - 1) it is
 * reached in 255 squarings and 12 multiplications (square-and-multiply would need
 * 128 of those).
 */
static void fp_inv(uint32_t r[W], const uint32_t a[W])
{
	uint32_t x2[W], x3[W], t[W], x30[W], x32[W];

	fp_sqr_mul(x2, a, 1, a);        /* x2 */
	fp_sqr_mul(x3, x2, 1, a);       /* x3 */
	fp_sqr_mul(t, x3, 3, x3);       /* x6 */
	fp_sqr_mul(t, t, 6, t);         /* x12 */
	fp_sqr_mul(t, t, 3, x3);        /* x15 */
	fp_sqr_mul(x30, t, 15, t);      /* x30 */
	fp_sqr_mul(x32, x30, 2, x2);    /* x32 */
	fp_sqr_mul(t, x32, 32, a);      /* 32 ones, 31 zeros, 1 */
	fp_sqr_mul(t, t, 96 + 32, x32); /* 96 zeros, 32 ones */
	fp_sqr_mul(t, t, 32, x32);      /* 64 ones */
	fp_sqr_mul(t, t, 30, x30);      /* 94 ones */
	fp_sqr_mul(r, t, 2, a);         /* 0, 1 */
}

/*
 * r = a^(n-2) mod n, the inverse of a in the Montgomery domain. The exponent is
 * public, so square-and-multiply may branch on its bits; the top bit of n - 2 is
 * set, hence the start at a. Used once per signature and per verification.
 */
static void fn_inv(uint32_t r[W], const uint32_t a[W])
{
	uint32_t acc[W];

	u256_copy(acc, a);
	for (int i = 254; i >= 0; i--) {
		/* n - 2 differs from n in word 0 only. */
		uint32_t e = p256_n[i / 32] - (i < 32 ? 2 : 0);

		fn_sqr(acc, acc);
		if ((e >> (i % 32)) & 1)
			fn_mul(acc, acc, a);
	}
	u256_copy(r, acc);
}

/* r = a mod n for any 256-bit a (< 2^256 < 2n: one conditional subtraction). */
static void fn_reduce_once(uint32_t r[W], const uint32_t a[W])
{
	uint32_t t[W];
	uint32_t ge = ~ct_mask_bit(u256_sub(t, a, p256_n));

	u256_copy(r, a);
	u256_cmov(r, t, ge);
}

/* ------------------------------------------------------------------- points */

static void pt_copy(struct pt *r, const struct pt *a)
{
	u256_copy(r->x, a->x);
	u256_copy(r->y, a->y);
	u256_copy(r->z, a->z);
}

static void pt_cmov(struct pt *r, const struct pt *a, uint32_t mask)
{
	u256_cmov(r->x, a->x, mask);
	u256_cmov(r->y, a->y, mask);
	u256_cmov(r->z, a->z, mask);
}

/* r = 2a (dbl-2001-b, a = -3). The identity (Z = 0) doubles to Z = 0, and a prime-
 * order curve has no point with Y = 0: no exception. r may alias a. */
static void pt_dbl(struct pt *r, const struct pt *a)
{
	uint32_t d[W], g[W], b[W], t[W];

	fp_sqr(d, a->z);    /* delta = Z^2 */
	fp_sqr(g, a->y);    /* gamma = Y^2 */
	fp_mul(b, a->x, g); /* beta = X gamma */
	fp_add(t, a->y, a->z);
	fp_sqr(t, t);
	fp_sub(t, t, g);
	fp_sub(r->z, t, d); /* Z3 = (Y + Z)^2 - gamma - delta */
	fp_sub(t, a->x, d);
	fp_add(d, a->x, d);
	fp_mul(d, d, t);
	fp_add(t, d, d);
	fp_add(t, t, d); /* alpha = 3 (X - delta)(X + delta) */
	fp_add(b, b, b);
	fp_add(b, b, b); /* 4 beta */
	fp_sqr(d, t);
	fp_sub(d, d, b);
	fp_sub(r->x, d, b); /* X3 = alpha^2 - 8 beta */
	fp_sub(b, b, r->x);
	fp_mul(b, t, b);
	fp_sqr(g, g);
	fp_add(g, g, g);
	fp_add(g, g, g);
	fp_add(g, g, g);
	fp_sub(r->y, b, g); /* Y3 = alpha (4 beta - X3) - 8 gamma^2 */
}

/*
 * r = a + b (add-2007-bl). The identity on either side is handled (the other point is
 * selected); a == -b gives the identity. For a == b (neither the identity) the
 * formula gives garbage: the returned mask is all-ones then, for the caller to select
 * the doubling it computed beforehand. r may alias a or b.
 */
static uint32_t pt_add(struct pt *r, const struct pt *a, const struct pt *b)
{
	uint32_t z1z1[W], z2z2[W], u1[W], u2[W], s1[W], s2[W];
	uint32_t inf_a = u256_mask_zero(a->z), inf_b = u256_mask_zero(b->z), same;

	fp_sqr(z1z1, a->z);
	fp_sqr(z2z2, b->z);
	fp_mul(u1, a->x, z2z2); /* U1 = X1 Z2^2 */
	fp_mul(u2, b->x, z1z1); /* U2 = X2 Z1^2 */
	fp_mul(s1, a->y, b->z);
	fp_mul(s1, s1, z2z2); /* S1 = Y1 Z2^3 */
	fp_mul(s2, b->y, a->z);
	fp_mul(s2, s2, z1z1); /* S2 = Y2 Z1^3 */
	fp_sub(u2, u2, u1);   /* H = U2 - U1 */
	fp_sub(s2, s2, s1);
	same = u256_mask_zero(u2) & u256_mask_zero(s2) & ~inf_a & ~inf_b;
	fp_add(s2, s2, s2); /* rr = 2 (S2 - S1) */
	fp_add(z2z2, z1z1, z2z2);
	fp_add(z1z1, a->z, b->z);
	fp_sqr(z1z1, z1z1);
	fp_sub(z1z1, z1z1, z2z2);
	fp_mul(z1z1, z1z1, u2); /* Z3 = ((Z1 + Z2)^2 - Z1^2 - Z2^2) H */
	fp_add(z2z2, u2, u2);
	fp_sqr(z2z2, z2z2);   /* I = (2H)^2 */
	fp_mul(u2, u2, z2z2); /* J = H I */
	fp_mul(u1, u1, z2z2); /* V = U1 I */
	fp_sqr(z2z2, s2);
	fp_sub(z2z2, z2z2, u2);
	fp_sub(z2z2, z2z2, u1);
	fp_sub(z2z2, z2z2, u1); /* X3 = rr^2 - J - 2V */
	fp_sub(u1, u1, z2z2);
	fp_mul(u1, s2, u1);
	fp_mul(s1, s1, u2);
	fp_add(s1, s1, s1);
	fp_sub(u1, u1, s1); /* Y3 = rr (V - X3) - 2 S1 J */
	u256_cmov(z2z2, b->x, inf_a);
	u256_cmov(u1, b->y, inf_a);
	u256_cmov(z1z1, b->z, inf_a);
	u256_cmov(z2z2, a->x, inf_b);
	u256_cmov(u1, a->y, inf_b);
	u256_cmov(z1z1, a->z, inf_b);
	u256_copy(r->x, z2z2);
	u256_copy(r->y, u1);
	u256_copy(r->z, z1z1);
	return same;
}

/* Bit i of the scalar k, 0 outside [0, 256). i is public. */
static uint32_t scalar_bit(const uint32_t k[W], int i)
{
	if (i < 0 || i >= 256)
		return 0;
	return (k[i / 32] >> (i % 32)) & 1;
}

#define WIN 3                             /* window width in bits */
#define WIN_TAB (1 << (WIN - 1))          /* table entries: 1P .. 4P */
#define WIN_COUNT ((257 + WIN - 1) / WIN) /* windows over 257 bits: 86 */

/*
 * r = (Booth digit i of k) P from tab (tab[j] = (j+1) P): the digit is
 * b(3i-1) + b(3i) + 2 b(3i+1) - 4 b(3i+2), in [-4, 4]; every entry is read and the
 * wanted one kept by mask (the identity when the digit is 0), then negated by mask.
 */
static void scalar_window(struct pt *r, const struct pt tab[WIN_TAB], const uint32_t k[W], int i)
{
	uint32_t d = scalar_bit(k, WIN * i - 1) + scalar_bit(k, WIN * i) +
		     2 * scalar_bit(k, WIN * i + 1) - 4 * scalar_bit(k, WIN * i + 2);
	uint32_t neg = ct_mask_bit(d >> 31), mag = (d ^ neg) - neg;
	uint32_t ny[W];

	u256_set_small(r->x, 1);
	u256_set_small(r->y, 1);
	u256_set_small(r->z, 0);
	for (unsigned j = 0; j < WIN_TAB; j++)
		pt_cmov(r, &tab[j], ct_mask_eq(mag, j + 1));
	u256_set_small(ny, 0);
	fp_sub(ny, ny, r->y); /* -(X, Y, Z) = (X, -Y, Z) */
	u256_cmov(r->y, ny, neg);
}

/*
 * r = k P for any 256-bit k (0 gives the identity) and P not the identity. Time and
 * addresses depend on nothing but the code. r may alias P.
 *
 * Which additions can meet equal operands: before window i is added, the
 * accumulator holds 8 V P with V = (k >> 3(i+1)) + b(3i+2) (Booth's partial sum), the
 * addend d P with |d| <= 4. They are equal or opposite only if 8 V = +-d mod n. For
 * i >= 1, 0 <= 8 V <= 2^253 + 8 < n - 4, so that needs 8 V = |d|, i.e. V = d = 0:
 * both are the identity, which pt_add handles. Only the last addition (i = 0) can be
 * a doubling (k = 2d mod n: k in {2, 4, 6, 8, n-2, n-4, n-6, n-8}); it alone pays for
 * a spare doubling. The table: 2P and 4P are doublings, 3P = 2P + P with 2P != +-P.
 */
static void pt_mul(struct pt *r, const uint32_t k[W], const struct pt *P)
{
	struct pt tab[WIN_TAB], t;

	pt_copy(&tab[0], P);
	for (unsigned j = 1; j < WIN_TAB; j++) {
		if (j % 2 == 1)
			pt_dbl(&tab[j], &tab[j / 2]);
		else
			(void)pt_add(&tab[j], &tab[j - 1], &tab[0]);
	}
	scalar_window(r, tab, k, WIN_COUNT - 1);
	for (int i = WIN_COUNT - 2; i >= 0; i--) {
		uint32_t same;

		for (unsigned j = 0; j < WIN; j++)
			pt_dbl(r, r);
		scalar_window(&t, tab, k, i);
		if (i == 0)
			pt_dbl(&tab[0], r); /* the table is no longer needed */
		same = pt_add(r, r, &t);
		if (i == 0)
			pt_cmov(r, &tab[0], same);
	}
}

/* Affine coordinates of a; returns all-ones when a is the identity (then x = y = 0).
 * y may be NULL. */
static uint32_t pt_to_affine(uint32_t x[W], uint32_t y[W], const struct pt *a)
{
	uint32_t zi[W], zi2[W];
	uint32_t inf = u256_mask_zero(a->z);

	fp_inv(zi, a->z);
	fp_sqr(zi2, zi);
	fp_mul(x, a->x, zi2);
	if (y != NULL) {
		fp_mul(zi2, zi2, zi);
		fp_mul(y, a->y, zi2);
	}
	return inf;
}

/* ------------------------------------------------------------- encodings */

/* y^2 == x^3 - 3x + b, for x, y < p. */
static int pt_on_curve(const uint32_t x[W], const uint32_t y[W])
{
	uint32_t l[W], r[W], t[W];

	fp_sqr(l, y);
	fp_sqr(r, x);
	fp_mul(r, r, x);
	fp_add(t, x, x);
	fp_add(t, t, x);
	fp_sub(r, r, t);
	fp_add(r, r, p256_b);
	fp_sub(l, l, r);
	return u256_mask_zero(l) != 0;
}

/* SEC1 uncompressed point -> Jacobian point with Z = 1, fully validated. A public
 * key is public: the checks may branch. */
static int pt_decode(struct pt *a, const uint8_t *in, size_t len)
{
	if (len == 1 && in[0] == 0x00)
		return CRYPTO_ERR_IDENTITY; /* SEC1's encoding of the point at infinity */
	if (len != P256_PUB_LEN)
		return CRYPTO_ERR_LENGTH;
	if (in[0] != 0x04)
		return CRYPTO_ERR_ENCODING;
	u256_from_bytes(a->x, in + 1);
	u256_from_bytes(a->y, in + 33);
	if (!u256_mask_lt(a->x, p256_p) || !u256_mask_lt(a->y, p256_p))
		return CRYPTO_ERR_RANGE;
	if (!pt_on_curve(a->x, a->y))
		return CRYPTO_ERR_POINT;
	u256_set_small(a->z, 1);
	return CRYPTO_OK;
}

/* A secret scalar in [1, n-1] from 32 big-endian bytes; all-ones when in range. The
 * verdict is computed without branching; callers decide whether it is public. */
static uint32_t scalar_decode(uint32_t k[W], const uint8_t in[32])
{
	u256_from_bytes(k, in);
	return ~u256_mask_zero(k) & u256_mask_lt(k, p256_n);
}

/* pub = d G, for d in [1, n-1] (never the identity). */
static void p256_derive_public(const uint32_t d[W], uint8_t pub[P256_PUB_LEN])
{
	struct pt q;

	pt_mul(&q, d, &p256_g);
	(void)pt_to_affine(q.x, q.y, &q);
	pub[0] = 0x04;
	u256_to_bytes(pub + 1, q.x);
	u256_to_bytes(pub + 33, q.y);
}

/* ------------------------------------------------------------------ the API */

/*
 * Each public function that handles a secret is a thin wrapper: the work runs in a
 * function of its own (noinline, so its frame and its callees' lie below the
 * wrapper's), then ct_stack_scrub() zeroes that stack, spilled registers included.
 * Validation and verification see public data only and need no scrub.
 */
#define P256_WORK __attribute__((noinline))

/* Public data only: no scrub. */
int p256_public_check(const uint8_t *pub, size_t len)
{
	struct pt a;

	return pt_decode(&a, pub, len);
}

static P256_WORK int p256_run_public(const uint8_t priv[P256_PRIV_LEN], uint8_t pub[P256_PUB_LEN])
{
	uint32_t d[W];
	uint32_t ok = scalar_decode(d, priv);

	/* A private key is valid or not for good; that verdict is not a secret. */
	CT_PUBLIC(&ok, sizeof(ok));
	if (!ok) {
		ct_wipe(pub, P256_PUB_LEN);
		return CRYPTO_ERR_RANGE;
	}
	p256_derive_public(d, pub);
	return CRYPTO_OK;
}

int p256_public_from_private(const uint8_t priv[P256_PRIV_LEN], uint8_t pub[P256_PUB_LEN])
{
	int ret = p256_run_public(priv, pub);

	ct_stack_scrub();
	return ret;
}

static P256_WORK int p256_run_keygen(const uint8_t *rnd, size_t rnd_len,
				     uint8_t priv[P256_PRIV_LEN], uint8_t pub[P256_PUB_LEN])
{
	uint32_t d[W];

	/* Rejection sampling (FIPS 186-5 A.4.2): each 32-byte candidate is taken as is
	 * or dropped, so the key is uniform in [1, n-1]. That a candidate was dropped
	 * says nothing about the one kept. */
	for (size_t off = 0; off + P256_PRIV_LEN <= rnd_len; off += P256_PRIV_LEN) {
		uint32_t ok = scalar_decode(d, rnd + off);

		CT_PUBLIC(&ok, sizeof(ok));
		if (ok) {
			p256_derive_public(d, pub);
			u256_to_bytes(priv, d);
			return CRYPTO_OK;
		}
	}
	ct_wipe(priv, P256_PRIV_LEN);
	ct_wipe(pub, P256_PUB_LEN);
	return CRYPTO_ERR_RNG;
}

int p256_keygen(const uint8_t *rnd, size_t rnd_len, uint8_t priv[P256_PRIV_LEN],
		uint8_t pub[P256_PUB_LEN])
{
	int ret = p256_run_keygen(rnd, rnd_len, priv, pub);

	ct_stack_scrub();
	return ret;
}

static P256_WORK int p256_run_ecdh(const uint8_t priv[P256_PRIV_LEN], const uint8_t *peer,
				   size_t peer_len, uint8_t x[32])
{
	struct pt q;
	uint32_t d[W];
	uint32_t ok, inf;
	int ret;

	ret = pt_decode(&q, peer, peer_len);
	if (ret != CRYPTO_OK)
		goto fail;
	ok = scalar_decode(d, priv);
	CT_PUBLIC(&ok, sizeof(ok));
	ret = CRYPTO_ERR_RANGE;
	if (!ok)
		goto fail;
	pt_mul(&q, d, &q);
	inf = pt_to_affine(q.x, NULL, &q);
	/* Cannot happen (prime order, d in [1, n-1]); checked because it is cheap. */
	CT_PUBLIC(&inf, sizeof(inf));
	ret = CRYPTO_ERR_IDENTITY;
	if (inf)
		goto fail;
	u256_to_bytes(x, q.x);
	return CRYPTO_OK;
fail:
	ct_wipe(x, 32);
	return ret;
}

int p256_ecdh(const uint8_t priv[P256_PRIV_LEN], const uint8_t *peer, size_t peer_len,
	      uint8_t x[32])
{
	int ret = p256_run_ecdh(priv, peer, peer_len, x);

	ct_stack_scrub();
	return ret;
}

/* The message representative: the 256-bit digest as an integer, mod n
 * (bits2int, then the reduction of SEC1 4.1.3 step 5). */
static void p256_digest_scalar(uint32_t e[W], const uint8_t hash[SHA256_LEN])
{
	u256_from_bytes(e, hash);
	fn_reduce_once(e, e);
}

/* RFC 6979 3.2 with 3.6's additional data: K = HMAC_K(V || sep || x || h1 || extra)
 * then V = HMAC_K(V) (steps d-g); with x NULL, K = HMAC_K(V || sep) (step h.3); with
 * sep < 0 only V = HMAC_K(V). */
static void rfc6979_update(uint8_t k[SHA256_LEN], uint8_t v[SHA256_LEN], int sep, const uint8_t *x,
			   const uint8_t *h1, const uint8_t *extra, size_t extra_len)
{
	struct hmac_sha256 c;

	if (sep >= 0) {
		uint8_t s = (uint8_t)sep;

		hmac_sha256_init(&c, k, SHA256_LEN);
		hmac_sha256_update(&c, v, SHA256_LEN);
		hmac_sha256_update(&c, &s, 1);
		if (x != NULL) {
			hmac_sha256_update(&c, x, 32);
			hmac_sha256_update(&c, h1, 32);
			hmac_sha256_update(&c, extra, extra != NULL ? extra_len : 0);
		}
		hmac_sha256_final(&c, k);
	}
	hmac_sha256(k, SHA256_LEN, v, SHA256_LEN, v);
}

/* r = x(k G) mod n. */
static void p256_sign_r(uint32_t r[W], const uint32_t k[W])
{
	struct pt q;

	pt_mul(&q, k, &p256_g);
	(void)pt_to_affine(q.x, NULL, &q); /* k in [1, n-1]: never the identity */
	fn_reduce_once(r, q.x);
}

static P256_WORK int p256_run_sign(const uint8_t priv[P256_PRIV_LEN],
				   const uint8_t hash[SHA256_LEN], const uint8_t *extra,
				   size_t extra_len, uint8_t sig[P256_SIG_LEN])
{
	uint32_t d[W], e[W], k[W], r[W], s[W];
	uint8_t key[SHA256_LEN], v[SHA256_LEN], h1[32];
	uint32_t ok;

	ok = scalar_decode(d, priv);
	CT_PUBLIC(&ok, sizeof(ok));
	if (!ok) {
		ct_wipe(sig, P256_SIG_LEN);
		return CRYPTO_ERR_RANGE;
	}
	p256_digest_scalar(e, hash);
	u256_to_bytes(h1, e); /* bits2octets(h1) */
	/* Steps b-g: V = 01.., K = 00.., then two rounds over x and h1; x < n, so
	 * int2octets(x) is the private key's bytes as they are. */
	for (unsigned i = 0; i < SHA256_LEN; i++) {
		v[i] = 0x01;
		key[i] = 0x00;
	}
	rfc6979_update(key, v, 0x00, priv, h1, extra, extra_len);
	rfc6979_update(key, v, 0x01, priv, h1, extra, extra_len);
	/* Step h: a candidate is dropped when not in [1, n-1], a nonce when r or s comes
	 * out 0 (about 2^-32 and 2^-256 likely); 64 tries cannot all fail. */
	for (unsigned tries = 0; tries < 64; tries++) {
		uint32_t zero;

		rfc6979_update(key, v, -1, NULL, NULL, NULL, 0);
		ok = scalar_decode(k, v);
		CT_PUBLIC(&ok, sizeof(ok));
		if (ok) {
			p256_sign_r(r, k);
			/* s = k^-1 (e + r d) mod n through the Montgomery domain, where
			 * fn_mul(a, b) = ab/R: fn_mul(r, fn_mul(d, R^2)) = r d, and
			 * fn_mul(inv(fn_mul(k, R^2)), t) = t / k. */
			fn_mul(s, d, p256_n_r2);
			fn_mul(s, r, s);
			mod_add(s, s, e, p256_n);
			fn_mul(k, k, p256_n_r2);
			fn_inv(k, k);
			fn_mul(s, k, s);
			/* r and s are the signature: public once computed. */
			zero = u256_mask_zero(r) | u256_mask_zero(s);
			CT_PUBLIC(&zero, sizeof(zero));
			if (!zero) {
				u256_to_bytes(sig, r);
				u256_to_bytes(sig + 32, s);
				return CRYPTO_OK;
			}
		}
		rfc6979_update(key, v, 0x00, NULL, NULL, NULL, 0);
	}
	ct_wipe(sig, P256_SIG_LEN);
	return CRYPTO_ERR_RNG;
}

int p256_sign(const uint8_t priv[P256_PRIV_LEN], const uint8_t hash[SHA256_LEN],
	      const uint8_t *extra, size_t extra_len, uint8_t sig[P256_SIG_LEN])
{
	int ret = p256_run_sign(priv, hash, extra, extra_len, sig);

	ct_stack_scrub();
	return ret;
}

/* u1 G + u2 Q, the one sum of two arbitrary multiples: it may be a doubling. */
static void p256_verify_sum(struct pt *q, const uint32_t u1[W], const uint32_t u2[W])
{
	struct pt t, d;
	uint32_t same;

	pt_mul(&t, u1, &p256_g);
	pt_mul(q, u2, q);
	pt_dbl(&d, q);
	same = pt_add(q, q, &t);
	pt_cmov(q, &d, same);
}

/* Public data only: no scrub. */
int p256_verify(const uint8_t *pub, size_t pub_len, const uint8_t hash[SHA256_LEN],
		const uint8_t *sig, size_t sig_len)
{
	struct pt q;
	uint32_t r[W], s[W], e[W];
	int ret;

	/* Everything here is public: checks may branch. */
	ret = pt_decode(&q, pub, pub_len);
	if (ret != CRYPTO_OK)
		return ret;
	if (sig_len != P256_SIG_LEN)
		return CRYPTO_ERR_LENGTH;
	u256_from_bytes(r, sig);
	u256_from_bytes(s, sig + 32);
	if (u256_mask_zero(r) || u256_mask_zero(s) || !u256_mask_lt(r, p256_n) ||
	    !u256_mask_lt(s, p256_n))
		return CRYPTO_ERR_SIG_RANGE;
	p256_digest_scalar(e, hash);
	/* w = 1/s in the Montgomery domain; u1 = e w and u2 = r w in the plain one. */
	fn_mul(s, s, p256_n_r2);
	fn_inv(s, s);
	fn_mul(e, e, s);
	fn_mul(s, r, s);
	p256_verify_sum(&q, e, s);
	if (u256_mask_zero(q.z))
		return CRYPTO_ERR_SIGNATURE;
	/* x(R) mod n == r without an inversion: x(R) < p is r or r + n (the latter only
	 * when r + n < p), and x(R) = X / Z^2, so compare X with r Z^2 and (r + n) Z^2. */
	fp_sqr(q.z, q.z);
	fp_mul(e, r, q.z);
	fp_sub(e, e, q.x);
	if (u256_mask_zero(e))
		return CRYPTO_OK;
	if (u256_add(s, r, p256_n) == 0 && u256_mask_lt(s, p256_p)) {
		fp_mul(e, s, q.z);
		fp_sub(e, e, q.x);
		if (u256_mask_zero(e))
			return CRYPTO_OK;
	}
	return CRYPTO_ERR_SIGNATURE;
}
