/*
 * lpk1.c — the LPK1 key package (docs/protocols.md): built by the KMS, read header-only
 * by the station, verified and opened by the chip's secure agent.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "core-private.h"

#define LPK1_OFF_EPH 48
#define LPK1_OFF_NONCE 113
#define LPK1_OFF_CT 125
#define LPK1_OFF_TAG 157
#define LPK1_OFF_SIG 173
#define LPK1_INFO_LABEL "LPK1 key wrap"

static void lpk1_put_header(const struct lpa_lpk1_hdr *h, uint8_t *out)
{
	memcpy(out, "LPK1", 4);
	out[4] = 1;
	out[5] = h->lorawan;
	out[6] = out[7] = 0;
	lpa_be_put(out + 8, h->dev_eui, 8);
	lpa_be_put(out + 16, h->join_eui, 8);
	lpa_be_put(out + 24, h->chip_uid, 8);
	lpa_be_put(out + 32, h->counter, 4);
	lpa_be_put(out + 36, h->key_id, 4);
	lpa_be_put(out + 40, h->issued_at, 8);
}

int lpa_lpk1_kek(const uint8_t shared_x[32], const uint8_t dik_pub[LPA_P256_PUB_LEN],
		 const uint8_t header48[48], uint8_t kek[32])
{
	uint8_t salt[32], info[sizeof(LPK1_INFO_LABEL) - 1 + 48];
	int r;

	if ((r = lpa_sha256(dik_pub, LPA_P256_PUB_LEN, salt)) != LPA_OK)
		return r;
	memcpy(info, LPK1_INFO_LABEL, sizeof(LPK1_INFO_LABEL) - 1);
	memcpy(info + sizeof(LPK1_INFO_LABEL) - 1, header48, 48);
	return lpa_hkdf_sha256(shared_x, 32, salt, sizeof(salt), info, sizeof(info), kek, 32);
}

/* The KEK for a package from the ECDH secret of (priv, peer); dik_pub names the chip. */
static int lpk1_derive(EVP_PKEY *priv, const EVP_PKEY *peer,
		       const uint8_t dik_pub[LPA_P256_PUB_LEN], const uint8_t *pkg,
		       lpa_secbuf **kek)
{
	uint8_t x[32];
	int r;

	if ((*kek = lpa_secbuf_new(32)) == NULL)
		return LPA_ERR_NOMEM;
	if ((r = lpa_p256_ecdh(priv, peer, x)) == LPA_OK)
		r = lpa_lpk1_kek(x, dik_pub, pkg, lpa_secbuf_data(*kek));
	OPENSSL_cleanse(x, sizeof(x));
	if (r != LPA_OK)
		lpa_secbuf_free(kek);
	return r;
}

static int lpk1_nwkkey_is_zero(const uint8_t *keys)
{
	uint8_t acc = 0;

	for (int i = 16; i < 32; i++)
		acc |= keys[i];
	return acc == 0;
}

static int lpk1_p256_sign(void *key, const void *msg, size_t len, uint8_t sig[LPA_P256_SIG_LEN])
{
	return lpa_p256_sign(key, msg, len, sig);
}

int lpa_lpk1_build(struct lpa_lpk1_hdr *hdr, const lpa_secbuf *keys, const EVP_PKEY *dik_pub,
		   EVP_PKEY *kms_sign_key, EVP_PKEY *eph, const uint8_t *nonce,
		   uint8_t out[LPA_LPK1_LEN])
{
	return lpa_lpk1_build_with(hdr, keys, dik_pub, lpk1_p256_sign, kms_sign_key, eph, nonce,
				   out);
}

int lpa_lpk1_build_with(struct lpa_lpk1_hdr *hdr, const lpa_secbuf *keys, const EVP_PKEY *dik_pub,
			lpa_p256_signer sign, void *sign_ctx, EVP_PKEY *eph, const uint8_t *nonce,
			uint8_t out[LPA_LPK1_LEN])
{
	EVP_PKEY *own_eph = NULL;
	lpa_secbuf *kek = NULL;
	uint8_t dik_oct[LPA_P256_PUB_LEN];
	int r;

	if (hdr == NULL || keys == NULL || sign == NULL ||
	    lpa_secbuf_len(keys) != LPA_ROOT_KEYS_LEN)
		return LPA_ERR_INVAL;
	if (!lpa_lorawan_valid(hdr->lorawan))
		return LPA_ERR_LORAWAN;
	if (hdr->lorawan == LPA_LORAWAN_10 && !lpk1_nwkkey_is_zero(lpa_secbuf_cdata(keys)))
		return LPA_ERR_NWKKEY;
	if ((r = lpa_p256_public_bytes(dik_pub, dik_oct)) != LPA_OK)
		return r;
	if (eph == NULL) {
		if ((r = lpa_p256_generate(&own_eph)) != LPA_OK)
			goto fail;
		eph = own_eph;
	}
	if (nonce != NULL)
		memcpy(hdr->nonce, nonce, 12);
	else if ((r = lpa_random(hdr->nonce, 12)) != LPA_OK)
		goto fail;
	if ((r = lpa_p256_public_bytes(eph, hdr->eph_pub)) != LPA_OK)
		goto fail;

	lpk1_put_header(hdr, out);
	memcpy(out + LPK1_OFF_EPH, hdr->eph_pub, LPA_P256_PUB_LEN);
	memcpy(out + LPK1_OFF_NONCE, hdr->nonce, 12);
	if ((r = lpk1_derive(eph, dik_pub, dik_oct, out, &kek)) != LPA_OK)
		goto fail;
	if ((r = lpa_aes256gcm_seal(lpa_secbuf_cdata(kek), hdr->nonce, out, LPA_LPK1_AAD_LEN,
				    lpa_secbuf_cdata(keys), LPA_ROOT_KEYS_LEN, out + LPK1_OFF_CT,
				    out + LPK1_OFF_TAG)) != LPA_OK)
		goto fail;
	r = sign(sign_ctx, out, LPA_LPK1_SIGNED_LEN, out + LPK1_OFF_SIG);
fail:
	if (r != LPA_OK)
		OPENSSL_cleanse(out, LPA_LPK1_LEN);
	lpa_secbuf_free(&kek);
	lpa_pkey_free(&own_eph);
	return r;
}

