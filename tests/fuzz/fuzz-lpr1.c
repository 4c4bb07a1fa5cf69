/* Fuzz LPR1 parsing and the KMS's receipt verification. */
#include "fuzz-keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *dik;
	static lpa_secbuf *keys;
	static uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpr1 r;

	if (dik == NULL) {
		FILE *f = fopen(LPA_FUZZ_CORPUS "/lpk1/vector", "rb");

		/* The receipt names its package by hash: verify against the vector package. */
		if (f == NULL || fread(pkg, 1, sizeof(pkg), f) != sizeof(pkg))
			abort();
		fclose(f);
		dik = fuzz_key("dik");
		keys = fuzz_root_keys();
	}
	(void)lpa_lpr1_parse(data, size, &r);
	(void)lpa_lpr1_verify(data, size, dik, pkg, keys, &r);
	return 0;
}
