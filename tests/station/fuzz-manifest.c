/* Fuzz the manifest verifier (QA feeds it files from the line). */
#include <stdio.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct manifest_keys keys;
	struct manifest_report rep;
	FILE *f;

	if (keys.n_record == 0) {
		uint8_t d[32];

		/* The worked-vector KMS key, so seeds can carry valid signatures. */
		lpa_sha256("lpa vector kms", 14, d);
		if (lpa_p256_from_private(d, &keys.record[0]) != LPA_OK)
			return 0;
		snprintf(keys.record_kid[0], sizeof(keys.record_kid[0]), "record-1");
		keys.n_record = 1;
	}
	if (size == 0 || (f = fmemopen((void *)(uintptr_t)data, size, "r")) == NULL)
		return 0;
	(void)manifest_verify(f, &keys, &rep);
	fclose(f);
	return 0;
}
