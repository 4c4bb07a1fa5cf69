/* jsonl.c — replaying append-only JSON Lines files after a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "jsonl.h"
#include "lpa/core/lpa-core.h"

int jsonl_replay(int fd, int (*line)(void *ctx, char *text, size_t len), void *ctx)
{
	return jsonl_replay_from(fd, 0, line, ctx);
}

int jsonl_replay_from(int fd, off_t from, int (*line)(void *ctx, char *text, size_t len), void *ctx)
{
	FILE *f = fdopen(dup(fd), "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	off_t good = from;
	int r = LPA_OK;

	if (f == NULL)
		return LPA_ERR_SYSTEM;
	if (fseeko(f, from, SEEK_SET) != 0) {
		fclose(f);
		return LPA_ERR_SYSTEM;
	}
	while ((n = getline(&buf, &cap, f)) > 0) {
		if (buf[n - 1] != '\n')
			break; /* torn: the crash came mid-write; it is cut below */
		buf[n - 1] = '\0';
		if ((r = line(ctx, buf, (size_t)n - 1)) != LPA_OK)
			break;
		good += n;
	}
	free(buf);
	fclose(f);
	if (r == LPA_OK && ftruncate(fd, good) != 0)
		r = LPA_ERR_SYSTEM;
	return r;
}
