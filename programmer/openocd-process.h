/*
 * openocd-process.h — the OpenOCD child of one link: spawned, watched, stopped, always
 * reaped (private to programmer/).
 *
 * Guarantees (docs/programmer.md, "The OpenOCD child"):
 * - Between fork and exec the child makes raw system calls only: no libc function that a
 *   preload or the allocator could hold a lock in (the station is multi-threaded: a lock
 *   another thread held at fork time stays locked in the child for ever).
 * - Every wait is bounded: a child that does not exec within timeout_ms is killed.
 * - The child dies with the thread that spawned it (PR_SET_PDEATHSIG, SIGKILL): a dead
 *   station never leaves an OpenOCD holding its probe. A link must therefore be used and
 *   closed by the thread that started its OpenOCD (every station command does).
 * - It starts with no blocked signals and default dispositions, stdin on /dev/null,
 *   stdout and stderr on one pipe, "/" as working directory, no other descriptor of ours.
 * - Its configuration is a sealed memfd it reads as /proc/self/fd/3: nothing on disk.
 */
#ifndef LPA_PROGRAMMER_OPENOCD_PROCESS_H
#define LPA_PROGRAMMER_OPENOCD_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lpa/core/lpa-core.h"

struct openocd_process {
	pid_t pid;  /* 0: none */
	int out_fd; /* its stdout and stderr, non-blocking; -1 when closed */
	int pid_fd; /* a pidfd of the child (poll wakes at its exit); -1 when none */
	char err[200];
};

/* Called while a wait goes on (the backend drains out_fd: OpenOCD blocks on a full pipe). */
typedef void (*openocd_process_idle_fn)(void *ctx);

void openocd_process_init(struct openocd_process *p);

/*
 * The executable execvp would run for name, as an absolute path (malloc'd): a name with a
 * '/' is that file, anything else the first executable regular file of that name on PATH.
 * Resolved here, in the parent, because the child cannot search. LPA_ERR_NOT_FOUND (with
 * err) when there is none.
 */
int openocd_process_resolve(const char *name, char **path, char *err, size_t err_len);

/*
 * Runs path -f /proc/self/fd/3 with cfg (cfg_len bytes) as that file. LPA_OK once the
 * child has exec'd; LPA_ERR_NOT_FOUND / LPA_ERR_SYSTEM when exec failed;
 * LPA_ERR_TIMEOUT when it did not exec within timeout_ms (the child is then killed and
 * reaped). p->err says why.
 */
int openocd_process_spawn(struct openocd_process *p, const char *path, const char *cfg,
			  size_t cfg_len, unsigned timeout_ms);

/* What the child wrote so far, never blocking: bytes read, 0 for nothing now, -1 once it
 * closed its output (out_fd is then closed). */
ssize_t openocd_process_read(struct openocd_process *p, char *buf, size_t cap);

/* Whether the child exited (reaped: pid 0, *status set), without waiting. */
bool openocd_process_exited(struct openocd_process *p, int *status);

/* Waits at most ms for the child to exit, calling idle every few ms. True when reaped. */
bool openocd_process_wait(struct openocd_process *p, unsigned ms, int *status,
			  openocd_process_idle_fn idle, void *ctx);

/*
 * Ends the child: waits grace_ms for it to exit by itself (after a "shutdown"), then
 * SIGTERM and 500 ms, then SIGKILL. Always reaps; out_fd is closed after a last idle().
 * Nothing to do when there is no child.
 */
void openocd_process_stop(struct openocd_process *p, unsigned grace_ms,
			  openocd_process_idle_fn idle, void *ctx);

#endif /* LPA_PROGRAMMER_OPENOCD_PROCESS_H */
