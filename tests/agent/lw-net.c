/*
 * lw-net.c — the network side of LoRaWAN for the agent's tests (lw-net.h): lpa/core's
 * derivations and JoinRequest MIC, lpa/core's CMAC, OpenSSL's AES.
 */
#include <string.h>

#include <check.h>
#include <openssl/evp.h>

#include "lpa/core/lpa-core.h"
#include "lw-net.h"

static void lw_net_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* AES-128-ECB in place, enc 1 or 0: the server "encrypts" a join-accept with AES
 * decryption (1.0.4 §6.2.3). */
static void lw_net_aes(int enc, const uint8_t key[16], uint8_t *p, size_t len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_CipherInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL, enc), 1);
	ck_assert_int_eq(EVP_CIPHER_CTX_set_padding(ctx, 0), 1);
	ck_assert_int_eq(EVP_CipherUpdate(ctx, p, &n, p, (int)len), 1);
	ck_assert_int_eq(n, (int)len);
	EVP_CIPHER_CTX_free(ctx);
}

size_t lw_net_join_accept(const uint8_t enc_key[16], const uint8_t mic_key[16], int opt_neg,
			  uint64_t join_eui, uint16_t dev_nonce, uint32_t join_nonce,
			  uint32_t net_id, uint32_t dev_addr, uint8_t dl_settings, uint8_t rx_delay,
			  const uint8_t *cflist, uint8_t out[33])
{
	uint8_t buf[11 + 29], mac[16];
	size_t len = cflist ? 33 : 17, pre = 0;

	out[0] = 0x20;
	lw_net_le(out + 1, join_nonce, 3);
	lw_net_le(out + 4, net_id, 3);
	lw_net_le(out + 7, dev_addr, 4);
	out[11] = dl_settings;
	out[12] = rx_delay;
	if (cflist)
		memcpy(out + 13, cflist, 16);
	if (opt_neg) {
		buf[0] = 0xFF;
		lw_net_le(buf + 1, join_eui, 8);
		lw_net_le(buf + 9, dev_nonce, 2);
		pre = 11;
	}
	memcpy(buf + pre, out, len - 4);
	ck_assert_int_eq(lpa_aes_cmac(mic_key, buf, pre + len - 4, mac), LPA_OK);
	memcpy(out + len - 4, mac, 4);
	lw_net_aes(0, enc_key, out + 1, len - 1);
	return len;
}

void lw_net_session(uint8_t lorawan, int opt_neg, const uint8_t app_key[16],
		    const uint8_t nwk_key[16], uint32_t join_nonce, uint32_t net_id,
		    uint64_t join_eui, uint16_t dev_nonce, uint32_t dev_addr,
		    struct lw_net_session *s)
{
	memset(s, 0, sizeof(*s));
	s->dev_addr = dev_addr;
	if (lorawan == 0x11 && opt_neg) {
		struct lpa_lorawan11_skeys k;

		ck_assert_int_eq(
			lpa_lorawan11_derive(nwk_key, app_key, join_nonce, join_eui, dev_nonce, &k),
			LPA_OK);
		s->mode = 0x11;
		memcpy(s->f_nwk, k.f_nwk_s_int_key, 16);
		memcpy(s->s_nwk, k.s_nwk_s_int_key, 16);
		memcpy(s->nwk_enc, k.nwk_s_enc_key, 16);
		memcpy(s->app_s, k.app_s_key, 16);
	} else {
		struct lpa_lorawan10_skeys k;

		ck_assert_int_eq(lpa_lorawan10_derive(lorawan == 0x11 ? nwk_key : app_key,
						      join_nonce, net_id, dev_nonce, &k),
				 LPA_OK);
		s->mode = 0x10;
		memcpy(s->f_nwk, k.nwk_s_key, 16);
		memcpy(s->s_nwk, k.nwk_s_key, 16);
		memcpy(s->nwk_enc, k.nwk_s_key, 16);
		memcpy(s->app_s, k.app_s_key, 16);
	}
}

/* B0/B1 | msg under key. */
static void lw_net_cmac_b(const uint8_t key[16], uint16_t conf, uint8_t tx_dr, uint8_t tx_ch,
			  int dir, uint32_t dev_addr, uint32_t fcnt, const uint8_t *msg, size_t len,
			  uint8_t mac[16])
{
	uint8_t buf[16 + 255];

	ck_assert_uint_le(len, 255);
	memset(buf, 0, 16);
	buf[0] = 0x49;
	lw_net_le(buf + 1, conf, 2);
	buf[3] = tx_dr;
	buf[4] = tx_ch;
	buf[5] = (uint8_t)dir;
	lw_net_le(buf + 6, dev_addr, 4);
	lw_net_le(buf + 10, fcnt, 4);
	buf[15] = (uint8_t)len;
	memcpy(buf + 16, msg, len);
	ck_assert_int_eq(lpa_aes_cmac(key, buf, 16 + len, mac), LPA_OK);
}

void lw_net_frame_mic(const struct lw_net_session *s, int dir, uint16_t conf_fcnt, uint8_t tx_dr,
		      uint8_t tx_ch, uint32_t fcnt, const uint8_t *msg, size_t len, uint8_t mic[4])
{
	uint8_t a[16], b[16];

	if (s->mode == 0x10) {
		lw_net_cmac_b(s->f_nwk, 0, 0, 0, dir, s->dev_addr, fcnt, msg, len, a);
		memcpy(mic, a, 4);
	} else if (dir == 0) {
		lw_net_cmac_b(s->s_nwk, conf_fcnt, tx_dr, tx_ch, 0, s->dev_addr, fcnt, msg, len, a);
		lw_net_cmac_b(s->f_nwk, 0, 0, 0, 0, s->dev_addr, fcnt, msg, len, b);
		memcpy(mic, a, 2);
		memcpy(mic + 2, b, 2);
	} else {
		lw_net_cmac_b(s->s_nwk, conf_fcnt, 0, 0, 1, s->dev_addr, fcnt, msg, len, a);
		memcpy(mic, a, 4);
	}
}

void lw_net_frm_crypt(const uint8_t key[16], int dir, uint32_t dev_addr, uint32_t fcnt, uint8_t *p,
		      size_t len)
{
	uint8_t a[16], s[16];

	memset(a, 0, 16);
	a[0] = 0x01;
	a[5] = (uint8_t)dir;
	lw_net_le(a + 6, dev_addr, 4);
	lw_net_le(a + 10, fcnt, 4);
	for (size_t j = 0; j < len; j++) {
		if (j % 16 == 0) {
			a[15] = (uint8_t)(j / 16 + 1);
			memcpy(s, a, 16);
			lw_net_aes(1, key, s, 16);
		}
		p[j] ^= s[j % 16];
	}
}

size_t lw_net_downlink(const struct lw_net_session *s, uint8_t mhdr, uint8_t fctrl, uint32_t fcnt,
		       int port, const uint8_t *payload, size_t len, uint16_t conf_fcnt,
		       uint8_t *out)
{
	size_t n = 8;

	out[0] = mhdr;
	lw_net_le(out + 1, s->dev_addr, 4);
	out[5] = fctrl;
	lw_net_le(out + 6, fcnt, 2);
	if (port >= 0) {
		out[n++] = (uint8_t)port;
		memcpy(out + n, payload, len);
		lw_net_frm_crypt(port == 0 ? s->nwk_enc : s->app_s, 1, s->dev_addr, fcnt, out + n,
				 len);
		n += len;
	}
	lw_net_frame_mic(s, 1, conf_fcnt, 0, 0, fcnt, out, n, out + n);
	return n + 4;
}
