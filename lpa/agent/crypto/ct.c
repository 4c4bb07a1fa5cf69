/*
 * ct.c — the few byte-string helpers the firmware needs instead of libc. Minimal
 * versions so the symmetric code can be tested; the constant-time helper's owner
 * replaces this file (same signatures).
 */
#include "crypto.h"

int ct_memcmp(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint32_t d = 0;

	/* No early exit: every byte is read whatever the first difference is. */
	for (size_t i = 0; i < n; i++)
		d |= (uint32_t)(x[i] ^ y[i]);
	return (int)d;
}

void ct_wipe(void *p, size_t n)
{
	/* Stores through a volatile pointer are not dead stores the optimiser may drop. */
	volatile uint8_t *q = p;

	for (size_t i = 0; i < n; i++)
		q[i] = 0;
}

void ct_memcpy(void *dst, const void *src, size_t n)
{
	volatile uint8_t *d = dst;
	const uint8_t *s = src;

	/* volatile keeps gcc from turning this loop back into a memcpy call. */
	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
}
