/*
 * package.c — the chip's side of LPK1, LPR1 and LPP1 (docs/protocols.md) with the
 * agent's own crypto: the same checks as lpa_lpk1_open, in the same order, so that the
 * chip, the station and the KMS report the same error for the same bad package.
 */
#include <string.h>

#include "agent.h"

#define LPK1_OFF_HDR_END 48
#define LPK1_OFF_EPH 48
#define LPK1_OFF_NONCE 113
#define LPK1_OFF_CT 125
#define LPK1_OFF_TAG 157
#define LPK1_SIGNED 173
#define LPK1_INFO "LPK1 key wrap"
#define LPK1_INFO_LEN 13

/* Checks 1-5: the fields the station checks too (the length is mailbox.c's). */
static uint32_t package_parse(const uint8_t *p)
{
	if (memcmp(p, "LPK1", 4) != 0 || p[4] != 1 || (p[5] != 0x10 && p[5] != 0x11) || p[6] ||
	    p[7])
		return AGENT_ERR_REQUEST;
	return AGENT_OK;
}

/* Checks 9-10: ECDH with the DIK, the KEK, the GCM tag, the 1.0.x NwkKey. */
static uint32_t package_unwrap(const struct agent *a, const uint8_t *p, uint8_t keys[32])
{
	uint8_t x[32], salt[SHA256_LEN], kek[32], info[LPK1_INFO_LEN + LPK1_OFF_HDR_END];
	uint32_t st = AGENT_ERR_UNWRAP, nwk = 0;

	/* An ephemeral key that is not a curve point was still signed by the KMS: it
	 * fails as an unwrap, as docs/protocols.md says. */
	if (p256_ecdh(a->dik, p + LPK1_OFF_EPH, P256_PUB_LEN, x) != CRYPTO_OK)
		goto done;
	sha256(a->dik_pub, P256_PUB_LEN, salt);
	memcpy(info, LPK1_INFO, LPK1_INFO_LEN);
	memcpy(info + LPK1_INFO_LEN, p, LPK1_OFF_HDR_END);
	if (hkdf_sha256(x, sizeof(x), salt, sizeof(salt), info, sizeof(info), kek, sizeof(kek)) !=
	    CRYPTO_OK)
		goto done;
	if (gcm_open(kek, sizeof(kek), p + LPK1_OFF_NONCE, p, LPK1_OFF_NONCE, p + LPK1_OFF_CT, 32,
		     p + LPK1_OFF_TAG, keys) != CRYPTO_OK)
		goto done;
	/* 1.0.x carries AppKey only: a NwkKey field that is not zero is refused (the
	 * OR over all 16 bytes, no early exit: the value is secret even if refused). */
	for (int i = 16; i < 32; i++)
		nwk |= keys[i];
	if (p[5] == 0x10 && nwk != 0)
		goto done;
	st = AGENT_OK;
done:
	if (st != AGENT_OK)
		ct_wipe(keys, 32);
	ct_wipe(x, sizeof(x));
	ct_wipe(kek, sizeof(kek));
	return st;
}

uint32_t package_open(const struct agent *a, const uint8_t pkg[LPK1_LEN], uint8_t keys[32])
{
	uint8_t h[SHA256_LEN];
	uint32_t st;

	ct_wipe(keys, 32);
	if ((st = package_parse(pkg)) != AGENT_OK)
		return st;
	sha256(pkg, LPK1_SIGNED, h);
	if (p256_verify(a->kms_pub, P256_PUB_LEN, h, pkg + LPK1_SIGNED, P256_SIG_LEN) != CRYPTO_OK)
		return AGENT_ERR_SIGNATURE;
	if (memcmp(pkg + 24, a->uid, 8) != 0)
		return AGENT_ERR_WRONG_CHIP;
	if (agent_get_be32(pkg + 32) <= a->last_counter)
		return AGENT_ERR_STALE;
	return package_unwrap(a, pkg, keys);
}

/* The two check values: AES-CMAC(key, label || fields), first 8 bytes each; the
 * NwkKey one is zero for 1.0.x. */
static void package_checks(uint8_t lorawan, const uint8_t keys[32], const char *app_label,
			   const char *nwk_label, const uint8_t *fields, size_t len, uint8_t *out)
{
	uint8_t mac[CMAC_LEN];
	struct cmac_aes128 c;

	cmac_aes128_init(&c, keys);
	cmac_aes128_update(&c, app_label, 8);
	cmac_aes128_update(&c, fields, len);
	cmac_aes128_final(&c, mac);
	memcpy(out, mac, 8);
	memset(out + 8, 0, 8);
	if (lorawan == 0x11) {
		cmac_aes128_init(&c, keys + 16);
		cmac_aes128_update(&c, nwk_label, 8);
		cmac_aes128_update(&c, fields, len);
		cmac_aes128_final(&c, mac);
		memcpy(out + 8, mac, 8);
	}
	ct_wipe(mac, sizeof(mac));
}

/* The DIK signature over out[0, n): RFC 6979, hedged with TRNG bytes when the TRNG
 * delivers (a plain RFC 6979 signature is still safe when it does not). */
void package_sign(const struct agent *a, uint8_t *out, size_t n)
{
	uint8_t h[SHA256_LEN], extra[32];
	size_t extra_len = hal_trng(extra, sizeof(extra)) == HAL_OK ? sizeof(extra) : 0;

	sha256(out, n, h);
	(void)p256_sign(a->dik, h, extra, extra_len, out + n);
	ct_wipe(extra, sizeof(extra));
}

void package_receipt(const struct agent *a, const struct ks_slot *s, uint8_t out[LPR1_LEN])
{
	memcpy(out, "LPR1", 4);
	memcpy(out + 4, s->dev_eui, 8);
	memcpy(out + 12, a->uid, 8);
	agent_be32(out + 20, s->counter);
	memcpy(out + 24, s->pkg_hash, 16);
	package_checks(s->lorawan, s->keys, "LPR1 app", "LPR1 nwk", out + 4, 36, out + 40);
	package_sign(a, out, 56);
}

void package_proof(const struct agent *a, const uint8_t nonce[16], uint8_t out[LPP1_LEN])
{
	memcpy(out, "LPP1", 4);
	memcpy(out + 4, a->cur.dev_eui, 8);
	memcpy(out + 12, a->uid, 8);
	memcpy(out + 20, nonce, 16);
	package_checks(a->cur.lorawan, a->cur.keys, "LPP1 app", "LPP1 nwk", out + 4, 32, out + 36);
	package_sign(a, out, 52);
}
