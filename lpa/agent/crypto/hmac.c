/*
 * hmac.c — HMAC-SHA256 (RFC 2104, FIPS 198-1). The key's length is public, its bytes
 * are not: nothing branches on them.
 */
#include "ct-private.h"

void hmac_sha256_init(struct hmac_sha256 *c, const uint8_t *key, size_t key_len)
{
	uint8_t k[SHA256_BLOCK];

	for (unsigned i = 0; i < SHA256_BLOCK; i++)
		k[i] = 0;
	/* A key longer than a block is replaced by its hash (RFC 2104 §2). */
	if (key_len > SHA256_BLOCK)
		sha256(key, key_len, k);
	else
		ct_memcpy(k, key, key_len);
	for (unsigned i = 0; i < SHA256_BLOCK; i++)
		k[i] ^= 0x36;
	sha256_init(&c->inner);
	sha256_update(&c->inner, k, SHA256_BLOCK);
	/* 0x36 ^ 0x5c turns the inner pad into the outer one. */
	for (unsigned i = 0; i < SHA256_BLOCK; i++)
		k[i] ^= 0x36 ^ 0x5c;
	sha256_init(&c->outer);
	sha256_update(&c->outer, k, SHA256_BLOCK);
	ct_wipe(k, sizeof(k));
}

void hmac_sha256_update(struct hmac_sha256 *c, const void *data, size_t len)
{
	sha256_update(&c->inner, data, len);
}

void hmac_sha256_final(struct hmac_sha256 *c, uint8_t mac[SHA256_LEN])
{
	uint8_t ih[SHA256_LEN];

	sha256_final(&c->inner, ih);
	sha256_update(&c->outer, ih, sizeof(ih));
	sha256_final(&c->outer, mac);
	ct_wipe(ih, sizeof(ih));
}

void hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
		 uint8_t mac[SHA256_LEN])
{
	struct hmac_sha256 c;

	hmac_sha256_init(&c, key, key_len);
	hmac_sha256_update(&c, data, len);
	hmac_sha256_final(&c, mac);
}
