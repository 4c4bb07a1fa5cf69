/* lpi1.c — the LPI1 identity record a chip reports (GET_IDENTITY), and GET_STATUS. */
#include <string.h>

#include "core-private.h"

static int lpi1_check(const struct lpa_lpi1 *id)
{
	if (id->protection < LPA_PROT_VIRGIN || id->protection > LPA_PROT_DEAD)
		return LPA_ERR_STATE;
	if (id->provisioned > 1)
		return LPA_ERR_MISMATCH;
	if (id->cert_len == 0 || id->cert_len > LPA_LPI1_MAX_CERT)
		return LPA_ERR_CERT;
	return LPA_OK;
}

int lpa_lpi1_build(const struct lpa_lpi1 *id, uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t n;
	int r;

	if (id == NULL || out == NULL || out_len == NULL)
		return LPA_ERR_INVAL;
	if ((r = lpi1_check(id)) != LPA_OK)
		return r;
	n = LPA_LPI1_HDR_LEN + id->cert_len;
	if (n > out_cap)
		return LPA_ERR_LENGTH;
	memcpy(out, "LPI1", 4);
	lpa_be_put(out + 4, id->agent_version, 2);
	out[6] = id->protection;
	out[7] = id->provisioned;
	lpa_be_put(out + 8, id->chip_uid, 8);
	lpa_be_put(out + 16, id->silicon_id, 4);
	lpa_be_put(out + 20, id->last_counter, 4);
	memcpy(out + 24, id->dik_pub, LPA_P256_PUB_LEN);
	lpa_be_put(out + 89, id->cert_len, 2);
	memcpy(out + LPA_LPI1_HDR_LEN, id->cert, id->cert_len);
	*out_len = n;
	return LPA_OK;
}

int lpa_lpi1_parse(const uint8_t *buf, size_t len, struct lpa_lpi1 *id)
{
	EVP_PKEY *pub = NULL;
	int r;

	if (buf == NULL || id == NULL)
		return LPA_ERR_INVAL;
	if (len < LPA_LPI1_HDR_LEN || len > LPA_LPI1_MAX_LEN)
		return LPA_ERR_LENGTH;
	if (memcmp(buf, "LPI1", 4) != 0)
		return LPA_ERR_MAGIC;
	memset(id, 0, sizeof(*id));
	id->agent_version = (uint16_t)lpa_be_get(buf + 4, 2);
	id->protection = buf[6];
	id->provisioned = buf[7];
	id->chip_uid = lpa_be_get(buf + 8, 8);
	id->silicon_id = (uint32_t)lpa_be_get(buf + 16, 4);
	id->last_counter = (uint32_t)lpa_be_get(buf + 20, 4);
	memcpy(id->dik_pub, buf + 24, LPA_P256_PUB_LEN);
	id->cert_len = (uint16_t)lpa_be_get(buf + 89, 2);
	/* protocols.md's order: N in 1..1024 before the total length, so that N = 0 (91
	 * bytes, a plausible length) is a certificate error whatever the other fields say. */
	if (id->cert_len == 0 || id->cert_len > LPA_LPI1_MAX_CERT)
		return LPA_ERR_CERT;
	if (len != LPA_LPI1_HDR_LEN + (size_t)id->cert_len)
		return LPA_ERR_LENGTH;
	if ((r = lpi1_check(id)) != LPA_OK)
		return r;
	memcpy(id->cert, buf + LPA_LPI1_HDR_LEN, id->cert_len);
	if ((r = lpa_p256_from_public(id->dik_pub, &pub)) != LPA_OK)
		return r;
	lpa_pkey_free(&pub);
	return LPA_OK;
}

uint64_t lpa_chip_uid_from_die(const uint8_t d[LPA_DIE_LEN])
{
	/* lot, wafer, x, y, sort in bits 0..55, the minor revision's bit 0 in bit 56, the
	 * year's 7 bits in 57..63; day (d[8]) and month (d[9]) are not part of it. */
	return (uint64_t)d[0] | (uint64_t)d[1] << 8 | (uint64_t)d[2] << 16 | (uint64_t)d[3] << 24 |
	       (uint64_t)d[4] << 32 | (uint64_t)d[5] << 40 | (uint64_t)d[6] << 48 |
	       (uint64_t)(d[7] & 1) << 56 | (uint64_t)(d[10] & 0x7F) << 57;
}

void lpa_status_build(const struct lpa_agent_status *st, uint8_t out[LPA_STATUS_LEN])
{
	lpa_be_put(out, st->agent_version, 2);
	out[2] = st->provisioned;
	out[3] = st->certified ? LPA_STATUS_CERTIFIED : 0;
	lpa_be_put(out + 4, st->dev_eui, 8);
	lpa_be_put(out + 12, st->counter, 4);
}

/* Checks in protocols.md's order; a chip that reports no keys reports no DevEUI and no
 * counter either (the counter is the highest of the valid key slots, and there is none). */
int lpa_status_parse(const uint8_t *buf, size_t len, struct lpa_agent_status *st)
{
	if (buf == NULL || st == NULL)
		return LPA_ERR_INVAL;
	if (len != LPA_STATUS_LEN)
		return LPA_ERR_LENGTH;
	if (buf[2] > 1)
		return LPA_ERR_MISMATCH;
	if (buf[3] & ~LPA_STATUS_CERTIFIED)
		return LPA_ERR_RESERVED;
	st->agent_version = (uint16_t)lpa_be_get(buf, 2);
	st->provisioned = buf[2];
	st->certified = buf[3] & LPA_STATUS_CERTIFIED;
	st->dev_eui = lpa_be_get(buf + 4, 8);
	st->counter = (uint32_t)lpa_be_get(buf + 12, 4);
	if (st->provisioned == 0 && (st->dev_eui != 0 || st->counter != 0))
		return LPA_ERR_MISMATCH;
	return LPA_OK;
}

static const char *const lpi1_prot_names[] = {"UNKNOWN", "VIRGIN", "NORMAL", "SECURE", "DEAD"};

const char *lpa_protection_name(unsigned prot)
{
	return prot <= LPA_PROT_DEAD ? lpi1_prot_names[prot] : "INVALID";
}

unsigned lpa_protection_from_name(const char *name)
{
	for (unsigned i = LPA_PROT_VIRGIN; i <= LPA_PROT_DEAD; i++)
		if (strcmp(name, lpi1_prot_names[i]) == 0)
			return i;
	return 0;
}
