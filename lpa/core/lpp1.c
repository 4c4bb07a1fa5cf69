/* lpp1.c — the LPP1 proof that a chip holds the keys of its record (QA challenge). */
#include <string.h>

#include "core-private.h"

#define LPP1_SIGNED_LEN 52

int lpa_lpp1_build(struct lpa_lpp1 *p, uint8_t lorawan, const lpa_secbuf *keys, EVP_PKEY *dik,
		   uint8_t out[LPA_LPP1_LEN])
{
	int r;

	if (p == NULL || keys == NULL)
		return LPA_ERR_INVAL;
	if (!lpa_lorawan_valid(lorawan))
		return LPA_ERR_LORAWAN;
	memcpy(out, "LPP1", 4);
	lpa_be_put(out + 4, p->dev_eui, 8);
	lpa_be_put(out + 12, p->chip_uid, 8);
	memcpy(out + 20, p->nonce, 16);
	if ((r = lpa_keychecks(keys, lorawan, "LPP1 app", "LPP1 nwk", out + 4, 32, p->app_check,
			       p->nwk_check)) != LPA_OK)
		return r;
	memcpy(out + 36, p->app_check, 8);
	memcpy(out + 44, p->nwk_check, 8);
	return lpa_p256_sign(dik, out, LPP1_SIGNED_LEN, out + LPP1_SIGNED_LEN);
}

int lpa_lpp1_parse(const uint8_t *buf, size_t len, struct lpa_lpp1 *p)
{
	if (buf == NULL || p == NULL)
		return LPA_ERR_INVAL;
	if (len != LPA_LPP1_LEN)
		return LPA_ERR_LENGTH;
	if (memcmp(buf, "LPP1", 4) != 0)
		return LPA_ERR_MAGIC;
	p->dev_eui = lpa_be_get(buf + 4, 8);
	p->chip_uid = lpa_be_get(buf + 12, 8);
	memcpy(p->nonce, buf + 20, 16);
	memcpy(p->app_check, buf + 36, 8);
	memcpy(p->nwk_check, buf + 44, 8);
	return LPA_OK;
}

int lpa_lpp1_verify(const uint8_t *buf, size_t len, const EVP_PKEY *dik_pub, uint64_t dev_eui,
		    uint64_t chip_uid, const uint8_t nonce[16], uint8_t lorawan,
		    const lpa_secbuf *keys, struct lpa_lpp1 *p)
{
	uint8_t app[8], nwk[8];
	int r;

	if (!lpa_lorawan_valid(lorawan))
		return LPA_ERR_LORAWAN;
	if ((r = lpa_lpp1_parse(buf, len, p)) != LPA_OK)
		return r;
	if ((r = lpa_p256_verify(dik_pub, buf, LPP1_SIGNED_LEN, buf + LPP1_SIGNED_LEN)) != LPA_OK)
		return r;
	if (p->dev_eui != dev_eui || p->chip_uid != chip_uid || memcmp(p->nonce, nonce, 16) != 0)
		return LPA_ERR_MISMATCH;
	if ((r = lpa_keychecks(keys, lorawan, "LPP1 app", "LPP1 nwk", buf + 4, 32, app, nwk)) !=
	    LPA_OK)
		return r;
	if (lpa_ct_memcmp(app, p->app_check, 8) != 0)
		return LPA_ERR_KEYCHECK_APP;
	if (lpa_ct_memcmp(nwk, p->nwk_check, 8) != 0)
		return LPA_ERR_KEYCHECK_NWK;
	return LPA_OK;
}
