/*
 * openocd-process.c — spawning, watching and stopping the OpenOCD child of a link
 * (openocd-process.h).
 *
 * The station forks from a multi-threaded process. After fork the child has one thread
 * and a copy of every lock as it was: one that another thread held (malloc's, stdio's,
 * or a preload's — umockdev wraps open, chdir, stat, ... holding one global mutex with
 * every signal blocked) stays locked for ever, and a child that touches it hangs before
 * exec, deaf to SIGTERM. So everything that can fail or lock happens in the parent:
 * the path search, /dev/null, the pipes, the configuration (a sealed memfd), moving the
 * descriptors out of the way; the child makes raw system calls only (syscall(2): no libc
 * wrapper a preload could interpose, no errno-free surprises), and the parent waits for
 * the exec with a deadline.
 *
 * The exec report is OpenSSH's start_helper idea: a close-on-exec pipe the child writes
 * errno into when exec fails; EOF means exec happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "openocd-process.h"

extern char **environ;

/* The child's descriptors: 0 /dev/null, 1 and 2 the output pipe, 3 the configuration,
 * 4 the exec report (close-on-exec); nothing else. */
#define OPENOCD_FD_CFG 3
#define OPENOCD_FD_REPORT 4
#define OPENOCD_FD_FREE 5
#define OPENOCD_CFG_ARG "/proc/self/fd/3"
/* Without close_range (Linux < 5.9) the child closes up to this many descriptors. */
#define OPENOCD_FD_LOOP_MAX 65536
#define OPENOCD_TERM_GRACE_MS 500

/* Everything the child needs, prepared by the parent. */
struct openocd_child {
	int devnull, out, cfg, report; /* all >= OPENOCD_FD_FREE */
	pid_t parent;
	int max_fd;
	const char *path;
	char *const *argv, *const *envp;
};

void openocd_process_init(struct openocd_process *p)
{
	memset(p, 0, sizeof(*p));
	p->out_fd = -1;
	p->pid_fd = -1;
}

static bool openocd_process_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int openocd_process_resolve(const char *name, char **path, char *err, size_t err_len)
{
	const char *dirs, *seg, *end;
	char cand[PATH_MAX];

	*path = NULL;
	if (name == NULL || *name == '\0') {
		snprintf(err, err_len, "no OpenOCD executable named");
		return LPA_ERR_NOT_FOUND;
	}
	if (strchr(name, '/') != NULL) {
		/* Absolute, so that it does not depend on the working directory. */
		if ((*path = realpath(name, NULL)) == NULL || !openocd_process_executable(*path)) {
			snprintf(err, err_len, "cannot run %s: %s", name,
				 *path == NULL ? strerror(errno) : "not an executable file");
			free(*path);
			*path = NULL;
			return LPA_ERR_NOT_FOUND;
		}
		return LPA_OK;
	}
	if ((dirs = getenv("PATH")) == NULL || *dirs == '\0')
		dirs = "/usr/local/bin:/usr/bin:/bin";
	for (seg = dirs; seg != NULL; seg = *end ? end + 1 : NULL) {
		size_t len;
		int n;

		end = strchrnul(seg, ':');
		len = (size_t)(end - seg);
		/* An empty entry is the working directory, as for execvp. */
		n = snprintf(cand, sizeof(cand), "%.*s/%s", (int)(len ? len : 1), len ? seg : ".",
			     name);
		if (n < 0 || (size_t)n >= sizeof(cand) || !openocd_process_executable(cand))
			continue;
		if ((*path = realpath(cand, NULL)) != NULL)
			return LPA_OK;
	}
	snprintf(err, err_len, "cannot run %s: not found on PATH", name);
	return LPA_ERR_NOT_FOUND;
}

/* The configuration as a sealed in-memory file: nothing on disk to clean up after a
 * crash, and nobody can change it between our write and OpenOCD's read. */
