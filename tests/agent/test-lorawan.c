/*
 * The agent's LoRaWAN crypto: The Things Stack's vectors (pkg/crypto *_test.go), then
 * differential tests — against lpa/core for what it has (derivations, JoinRequest MIC),
 * and against references written here from the spec (LoRaWAN 1.0.4 §4.3.3, §4.4, §6.2;
 * 1.1 §4.3.3, §4.4, §6.2.3) on OpenSSL's AES and lpa/core's CMAC for the rest.
 */
#include <openssl/evp.h>

#include "agent-test.h"
#include "ttn-lorawan.h"

/* key_derivation_test.go */
START_TEST(lorawan10_session_keys)
{
	struct lorawan10_skeys k;
	uint8_t key[16];

	tu_hex(TTN_KEY, key, 16);
	ck_assert_int_eq(lorawan10_derive(key, JOIN_NONCE, NET_ID, DEV_NONCE, &k), CRYPTO_OK);
	ttn_lorawan_assert_10_skeys(k.app_s_key, k.nwk_s_key);
}
END_TEST

START_TEST(lorawan11_session_keys)
{
	struct lorawan11_skeys k;
	uint8_t key[16];

	tu_hex(TTN_KEY, key, 16);
	ck_assert_int_eq(lorawan11_derive(key, key, JOIN_NONCE, JOIN_EUI, DEV_NONCE, &k),
			 CRYPTO_OK);
	ttn_lorawan_assert_11_skeys(k.app_s_key, k.f_nwk_s_int_key, k.s_nwk_s_int_key,
				    k.nwk_s_enc_key);
}
END_TEST

START_TEST(lorawan11_js_keys_vector)
{
	uint8_t key[16], js_int[16], js_enc[16];

	tu_hex(TTN_KEY, key, 16);
	lorawan11_js_keys(key, DEV_EUI, js_int, js_enc);
	ttn_lorawan_assert_js_keys(js_int, js_enc);
}
END_TEST

/* AppSKey (1.1) comes from AppKey alone; the network keys from NwkKey alone. */
START_TEST(lorawan11_keys_are_separated)
{
	struct lorawan11_skeys a, b;
	uint8_t nwk[16], app[16];

	tu_hex(TTN_KEY, nwk, 16);
	memset(app, 0x42, sizeof(app));
	ck_assert_int_eq(lorawan11_derive(nwk, nwk, JOIN_NONCE, JOIN_EUI, DEV_NONCE, &a), 0);
	ck_assert_int_eq(lorawan11_derive(nwk, app, JOIN_NONCE, JOIN_EUI, DEV_NONCE, &b), 0);
	ck_assert_mem_eq(a.f_nwk_s_int_key, b.f_nwk_s_int_key, 16);
	ck_assert_mem_eq(a.s_nwk_s_int_key, b.s_nwk_s_int_key, 16);
	ck_assert_mem_eq(a.nwk_s_enc_key, b.nwk_s_enc_key, 16);
	ck_assert_mem_ne(a.app_s_key, b.app_s_key, 16);
}
END_TEST

START_TEST(lorawan_rejects_oversized_fields)
{
	struct lorawan10_skeys k10;
	struct lorawan11_skeys k11;
	uint8_t key[16] = {0};

	memset(&k10, 0xa5, sizeof(k10));
	ck_assert_int_eq(lorawan10_derive(key, 0x1000000, NET_ID, DEV_NONCE, &k10),
			 CRYPTO_ERR_LENGTH);
	for (size_t i = 0; i < sizeof(k10); i++)
		ck_assert_uint_eq(((uint8_t *)&k10)[i], 0);
	ck_assert_int_eq(lorawan10_derive(key, JOIN_NONCE, 0x1000000, DEV_NONCE, &k10),
			 CRYPTO_ERR_LENGTH);
	memset(&k11, 0xa5, sizeof(k11));
	ck_assert_int_eq(lorawan11_derive(key, key, 0x1000000, JOIN_EUI, DEV_NONCE, &k11),
			 CRYPTO_ERR_LENGTH);
	for (size_t i = 0; i < sizeof(k11); i++)
		ck_assert_uint_eq(((uint8_t *)&k11)[i], 0);
	/* The largest 24-bit values are fine. */
	ck_assert_int_eq(lorawan10_derive(key, 0xffffff, 0xffffff, DEV_NONCE, &k10), CRYPTO_OK);
}
END_TEST

