/* Fuzz journal replay: whatever a crashed or tampered disk holds, no crash and no hang. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("journal", 0);
	char path[64];
	journal *j = NULL;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (journal_open(path, &j) == 0) {
			const struct journal_entry *u;

			(void)journal_unfinished(j, &u);
			journal_close(&j);
		}
	}
	close(fd);
	return 0;
}
