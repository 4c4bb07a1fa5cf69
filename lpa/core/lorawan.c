/*
 * lorawan.c — LoRaWAN 1.0.x and 1.1 session-key derivation and the JoinRequest MIC.
 * Every derivation is one AES-128 block encryption of a zero-padded block; multi-byte
 * fields go in little-endian (air-interface) order.
 */
#include <stdbool.h>
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

/* The join-accept MIC: CMAC over MHDR | body (1.0.x), or, with opt_neg (1.1), over
 * JoinReqType 0xFF | JoinEUI | DevNonce | MHDR | body under JSIntKey. */
static int lorawan_accept_mic(const uint8_t mic_key[16], bool opt_neg, uint64_t join_eui,
			      uint16_t dev_nonce, const uint8_t *body, size_t body_len,
			      uint8_t mic[4])
{
	uint8_t msg[11 + 1 + LPA_LORAWAN_ACCEPT_BODY_MAX], mac[16];
	size_t n = 0;
	int r;

	if (opt_neg) {
		msg[n++] = 0xff;
		lorawan_le_put(msg + n, join_eui, 8);
		n += 8;
		lorawan_le_put(msg + n, dev_nonce, 2);
		n += 2;
	}
	msg[n++] = LPA_LORAWAN_MHDR_JOIN_ACCEPT;
	memcpy(msg + n, body, body_len);
	n += body_len;
	if ((r = lpa_aes_cmac(mic_key, msg, n, mac)) == LPA_OK)
		memcpy(mic, mac, 4);
	OPENSSL_cleanse(msg, sizeof(msg));
	return r;
}

static bool lorawan_accept_len_ok(size_t body_len)
{
	return body_len == LPA_LORAWAN_ACCEPT_BODY_MIN || body_len == LPA_LORAWAN_ACCEPT_BODY_MAX;
}

int lpa_lorawan_join_accept_seal(const uint8_t mic_key[16], const uint8_t enc_key[16], bool opt_neg,
				 uint64_t join_eui, uint16_t dev_nonce, const uint8_t *body,
				 size_t body_len, uint8_t *out, size_t *out_len)
{
	uint8_t plain[LPA_LORAWAN_ACCEPT_BODY_MAX + 4];
	size_t n = body_len + 4;
	int r;

	if (!lorawan_accept_len_ok(body_len))
		return LPA_ERR_LENGTH;
	memcpy(plain, body, body_len);
	if ((r = lorawan_accept_mic(mic_key, opt_neg, join_eui, dev_nonce, body, body_len,
				    plain + body_len)) != LPA_OK)
		goto fail;
	/* The network side "decrypts" so that the device needs only the AES encryption. */
	out[0] = LPA_LORAWAN_MHDR_JOIN_ACCEPT;
	for (size_t i = 0; i < n; i += 16)
		if ((r = lpa_aes128_block_decrypt(enc_key, plain + i, out + 1 + i)) != LPA_OK)
			goto fail;
	*out_len = n + 1;
fail:
	OPENSSL_cleanse(plain, sizeof(plain));
	return r;
}

int lpa_lorawan_join_accept_open(const uint8_t mic_key[16], const uint8_t enc_key[16], bool opt_neg,
				 uint64_t join_eui, uint16_t dev_nonce, const uint8_t *in,
				 size_t in_len, uint8_t *body, size_t *body_len)
{
	uint8_t plain[LPA_LORAWAN_ACCEPT_BODY_MAX + 4], mic[4];
	size_t n;
	int r;

	if (in_len < 1 || !lorawan_accept_len_ok(in_len - 5))
		return LPA_ERR_LENGTH;
	if (in[0] != LPA_LORAWAN_MHDR_JOIN_ACCEPT)
		return LPA_ERR_MAGIC;
	n = in_len - 1;
	for (size_t i = 0; i < n; i += 16)
		if ((r = lpa_aes128_block(enc_key, in + 1 + i, plain + i)) != LPA_OK)
			goto fail;
	if ((r = lorawan_accept_mic(mic_key, opt_neg, join_eui, dev_nonce, plain, n - 4, mic)) !=
	    LPA_OK)
		goto fail;
	if (CRYPTO_memcmp(mic, plain + n - 4, 4) != 0) {
		r = LPA_ERR_SIGNATURE;
		goto fail;
	}
	memcpy(body, plain, n - 4);
	*body_len = n - 4;
fail:
	OPENSSL_cleanse(plain, sizeof(plain));
	return r;
}

