/*
 * keystore.c — parses and encodes the secure agent's key store (keystore.h,
 * docs/protocols.md "Key store"). Written apart from the firmware's own code on
 * purpose: tests/agent hold the two to each other.
 */
#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lpa/core/keystore.h"

#define SLOT_BODY 96u
#define ID_HDR 108u

static uint32_t ks_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void ks_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool ks_zero(const uint8_t *p, size_t n)
{
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= p[i];
	return d == 0;
}

int lpa_keystore_slot_parse(const uint8_t *rec, size_t len, struct lpa_ks_slot *s)
{
	uint8_t h[32];

	if (rec == NULL || s == NULL)
		return LPA_ERR_INVAL;
	memset(s, 0, sizeof(*s));
	if (len < LPA_KS_SLOT_LEN)
		return s->status = LPA_ERR_LENGTH;
	if (memcmp(rec, "LKS1", 4) != 0)
		return s->status = LPA_ERR_MAGIC;
	if (rec[4] != 1)
		return s->status = LPA_ERR_VERSION;
	if (lpa_sha256(rec, SLOT_BODY, h) != LPA_OK)
		return s->status = LPA_ERR_CRYPTO;
	if (CRYPTO_memcmp(h, rec + SLOT_BODY, 32) != 0)
		return s->status = LPA_ERR_MISMATCH;
	if (rec[7] != 0 || !ks_zero(rec + 80, 16))
		return s->status = LPA_ERR_RESERVED;
	if (rec[5] != LPA_LORAWAN_10 && rec[5] != LPA_LORAWAN_11)
		return s->status = LPA_ERR_LORAWAN;
	if (rec[6] != 1)
		return s->status = LPA_ERR_STATE;
	if (ks_le32(rec + 8) == 0)
		return s->status = LPA_ERR_STALE;
	s->lorawan = rec[5];
	s->seq = ks_le32(rec + 8);
	s->counter = ks_le32(rec + 12);
	s->dev_eui = lpa_be_get(rec + 16, 8);
	s->join_eui = lpa_be_get(rec + 24, 8);
	memcpy(s->keys, rec + 32, 32);
	memcpy(s->pkg_hash, rec + 64, 16);
	return s->status = LPA_OK;
}

int lpa_keystore_slot_encode(const struct lpa_ks_slot *s, uint8_t out[LPA_KS_SLOT_LEN])
{
	if (s == NULL || out == NULL || s->seq == 0 ||
	    (s->lorawan != LPA_LORAWAN_10 && s->lorawan != LPA_LORAWAN_11))
		return LPA_ERR_INVAL;
	memset(out, 0, LPA_KS_SLOT_LEN);
	memcpy(out, "LKS1", 4);
	out[4] = 1;
	out[5] = s->lorawan;
	out[6] = 1;
	ks_put_le32(out + 8, s->seq);
	ks_put_le32(out + 12, s->counter);
	lpa_be_put(out + 16, s->dev_eui, 8);
	lpa_be_put(out + 24, s->join_eui, 8);
	memcpy(out + 32, s->keys, 32);
	memcpy(out + 64, s->pkg_hash, 16);
	return lpa_sha256(out, SLOT_BODY, out + SLOT_BODY);
}

static size_t ks_id_body(size_t cert_len)
{
	return ID_HDR + ((cert_len + 3) & ~(size_t)3);
}

