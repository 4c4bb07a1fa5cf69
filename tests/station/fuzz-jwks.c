/* Fuzz the pinned-keys loader ([kms] record_keys, manifest verify --kms-keys): a JWKS file
 * is external input, copied from the KMS machine to the station and to QA. */
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest_keys k;
	char err[256];

	if (manifest_keys_parse_jwks((const char *)data, size, &k, err, sizeof(err)) == LPA_OK) {
		/* A loaded set is what the contract says: record keys with distinct kids. */
		if (k.n_record == 0 || k.n_record > MANIFEST_MAX_KEYS)
			__builtin_trap();
		for (size_t i = 0; i < k.n_record; i++)
			for (size_t j = i + 1; j < k.n_record; j++)
				if (strcmp(k.record_kid[i], k.record_kid[j]) == 0)
					__builtin_trap();
		manifest_keys_free(&k);
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		__builtin_trap();
	}
	return 0;
}
