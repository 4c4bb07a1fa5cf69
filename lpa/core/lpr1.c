/* lpr1.c — the LPR1 receipt a chip signs after it stored a package's keys. */
#include <string.h>

#include "core-private.h"

#define LPR1_OFF_CHECKS 40
#define LPR1_SIGNED_LEN 56

static void lpr1_put_body(const struct lpa_lpr1 *r, uint8_t *out)
{
	memcpy(out, "LPR1", 4);
	lpa_be_put(out + 4, r->dev_eui, 8);
	lpa_be_put(out + 12, r->chip_uid, 8);
	lpa_be_put(out + 20, r->counter, 4);
	memcpy(out + 24, r->pkg_hash, 16);
}

int lpa_lpr1_build(struct lpa_lpr1 *r, uint8_t lorawan, const lpa_secbuf *keys, EVP_PKEY *dik,
		   uint8_t out[LPA_LPR1_LEN])
{
	int rc;

	if (r == NULL || keys == NULL)
		return LPA_ERR_INVAL;
	if (!lpa_lorawan_valid(lorawan))
		return LPA_ERR_LORAWAN;
	lpr1_put_body(r, out);
	if ((rc = lpa_keychecks(keys, lorawan, "LPR1 app", "LPR1 nwk", out + 4, 36, r->app_check,
				r->nwk_check)) != LPA_OK)
		return rc;
	memcpy(out + 40, r->app_check, 8);
	memcpy(out + 48, r->nwk_check, 8);
	return lpa_p256_sign(dik, out, LPR1_SIGNED_LEN, out + LPR1_SIGNED_LEN);
}

int lpa_lpr1_parse(const uint8_t *buf, size_t len, struct lpa_lpr1 *r)
{
	if (buf == NULL || r == NULL)
		return LPA_ERR_INVAL;
	if (len != LPA_LPR1_LEN)
		return LPA_ERR_LENGTH;
	if (memcmp(buf, "LPR1", 4) != 0)
		return LPA_ERR_MAGIC;
	r->dev_eui = lpa_be_get(buf + 4, 8);
	r->chip_uid = lpa_be_get(buf + 12, 8);
	r->counter = (uint32_t)lpa_be_get(buf + 20, 4);
	memcpy(r->pkg_hash, buf + 24, 16);
	memcpy(r->app_check, buf + 40, 8);
	memcpy(r->nwk_check, buf + 48, 8);
	return LPA_OK;
}

int lpa_lpr1_verify(const uint8_t *buf, size_t len, const EVP_PKEY *dik_pub,
		    const uint8_t lpk1[LPA_LPK1_LEN], const lpa_secbuf *keys, struct lpa_lpr1 *r)
{
	struct lpa_lpk1_hdr pkg;
	uint8_t hash[32], app[8], nwk[8];
	int rc;

	if ((rc = lpa_lpr1_parse(buf, len, r)) != LPA_OK)
		return rc;
	if ((rc = lpa_p256_verify(dik_pub, buf, LPR1_SIGNED_LEN, buf + LPR1_SIGNED_LEN)) != LPA_OK)
		return rc;
	if ((rc = lpa_lpk1_parse(lpk1, LPA_LPK1_LEN, &pkg)) != LPA_OK)
		return rc;
	if ((rc = lpa_sha256(lpk1, LPA_LPK1_LEN, hash)) != LPA_OK)
		return rc;
	if (memcmp(hash, r->pkg_hash, 16) != 0)
		return LPA_ERR_PKG_HASH;
	if (r->dev_eui != pkg.dev_eui || r->chip_uid != pkg.chip_uid || r->counter != pkg.counter)
		return LPA_ERR_MISMATCH;
	if ((rc = lpa_keychecks(keys, pkg.lorawan, "LPR1 app", "LPR1 nwk", buf + 4, 36, app,
				nwk)) != LPA_OK)
		return rc;
	if (lpa_ct_memcmp(app, r->app_check, 8) != 0)
		return LPA_ERR_KEYCHECK_APP;
	if (lpa_ct_memcmp(nwk, r->nwk_check, 8) != 0)
		return LPA_ERR_KEYCHECK_NWK;
	return LPA_OK;
}