int lpa_keystore_identity_parse(const uint8_t *rec, size_t len, struct lpa_ks_identity *id)
{
	EVP_PKEY *pub = NULL;
	uint8_t h[32];
	size_t cert_len, body;

	if (rec == NULL || id == NULL)
		return LPA_ERR_INVAL;
	memset(id, 0, sizeof(*id));
	if (len < ID_HDR)
		return id->status = LPA_ERR_LENGTH;
	if (memcmp(rec, "LID1", 4) != 0)
		return id->status = LPA_ERR_MAGIC;
	if (rec[4] != 1)
		return id->status = LPA_ERR_VERSION;
	if (rec[5] != LPA_KS_ORIGIN_CHIP && rec[5] != LPA_KS_ORIGIN_FACTORY)
		return id->status = LPA_ERR_STATE;
	cert_len = (size_t)rec[6] | (size_t)rec[7] << 8;
	if (cert_len > LPA_LPI1_MAX_CERT)
		return id->status = LPA_ERR_CERT;
	if (!ks_zero(rec + 105, 3))
		return id->status = LPA_ERR_RESERVED;
	body = ks_id_body(cert_len);
	if (len < body + 32)
		return id->status = LPA_ERR_LENGTH;
	if (lpa_sha256(rec, body, h) != LPA_OK)
		return id->status = LPA_ERR_CRYPTO;
	if (CRYPTO_memcmp(h, rec + body, 32) != 0)
		return id->status = LPA_ERR_MISMATCH;
	if (lpa_p256_from_public(rec + 40, &pub) != LPA_OK)
		return id->status = LPA_ERR_KEY;
	lpa_pkey_free(&pub);
	id->origin = rec[5];
	memcpy(id->dik, rec + 8, 32);
	memcpy(id->dik_pub, rec + 40, LPA_P256_PUB_LEN);
	id->cert_len = (uint16_t)cert_len;
	memcpy(id->cert, rec + ID_HDR, cert_len);
	return id->status = LPA_OK;
}

int lpa_keystore_identity_encode(uint8_t origin, const uint8_t dik[32],
				 const uint8_t dik_pub[LPA_P256_PUB_LEN], const uint8_t *cert,
				 size_t cert_len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t body = ks_id_body(cert_len);

	if (dik == NULL || dik_pub == NULL || out == NULL || out_len == NULL ||
	    (cert_len > 0 && cert == NULL) ||
	    (origin != LPA_KS_ORIGIN_CHIP && origin != LPA_KS_ORIGIN_FACTORY))
		return LPA_ERR_INVAL;
	if (cert_len > LPA_LPI1_MAX_CERT)
		return LPA_ERR_CERT;
	if (cap < body + 32)
		return LPA_ERR_LENGTH;
	memset(out, 0, body + 32);
	memcpy(out, "LID1", 4);
	out[4] = 1;
	out[5] = origin;
	out[6] = (uint8_t)cert_len;
	out[7] = (uint8_t)(cert_len >> 8);
	memcpy(out + 8, dik, 32);
	memcpy(out + 40, dik_pub, LPA_P256_PUB_LEN);
	if (cert_len)
		memcpy(out + ID_HDR, cert, cert_len);
	*out_len = body + 32;
	return lpa_sha256(out, body, out + body);
}

int lpa_keystore_parse(const uint8_t *dump, size_t len, struct lpa_keystore *ks)
{
	if (dump == NULL || ks == NULL)
		return LPA_ERR_INVAL;
	memset(ks, 0, sizeof(*ks));
	ks->active = -1;
	if (len != LPA_KS_SIZE)
		return LPA_ERR_LENGTH;
	for (int i = 0; i < 2; i++) {
		const struct lpa_ks_slot *s = &ks->slot[i];

		if (lpa_keystore_slot_parse(dump + i * LPA_KS_ROW, LPA_KS_ROW, &ks->slot[i]) !=
		    LPA_OK)
			continue;
		if (s->counter > ks->last_counter)
			ks->last_counter = s->counter;
		if (ks->active < 0 || s->seq > ks->slot[ks->active].seq)
			ks->active = i;
	}
	(void)lpa_keystore_identity_parse(dump + LPA_KS_ID_OFF, LPA_KS_SIZE - LPA_KS_ID_OFF,
					  &ks->id);
	return LPA_OK;
}

void lpa_keystore_wipe(struct lpa_keystore *ks)
{
	if (ks)
		OPENSSL_cleanse(ks, sizeof(*ks));
}