/* FRMPayload encryption (LoRaWAN 1.0.4 §4.3.3, 1.1 §4.3.3): XOR with AES(key, A_i). */
int lpa_lorawan_frm_crypt(const uint8_t key[16], bool downlink, uint32_t dev_addr, uint32_t fcnt,
			  const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t a[16] = {0}, s[16];
	int r = LPA_OK;

	a[0] = 0x01;
	a[5] = downlink ? 1 : 0;
	lorawan_le_put(a + 6, dev_addr, 4);
	lorawan_le_put(a + 10, fcnt, 4);
	for (size_t i = 0; i < len; i += 16) {
		a[15] = (uint8_t)(i / 16 + 1);
		if ((r = lpa_aes128_block(key, a, s)) != LPA_OK)
			break;
		for (size_t j = 0; j < 16 && i + j < len; j++)
			out[i + j] = in[i + j] ^ s[j];
	}
	OPENSSL_cleanse(s, sizeof(s));
	return r;
}

/* The 1.0.x uplink MIC: CMAC(NwkSKey, B0 | msg)[0..4). */
int lpa_lorawan10_uplink_mic(const uint8_t nwk_s_key[16], uint32_t dev_addr, uint32_t fcnt,
			     const uint8_t *msg, size_t len, uint8_t mic[4])
{
	uint8_t buf[16 + 256], mac[16];
	int r;

	if (len > 256)
		return LPA_ERR_LENGTH;
	memset(buf, 0, 16);
	buf[0] = 0x49;
	lorawan_le_put(buf + 6, dev_addr, 4);
	lorawan_le_put(buf + 10, fcnt, 4);
	buf[15] = (uint8_t)len;
	memcpy(buf + 16, msg, len);
	if ((r = lpa_aes_cmac(nwk_s_key, buf, 16 + len, mac)) == LPA_OK)
		memcpy(mic, mac, 4);
	return r;
}

/* The 1.1 uplink MIC (LoRaWAN 1.1 §4.4): cmacS = CMAC(SNwkSIntKey, B1 | msg), cmacF =
 * CMAC(FNwkSIntKey, B0 | msg), MIC = cmacS[0..2) | cmacF[0..2). */
int lpa_lorawan11_uplink_mic(const uint8_t f_nwk_s_int_key[16], const uint8_t s_nwk_s_int_key[16],
			     uint16_t conf_fcnt, uint8_t tx_dr, uint8_t tx_ch, uint32_t dev_addr,
			     uint32_t fcnt, const uint8_t *msg, size_t len, uint8_t mic[4])
{
	uint8_t buf[16 + 256], f[16], s[16];
	int r;

	if (len > 256)
		return LPA_ERR_LENGTH;
	memset(buf, 0, 16);
	buf[0] = 0x49;
	lorawan_le_put(buf + 6, dev_addr, 4);
	lorawan_le_put(buf + 10, fcnt, 4);
	buf[15] = (uint8_t)len;
	memcpy(buf + 16, msg, len);
	if ((r = lpa_aes_cmac(f_nwk_s_int_key, buf, 16 + len, f)) != LPA_OK)
		return r;
	lorawan_le_put(buf + 1, conf_fcnt, 2);
	buf[3] = tx_dr;
	buf[4] = tx_ch;
	if ((r = lpa_aes_cmac(s_nwk_s_int_key, buf, 16 + len, s)) != LPA_OK)
		return r;
	memcpy(mic, s, 2);
	memcpy(mic + 2, f, 2);
	return LPA_OK;
}
