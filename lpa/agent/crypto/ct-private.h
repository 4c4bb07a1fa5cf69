/*
 * ct-private.h — helpers shared inside lpa/agent/crypto (not part of the API):
 * masks that the optimiser cannot turn back into branches, big-endian loads and
 * stores, and the declassification mark of the constant-time test.
 */
#ifndef LPA_AGENT_CT_PRIVATE_H
#define LPA_AGENT_CT_PRIVATE_H

#include "crypto.h"

/*
 * Hides x from the optimiser: after this it cannot prove a mask is 0 or all-ones,
 * so it keeps the arithmetic select instead of compiling a branch. An empty asm
 * costs nothing on either target.
 */
static inline uint32_t ct_barrier(uint32_t x)
{
	__asm__("" : "+r"(x));
	return x;
}

/* All-ones when x != 0, else 0. */
static inline uint32_t ct_mask_nonzero(uint32_t x)
{
	return ct_barrier(-((x | -x) >> 31));
}

/* All-ones when a == b, else 0. */
static inline uint32_t ct_mask_eq(uint32_t a, uint32_t b)
{
	return ~ct_mask_nonzero(a ^ b);
}

/* All-ones when the bit b (0 or 1) is set. */
static inline uint32_t ct_mask_bit(uint32_t b)
{
	return ct_barrier(-(b & 1));
}

static inline uint32_t ct_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void ct_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * CT_PUBLIC(p, n) declares that n bytes at p, computed from secrets, are public by
 * design (a signature's r, whether a candidate scalar was rejected): code may branch
 * on them. On the host it is Valgrind's client request, a few no-op instructions
 * outside Valgrind, and what lets the constant-time test (tests/agent/test-agent-ct.c)
 * tell these deliberate branches from leaks. The ARMv6-M build has no Valgrind.
 */
#if defined(CRYPTO_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#define CT_PUBLIC(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define CT_PUBLIC(p, n) ((void)(p), (void)(n))
#endif

#endif
