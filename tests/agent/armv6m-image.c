/*
 * armv6m-image.c — a minimal ARMv6-M image around the agent crypto, linked from
 * libagentcrypto-armv6m.a with libgcc and nothing else, for tests/agent/test-armv6m.c
 * to run under an emulated Cortex-M0. Not the agent firmware: a table of entry
 * points at the start of flash, each a one-line call (armv6m-image.h).
 */
#include "armv6m-image.h"
#include "crypto.h"

static void image_halt(void)
{
	__asm__ volatile("bkpt #0");
}

static int image_ecdh(struct armv6m_box *b)
{
	return p256_ecdh(b->priv, b->pub, P256_PUB_LEN, b->out);
}

static int image_sign(struct armv6m_box *b)
{
	return p256_sign(b->priv, b->hash, b->extra, b->extra_len, b->sig);
}

static int image_verify(struct armv6m_box *b)
{
	return p256_verify(b->pub, P256_PUB_LEN, b->hash, b->sig, P256_SIG_LEN);
}

static int image_public(struct armv6m_box *b)
{
	return p256_public_from_private(b->priv, b->out);
}

static int image_keygen(struct armv6m_box *b)
{
	return p256_keygen(b->rnd, b->rnd_len, b->priv, b->out);
}

static int image_gcm_open(struct armv6m_box *b)
{
	return gcm_open(b->key, 32, b->iv, b->aad, 113, b->data, 32, b->tag, b->out);
}

static int image_cmac_verify(struct armv6m_box *b)
{
	return cmac_aes128_verify(b->key, b->data, b->data_len, b->tag, 4);
}

static int image_hkdf(struct armv6m_box *b)
{
	return hkdf_sha256(b->data, 32, b->hash, 32, b->aad, 61, b->out, 32);
}

__attribute__((section(".entry"), used)) const void *const armv6m_entry[ARMV6M_ENTRIES] = {
	[ARMV6M_HALT] = (const void *)image_halt,
	[ARMV6M_SCRUB] = (const void *)ct_stack_scrub,
	[ARMV6M_ECDH] = (const void *)image_ecdh,
	[ARMV6M_SIGN] = (const void *)image_sign,
	[ARMV6M_VERIFY] = (const void *)image_verify,
	[ARMV6M_PUBLIC] = (const void *)image_public,
	[ARMV6M_KEYGEN] = (const void *)image_keygen,
	[ARMV6M_GCM_OPEN] = (const void *)image_gcm_open,
	[ARMV6M_CMAC_VERIFY] = (const void *)image_cmac_verify,
	[ARMV6M_HKDF] = (const void *)image_hkdf,
};