/* join_messages_test.go: key 01..01, MHDR 00, JoinEUI = DevEUI = 0102030405060708. */
START_TEST(join_request_mic_vector)
{
	uint8_t key[16], mic[4];

	memset(key, 0x01, sizeof(key));
	lorawan_join_request_mic(key, 0x00, TTN_JR_EUI, TTN_JR_EUI, TTN_JR_DEV_NONCE, mic);
	tu_assert_hex(mic, 4, TTN_JR_MIC);
}
END_TEST

/* join_messages_test.go: the 1.0 join-accept with its MIC, "encrypted" and decrypted. */
START_TEST(join_accept_10_vector)
{
	uint8_t key[16], msg[17];

	memset(key, 0x01, sizeof(key));
	tu_hex("20 c9fbb259e11649096a568a9e3b7117c3", msg, 17);
	ck_assert_int_eq(lorawan_join_accept_open(key, key, 0, 0, 0, 0, msg, 17), CRYPTO_OK);
	tu_assert_hex(msg, 17, "20 030201 030201 04030201 00 01 32f54ab3");
}
END_TEST

/* The spec's server side: AES *decryption* of payload | MIC under the key. */
static void server_encrypt(const uint8_t key[16], uint8_t *p, size_t len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_DecryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL), 1);
	ck_assert_int_eq(EVP_CIPHER_CTX_set_padding(ctx, 0), 1);
	ck_assert_int_eq(EVP_DecryptUpdate(ctx, p, &n, p, (int)len), 1);
	ck_assert_int_eq(n, (int)len);
	EVP_CIPHER_CTX_free(ctx);
}

/* join_messages_test.go: the 1.1 MIC (JoinReqType FF, JoinEUI 0807060504030201,
 * DevNonce 0201) is 48e9be5f; encrypted here as a server would, then opened. */
START_TEST(join_accept_11_vector)
{
	uint8_t js_int[16], nwk[16], msg[17], plain[17];

	memset(js_int, 0x01, sizeof(js_int));
	memset(nwk, 0x02, sizeof(nwk));
	tu_hex("20 030201 030201 04030201 00 01 48e9be5f", plain, 17);
	memcpy(msg, plain, 17);
	server_encrypt(nwk, msg + 1, 16);
	ck_assert_int_eq(lorawan_join_accept_open(nwk, js_int, 1, 0xff, 0x0807060504030201ULL,
						  0x0201, msg, 17),
			 CRYPTO_OK);
	ck_assert_mem_eq(msg, plain, 17);
	/* The 1.0 form of the MIC does not match it. */
	memcpy(msg, plain, 17);
	server_encrypt(nwk, msg + 1, 16);
	ck_assert_int_eq(lorawan_join_accept_open(nwk, js_int, 0, 0xff, 0x0807060504030201ULL,
						  0x0201, msg, 17),
			 CRYPTO_ERR_TAG);
}
END_TEST

