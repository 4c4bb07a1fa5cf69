/* LoRaWAN derivations and MIC against The Things Stack's test vectors. */
#include <openssl/evp.h>

#include "testutil.h"
#include "ttn-lorawan.h"

START_TEST(lorawan10_session_keys)
{
	struct lpa_lorawan10_skeys k;
	uint8_t key[16];

	tu_hex(TTN_KEY, key, 16);
	ck_assert_int_eq(lpa_lorawan10_derive(key, JOIN_NONCE, NET_ID, DEV_NONCE, &k), LPA_OK);
	ttn_lorawan_assert_10_skeys(k.app_s_key, k.nwk_s_key);
}
END_TEST

START_TEST(lorawan11_session_keys)
{
	struct lpa_lorawan11_skeys k;
	uint8_t key[16];

	tu_hex(TTN_KEY, key, 16);
	ck_assert_int_eq(lpa_lorawan11_derive(key, key, JOIN_NONCE, JOIN_EUI, DEV_NONCE, &k),
			 LPA_OK);
	ttn_lorawan_assert_11_skeys(k.app_s_key, k.f_nwk_s_int_key, k.s_nwk_s_int_key,
				    k.nwk_s_enc_key);
}
END_TEST

START_TEST(lorawan11_js_keys)
{
	uint8_t key[16], js_int[16], js_enc[16];

	tu_hex(TTN_KEY, key, 16);
	ck_assert_int_eq(lpa_lorawan11_js_keys(key, DEV_EUI, js_int, js_enc), LPA_OK);
	ttn_lorawan_assert_js_keys(js_int, js_enc);
}
END_TEST

/* The 1.1 root keys feed different derivations: AppSKey from AppKey only. */
START_TEST(lorawan11_keys_are_separated)
{
	struct lpa_lorawan11_skeys a, b;
	uint8_t nwk[16], app[16];

	tu_hex(TTN_KEY, nwk, 16);
	memset(app, 0x42, sizeof(app));
	ck_assert_int_eq(lpa_lorawan11_derive(nwk, nwk, JOIN_NONCE, JOIN_EUI, DEV_NONCE, &a), 0);
	ck_assert_int_eq(lpa_lorawan11_derive(nwk, app, JOIN_NONCE, JOIN_EUI, DEV_NONCE, &b), 0);
	ck_assert_mem_eq(a.f_nwk_s_int_key, b.f_nwk_s_int_key, 16);
	ck_assert_mem_ne(a.app_s_key, b.app_s_key, 16);
}
END_TEST

START_TEST(join_request_mic)
{
	uint8_t key[16], mic[4];

	memset(key, 0x01, sizeof(key));
	ck_assert_int_eq(lpa_lorawan_join_request_mic(key, 0x00, TTN_JR_EUI, TTN_JR_EUI,
						      TTN_JR_DEV_NONCE, mic),
			 LPA_OK);
	tu_assert_hex(mic, 4, TTN_JR_MIC);
}
END_TEST

START_TEST(lorawan_rejects_oversized_fields)
{
	struct lpa_lorawan10_skeys k;
	uint8_t key[16] = {0};

	ck_assert_int_eq(lpa_lorawan10_derive(key, 0x1000000, NET_ID, DEV_NONCE, &k),
			 LPA_ERR_INVAL);
	ck_assert_int_eq(lpa_lorawan10_derive(key, JOIN_NONCE, 0x1000000, DEV_NONCE, &k),
			 LPA_ERR_INVAL);
}
END_TEST

/* The network side decrypts, the device encrypts (LoRaWAN 1.0.4 §6.2.3): checked with
 * OpenSSL's AES-ECB directly, and the MIC with CMAC over MHDR | body. */
static void aes_ecb_encrypt(const uint8_t key[16], const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	ck_assert_int_eq(EVP_EncryptUpdate(c, out, &len, in, (int)n), 1);
	ck_assert_int_eq(len, (int)n);
	EVP_CIPHER_CTX_free(c);
}

