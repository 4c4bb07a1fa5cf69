/* core-private.h — helpers shared inside lpa/core only. */
#ifndef LPA_CORE_PRIVATE_H
#define LPA_CORE_PRIVATE_H

#include "lpa/core/lpa-core.h"

/* One AES-128 block encryption (ECB, no padding): the LoRaWAN key derivation primitive. */
int lpa_aes128_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]);
int lpa_aes128_block_decrypt(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]);

/* First n bytes of AES-CMAC(key, label || data): the key-check values of LPR1 and LPP1. */
int lpa_keycheck(const uint8_t key[16], const char label[8], const uint8_t *data, size_t len,
		 uint8_t *out, size_t n);

/* Key checks for AppKey || NwkKey (both zero-filled NwkKey check for 1.0.x). */
int lpa_keychecks(const lpa_secbuf *keys, uint8_t lorawan, const char app_label[8],
		  const char nwk_label[8], const uint8_t *data, size_t len, uint8_t app[8],
		  uint8_t nwk[8]);

static inline int lpa_lorawan_valid(uint8_t v)
{
	return v == LPA_LORAWAN_10 || v == LPA_LORAWAN_11;
}

#endif
