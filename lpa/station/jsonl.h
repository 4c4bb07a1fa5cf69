/* jsonl.h — append-only JSON Lines files (journal, manifest): replay after a crash. */
#ifndef LPA_STATION_JSONL_H
#define LPA_STATION_JSONL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Calls line(ctx, text, len) for every complete line of the file open on fd (text is
 * NUL-terminated, without its newline), stopping at the first non-zero return, which it
 * returns. A torn last line (a crash in the middle of a write) is cut off the file so
 * that appending continues on a line boundary; nothing is cut after a callback error.
 */
int jsonl_replay(int fd, int (*line)(void *ctx, char *text, size_t len), void *ctx);
/* The same from byte offset from (a line boundary) on. */
int jsonl_replay_from(int fd, off_t from, int (*line)(void *ctx, char *text, size_t len),
		      void *ctx);

#endif
