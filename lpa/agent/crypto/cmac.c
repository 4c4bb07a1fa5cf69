/*
 * cmac.c — AES-128-CMAC (RFC 4493). The state keeps X XOR the bytes of the block in
 * progress, so a block is encrypted only once the next byte proves it is not the last:
 * no second buffer. Subkeys are derived at the end (one extra block), with the
 * conditional XOR of Rb done by a mask.
 */
#include "crypto.h"

void cmac_aes128_init(struct cmac_aes128 *c, const uint8_t key[16])
{
	(void)aes_setkey(&c->aes, key, 16); /* 16 is a valid length: cannot fail */
	for (int i = 0; i < CMAC_LEN; i++)
		c->x[i] = 0;
	c->fill = 0;
}

void cmac_aes128_update(struct cmac_aes128 *c, const void *msg, size_t len)
{
	const uint8_t *p = msg;

	for (size_t i = 0; i < len; i++) {
		if (c->fill == CMAC_LEN) {
			aes_encrypt(&c->aes, c->x, c->x);
			c->fill = 0;
		}
		c->x[c->fill++] ^= p[i];
	}
}

/* k = k * x in GF(2^128) (RFC 4493 §2.3): shift left, XOR 0x87 if the top bit fell off. */
static void cmac_dbl(uint8_t k[CMAC_LEN])
{
	uint8_t rb = (uint8_t)(0x87u & (0u - (uint32_t)(k[0] >> 7)));

	for (int i = 0; i < CMAC_LEN - 1; i++)
		k[i] = (uint8_t)(k[i] << 1 | k[i + 1] >> 7);
	k[CMAC_LEN - 1] = (uint8_t)(k[CMAC_LEN - 1] << 1) ^ rb;
}

void cmac_aes128_final(struct cmac_aes128 *c, uint8_t mac[CMAC_LEN])
{
	uint8_t k[CMAC_LEN];

	for (int i = 0; i < CMAC_LEN; i++)
		k[i] = 0;
	aes_encrypt(&c->aes, k, k); /* L */
	cmac_dbl(k);                /* K1: the last block is complete */
	if (c->fill < CMAC_LEN) {
		c->x[c->fill] ^= 0x80; /* 10* padding, then K2 */
		cmac_dbl(k);
	}
	for (int i = 0; i < CMAC_LEN; i++)
		c->x[i] ^= k[i];
	aes_encrypt(&c->aes, c->x, mac);
	ct_wipe(k, sizeof(k));
	ct_wipe(c, sizeof(*c));
}

void cmac_aes128(const uint8_t key[16], const void *msg, size_t len, uint8_t mac[CMAC_LEN])
{
	struct cmac_aes128 c;

	cmac_aes128_init(&c, key);
	cmac_aes128_update(&c, msg, len);
	cmac_aes128_final(&c, mac);
}

int cmac_aes128_verify(const uint8_t key[16], const void *msg, size_t len, const uint8_t *mac,
		       size_t mac_len)
{
	uint8_t m[CMAC_LEN];
	int r;

	if (mac_len < 1 || mac_len > CMAC_LEN)
		return CRYPTO_ERR_LENGTH;
	cmac_aes128(key, msg, len, m);
	r = ct_memcmp(m, mac, mac_len) == 0 ? CRYPTO_OK : CRYPTO_ERR_TAG;
	ct_wipe(m, sizeof(m));
	return r;
}
