/*
 * Fuzz the agent's P-256 point decoder (p256_public_check, the validation every key
 * that ECDH and verify take goes through) against OpenSSL.
 *
 * Input: the encoded point, any length. Checked, aborting on any difference:
 *  - a 65-byte input is accepted exactly when OpenSSL (lpa_p256_from_public) accepts it;
 *  - every refusal carries the code the documented order gives (identity, length,
 *    encoding, range, curve);
 *  - an accepted point gives OpenSSL's ECDH secret with a fixed private key, and
 *    p256_ecdh refuses what the check refuses, with the same code and a zeroed output.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "lpa/core/lpa-core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static const uint8_t fuzz_d[32] = {0x3a, 0x1f, 0x7e, 0x22, 0x90, 0x0c, 0x55, 0x61, 0x8d, 0x44, 0x13,
				   0xa7, 0x2b, 0xe0, 0x71, 0x36, 0x0e, 0xc9, 0x58, 0x2d, 0xbb, 0x04,
				   0x6f, 0x93, 0x17, 0xda, 0x82, 0x4c, 0x65, 0x39, 0xf8, 0x01};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t p[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
				      0,    0,    0,    0,    0,    0,    0,    0,
				      0,    0,    0,    0,    0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	int ret = p256_public_check(data, size), want;
	uint8_t x[32];

	/* The order of refusals (crypto.h). */
	if (size == 1 && data[0] == 0)
		want = CRYPTO_ERR_IDENTITY;
	else if (size != P256_PUB_LEN)
		want = CRYPTO_ERR_LENGTH;
	else if (data[0] != 4)
		want = CRYPTO_ERR_ENCODING;
	else if (memcmp(data + 1, p, 32) >= 0 || memcmp(data + 33, p, 32) >= 0)
		want = CRYPTO_ERR_RANGE;
	else
		want = ret == CRYPTO_OK ? CRYPTO_OK : CRYPTO_ERR_POINT;
	check(ret == want);

	memset(x, 0x55, sizeof(x));
	check(p256_ecdh(fuzz_d, data, size, x) == ret);
	if (ret != CRYPTO_OK) {
		for (size_t i = 0; i < sizeof(x); i++)
			check(x[i] == 0);
	}
	if (size == P256_PUB_LEN) {
		EVP_PKEY *peer = NULL, *mine = NULL;
		int ok = lpa_p256_from_public(data, &peer) == LPA_OK;

		check(ok == (ret == CRYPTO_OK));
		if (ok) {
			uint8_t want_x[32];

			check(lpa_p256_from_private(fuzz_d, &mine) == LPA_OK);
			check(lpa_p256_ecdh(mine, peer, want_x) == LPA_OK);
			check(memcmp(x, want_x, 32) == 0);
		}
		lpa_pkey_free(&peer);
		lpa_pkey_free(&mine);
	}
	return 0;
}
