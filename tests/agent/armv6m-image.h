/*
 * armv6m-image.h — the mailbox between tests/agent/test-armv6m.c (the host, running the
 * image under Unicorn) and armv6m-image.c (the ARMv6-M image around the agent crypto).
 * Every entry point takes a pointer to one of these in r0 and returns the crypto
 * function's result in r0. Plain bytes and 32-bit words only: the same layout on both
 * sides.
 */
#ifndef LPA_ARMV6M_IMAGE_H
#define LPA_ARMV6M_IMAGE_H

#include <stdint.h>

struct armv6m_box {
	uint8_t priv[32];
	uint8_t pub[68]; /* 65 used */
	uint8_t hash[32];
	uint8_t sig[64];
	uint8_t extra[32];
	uint32_t extra_len;
	uint8_t rnd[96];
	uint32_t rnd_len;
	uint8_t key[32];
	uint8_t iv[12];
	uint8_t aad[116]; /* 113 used: the LPK1 AAD shape */
	uint8_t data[64];
	uint32_t data_len;
	uint8_t tag[16];
	uint8_t out[68];
};

/* The table at the start of the image: entry[ARMV6M_HALT] is where an entry point
 * returns to (the host stops there); ARMV6M_SCRUB is ct_stack_scrub itself, so that
 * the host knows the stack pointer a scrub starts from. */
enum armv6m_entry {
	ARMV6M_HALT,
	ARMV6M_SCRUB,
	ARMV6M_ECDH,        /* p256_ecdh(priv, pub, 65, out) */
	ARMV6M_SIGN,        /* p256_sign(priv, hash, extra, extra_len, sig) */
	ARMV6M_VERIFY,      /* p256_verify(pub, 65, hash, sig, 64) */
	ARMV6M_PUBLIC,      /* p256_public_from_private(priv, out) */
	ARMV6M_KEYGEN,      /* p256_keygen(rnd, rnd_len, priv, out) */
	ARMV6M_GCM_OPEN,    /* gcm_open(key, 32, iv, aad, 113, data, 32, tag, out) */
	ARMV6M_CMAC_VERIFY, /* cmac_aes128_verify(key, data, data_len, tag, 4) */
	ARMV6M_HKDF,        /* hkdf_sha256(data, 32, hash, 32, aad, 61, out, 32): the LPK1 KEK */
	ARMV6M_ENTRIES
};

#endif
