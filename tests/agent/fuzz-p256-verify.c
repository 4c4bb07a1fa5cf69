/*
 * Fuzz the agent's ECDSA signature decoding and verification (p256_verify) against
 * OpenSSL.
 *
 * Input: pub_len(1) | pub(pub_len) | hash(32) | sig (the rest, any length); short
 * inputs are padded with zeros. Checked, aborting on any difference:
 *  - the refusal codes follow the documented order: the key's first, then the
 *    signature's length, then r, s in [1, n-1], then the verdict;
 *  - when the key and the signature are well formed, the verdict is OpenSSL's
 *    (EVP_PKEY_verify over the digest);
 *  - the signature's first bit flipped is never accepted as well.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "lpa/core/lpa-core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static const uint8_t n_be[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
				 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
				 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

static int in_range(const uint8_t v[32])
{
	static const uint8_t zero[32];

	return memcmp(v, zero, 32) != 0 && memcmp(v, n_be, 32) < 0;
}

static int ref_verify(const uint8_t pub[65], const uint8_t hash[32], const uint8_t sig[64])
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx;
	uint8_t der[80];
	size_t der_len;
	int ok;

	check(lpa_p256_from_public(pub, &k) == LPA_OK);
	check(lpa_ecdsa_raw_to_der(sig, der, sizeof(der), &der_len) == LPA_OK);
	ctx = EVP_PKEY_CTX_new(k, NULL);
	check(ctx != NULL && EVP_PKEY_verify_init(ctx) == 1);
	ok = EVP_PKEY_verify(ctx, der, der_len, hash, 32) == 1;
	EVP_PKEY_CTX_free(ctx);
	lpa_pkey_free(&k);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[1 + 255 + 32 + 128];
	const uint8_t *pub, *hash, *sig;
	size_t pub_len, sig_len;
	int ret, key;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, data, size < sizeof(buf) ? size : sizeof(buf));
	pub_len = buf[0];
	pub = buf + 1;
	hash = pub + pub_len;
	sig = hash + 32;
	sig_len = size > 1 + pub_len + 32 ? size - 1 - pub_len - 32 : 0;
	if (sig_len > 128)
		sig_len = 128;

	ret = p256_verify(pub, pub_len, hash, sig, sig_len);
	key = p256_public_check(pub, pub_len);
	if (key != CRYPTO_OK) {
		check(ret == key);
		return 0;
	}
	if (sig_len != P256_SIG_LEN) {
		check(ret == CRYPTO_ERR_LENGTH);
		return 0;
	}
	if (!in_range(sig) || !in_range(sig + 32)) {
		check(ret == CRYPTO_ERR_SIG_RANGE);
		return 0;
	}
	check(ret == CRYPTO_OK || ret == CRYPTO_ERR_SIGNATURE);
	check((ret == CRYPTO_OK) == ref_verify(pub, hash, sig));
	if (ret == CRYPTO_OK) {
		uint8_t bad[P256_SIG_LEN];

		memcpy(bad, sig, sizeof(bad));
		bad[0] ^= 0x80;
		check(p256_verify(pub, pub_len, hash, bad, sizeof(bad)) != CRYPTO_OK);
	}
	return 0;
}
