/* Fuzz the journal's snapshot and its deltas: whatever a crashed or tampered disk holds in
 * journal.snap (or, for input starting "LPJD", in the delta journal.snap.d/000001), no
 * crash and no hang, and the journal opens (both are only a cache). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
	snprintf(p, sizeof(p), "%s/journal.snap.d/000001", fuzz_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/journal.snap.d", fuzz_dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/journal.jsonl", fuzz_dir);
	unlink(p);
	rmdir(fuzz_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char snap[128], live[128], other[128];
	bool delta = size >= 4 && memcmp(data, "LPJD", 4) == 0;
	journal *j = NULL;
	FILE *f;

	if (fuzz_dir[0] == '\0') {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/lpa-fuzz-snap-XXXXXX");
		if (mkdtemp(fuzz_dir) == NULL)
			abort();
		atexit(fuzz_cleanup);
	}
	snprintf(live, sizeof(live), "%s/journal.jsonl", fuzz_dir);
	unlink(live);
	snprintf(snap, sizeof(snap), "%s/journal.snap.d", fuzz_dir);
	if (delta && mkdir(snap, 0700) != 0 && errno != EEXIST)
		abort();
	snprintf(snap, sizeof(snap), "%s/journal.snap%s", fuzz_dir, delta ? ".d/000001" : "");
	snprintf(other, sizeof(other), "%s/journal.snap%s", fuzz_dir, delta ? "" : ".d/000001");
	unlink(other);
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
