/* Fuzz the LPI1 identity parser and GET_STATUS; a parsed record must rebuild identically. */
#include "fuzz-keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lpa_lpi1 id;
	static uint8_t back[LPA_LPI1_MAX_LEN];
	struct lpa_agent_status st;
	size_t n = 0;

	(void)lpa_status_parse(data, size, &st);
	if (lpa_lpi1_parse(data, size, &id) != LPA_OK)
		return 0;
	if (lpa_lpi1_build(&id, back, sizeof(back), &n) != LPA_OK || n != size ||
	    memcmp(back, data, n) != 0)
		abort();
	return 0;
}
