/*
 * Fuzz the key-store dump parser (lpa/core/keystore.c): a whole 4 KiB dump (shorter
 * inputs are zero-padded, as erased flash reads), a slot and an identity record alone.
 * Whatever parses must encode back to the same bytes, and the active slot must be the
 * valid one with the highest sequence.
 */
#include <stdlib.h>
#include <string.h>

#include "lpa/core/keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t dump[LPA_KS_SIZE], back[LPA_KS_ID_MAX];
	static struct lpa_keystore ks;
	struct lpa_ks_slot s;
	static struct lpa_ks_identity id;
	size_t n = 0;

	memset(dump, 0, sizeof(dump));
	memcpy(dump, data, size < sizeof(dump) ? size : sizeof(dump));
	if (lpa_keystore_parse(dump, sizeof(dump), &ks) != LPA_OK)
		abort();
	if (lpa_keystore_parse(data, size, &ks) != (size == LPA_KS_SIZE ? LPA_OK : LPA_ERR_LENGTH))
		abort();
	for (int i = 0; i < 2; i++) {
		if (lpa_keystore_slot_parse(dump + i * LPA_KS_ROW, LPA_KS_ROW, &s) != LPA_OK)
			continue;
		if (lpa_keystore_slot_encode(&s, back) != LPA_OK ||
		    memcmp(back, dump + i * LPA_KS_ROW, LPA_KS_SLOT_LEN) != 0)
			abort();
	}
	(void)lpa_keystore_parse(dump, sizeof(dump), &ks);
	if (ks.active >= 0 && (ks.slot[ks.active].status != LPA_OK ||
			       (ks.slot[!ks.active].status == LPA_OK &&
				ks.slot[!ks.active].seq > ks.slot[ks.active].seq)))
		abort();
	if (lpa_keystore_slot_parse(data, size, &s) == LPA_OK &&
	    (lpa_keystore_slot_encode(&s, back) != LPA_OK || memcmp(back, data, LPA_KS_SLOT_LEN)))
		abort();
	if (lpa_keystore_identity_parse(data, size, &id) == LPA_OK) {
		if (lpa_keystore_identity_encode(id.origin, id.dik, id.dik_pub, id.cert,
						 id.cert_len, back, sizeof(back), &n) != LPA_OK ||
		    n > size || memcmp(back, data, n) != 0)
			abort();
	}
	lpa_keystore_wipe(&ks);
	return 0;
}