START_TEST(join_accept_refused_is_wiped)
{
	uint8_t key[16], msg[17];

	memset(key, 0x01, sizeof(key));
	for (size_t b = 8; b < 8 * 17; b++) {
		tu_hex("20 c9fbb259e11649096a568a9e3b7117c3", msg, 17);
		msg[b / 8] ^= (uint8_t)(1u << (b % 8));
		ck_assert_int_eq(lorawan_join_accept_open(key, key, 0, 0, 0, 0, msg, 17),
				 CRYPTO_ERR_TAG);
		ck_assert_uint_eq(msg[0], 0x20);
		for (size_t i = 1; i < 17; i++)
			ck_assert_uint_eq(msg[i], 0);
	}
	/* The MHDR is covered by the MIC too. */
	tu_hex("21 c9fbb259e11649096a568a9e3b7117c3", msg, 17);
	ck_assert_int_eq(lorawan_join_accept_open(key, key, 0, 0, 0, 0, msg, 17), CRYPTO_ERR_TAG);
}
END_TEST

START_TEST(join_accept_rejects_lengths)
{
	static const size_t bad[] = {0, 1, 16, 18, 32, 34, 49};
	uint8_t key[16] = {0}, msg[64], copy[64];

	memset(msg, 0x5a, sizeof(msg));
	memcpy(copy, msg, sizeof(msg));
	for (size_t i = 0; i < TU_N(bad); i++) {
		ck_assert_int_eq(lorawan_join_accept_open(key, key, 0, 0, 0, 0, msg, bad[i]),
				 CRYPTO_ERR_LENGTH);
		ck_assert_mem_eq(msg, copy, sizeof(msg));
	}
}
END_TEST

/* data_messages_test.go: key 01..01, DevAddr 01020304, FCnt 1. */
static const char *ttn_frame = "40 04030201 00 0100 01 01020304";

START_TEST(frame_mic_vectors)
{
	uint8_t key[16], msg[13], mic[4];

	memset(key, 0x01, sizeof(key));
	tu_hex(ttn_frame, msg, 13);
	ck_assert_int_eq(lorawan10_frame_mic(key, 0, 0x01020304, 1, msg, 13, mic), CRYPTO_OK);
	tu_assert_hex(mic, 4, "3B073182");
	ck_assert_int_eq(lorawan10_frame_mic(key, 1, 0x01020304, 1, msg, 13, mic), CRYPTO_OK);
	tu_assert_hex(mic, 4, "A5609FA9");
	ck_assert_int_eq(lorawan11_uplink_mic(key, key, 0, 0, 0, 0x01020304, 1, msg, 13, mic),
			 CRYPTO_OK);
	tu_assert_hex(mic, 4, "3B073B07");
	ck_assert_int_eq(lorawan11_downlink_mic(key, 0, 0x01020304, 1, msg, 13, mic), CRYPTO_OK);
	tu_assert_hex(mic, 4, "A5609FA9");
}
END_TEST

START_TEST(frm_crypt_vectors)
{
	uint8_t key[16], p[4];

	memset(key, 0x01, sizeof(key));
	tu_hex("01020304", p, 4);
	ck_assert_int_eq(lorawan_frm_crypt(key, 0, 0x01020304, 1, p, 4), CRYPTO_OK);
	tu_assert_hex(p, 4, "CFF30B4E");
	ck_assert_int_eq(lorawan_frm_crypt(key, 0, 0x01020304, 1, p, 4), CRYPTO_OK);
	tu_assert_hex(p, 4, "01020304");
	ck_assert_int_eq(lorawan_frm_crypt(key, 1, 0x01020304, 1, p, 4), CRYPTO_OK);
	tu_assert_hex(p, 4, "4E75F440");
}
END_TEST

