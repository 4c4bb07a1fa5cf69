/* Fuzz the journal's snapshot: whatever a crashed or tampered disk holds in journal.snap,
 * no crash and no hang, and the journal opens (the snapshot is only a cache). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

static void fuzz_cleanup(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/journal.snap", fuzz_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/journal.jsonl", fuzz_dir);
	unlink(p);
	rmdir(fuzz_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char snap[128], live[128];
	journal *j = NULL;
	FILE *f;

	if (fuzz_dir[0] == '\0') {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/lpa-fuzz-snap-XXXXXX");
		if (mkdtemp(fuzz_dir) == NULL)
			abort();
		atexit(fuzz_cleanup);
	}
	snprintf(snap, sizeof(snap), "%s/journal.snap", fuzz_dir);
	snprintf(live, sizeof(live), "%s/journal.jsonl", fuzz_dir);
	unlink(live);
	if ((f = fopen(snap, "wb")) == NULL)
		abort();
	if (fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	/* No archive: a snapshot that does not load leaves an empty journal. */
	if (journal_open(live, &j) != 0)
		abort();
	{
		const struct journal_entry *u;
		size_t n = journal_unfinished(j, &u), rec, ab, un;

		journal_totals(j, &rec, &ab, &un);
		if (un != n)
			abort();
		for (size_t i = 0; i < n; i++)
			if (journal_last(j, u[i].chip_uid) == NULL)
				abort();
	}
	journal_close(&j);
	return 0;
}
