/* LoRaWAN derivations and MIC against The Things Stack's test vectors. */
#include "testutil.h"

static const char *ttn_key = "BEC499C69E9C939E413B6639616 36C61";

#define DEV_NONCE 0x7369
#define NET_ID 0x020101
#define JOIN_NONCE 0xAE3B1C
#define JOIN_EUI 0x0000001223224242ULL
#define DEV_EUI 0x0042004213424341ULL

START_TEST(lorawan10_session_keys)
{
	struct lpa_lorawan10_skeys k;
	uint8_t key[16];

	tu_hex(ttn_key, key, 16);
	ck_assert_int_eq(lpa_lorawan10_derive(key, JOIN_NONCE, NET_ID, DEV_NONCE, &k), LPA_OK);
	tu_assert_hex(k.app_s_key, 16, "8C1E0543A229088DE6F84E74BB46BD62");
	tu_assert_hex(k.nwk_s_key, 16, "0DB924EE6AF90698E05FC7CE48303C01");
}
END_TEST

START_TEST(lorawan11_session_keys)
{
	struct lpa_lorawan11_skeys k;
	uint8_t key[16];

	tu_hex(ttn_key, key, 16);
	ck_assert_int_eq(lpa_lorawan11_derive(key, key, JOIN_NONCE, JOIN_EUI, DEV_NONCE, &k),
			 LPA_OK);
	tu_assert_hex(k.app_s_key, 16, "B035CCE24E4A040EB5CECBF21724412D");
	tu_assert_hex(k.f_nwk_s_int_key, 16, "379084E7CE22FF191BFF4B77536F2AA3");
	tu_assert_hex(k.s_nwk_s_int_key, 16, "63C59309D53485BC5164DBF71627AEB9");
	tu_assert_hex(k.nwk_s_enc_key, 16, "CE07A009A3970AC0519A099ED53E550B");
}
END_TEST

START_TEST(lorawan11_js_keys)
{
	uint8_t key[16], js_int[16], js_enc[16];

	tu_hex(ttn_key, key, 16);
	ck_assert_int_eq(lpa_lorawan11_js_keys(key, DEV_EUI, js_int, js_enc), LPA_OK);
	tu_assert_hex(js_int, 16, "CB8E9EE114C3FB5CE472A5AA13AB1855");
	tu_assert_hex(js_enc, 16, "BB711EEFB9829B4A75866F8616BACD6D");
}
END_TEST

/* The 1.1 root keys feed different derivations: AppSKey from AppKey only. */
START_TEST(lorawan11_keys_are_separated)
{
	struct lpa_lorawan11_skeys a, b;
	uint8_t nwk[16], app[16];

	tu_hex(ttn_key, nwk, 16);
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
	ck_assert_int_eq(lpa_lorawan_join_request_mic(key, 0x00, 0x0102030405060708ULL,
						      0x0102030405060708ULL, 0x0102, mic),
			 LPA_OK);
	tu_assert_hex(mic, 4, "e6e10c55");
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

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(lorawan10_session_keys), TU_CASE(lorawan11_session_keys),
		TU_CASE(lorawan11_js_keys),      TU_CASE(lorawan11_keys_are_separated),
		TU_CASE(join_request_mic),       TU_CASE(lorawan_rejects_oversized_fields),
	};

	return tu_main("lorawan", cases, TU_N(cases));
}