START_TEST(frames_reject_lengths)
{
	uint8_t key[16] = {0}, msg[256] = {0}, copy[256] = {0}, mic[4];

	memset(mic, 0xa5, 4);
	ck_assert_int_eq(lorawan10_frame_mic(key, 0, 1, 1, msg, 256, mic), CRYPTO_ERR_LENGTH);
	ck_assert_mem_eq(mic, "\0\0\0\0", 4);
	memset(mic, 0xa5, 4);
	ck_assert_int_eq(lorawan11_uplink_mic(key, key, 0, 0, 0, 1, 1, msg, 256, mic),
			 CRYPTO_ERR_LENGTH);
	ck_assert_mem_eq(mic, "\0\0\0\0", 4);
	memset(mic, 0xa5, 4);
	ck_assert_int_eq(lorawan11_downlink_mic(key, 0, 1, 1, msg, 256, mic), CRYPTO_ERR_LENGTH);
	ck_assert_mem_eq(mic, "\0\0\0\0", 4);
	ck_assert_int_eq(lorawan_frm_crypt(key, 0, 1, 1, msg, 256), CRYPTO_ERR_LENGTH);
	ck_assert_mem_eq(msg, copy, 256);
	/* 255 bytes is a valid frame. */
	ck_assert_int_eq(lorawan10_frame_mic(key, 0, 1, 1, msg, 255, mic), CRYPTO_OK);
	ck_assert_int_eq(lorawan_frm_crypt(key, 0, 1, 1, msg, 255), CRYPTO_OK);
}
END_TEST

/* ------------------------------------------------ differential against lpa/core */

START_TEST(derivations_match_lpa_core)
{
	struct at_rng r = at_rng(0x10a3);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		uint8_t nwk[16], app[16], a[16], b[16], c[16], d[16];
		uint32_t join_nonce = (uint32_t)at_u64(&r) & 0xffffff;
		uint32_t net_id = (uint32_t)at_u64(&r) & 0xffffff;
		uint64_t join_eui = at_u64(&r), dev_eui = at_u64(&r);
		uint16_t dev_nonce = (uint16_t)at_u64(&r);
		uint8_t mhdr = (uint8_t)at_u64(&r);
		struct lorawan10_skeys k10;
		struct lpa_lorawan10_skeys w10;
		struct lorawan11_skeys k11;
		struct lpa_lorawan11_skeys w11;

		at_fill(&r, nwk, 16);
		at_fill(&r, app, 16);
		ck_assert_int_eq(lorawan10_derive(app, join_nonce, net_id, dev_nonce, &k10), 0);
		ck_assert_int_eq(lpa_lorawan10_derive(app, join_nonce, net_id, dev_nonce, &w10), 0);
		ck_assert_mem_eq(k10.nwk_s_key, w10.nwk_s_key, 16);
		ck_assert_mem_eq(k10.app_s_key, w10.app_s_key, 16);

		ck_assert_int_eq(lorawan11_derive(nwk, app, join_nonce, join_eui, dev_nonce, &k11),
				 0);
		ck_assert_int_eq(
			lpa_lorawan11_derive(nwk, app, join_nonce, join_eui, dev_nonce, &w11), 0);
		ck_assert_mem_eq(k11.f_nwk_s_int_key, w11.f_nwk_s_int_key, 16);
		ck_assert_mem_eq(k11.s_nwk_s_int_key, w11.s_nwk_s_int_key, 16);
		ck_assert_mem_eq(k11.nwk_s_enc_key, w11.nwk_s_enc_key, 16);
		ck_assert_mem_eq(k11.app_s_key, w11.app_s_key, 16);

		lorawan11_js_keys(nwk, dev_eui, a, b);
		ck_assert_int_eq(lpa_lorawan11_js_keys(nwk, dev_eui, c, d), 0);
		ck_assert_mem_eq(a, c, 16);
		ck_assert_mem_eq(b, d, 16);

		lorawan_join_request_mic(nwk, mhdr, join_eui, dev_eui, dev_nonce, a);
		ck_assert_int_eq(
			lpa_lorawan_join_request_mic(nwk, mhdr, join_eui, dev_eui, dev_nonce, c),
			0);
		ck_assert_mem_eq(a, c, 4);
	}
	at_report("lorawan derivations + join-request MIC", n, &r);
}
END_TEST

/* ------------------------------ differential against references from the spec */

