/* symmetric.c — hashes, MACs, KDFs and AEAD on OpenSSL 3 EVP. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "core-private.h"

int lpa_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return LPA_ERR_CRYPTO;
	return LPA_OK;
}

int lpa_random(void *buf, size_t len)
{
	if (len > INT32_MAX || RAND_bytes(buf, (int)len) != 1)
		return LPA_ERR_CRYPTO;
	return LPA_OK;
}

int lpa_aes_cmac(const uint8_t key[16], const void *msg, size_t len, uint8_t mac[16])
{
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t out = 0;
	int r = LPA_ERR_CRYPTO;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, "AES-128-CBC", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((m = EVP_MAC_fetch(NULL, "CMAC", NULL)) == NULL || (ctx = EVP_MAC_CTX_new(m)) == NULL ||
	    EVP_MAC_init(ctx, key, 16, params) != 1 || EVP_MAC_update(ctx, msg, len) != 1 ||
	    EVP_MAC_final(ctx, mac, &out, 16) != 1 || out != 16)
		goto fail;
	r = LPA_OK;
fail:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return r;
}

static int symmetric_aes128_block(int enc, const uint8_t key[16], const uint8_t in[16],
				  uint8_t out[16])
{
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, r = LPA_ERR_CRYPTO;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, 16) != 1 || n != 16)
		goto fail;
	r = LPA_OK;
fail:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int lpa_aes128_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
	return symmetric_aes128_block(1, key, in, out);
}

/* The join-accept is built with the AES decryption (so the device needs only encryption). */
int lpa_aes128_block_decrypt(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
	return symmetric_aes128_block(0, key, in, out);
}

static const EVP_CIPHER *symmetric_wrap_cipher(size_t kek_len)
{
	switch (kek_len) {
	case 16:
		return EVP_aes_128_wrap();
	case 24:
		return EVP_aes_192_wrap();
	case 32:
		return EVP_aes_256_wrap();
	default:
		return NULL;
	}
}

/* RFC 3394 in both directions; enc selects which. */
static int symmetric_keywrap(int enc, const uint8_t *kek, size_t kek_len, const uint8_t *in,
			     size_t in_len, uint8_t *out, size_t out_len)
{
	const EVP_CIPHER *cipher = symmetric_wrap_cipher(kek_len);
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, fin = 0, r = LPA_ERR_CRYPTO;

	if (cipher == NULL)
		return LPA_ERR_INVAL;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto fail;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, enc) != 1)
		goto fail;
	if (EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1) {
		/* The only way unwrap fails on well-sized input is the integrity check. */
		r = enc ? LPA_ERR_CRYPTO : LPA_ERR_UNWRAP;
		goto fail;
	}
	if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1 || (size_t)(n + fin) != out_len)
		goto fail;
	r = LPA_OK;
fail:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int lpa_aes_keywrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
		    uint8_t *out)
{
	if (in_len < 16 || in_len % 8 != 0 || in_len > 4096)
		return LPA_ERR_LENGTH;
	return symmetric_keywrap(1, kek, kek_len, in, in_len, out, in_len + 8);
}

int lpa_aes_keyunwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
		      uint8_t *out)
{
	if (in_len < 24 || in_len % 8 != 0 || in_len > 4104)
		return LPA_ERR_LENGTH;
	return symmetric_keywrap(0, kek, kek_len, in, in_len, out, in_len - 8);
}

int lpa_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		    const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM p[5], *q = p;
	int r = LPA_ERR_CRYPTO;

	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*q = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL || EVP_KDF_derive(ctx, out, out_len, p) != 1)
		goto fail;
	r = LPA_OK;
fail:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

int lpa_aes256gcm_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
		       size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, r = LPA_ERR_CRYPTO;

	if (len > INT32_MAX || aad_len > INT32_MAX)
		return LPA_ERR_LENGTH;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
	    (aad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
	    EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ct + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		goto fail;
	r = LPA_OK;
fail:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int lpa_aes256gcm_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
		       size_t aad_len, const uint8_t *ct, size_t len, const uint8_t tag[16],
		       uint8_t *pt)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, r = LPA_ERR_CRYPTO;

	if (len > INT32_MAX || aad_len > INT32_MAX)
		return LPA_ERR_LENGTH;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
	    (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
	    EVP_DecryptUpdate(ctx, pt, &n, ct, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) != 1)
		goto fail;
	if (EVP_DecryptFinal_ex(ctx, pt + n, &n) != 1) {
		/* Never hand back plaintext that failed authentication. */
		OPENSSL_cleanse(pt, len);
		r = LPA_ERR_UNWRAP;
		goto fail;
	}
	r = LPA_OK;
fail:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int lpa_keycheck(const uint8_t key[16], const char label[8], const uint8_t *data, size_t len,
		 uint8_t *out, size_t n)
{
	uint8_t msg[8 + 64], mac[16];
	int r;

	if (len > 64 || n > 16)
		return LPA_ERR_INVAL;
	memcpy(msg, label, 8);
	memcpy(msg + 8, data, len);
	if ((r = lpa_aes_cmac(key, msg, 8 + len, mac)) == LPA_OK)
		memcpy(out, mac, n);
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

int lpa_keychecks(const lpa_secbuf *keys, uint8_t lorawan, const char app_label[8],
		  const char nwk_label[8], const uint8_t *data, size_t len, uint8_t app[8],
		  uint8_t nwk[8])
{
	const uint8_t *k = lpa_secbuf_cdata(keys);
	int r;

	if (lpa_secbuf_len(keys) != LPA_ROOT_KEYS_LEN)
		return LPA_ERR_INVAL;
	if ((r = lpa_keycheck(k, app_label, data, len, app, 8)) != LPA_OK)
		return r;
	if (lorawan == LPA_LORAWAN_10) {
		memset(nwk, 0, 8);
		return LPA_OK;
	}
	return lpa_keycheck(k + 16, nwk_label, data, len, nwk, 8);
}
