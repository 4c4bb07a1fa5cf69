/* Fuzz base64url, hex and EUI decoding; whatever decodes must re-encode to the input, and
 * an EUI parses only from exactly 16 hex digits. */
#include "fuzz-keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[4096];
	static char again[8192];
	size_t n = 0;
	uint64_t eui = 0;

	if (size > 4096)
		return 0;
	if (lpa_b64url_decode((const char *)data, size, out, sizeof(out), &n) == LPA_OK) {
		lpa_b64url_encode(out, n, again);
		if (strlen(again) != size || memcmp(again, data, size) != 0)
			abort(); /* decoding must be canonical */
	}
	if (size % 2 == 0 && lpa_hex_decode((const char *)data, size, out, size / 2) == LPA_OK) {
		lpa_hex_encode(out, size / 2, again);
		if (strncasecmp(again, (const char *)data, size) != 0)
			abort();
	}
	if (lpa_eui_parse_len((const char *)data, size, &eui) == LPA_OK) {
		lpa_eui_format(eui, again);
		if (size != 16 || strncasecmp(again, (const char *)data, 16) != 0)
			abort();
	} else if (size == 16 && lpa_hex_decode((const char *)data, 16, out, 8) == LPA_OK) {
		abort(); /* 16 hex digits must parse */
	}
	return 0;
}
