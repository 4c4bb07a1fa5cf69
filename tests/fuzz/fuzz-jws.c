/* Fuzz JWS verification and JWK import (what QA feeds from manifests and key files). */
#include "fuzz-keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key;
	char *s, *kid = NULL;
	uint8_t *payload = NULL;
	size_t n = 0;
	EVP_PKEY *k = NULL;

	if (key == NULL)
		key = fuzz_key("kms");
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (lpa_jws_verify(s, key, &kid, &payload, &n) == LPA_OK && payload == NULL)
		abort();
	free(payload);
	free(kid);
	if (lpa_jwk_to_p256(s, &k) == LPA_OK && k == NULL)
		abort();
	lpa_pkey_free(&k);
	free(s);
	return 0;
}