static void le_put(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* §4.4: B0 = 0x49 | ConfFCnt(2, 1.1 downlink) or 0x0000 | 0x0000 | Dir | DevAddr | FCnt |
 * 0x00 | len(msg); B1 (1.1 uplink) = 0x49 | ConfFCnt | TxDr | TxCh | Dir | ... */
static void ref_cmac_b(const uint8_t key[16], uint16_t conf_fcnt, uint8_t tx_dr, uint8_t tx_ch,
		       uint8_t dir, uint32_t dev_addr, uint32_t fcnt, const uint8_t *msg,
		       size_t len, uint8_t mac[16])
{
	uint8_t buf[16 + 255];

	memset(buf, 0, 16);
	buf[0] = 0x49;
	le_put(buf + 1, conf_fcnt, 2);
	buf[3] = tx_dr;
	buf[4] = tx_ch;
	buf[5] = dir;
	le_put(buf + 6, dev_addr, 4);
	le_put(buf + 10, fcnt, 4);
	buf[15] = (uint8_t)len;
	memcpy(buf + 16, msg, len);
	ck_assert_int_eq(lpa_aes_cmac(key, buf, 16 + len, mac), LPA_OK);
}

START_TEST(frame_mics_match_reference)
{
	struct at_rng r = at_rng(0xf3a3e);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		uint8_t s_key[16], f_key[16], msg[255], got[4], s[16], f[16];
		size_t len = at_len(&r, sizeof(msg));
		uint32_t dev_addr = (uint32_t)at_u64(&r), fcnt = (uint32_t)at_u64(&r);
		uint16_t conf = (uint16_t)at_u64(&r);
		uint8_t tx_dr = (uint8_t)at_u64(&r), tx_ch = (uint8_t)at_u64(&r);
		uint8_t dir = (uint8_t)(at_u64(&r) & 1);

		at_fill(&r, s_key, 16);
		at_fill(&r, f_key, 16);
		at_fill(&r, msg, len);

		ck_assert_int_eq(lorawan10_frame_mic(s_key, dir, dev_addr, fcnt, msg, len, got), 0);
		ref_cmac_b(s_key, 0, 0, 0, dir, dev_addr, fcnt, msg, len, s);
		ck_assert_mem_eq(got, s, 4);

		ck_assert_int_eq(lorawan11_uplink_mic(s_key, f_key, conf, tx_dr, tx_ch, dev_addr,
						      fcnt, msg, len, got),
				 0);
		ref_cmac_b(s_key, conf, tx_dr, tx_ch, 0, dev_addr, fcnt, msg, len, s);
		ref_cmac_b(f_key, 0, 0, 0, 0, dev_addr, fcnt, msg, len, f);
		ck_assert_mem_eq(got, s, 2);
		ck_assert_mem_eq(got + 2, f, 2);

		ck_assert_int_eq(lorawan11_downlink_mic(s_key, conf, dev_addr, fcnt, msg, len, got),
				 0);
		ref_cmac_b(s_key, conf, 0, 0, 1, dev_addr, fcnt, msg, len, s);
		ck_assert_mem_eq(got, s, 4);
	}
	at_report("lorawan frame MICs (1.0, 1.1 up, 1.1 down)", n, &r);
}
END_TEST

/* §4.3.3: A_i = 0x01 | 0^4 | Dir | DevAddr | FCnt | 0x00 | i, S_i = aes128(K, A_i). */
START_TEST(frm_crypt_matches_reference)
{
	struct at_rng r = at_rng(0xf3c);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		uint8_t key[16], p[255], want[255], a[16], s[16];
		size_t len = at_len(&r, sizeof(p));
		uint32_t dev_addr = (uint32_t)at_u64(&r), fcnt = (uint32_t)at_u64(&r);
		uint8_t dir = (uint8_t)(at_u64(&r) & 1);

		at_fill(&r, key, 16);
		at_fill(&r, p, len);
		memcpy(want, p, len);
		memset(a, 0, 16);
		a[0] = 0x01;
		a[5] = dir;
		le_put(a + 6, dev_addr, 4);
		le_put(a + 10, fcnt, 4);
		for (size_t j = 0; j < len; j++) {
			if (j % 16 == 0) {
				a[15] = (uint8_t)(j / 16 + 1);
				at_openssl_block(key, 16, a, s);
			}
			want[j] ^= s[j % 16];
		}
		ck_assert_int_eq(lorawan_frm_crypt(key, dir, dev_addr, fcnt, p, len), 0);
		ck_assert_mem_eq(p, want, len);
	}
	at_report("lorawan FRMPayload encryption", n, &r);
}
END_TEST

