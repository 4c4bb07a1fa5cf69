/*
 * lorawan.c — LoRaWAN 1.0.x and 1.1 session-key derivation and the JoinRequest MIC.
 * Every derivation is one AES-128 block encryption of a zero-padded block; multi-byte
 * fields go in little-endian (air-interface) order.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "core-private.h"

static void lorawan_le_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int lorawan_derive(const uint8_t key[16], uint8_t type, uint32_t join_nonce, uint64_t mid,
			  unsigned mid_len, uint16_t dev_nonce, uint8_t out[16])
{
	uint8_t block[16] = {0};

	block[0] = type;
	lorawan_le_put(block + 1, join_nonce, 3);
	lorawan_le_put(block + 4, mid, mid_len);
	lorawan_le_put(block + 4 + mid_len, dev_nonce, 2);
	return lpa_aes128_block(key, block, out);
}

int lpa_lorawan10_derive(const uint8_t app_key[16], uint32_t join_nonce, uint32_t net_id,
			 uint16_t dev_nonce, struct lpa_lorawan10_skeys *out)
{
	int r;

	if (join_nonce > 0xffffff || net_id > 0xffffff)
		return LPA_ERR_INVAL;
	if ((r = lorawan_derive(app_key, 0x01, join_nonce, net_id, 3, dev_nonce, out->nwk_s_key)) !=
		    LPA_OK ||
	    (r = lorawan_derive(app_key, 0x02, join_nonce, net_id, 3, dev_nonce, out->app_s_key)) !=
		    LPA_OK)
		OPENSSL_cleanse(out, sizeof(*out));
	return r;
}

int lpa_lorawan11_derive(const uint8_t nwk_key[16], const uint8_t app_key[16], uint32_t join_nonce,
			 uint64_t join_eui, uint16_t dev_nonce, struct lpa_lorawan11_skeys *out)
{
	int r;

	if (join_nonce > 0xffffff)
		return LPA_ERR_INVAL;
	if ((r = lorawan_derive(nwk_key, 0x01, join_nonce, join_eui, 8, dev_nonce,
				out->f_nwk_s_int_key)) != LPA_OK ||
	    (r = lorawan_derive(app_key, 0x02, join_nonce, join_eui, 8, dev_nonce,
				out->app_s_key)) != LPA_OK ||
	    (r = lorawan_derive(nwk_key, 0x03, join_nonce, join_eui, 8, dev_nonce,
				out->s_nwk_s_int_key)) != LPA_OK ||
	    (r = lorawan_derive(nwk_key, 0x04, join_nonce, join_eui, 8, dev_nonce,
				out->nwk_s_enc_key)) != LPA_OK)
		OPENSSL_cleanse(out, sizeof(*out));
	return r;
}

int lpa_lorawan11_js_keys(const uint8_t nwk_key[16], uint64_t dev_eui, uint8_t js_int_key[16],
			  uint8_t js_enc_key[16])
{
	uint8_t block[16] = {0};
	int r;

	lorawan_le_put(block + 1, dev_eui, 8);
	block[0] = 0x06;
	if ((r = lpa_aes128_block(nwk_key, block, js_int_key)) != LPA_OK)
		return r;
	block[0] = 0x05;
	if ((r = lpa_aes128_block(nwk_key, block, js_enc_key)) != LPA_OK)
		OPENSSL_cleanse(js_int_key, 16);
	return r;
}

int lpa_lorawan_join_request_mic(const uint8_t key[16], uint8_t mhdr, uint64_t join_eui,
				 uint64_t dev_eui, uint16_t dev_nonce, uint8_t mic[4])
{
	uint8_t msg[19], mac[16];
	int r;

	msg[0] = mhdr;
	lorawan_le_put(msg + 1, join_eui, 8);
	lorawan_le_put(msg + 9, dev_eui, 8);
	lorawan_le_put(msg + 17, dev_nonce, 2);
	if ((r = lpa_aes_cmac(key, msg, sizeof(msg), mac)) == LPA_OK)
		memcpy(mic, mac, 4);
	return r;
}
