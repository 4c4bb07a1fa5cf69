/*
 * ct.c — the few memory helpers the crypto needs, since the firmware has no libc:
 * a compare whose time depends on the length only, a wipe the compiler keeps, and a
 * plain copy for public data.
 */
#include "ct-private.h"

int ct_memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	uint32_t d = 0;

	int r;

	for (size_t i = 0; i < n; i++)
		d |= (uint32_t)(x[i] ^ y[i]);
	/* 0 or 1, without a branch on the difference. Whether two tags are equal is what
	 * the caller asks and then acts on: public. Which bytes differ stays secret. */
	r = (int)(ct_mask_nonzero(d) & 1);
	CT_PUBLIC(&r, sizeof(r));
	return r;
}

void ct_wipe(void *p, size_t n)
{
	/* Stores through a volatile pointer are side effects the optimiser must keep,
	 * even when the buffer is dead afterwards (which is when wiping matters). */
	volatile uint8_t *v = p;

	while (n-- > 0)
		*v++ = 0;
}

void ct_memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n-- > 0)
		*d++ = *s++;
}

void ct_stack_scrub(void)
{
	/* Its own frame is the scrubbed area: as deep as what the caller called before.
	 * Volatile stores, so that the optimiser keeps them for a dead array. */
	uint32_t s[CT_SCRUB_BYTES / 4];
	volatile uint32_t *v = s;

	for (unsigned i = 0; i < CT_SCRUB_BYTES / 4; i++)
		v[i] = 0;
}
