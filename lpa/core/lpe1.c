/* lpe1.c — LPE1, the enrolment request a chip without a certified identity signs with
 * its DIK (docs/protocols.md, "Enrolment"). */
#include <string.h>

#include "core-private.h"

#define LPE1_SIGNED_LEN 85

int lpa_lpe1_build(const struct lpa_lpe1 *e, EVP_PKEY *dik, uint8_t out[LPA_LPE1_LEN])
{
	uint8_t pub[LPA_P256_PUB_LEN];
	int rc;

	if (e == NULL || dik == NULL || out == NULL)
		return LPA_ERR_INVAL;
	if ((rc = lpa_p256_public_bytes(dik, pub)) != LPA_OK)
		return rc;
	if (memcmp(pub, e->dik_pub, sizeof(pub)) != 0)
		return LPA_ERR_KEY;
	memcpy(out, "LPE1", 4);
	out[4] = 1;
	out[5] = 0;
	lpa_be_put(out + 6, e->agent_version, 2);
	lpa_be_put(out + 8, e->chip_uid, 8);
	lpa_be_put(out + 16, e->silicon_id, 4);
	memcpy(out + 20, e->dik_pub, LPA_P256_PUB_LEN);
	return lpa_p256_sign(dik, out, LPE1_SIGNED_LEN, out + LPE1_SIGNED_LEN);
}

int lpa_lpe1_verify(const uint8_t *buf, size_t len, struct lpa_lpe1 *e)
{
	EVP_PKEY *k = NULL;
	int rc;

	if (buf == NULL || e == NULL)
		return LPA_ERR_INVAL;
	if (len != LPA_LPE1_LEN)
		return LPA_ERR_LENGTH;
	if (memcmp(buf, "LPE1", 4) != 0)
		return LPA_ERR_MAGIC;
	if (buf[4] != 1)
		return LPA_ERR_VERSION;
	if (buf[5] != 0)
		return LPA_ERR_RESERVED;
	/* The key it names is the key that must have signed it: nothing else to trust. */
	if ((rc = lpa_p256_from_public(buf + 20, &k)) != LPA_OK)
		return LPA_ERR_KEY;
	rc = lpa_p256_verify(k, buf, LPE1_SIGNED_LEN, buf + LPE1_SIGNED_LEN);
	lpa_pkey_free(&k);
	if (rc != LPA_OK)
		return rc;
	e->agent_version = (uint16_t)lpa_be_get(buf + 6, 2);
	e->chip_uid = lpa_be_get(buf + 8, 8);
	e->silicon_id = (uint32_t)lpa_be_get(buf + 16, 4);
	memcpy(e->dik_pub, buf + 20, LPA_P256_PUB_LEN);
	return LPA_OK;
}