int lpa_lpk1_parse(const uint8_t *buf, size_t len, struct lpa_lpk1_hdr *hdr)
{
	if (buf == NULL || hdr == NULL)
		return LPA_ERR_INVAL;
	if (len != LPA_LPK1_LEN)
		return LPA_ERR_LENGTH;
	if (memcmp(buf, "LPK1", 4) != 0)
		return LPA_ERR_MAGIC;
	if (buf[4] != 1)
		return LPA_ERR_VERSION;
	if (!lpa_lorawan_valid(buf[5]))
		return LPA_ERR_LORAWAN;
	if (buf[6] != 0 || buf[7] != 0)
		return LPA_ERR_RESERVED;
	hdr->lorawan = buf[5];
	hdr->dev_eui = lpa_be_get(buf + 8, 8);
	hdr->join_eui = lpa_be_get(buf + 16, 8);
	hdr->chip_uid = lpa_be_get(buf + 24, 8);
	hdr->counter = (uint32_t)lpa_be_get(buf + 32, 4);
	hdr->key_id = (uint32_t)lpa_be_get(buf + 36, 4);
	hdr->issued_at = lpa_be_get(buf + 40, 8);
	memcpy(hdr->eph_pub, buf + LPK1_OFF_EPH, LPA_P256_PUB_LEN);
	memcpy(hdr->nonce, buf + LPK1_OFF_NONCE, 12);
	return LPA_OK;
}

int lpa_lpk1_verify(const uint8_t *buf, size_t len, const EVP_PKEY *kms_pub)
{
	if (len != LPA_LPK1_LEN)
		return LPA_ERR_LENGTH;
	return lpa_p256_verify(kms_pub, buf, LPA_LPK1_SIGNED_LEN, buf + LPK1_OFF_SIG);
}

int lpa_lpk1_open(const uint8_t *buf, size_t len, const EVP_PKEY *kms_pub, EVP_PKEY *dik,
		  uint64_t chip_uid, uint32_t last_counter, struct lpa_lpk1_hdr *hdr,
		  lpa_secbuf **keys)
{
	EVP_PKEY *eph = NULL;
	lpa_secbuf *kek = NULL, *out = NULL;
	uint8_t dik_oct[LPA_P256_PUB_LEN];
	int r;

	*keys = NULL;
	/* The order is the one docs/protocols.md prescribes, so every party reports the
	 * same error for the same bad package. */
	if ((r = lpa_lpk1_parse(buf, len, hdr)) != LPA_OK)
		return r;
	if ((r = lpa_lpk1_verify(buf, len, kms_pub)) != LPA_OK)
		return r;
	if (hdr->chip_uid != chip_uid)
		return LPA_ERR_WRONG_CHIP;
	if (hdr->counter <= last_counter)
		return LPA_ERR_STALE;
	if ((r = lpa_p256_public_bytes(dik, dik_oct)) != LPA_OK)
		return r;
	if ((r = lpa_p256_from_public(hdr->eph_pub, &eph)) != LPA_OK) {
		/* Signed by the KMS yet not a point: treat as an unwrap failure. */
		r = LPA_ERR_UNWRAP;
		goto fail;
	}
	if ((r = lpk1_derive(dik, eph, dik_oct, buf, &kek)) != LPA_OK)
		goto fail;
	if ((out = lpa_secbuf_new(LPA_ROOT_KEYS_LEN)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	if ((r = lpa_aes256gcm_open(lpa_secbuf_cdata(kek), hdr->nonce, buf, LPA_LPK1_AAD_LEN,
				    buf + LPK1_OFF_CT, LPA_ROOT_KEYS_LEN, buf + LPK1_OFF_TAG,
				    lpa_secbuf_data(out))) != LPA_OK)
		goto fail;
	if (hdr->lorawan == LPA_LORAWAN_10 && !lpk1_nwkkey_is_zero(lpa_secbuf_cdata(out))) {
		r = LPA_ERR_NWKKEY;
		goto fail;
	}
	*keys = out;
	out = NULL;
	r = LPA_OK;
fail:
	lpa_secbuf_free(&out);
	lpa_secbuf_free(&kek);
	lpa_pkey_free(&eph);
	return r;
}
