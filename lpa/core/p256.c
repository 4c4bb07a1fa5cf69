/* p256.c — NIST P-256 keys, ECDH and ECDSA-SHA256 with raw r||s signatures. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "core-private.h"

/* OpenSSL's EVP API takes non-const keys even where it only reads them. */
#define P256_UNCONST(k) ((EVP_PKEY *)(uintptr_t)(k))

static int p256_is_p256(const EVP_PKEY *key)
{
	char group[32];
	size_t len = 0;

	if (key == NULL || !EVP_PKEY_is_a(key, "EC"))
		return 0;
	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   &len) != 1)
		return 0;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

int lpa_p256_generate(EVP_PKEY **key)
{
	*key = EVP_EC_gen("P-256");
	return *key != NULL ? LPA_OK : LPA_ERR_CRYPTO;
}

static int p256_fromdata(OSSL_PARAM_BLD *bld, int selection, EVP_PKEY **key)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = LPA_ERR_KEY;

	*key = NULL;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
		    1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, key, selection, params) != 1)
		goto fail;
	r = LPA_OK;
fail:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return r;
}

int lpa_p256_from_private(const uint8_t d[32], EVP_PKEY **key)
{
	EC_GROUP *group = NULL;
	EC_POINT *pub = NULL;
	BIGNUM *priv = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	uint8_t pub_oct[LPA_P256_PUB_LEN];
	int r = LPA_ERR_CRYPTO;

	*key = NULL;
	if ((group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
	    (priv = BN_secure_new()) == NULL || BN_bin2bn(d, 32, priv) == NULL ||
	    (pub = EC_POINT_new(group)) == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL)
		goto fail;
	/* The scalar must lie in [1, n-1]. */
	if (BN_is_zero(priv) || BN_cmp(priv, EC_GROUP_get0_order(group)) >= 0) {
		r = LPA_ERR_KEY;
		goto fail;
	}
	if (EC_POINT_mul(group, pub, priv, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, pub_oct, sizeof(pub_oct),
			       NULL) != sizeof(pub_oct))
		goto fail;
	if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub_oct,
					     sizeof(pub_oct)) != 1)
		goto fail;
	r = p256_fromdata(bld, EVP_PKEY_KEYPAIR, key);
fail:
	OSSL_PARAM_BLD_free(bld);
	EC_POINT_free(pub);
	BN_clear_free(priv);
	EC_GROUP_free(group);
	return r;
}

int lpa_p256_from_public(const uint8_t pub[LPA_P256_PUB_LEN], EVP_PKEY **key)
{
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = LPA_ERR_KEY;

	*key = NULL;
	if (pub[0] != 0x04)
		return LPA_ERR_KEY;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, LPA_P256_PUB_LEN) !=
		    1)
		goto fail;
	if (p256_fromdata(bld, EVP_PKEY_PUBLIC_KEY, key) != LPA_OK)
		goto fail;
	/* Explicitly: the point is on the curve and not the point at infinity. */
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, *key, NULL)) == NULL ||
	    EVP_PKEY_public_check(ctx) != 1) {
		EVP_PKEY_free(*key);
		*key = NULL;
		goto fail;
	}
	r = LPA_OK;
fail:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

int lpa_p256_public_bytes(const EVP_PKEY *key, uint8_t pub[LPA_P256_PUB_LEN])
{
	size_t len = 0;

	if (!p256_is_p256(key))
		return LPA_ERR_KEY;
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub, LPA_P256_PUB_LEN,
					    &len) != 1 ||
	    len != LPA_P256_PUB_LEN || pub[0] != 0x04)
		return LPA_ERR_KEY;
	return LPA_OK;
}