static int openocd_process_cfg(struct openocd_process *p, const char *cfg, size_t len)
{
	int fd = memfd_create("lpa-openocd.cfg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0) {
		snprintf(p->err, sizeof(p->err), "memfd_create: %s", strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, cfg + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(p->err, sizeof(p->err), "configuration: %s", strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
		snprintf(p->err, sizeof(p->err), "sealing the configuration: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Moves *fd to OPENOCD_FD_FREE or above, so that the child's dup3 onto 0..4 never
 * overwrites a descriptor it still has to copy. */
static bool openocd_process_raise(int *fd)
{
	int hi;

	if (*fd >= OPENOCD_FD_FREE)
		return true;
	if ((hi = fcntl(*fd, F_DUPFD_CLOEXEC, OPENOCD_FD_FREE)) < 0)
		return false;
	close(*fd);
	*fd = hi;
	return true;
}

/*
 * The child, from fork to exec: raw system calls on data the parent prepared, nothing
 * else (no allocation, no stdio, no libc wrapper). Not instrumented: a sanitizer's
 * runtime may take locks too.
 */
__attribute__((noreturn, no_sanitize("address", "undefined"))) static void
openocd_process_child(const struct openocd_child *c)
{
	/* An all-zero kernel sigaction is SIG_DFL with no flags and an empty mask, whatever
	 * the order of its fields on this architecture. */
	unsigned long dfl[8] = {0}, none[2] = {0};
	int report = c->report, e;

	/* Signals are all blocked (the parent did that around fork): no handler of the
	 * station can run here. Ignored signals would stay ignored across exec. */
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)syscall(SYS_rt_sigaction, sig, dfl, NULL, (size_t)(_NSIG / 8));
	/* Dies with the thread that spawned it; if the station died before this line, the
	 * parent is somebody else already. */
	if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
	    syscall(SYS_getppid) != c->parent)
		goto fail;
	if (syscall(SYS_dup3, c->devnull, 0, 0) < 0 || syscall(SYS_dup3, c->out, 1, 0) < 0 ||
	    syscall(SYS_dup3, c->out, 2, 0) < 0 ||
	    syscall(SYS_dup3, c->cfg, OPENOCD_FD_CFG, 0) < 0 ||
	    syscall(SYS_dup3, c->report, OPENOCD_FD_REPORT, O_CLOEXEC) < 0)
		goto fail;
	report = OPENOCD_FD_REPORT;
	/* Nothing else of ours leaks into OpenOCD (other links' sockets, the KMS's). */
#ifdef SYS_close_range
	if (syscall(SYS_close_range, OPENOCD_FD_FREE, ~0u, 0) != 0)
#endif
		for (int fd = OPENOCD_FD_FREE; fd < c->max_fd; fd++)
			(void)syscall(SYS_close, fd);
	/* Not the station's directory: OpenOCD must not keep it busy or find files in it. */
	if (syscall(SYS_chdir, "/") != 0 ||
	    syscall(SYS_rt_sigprocmask, SIG_SETMASK, none, NULL, (size_t)(_NSIG / 8)) != 0)
		goto fail;
	(void)syscall(SYS_execve, c->path, c->argv, c->envp);
fail:
	e = errno;
	(void)syscall(SYS_write, report, &e, sizeof(e));
	/* Not _exit: a sanitizer intercepts it (leak checks at exit). */
	(void)syscall(SYS_exit_group, 127);
	__builtin_unreachable();
}

/* Blocking reap of a child that was sent SIGKILL (it cannot refuse). */
static void openocd_process_kill(struct openocd_process *p)
{
	int status;

	kill(p->pid, SIGKILL);
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
}

static void openocd_process_close_fds(struct openocd_process *p)
{
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->pid_fd >= 0)
		close(p->pid_fd);
	p->out_fd = p->pid_fd = -1;
}

int openocd_process_spawn(struct openocd_process *p, const char *path, const char *cfg,
			  size_t cfg_len, unsigned timeout_ms)
{
	int devnull = -1, cfd = -1, out[2] = {-1, -1}, rep[2] = {-1, -1}, e = 0, r = LPA_ERR_SYSTEM;
	char *argv[] = {(char *)path, "-f", OPENOCD_CFG_ARG, NULL};
	struct openocd_child c;
	sigset_t all, old;
	uint64_t deadline;
	long max_fd = sysconf(_SC_OPEN_MAX);
	ssize_t n;
	pid_t pid;

	p->err[0] = '\0';
	if (p->pid != 0) {
		snprintf(p->err, sizeof(p->err), "OpenOCD is running already");
		return LPA_ERR_INVAL;
	}
	if ((cfd = openocd_process_cfg(p, cfg, cfg_len)) < 0)
		goto out;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(rep, O_CLOEXEC) != 0 || !openocd_process_raise(&devnull) ||
	    !openocd_process_raise(&cfd) || !openocd_process_raise(&out[1]) ||
	    !openocd_process_raise(&rep[1])) {
		snprintf(p->err, sizeof(p->err), "preparing OpenOCD's descriptors: %s",
			 strerror(errno));
		goto out;
	}
	c = (struct openocd_child){
		.devnull = devnull,
		.out = out[1],
		.cfg = cfd,
		.report = rep[1],
		.parent = getpid(),
		.max_fd = max_fd > 0 && max_fd < OPENOCD_FD_LOOP_MAX ? (int)max_fd
								     : OPENOCD_FD_LOOP_MAX,
		.path = path,
		.argv = argv,
		.envp = environ,
	};
	/* No signal handler of ours may run in the child before it resets them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		openocd_process_child(&c);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		snprintf(p->err, sizeof(p->err), "fork: %s", strerror(e));
		goto out;
	}
	p->pid = pid;
	/* Not reaped yet, so the pid cannot be reused: the pidfd is this child's. */
	p->pid_fd = (int)syscall(SYS_pidfd_open, pid, 0);
	close(rep[1]);
	rep[1] = -1;

	deadline = lpa_mono_ms() + timeout_ms;
	for (;;) {
		struct pollfd pf = {.fd = rep[0], .events = POLLIN};
		int64_t left = lpa_mono_left_ms(deadline);
		int k = poll(&pf, 1, left > 0 ? (int)left : 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			openocd_process_kill(p);
			snprintf(p->err, sizeof(p->err), "OpenOCD did not start (no exec in %u ms)",
				 timeout_ms);
			r = LPA_ERR_TIMEOUT;
			goto out;
		}
		if ((n = read(rep[0], &e, sizeof(e))) < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n != 0) {
		/* The child reported why exec failed and is exiting. */
		openocd_process_kill(p);
		if (n != (ssize_t)sizeof(e)) {
			snprintf(p->err, sizeof(p->err), "cannot run %s: broken exec report", path);
			goto out;
		}
		snprintf(p->err, sizeof(p->err), "cannot run %s: %s", path, strerror(e));
		r = e == ENOENT || e == EACCES || e == ENOTDIR ? LPA_ERR_NOT_FOUND : LPA_ERR_SYSTEM;
		goto out;
	}
	p->out_fd = out[0];
	out[0] = -1;
	(void)fcntl(p->out_fd, F_SETFL, fcntl(p->out_fd, F_GETFL) | O_NONBLOCK);
	r = LPA_OK;
out:
	if (r != LPA_OK)
		openocd_process_close_fds(p);
	if (devnull >= 0)
		close(devnull);
	if (cfd >= 0)
		close(cfd);
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
	return r;
}

ssize_t openocd_process_read(struct openocd_process *p, char *buf, size_t cap)
{
	for (;;) {
		ssize_t n;

		if (p->out_fd < 0)
			return -1;
		if ((n = read(p->out_fd, buf, cap)) > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		/* EOF: OpenOCD closed its output, it is exiting. */
		close(p->out_fd);
		p->out_fd = -1;
		return -1;
	}
}

bool openocd_process_exited(struct openocd_process *p, int *status)
{
	pid_t r;

	*status = 0;
	if (p->pid == 0)
		return true;
	while ((r = waitpid(p->pid, status, WNOHANG)) < 0 && errno == EINTR)
		;
	/* ECHILD: reaped behind our back (SIGCHLD ignored); gone either way. */
	if (r == p->pid || (r < 0 && errno == ECHILD)) {
		p->pid = 0;
		if (p->pid_fd >= 0)
			close(p->pid_fd);
		p->pid_fd = -1;
		return true;
	}
	return false;
}

bool openocd_process_wait(struct openocd_process *p, unsigned ms, int *status,
			  openocd_process_idle_fn idle, void *ctx)
{
	uint64_t deadline = lpa_mono_ms() + ms;

	for (;;) {
		struct pollfd pf[2];
		nfds_t nf = 0;
		int64_t left;

		if (openocd_process_exited(p, status))
			return true;
		if ((left = lpa_mono_left_ms(deadline)) <= 0)
			return false;
		/* Woken by its exit (pidfd) or its output; without a pidfd (Linux < 5.3),
		 * look again every 5 ms. */
		if (p->pid_fd >= 0)
			pf[nf++] = (struct pollfd){.fd = p->pid_fd, .events = POLLIN};
		else if (left > 5)
			left = 5;
		if (p->out_fd >= 0)
			pf[nf++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
		(void)poll(pf, nf, (int)left);
		if (idle != NULL)
			idle(ctx);
	}
}

void openocd_process_stop(struct openocd_process *p, unsigned grace_ms,
			  openocd_process_idle_fn idle, void *ctx)
{
	int status;

	if (p->pid != 0 && !openocd_process_wait(p, grace_ms, &status, idle, ctx)) {
		kill(p->pid, SIGTERM);
		if (!openocd_process_wait(p, OPENOCD_TERM_GRACE_MS, &status, idle, ctx))
			openocd_process_kill(p);
	}
	if (p->out_fd >= 0 && idle != NULL)
		idle(ctx);
	openocd_process_close_fds(p);
}