START_TEST(join_accept_10)
{
	uint8_t key[16], body[28], phy[33], plain[32], mac_in[1 + 28], mac[16], back[28];
	size_t n = 0, len = 0;

	tu_hex(TTN_KEY, key, 16);
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + 1);
	for (size_t bl = 12; bl <= 28; bl += 16) {
		ck_assert_int_eq(lpa_lorawan_join_accept_seal(key, key, false, JOIN_EUI, DEV_NONCE,
							      body, bl, phy, &n),
				 LPA_OK);
		ck_assert_uint_eq(n, bl + 5);
		ck_assert_int_eq(phy[0], 0x20);
		aes_ecb_encrypt(key, phy + 1, n - 1, plain);
		ck_assert_mem_eq(plain, body, bl);
		mac_in[0] = 0x20;
		memcpy(mac_in + 1, body, bl);
		ck_assert_int_eq(lpa_aes_cmac(key, mac_in, 1 + bl, mac), LPA_OK);
		ck_assert_mem_eq(plain + bl, mac, 4);
		ck_assert_int_eq(lpa_lorawan_join_accept_open(key, key, false, JOIN_EUI, DEV_NONCE,
							      phy, n, back, &len),
				 LPA_OK);
		ck_assert_uint_eq(len, bl);
		ck_assert_mem_eq(back, body, bl);
		phy[n - 1] ^= 1;
		ck_assert_int_eq(lpa_lorawan_join_accept_open(key, key, false, JOIN_EUI, DEV_NONCE,
							      phy, n, back, &len),
				 LPA_ERR_SIGNATURE);
	}
	ck_assert_int_eq(lpa_lorawan_join_accept_seal(key, key, false, JOIN_EUI, DEV_NONCE, body,
						      13, phy, &n),
			 LPA_ERR_LENGTH);
}
END_TEST

/* 1.1: the MIC covers JoinReqType | JoinEUI | DevNonce too, under JSIntKey. */
START_TEST(join_accept_11)
{
	uint8_t nwk[16], js_int[16], js_enc[16], body[12] = {1, 0, 0, 0x13}, phy[17], plain[16];
	uint8_t mac_in[11 + 1 + 12], mac[16], back[28];
	size_t n = 0, len = 0;

	tu_hex(TTN_KEY, nwk, 16);
	ck_assert_int_eq(lpa_lorawan11_js_keys(nwk, DEV_EUI, js_int, js_enc), LPA_OK);
	ck_assert_int_eq(lpa_lorawan_join_accept_seal(js_int, nwk, true, JOIN_EUI, DEV_NONCE, body,
						      12, phy, &n),
			 LPA_OK);
	aes_ecb_encrypt(nwk, phy + 1, 16, plain);
	mac_in[0] = 0xff;
	for (int i = 0; i < 8; i++)
		mac_in[1 + i] = (uint8_t)(JOIN_EUI >> (8 * i));
	mac_in[9] = DEV_NONCE & 0xff;
	mac_in[10] = DEV_NONCE >> 8;
	mac_in[11] = 0x20;
	memcpy(mac_in + 12, body, 12);
	ck_assert_int_eq(lpa_aes_cmac(js_int, mac_in, sizeof(mac_in), mac), LPA_OK);
	ck_assert_mem_eq(plain + 12, mac, 4);
	/* the wrong DevNonce: the MIC no longer verifies */
	ck_assert_int_eq(lpa_lorawan_join_accept_open(js_int, nwk, true, JOIN_EUI, DEV_NONCE + 1,
						      phy, n, back, &len),
			 LPA_ERR_SIGNATURE);
}
END_TEST

/* FRMPayload: the keystream of LoRaWAN 1.0.4 §4.3.3, blocks A_i under the key. */
START_TEST(frm_crypt)
{
	uint8_t key[16], msg[20], enc[20], back[20], a[16] = {1}, s[16];

	tu_hex(TTN_KEY, key, 16);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	ck_assert_int_eq(lpa_lorawan_frm_crypt(key, false, 0x26011234, 7, msg, 20, enc), LPA_OK);
	a[6] = 0x34, a[7] = 0x12, a[8] = 0x01, a[9] = 0x26, a[10] = 7, a[15] = 2;
	aes_ecb_encrypt(key, a, 16, s);
	for (size_t i = 16; i < 20; i++)
		ck_assert_int_eq(enc[i], msg[i] ^ s[i - 16]);
	ck_assert_int_eq(lpa_lorawan_frm_crypt(key, false, 0x26011234, 7, enc, 20, back), LPA_OK);
	ck_assert_mem_eq(back, msg, 20);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(lorawan10_session_keys),
		TU_CASE(lorawan11_session_keys),
		TU_CASE(lorawan11_js_keys),
		TU_CASE(lorawan11_keys_are_separated),
		TU_CASE(join_request_mic),
		TU_CASE(lorawan_rejects_oversized_fields),
		TU_CASE(join_accept_10),
		TU_CASE(join_accept_11),
		TU_CASE(frm_crypt),
	};

	return tu_main("lorawan", cases, TU_N(cases));
}