int lpa_p256_private_bytes(const EVP_PKEY *key, lpa_secbuf **d)
{
	BIGNUM *bn = NULL;
	int r = LPA_ERR_KEY;

	*d = NULL;
	if (!p256_is_p256(key) || EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1)
		goto fail;
	if ((*d = lpa_secbuf_new(32)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	if (BN_bn2binpad(bn, lpa_secbuf_data(*d), 32) != 32) {
		lpa_secbuf_free(d);
		goto fail;
	}
	r = LPA_OK;
fail:
	BN_clear_free(bn);
	return r;
}

int lpa_p256_ecdh(EVP_PKEY *priv, const EVP_PKEY *peer, uint8_t x[32])
{
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = 32;
	int r = LPA_ERR_CRYPTO;

	if (!p256_is_p256(priv) || !p256_is_p256(peer))
		return LPA_ERR_KEY;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, P256_UNCONST(peer)) != 1 ||
	    EVP_PKEY_derive(ctx, x, &len) != 1 || len != 32)
		goto fail;
	r = LPA_OK;
fail:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int lpa_ecdsa_raw_to_der(const uint8_t raw[LPA_P256_SIG_LEN], uint8_t *der, size_t der_cap,
			 size_t *der_len)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p = der;
	int n, ret = LPA_ERR_CRYPTO;

	if ((sig = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(raw, 32, NULL)) == NULL ||
	    (s = BN_bin2bn(raw + 32, 32, NULL)) == NULL)
		goto fail;
	if (ECDSA_SIG_set0(sig, r, s) != 1)
		goto fail;
	r = s = NULL; /* owned by sig now */
	if ((n = i2d_ECDSA_SIG(sig, NULL)) <= 0 || (size_t)n > der_cap) {
		ret = LPA_ERR_LENGTH;
		goto fail;
	}
	if (i2d_ECDSA_SIG(sig, &p) != n)
		goto fail;
	*der_len = (size_t)n;
	ret = LPA_OK;
fail:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return ret;
}

int lpa_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, uint8_t raw[LPA_P256_SIG_LEN])
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int ret = LPA_ERR_SIGNATURE;

	if (der_len > 72 || (sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) == NULL)
		goto fail;
	/* Trailing bytes would make two encodings of one signature. */
	if (p != der + der_len)
		goto fail;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_num_bytes(r) > 32 || BN_num_bytes(s) > 32 || BN_bn2binpad(r, raw, 32) != 32 ||
	    BN_bn2binpad(s, raw + 32, 32) != 32)
		goto fail;
	ret = LPA_OK;
fail:
	ECDSA_SIG_free(sig);
	return ret;
}

int lpa_p256_sign(EVP_PKEY *priv, const void *msg, size_t len, uint8_t sig[LPA_P256_SIG_LEN])
{
	EVP_MD_CTX *md = NULL;
	uint8_t der[80];
	size_t der_len = sizeof(der);
	int r = LPA_ERR_CRYPTO;

	if (!p256_is_p256(priv))
		return LPA_ERR_KEY;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, priv, NULL) != 1 ||
	    EVP_DigestSign(md, der, &der_len, msg, len) != 1)
		goto fail;
	r = lpa_ecdsa_der_to_raw(der, der_len, sig) == LPA_OK ? LPA_OK : LPA_ERR_CRYPTO;
fail:
	EVP_MD_CTX_free(md);
	return r;
}

int lpa_p256_verify(const EVP_PKEY *pub, const void *msg, size_t len,
		    const uint8_t sig[LPA_P256_SIG_LEN])
{
	EVP_MD_CTX *md = NULL;
	uint8_t der[80];
	size_t der_len = 0;
	int r = LPA_ERR_SIGNATURE;

	if (!p256_is_p256(pub))
		return LPA_ERR_KEY;
	if (lpa_ecdsa_raw_to_der(sig, der, sizeof(der), &der_len) != LPA_OK)
		return LPA_ERR_SIGNATURE;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, P256_UNCONST(pub), NULL) != 1) {
		r = LPA_ERR_CRYPTO;
		goto fail;
	}
	if (EVP_DigestVerify(md, der, der_len, msg, len) == 1)
		r = LPA_OK;
fail:
	EVP_MD_CTX_free(md);
	return r;
}

void lpa_pkey_free(EVP_PKEY **key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(*key);
	*key = NULL;
}
