/* Fuzz the manifest's index file (PATH.idx): whatever a crashed or tampered disk holds
 * there, no crash and no hang, and the manifest opens (the index is only a cache). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64], fuzz_path[128], fuzz_idx[160];

static void fuzz_cleanup(void)
{
	unlink(fuzz_idx);
	unlink(fuzz_path);
	rmdir(fuzz_dir);
}

/* What the writer's scan reads: three records and a trailer-shaped line (the seed
 * corpus/manifest-idx/three-records is the index lpa-station wrote for it). */
static const char fuzz_manifest[] =
	"{\"seq\":1,\"record\":\"a.b.c\",\"prev\":\"0\"}\n"
	"{\"seq\":2,\"record\":\"d.e.f\",\"prev\":\"1\"}\n"
	"{\"trailer\":{\"lot\":\"L\",\"count\":2,\"head\":\"2\"},\"key\":{},\"sig\":\"s\"}\n"
	"{\"seq\":3,\"record\":\"g.h.i\",\"prev\":"
	"\"7436d4a766b37de90003585fd70bc6c2351f0bbb79ce2239ba9e65a661ee7107\"}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	manifest *m = NULL;
	bool there;
	FILE *f;

	if (fuzz_dir[0] == '\0') {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/lpa-fuzz-idx-XXXXXX");
		if (mkdtemp(fuzz_dir) == NULL)
			abort();
		snprintf(fuzz_path, sizeof(fuzz_path), "%s/lot.jsonl", fuzz_dir);
		snprintf(fuzz_idx, sizeof(fuzz_idx), "%s.idx", fuzz_path);
		atexit(fuzz_cleanup);
	}
	if ((f = fopen(fuzz_path, "wb")) == NULL ||
	    fwrite(fuzz_manifest, 1, sizeof(fuzz_manifest) - 1, f) != sizeof(fuzz_manifest) - 1 ||
	    fclose(f) != 0)
		abort();
	if ((f = fopen(fuzz_idx, "wb")) == NULL || fwrite(data, 1, size, f) != size ||
	    fclose(f) != 0)
		abort();
	if (manifest_open(fuzz_path, &m) != 0)
		abort();
	if (manifest_contains(m, "a.b.c", &there) != 0)
		abort();
	manifest_close(&m);
	return 0;
}
