/*
 * lorawan.c — LoRaWAN 1.0.x / 1.1 key derivation, join MICs, join-accept decryption,
 * frame MICs and FRMPayload encryption on aes.c and cmac.c. Every derivation is one
 * AES-128 encryption of a zero-padded block; every MIC is the first 4 bytes of a CMAC,
 * for frames over a B0/B1 block followed by the frame. Multi-byte fields go
 * little-endian, as on the air.
 */
#include "crypto.h"

#define LORAWAN_MAX_FRAME 255

/* n bytes of v, least significant first. */
static void lorawan_le(uint8_t *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* An EUI: 8 bytes, in 32-bit halves (ARMv6-M has no 64-bit shifts of its own). */
static void lorawan_eui(uint8_t *p, uint64_t v)
{
	lorawan_le(p, (uint32_t)v, 4);
	lorawan_le(p + 4, (uint32_t)(v >> 32), 4);
}

/* A zeroed 16-byte block with its first byte set. */
static void lorawan_block(uint8_t b[16], uint8_t first)
{
	for (int i = 1; i < 16; i++)
		b[i] = 0;
	b[0] = first;
}

/* The derivation block with JoinNonce and DevNonce in place around a mid_len-byte field
 * (NetID or JoinEUI) the caller fills: type | JoinNonce(3) | mid | DevNonce(2) | 0-pad;
 * the type byte is set per key. */
static void lorawan_nonces(uint8_t b[16], uint32_t join_nonce, int mid_len, uint16_t dev_nonce)
{
	lorawan_block(b, 0);
	lorawan_le(b + 1, join_nonce, 3);
	lorawan_le(b + 4 + mid_len, dev_nonce, 2);
}

static void lorawan_derive(const struct aes *a, uint8_t b[16], uint8_t type, uint8_t out[16])
{
	b[0] = type;
	aes_encrypt(a, b, out);
}

int lorawan10_derive(const uint8_t app_key[16], uint32_t join_nonce, uint32_t net_id,
		     uint16_t dev_nonce, struct lorawan10_skeys *out)
{
	struct aes a;
	uint8_t b[16];

	if (join_nonce > 0xffffffu || net_id > 0xffffffu) {
		ct_wipe(out, sizeof(*out));
		return CRYPTO_ERR_LENGTH;
	}
	lorawan_nonces(b, join_nonce, 3, dev_nonce);
	lorawan_le(b + 4, net_id, 3);
	(void)aes_setkey(&a, app_key, 16);
	lorawan_derive(&a, b, 0x01, out->nwk_s_key);
	lorawan_derive(&a, b, 0x02, out->app_s_key);
	aes_wipe(&a);
	return CRYPTO_OK;
}

int lorawan11_derive(const uint8_t nwk_key[16], const uint8_t app_key[16], uint32_t join_nonce,
		     uint64_t join_eui, uint16_t dev_nonce, struct lorawan11_skeys *out)
{
	struct aes a;
	uint8_t b[16];

	if (join_nonce > 0xffffffu) {
		ct_wipe(out, sizeof(*out));
		return CRYPTO_ERR_LENGTH;
	}
	lorawan_nonces(b, join_nonce, 8, dev_nonce);
	lorawan_eui(b + 4, join_eui);
	(void)aes_setkey(&a, nwk_key, 16);
	lorawan_derive(&a, b, 0x01, out->f_nwk_s_int_key);
	lorawan_derive(&a, b, 0x03, out->s_nwk_s_int_key);
	lorawan_derive(&a, b, 0x04, out->nwk_s_enc_key);
	/* AppSKey comes from AppKey alone, so the network's keys never yield it. */
	(void)aes_setkey(&a, app_key, 16);
	lorawan_derive(&a, b, 0x02, out->app_s_key);
	aes_wipe(&a);
	return CRYPTO_OK;
}

void lorawan11_js_keys(const uint8_t nwk_key[16], uint64_t dev_eui, uint8_t js_int_key[16],
		       uint8_t js_enc_key[16])
{
	struct aes a;
	uint8_t b[16];

	(void)aes_setkey(&a, nwk_key, 16);
	lorawan_block(b, 0x06);
	lorawan_eui(b + 1, dev_eui);
	aes_encrypt(&a, b, js_int_key);
	b[0] = 0x05;
	aes_encrypt(&a, b, js_enc_key);
	aes_wipe(&a);
}

static void lorawan_mic_out(struct cmac_aes128 *c, uint8_t mic[LORAWAN_MIC_LEN])
{
	uint8_t m[CMAC_LEN];

	cmac_aes128_final(c, m);
	ct_memcpy(mic, m, LORAWAN_MIC_LEN);
	ct_wipe(m, sizeof(m));
}

void lorawan_join_request_mic(const uint8_t key[16], uint8_t mhdr, uint64_t join_eui,
			      uint64_t dev_eui, uint16_t dev_nonce, uint8_t mic[LORAWAN_MIC_LEN])
{
	struct cmac_aes128 c;
	uint8_t m[19];

	m[0] = mhdr;
	lorawan_eui(m + 1, join_eui);
	lorawan_eui(m + 9, dev_eui);
	lorawan_le(m + 17, dev_nonce, 2);
	cmac_aes128_init(&c, key);
	cmac_aes128_update(&c, m, sizeof(m));
	lorawan_mic_out(&c, mic);
}

int lorawan_join_accept_open(const uint8_t dec_key[16], const uint8_t mic_key[16], int opt_neg,
			     uint8_t join_req_type, uint64_t join_eui, uint16_t dev_nonce,
			     uint8_t *msg, size_t len)
{
	struct cmac_aes128 c;
	uint8_t pre[11], mic[LORAWAN_MIC_LEN];
	int r = CRYPTO_OK;

	if (len != 17 && len != 33)
		return CRYPTO_ERR_LENGTH;
	/* c's key schedule decrypts first; cmac_aes128_init then re-keys it for the MIC. */
	(void)aes_setkey(&c.aes, dec_key, 16);
	for (size_t i = 1; i < len; i += 16)
		aes_encrypt(&c.aes, msg + i, msg + i);
	cmac_aes128_init(&c, mic_key);
	if (opt_neg) {
		pre[0] = join_req_type;
		lorawan_eui(pre + 1, join_eui);
		lorawan_le(pre + 9, dev_nonce, 2);
		cmac_aes128_update(&c, pre, sizeof(pre));
	}
	cmac_aes128_update(&c, msg, len - LORAWAN_MIC_LEN);
	lorawan_mic_out(&c, mic);
	if (ct_memcmp(mic, msg + len - LORAWAN_MIC_LEN, LORAWAN_MIC_LEN) != 0) {
		ct_wipe(msg + 1, len - 1);
		r = CRYPTO_ERR_TAG;
	}
	ct_wipe(mic, sizeof(mic));
	return r;
}

/* B0 / B1 (§4.4): 0x49 | b1_4 (ConfFCnt(2) | TxDr | TxCh, or zeros) | Dir | DevAddr |
 * FCnt | 0x00 | len(msg); then the CMAC over the block and msg (len <= 255). */
static void lorawan_frame_cmac(const uint8_t key[16], uint32_t b1_4, uint8_t dir, uint32_t dev_addr,
			       uint32_t fcnt, const uint8_t *msg, size_t len, uint8_t mac[CMAC_LEN])
{
	struct cmac_aes128 c;
	uint8_t b[16];

	lorawan_block(b, 0x49);
	lorawan_le(b + 1, b1_4, 4);
	b[5] = dir != 0;
	lorawan_le(b + 6, dev_addr, 4);
	lorawan_le(b + 10, fcnt, 4);
	b[15] = (uint8_t)len;
	cmac_aes128_init(&c, key);
	cmac_aes128_update(&c, b, sizeof(b));
	cmac_aes128_update(&c, msg, len);
	cmac_aes128_final(&c, mac);
}

/* A frame longer than a PHYPayload can be: no MIC. */
static int lorawan_frame_refuse(uint8_t mic[LORAWAN_MIC_LEN])
{
	ct_wipe(mic, LORAWAN_MIC_LEN);
	return CRYPTO_ERR_LENGTH;
}

int lorawan10_frame_mic(const uint8_t nwk_s_key[16], uint8_t dir, uint32_t dev_addr, uint32_t fcnt,
			const uint8_t *msg, size_t len, uint8_t mic[LORAWAN_MIC_LEN])
{
	uint8_t m[CMAC_LEN];

	if (len > LORAWAN_MAX_FRAME)
		return lorawan_frame_refuse(mic);
	lorawan_frame_cmac(nwk_s_key, 0, dir, dev_addr, fcnt, msg, len, m);
	ct_memcpy(mic, m, LORAWAN_MIC_LEN);
	return CRYPTO_OK;
}

int lorawan11_uplink_mic(const uint8_t s_nwk_s_int_key[16], const uint8_t f_nwk_s_int_key[16],
			 uint16_t conf_fcnt, uint8_t tx_dr, uint8_t tx_ch, uint32_t dev_addr,
			 uint32_t fcnt, const uint8_t *msg, size_t len,
			 uint8_t mic[LORAWAN_MIC_LEN])
{
	uint8_t s[CMAC_LEN], f[CMAC_LEN];

	if (len > LORAWAN_MAX_FRAME)
		return lorawan_frame_refuse(mic);
	/* MIC = cmacS[0..1] | cmacF[0..1]: cmacS over B1 (ConfFCnt | TxDr | TxCh) with
	 * SNwkSIntKey, cmacF over B0 with FNwkSIntKey. */
	lorawan_frame_cmac(s_nwk_s_int_key,
			   conf_fcnt | (uint32_t)tx_dr << 16 | (uint32_t)tx_ch << 24, 0, dev_addr,
			   fcnt, msg, len, s);
	lorawan_frame_cmac(f_nwk_s_int_key, 0, 0, dev_addr, fcnt, msg, len, f);
	ct_memcpy(mic, s, 2);
	ct_memcpy(mic + 2, f, 2);
	return CRYPTO_OK;
}

int lorawan11_downlink_mic(const uint8_t s_nwk_s_int_key[16], uint16_t conf_fcnt, uint32_t dev_addr,
			   uint32_t fcnt, const uint8_t *msg, size_t len,
			   uint8_t mic[LORAWAN_MIC_LEN])
{
	uint8_t m[CMAC_LEN];

	if (len > LORAWAN_MAX_FRAME)
		return lorawan_frame_refuse(mic);
	lorawan_frame_cmac(s_nwk_s_int_key, conf_fcnt, 1, dev_addr, fcnt, msg, len, m);
	ct_memcpy(mic, m, LORAWAN_MIC_LEN);
	return CRYPTO_OK;
}

int lorawan_frm_crypt(const uint8_t key[16], uint8_t dir, uint32_t dev_addr, uint32_t fcnt,
		      uint8_t *payload, size_t len)
{
	struct aes a;
	uint8_t b[16], s[16];

	/* The block counter is one byte; frames never come near it. */
	if (len > LORAWAN_MAX_FRAME)
		return CRYPTO_ERR_LENGTH;
	(void)aes_setkey(&a, key, 16);
	/* A_i = 0x01 | 0^4 | Dir | DevAddr | FCnt | 0x00 | i, for i = 1.. */
	lorawan_block(b, 0x01);
	b[5] = dir != 0;
	lorawan_le(b + 6, dev_addr, 4);
	lorawan_le(b + 10, fcnt, 4);
	for (size_t i = 0; i < len; i++) {
		if ((i & 15) == 0) {
			b[15] = (uint8_t)(i / 16 + 1);
			aes_encrypt(&a, b, s);
		}
		payload[i] ^= s[i & 15];
	}
	aes_wipe(&a);
	ct_wipe(s, sizeof(s));
	return CRYPTO_OK;
}
