/* Fuzz the LPE1 enrolment-request check (lpa_lpe1_verify): a request it accepts must carry
 * a signature that OpenSSL verifies with the key it names, and the fields it returns must
 * be the bytes at their offsets. */
#include "fuzz-keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lpa_lpe1 e;
	EVP_PKEY *k = NULL;

	if (lpa_lpe1_verify(data, size, &e) != LPA_OK)
		return 0;
	if (size != LPA_LPE1_LEN || memcmp(data, "LPE1", 4) != 0 || data[4] != 1 || data[5] != 0 ||
	    e.chip_uid != lpa_be_get(data + 8, 8) || e.silicon_id != lpa_be_get(data + 16, 4) ||
	    memcmp(e.dik_pub, data + 20, 65) != 0)
		abort();
	if (lpa_p256_from_public(e.dik_pub, &k) != LPA_OK ||
	    lpa_p256_verify(k, data, 85, data + 85) != LPA_OK)
		abort();
	lpa_pkey_free(&k);
	return 0;
}
