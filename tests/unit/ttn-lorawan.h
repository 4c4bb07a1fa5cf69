/*
 * ttn-lorawan.h — The Things Stack's LoRaWAN test vectors (pkg/crypto *_test.go), shared
 * by the core's tests (tests/unit/test-lorawan.c) and the agent's
 * (tests/agent/test-lorawan.c): both implementations must meet the same published
 * values, so the values are written once. They are TTN's literals, not computed here.
 */
#ifndef LPA_TTN_LORAWAN_H
#define LPA_TTN_LORAWAN_H

#include "testutil.h"

/* key_derivation_test.go: the root key (AppKey, NwkKey) and the join's fields. */
#define TTN_KEY "BEC499C69E9C939E413B663961636C61"
#define DEV_NONCE 0x7369
#define NET_ID 0x020101
#define JOIN_NONCE 0xAE3B1C
#define JOIN_EUI 0x0000001223224242ULL
#define DEV_EUI 0x0042004213424341ULL

/* join_messages_test.go: key 01..01, MHDR 00, JoinEUI = DevEUI = 0102030405060708. */
#define TTN_JR_EUI 0x0102030405060708ULL
#define TTN_JR_DEV_NONCE 0x0102
#define TTN_JR_MIC "e6e10c55"

/* LoRaWAN 1.0 session keys from TTN_KEY, JOIN_NONCE, NET_ID, DEV_NONCE. */
static inline void ttn_lorawan_assert_10_skeys(const uint8_t app_s_key[16],
					       const uint8_t nwk_s_key[16])
{
	tu_assert_hex(app_s_key, 16, "8C1E0543A229088DE6F84E74BB46BD62");
	tu_assert_hex(nwk_s_key, 16, "0DB924EE6AF90698E05FC7CE48303C01");
}

/* LoRaWAN 1.1 session keys from TTN_KEY (as both root keys), JOIN_NONCE,
 * JOIN_EUI, DEV_NONCE. */
static inline void ttn_lorawan_assert_11_skeys(const uint8_t app_s_key[16],
					       const uint8_t f_nwk_s_int_key[16],
					       const uint8_t s_nwk_s_int_key[16],
					       const uint8_t nwk_s_enc_key[16])
{
	tu_assert_hex(app_s_key, 16, "B035CCE24E4A040EB5CECBF21724412D");
	tu_assert_hex(f_nwk_s_int_key, 16, "379084E7CE22FF191BFF4B77536F2AA3");
	tu_assert_hex(s_nwk_s_int_key, 16, "63C59309D53485BC5164DBF71627AEB9");
	tu_assert_hex(nwk_s_enc_key, 16, "CE07A009A3970AC0519A099ED53E550B");
}

/* LoRaWAN 1.1 JSIntKey and JSEncKey from TTN_KEY and DEV_EUI. */
static inline void ttn_lorawan_assert_js_keys(const uint8_t js_int[16], const uint8_t js_enc[16])
{
	tu_assert_hex(js_int, 16, "CB8E9EE114C3FB5CE472A5AA13AB1855");
	tu_assert_hex(js_enc, 16, "BB711EEFB9829B4A75866F8616BACD6D");
}

#endif