/* §6.2.3 (1.0.4 §6.2.5): a join-accept built as a server builds it (MIC, then AES
 * decryption) opens to its plaintext; one flipped bit is refused and wiped. */
START_TEST(join_accept_matches_reference)
{
	struct at_rng r = at_rng(0x1a);
	long n = at_cases();

	for (long i = 0; i < n; i++) {
		uint8_t dec_key[16], mic_key[16], plain[33], msg[33], buf[11 + 29], mac[16];
		size_t len = at_below(&r, 2) ? 33 : 17, pre = 0, bit;
		int opt_neg = (int)(at_u64(&r) & 1);
		uint8_t type = (uint8_t)at_u64(&r);
		uint64_t join_eui = at_u64(&r);
		uint16_t dev_nonce = (uint16_t)at_u64(&r);

		at_fill(&r, dec_key, 16);
		at_fill(&r, mic_key, 16);
		at_fill(&r, plain, len - 4);
		if (opt_neg) {
			buf[0] = type;
			le_put(buf + 1, join_eui, 8);
			le_put(buf + 9, dev_nonce, 2);
			pre = 11;
		}
		memcpy(buf + pre, plain, len - 4);
		ck_assert_int_eq(lpa_aes_cmac(mic_key, buf, pre + len - 4, mac), LPA_OK);
		memcpy(plain + len - 4, mac, 4);
		memcpy(msg, plain, len);
		server_encrypt(dec_key, msg + 1, len - 1);
		ck_assert_int_eq(lorawan_join_accept_open(dec_key, mic_key, opt_neg, type, join_eui,
							  dev_nonce, msg, len),
				 CRYPTO_OK);
		ck_assert_mem_eq(msg, plain, len);

		memcpy(msg, plain, len);
		server_encrypt(dec_key, msg + 1, len - 1);
		bit = at_below(&r, 8 * len);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(lorawan_join_accept_open(dec_key, mic_key, opt_neg, type, join_eui,
							  dev_nonce, msg, len),
				 CRYPTO_ERR_TAG);
		for (size_t j = 1; j < len; j++)
			ck_assert_uint_eq(msg[j], 0);
	}
	at_report("lorawan join-accept (1.0 and 1.1, 17 and 33 bytes)", n, &r);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(lorawan10_session_keys),
		TU_CASE(lorawan11_session_keys),
		TU_CASE(lorawan11_js_keys_vector),
		TU_CASE(lorawan11_keys_are_separated),
		TU_CASE(lorawan_rejects_oversized_fields),
		TU_CASE(join_request_mic_vector),
		TU_CASE(join_accept_10_vector),
		TU_CASE(join_accept_11_vector),
		TU_CASE(join_accept_refused_is_wiped),
		TU_CASE(join_accept_rejects_lengths),
		TU_CASE(frame_mic_vectors),
		TU_CASE(frm_crypt_vectors),
		TU_CASE(frames_reject_lengths),
		TU_CASE_SLOW(derivations_match_lpa_core, at_timeout()),
		TU_CASE_SLOW(frame_mics_match_reference, at_timeout()),
		TU_CASE_SLOW(frm_crypt_matches_reference, at_timeout()),
		TU_CASE_SLOW(join_accept_matches_reference, at_timeout()),
	};

	return tu_main("agent-lorawan", cases, TU_N(cases));
}
