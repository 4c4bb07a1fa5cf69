/*
 * Fuzz the agent's gcm_open (the chip-side LPK1 unwrap) against OpenSSL's AES-GCM.
 *
 * Input: mode(1) | key(32) | iv(12) | tag(16) | aad_len(1) | aad | ct. Mode bit 0 picks
 * a 32- or 16-byte key; with bit 7 set the key length is (mode >> 1) & 63 instead, which
 * is mostly invalid. Checked, aborting on any difference:
 *  - gcm_open agrees with OpenSSL on the verdict and the plaintext, out of place and in
 *    place; a refused open leaves the output all zero;
 *  - sealing the same bytes gives OpenSSL's ciphertext and tag, and opens back, so the
 *    success path runs on every input even though a fuzzer never forges a tag.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR (1 + 32 + 12 + 16 + 1)

static void check(int cond)
{
	if (!cond)
		abort();
}

/* OpenSSL AES-GCM; returns 1 when it succeeds (for decryption: the tag verified). */
static int ref_gcm(int enc, const uint8_t *key, size_t key_len, const uint8_t *iv,
		   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
		   uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	check(ctx != NULL);
	ok = EVP_CipherInit_ex(ctx, key_len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm(), NULL,
			       key, iv, enc) == 1 &&
	     (aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1) &&
	     (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1) &&
	     (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1) &&
	     EVP_CipherFinal_ex(ctx, out + len, &n) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= p[i];
	return d == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *key = data + 1, *iv = data + 33, *tag = data + 45, *aad = data + HDR;
	size_t key_len, aad_len, len;
	uint8_t *pt, *want, *buf, t[16], want_t[16];
	int r, valid;

	if (size < HDR)
		return 0;
	key_len = data[0] & 0x80 ? (size_t)(data[0] >> 1) & 63 : data[0] & 1 ? 32 : 16;
	valid = key_len == 16 || key_len == 32;
	aad_len = data[HDR - 1];
	if (aad_len > size - HDR)
		aad_len = size - HDR;
	len = size - HDR - aad_len;
	/* +1: OpenSSL's final call gets a pointer one past the data, never written. */
	pt = malloc(len + 1);
	want = malloc(len + 1);
	buf = malloc(len + 1);
	check(pt != NULL && want != NULL && buf != NULL);

	memset(pt, 0xa5, len + 1);
	r = gcm_open(key, key_len, iv, aad, aad_len, aad + aad_len, len, tag, pt);
	if (!valid) {
		check(r == CRYPTO_ERR_LENGTH && all_zero(pt, len));
		check(gcm_seal(key, key_len, iv, aad, aad_len, pt, len, buf, t) ==
			      CRYPTO_ERR_LENGTH &&
		      all_zero(t, 16));
		goto done;
	}
	memcpy(t, tag, 16);
	if (ref_gcm(0, key, key_len, iv, aad, aad_len, aad + aad_len, len, want, t)) {
		check(r == CRYPTO_OK && memcmp(pt, want, len) == 0);
	} else {
		check(r == CRYPTO_ERR_TAG && all_zero(pt, len));
	}
	/* The same in place. */
	memcpy(buf, aad + aad_len, len);
	check(gcm_open(key, key_len, iv, aad, aad_len, buf, len, tag, buf) == r);
	check(memcmp(buf, pt, len) == 0);

	/* Seal the ciphertext bytes as a plaintext: OpenSSL's result, and it opens back. */
	check(gcm_seal(key, key_len, iv, aad, aad_len, aad + aad_len, len, buf, t) == CRYPTO_OK);
	check(ref_gcm(1, key, key_len, iv, aad, aad_len, aad + aad_len, len, want, want_t));
	check(memcmp(buf, want, len) == 0 && memcmp(t, want_t, 16) == 0);
	check(gcm_open(key, key_len, iv, aad, aad_len, buf, len, t, pt) == CRYPTO_OK);
	check(memcmp(pt, aad + aad_len, len) == 0);
done:
	free(pt);
	free(want);
	free(buf);
	return 0;
}
