/* Fuzz LPP1 parsing and proof verification. */
#include "fuzz-keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *dik;
	static lpa_secbuf *keys;
	static uint8_t nonce[16];
	struct lpa_lpp1 p;

	if (dik == NULL) {
		dik = fuzz_key("dik");
		keys = fuzz_root_keys();
		for (int i = 0; i < 16; i++)
			nonce[i] = (uint8_t)(0xc0 + i); /* the vector's challenge */
	}
	(void)lpa_lpp1_parse(data, size, &p);
	(void)lpa_lpp1_verify(data, size, dik, FUZZ_DEV_EUI, FUZZ_CHIP_UID, nonce, LPA_LORAWAN_11,
			      keys, &p);
	return 0;
}
