/* Fuzz the chip-side LPK1 path: parse, signature, UID, counter, unwrap. */
#include "fuzz-keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *kms, *dik;
	struct lpa_lpk1_hdr h;
	lpa_secbuf *keys = NULL;

	if (kms == NULL) {
		kms = fuzz_key("kms");
		dik = fuzz_key("dik");
	}
	(void)lpa_lpk1_parse(data, size, &h);
	if (lpa_lpk1_open(data, size, kms, dik, FUZZ_CHIP_UID, 0, &h, &keys) == LPA_OK &&
	    keys == NULL)
		abort();
	lpa_secbuf_free(&keys);
	return 0;
}
