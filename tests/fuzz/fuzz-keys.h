/* fuzz-keys.h — fixed keys for the fuzz targets, from constant scalars. */
#ifndef LPA_FUZZ_KEYS_H
#define LPA_FUZZ_KEYS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpa/core/lpa-core.h"

/*
 * The keys and values of the worked vectors in docs/protocols.md, so that the seed
 * corpus (made from those vectors) passes every check and the fuzzer starts from inputs
 * that reach the deepest code.
 */
#define FUZZ_CHIP_UID 0x0f2a1b3c4d5e6f70ULL
#define FUZZ_DEV_EUI 0x70b3d57ed0001234ULL

/* "dik", "kms" or "eph": the scalar is SHA-256("lpa vector " || name). */
static inline EVP_PKEY *fuzz_key(const char *name)
{
	char label[32];
	uint8_t d[32];
	EVP_PKEY *k = NULL;

	snprintf(label, sizeof(label), "lpa vector %s", name);
	if (lpa_sha256(label, strlen(label), d) != LPA_OK || lpa_p256_from_private(d, &k) != LPA_OK)
		abort();
	return k;
}

/* AppKey 00..0f, NwkKey 10..1f. */
static inline lpa_secbuf *fuzz_root_keys(void)
{
	lpa_secbuf *k = lpa_secbuf_new(LPA_ROOT_KEYS_LEN);

	if (k == NULL)
		abort();
	for (int i = 0; i < LPA_ROOT_KEYS_LEN; i++)
		lpa_secbuf_data(k)[i] = (uint8_t)i;
	return k;
}

#endif
