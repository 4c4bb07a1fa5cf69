/*
 * test-openocd-process — the life of the OpenOCD child the OpenOCD backend spawns, under
 * lpa-sim (one virtual KitProg3) with its umockdev preload in this process:
 *
 *   test-openocd-process [SPAWNS]      SPAWNS for the fork race (default 20)
 *
 * - Spawning while other threads are inside libc calls that a preload wraps with a lock
 *   (umockdev holds one global mutex across open, stat, access, ...): a child that called
 *   one of them between fork and exec inherited that mutex locked and hung before exec,
 *   and the station with it. Each spawn runs in its own thread with a deadline, so a hang
 *   is counted, not waited for.
 * - A link whose OpenOCD stops answering times out, and its child is killed and reaped.
 * - A station that dies takes its OpenOCD with it (nothing holds the probe afterwards).
 * - OpenOCD starts with no blocked signals whatever the spawning thread blocks, and no
 *   file is left in TMPDIR.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "programmer/programmer.h"
#include "testutil.h"

#define SERIAL "SIM0000001"
/* A spawn that has not returned by then is hung: a healthy one takes well under a
 * second, and every wait inside it is bounded by a few timeout_ms. */
#define SPAWN_DEADLINE_S 12
#define HAMMERS 3

static unsigned spawns = 20;

static prog_link *open_link(unsigned timeout_ms)
{
	struct prog_link_opts o = {
		.backend = PROG_BACKEND_OPENOCD, .serial = SERIAL, .timeout_ms = timeout_ms};
	prog_link *l = NULL;
	int r = prog_link_open(&o, &l);

	ck_assert_msg(r == LPA_OK, "open: %s", lpa_strerror(r));
	return l;
}

/* The children of process parent (/proc/PID/stat field 4), up to cap. */
static size_t children_of(pid_t parent, pid_t *out, size_t cap)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL && n < cap) {
		char path[300], buf[512], *p;
		int pid = atoi(e->d_name), ppid = 0;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
		if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == parent)
			out[n++] = pid;
		fclose(f);
	}
	closedir(d);
	return n;
}

static pid_t the_openocd_of(pid_t parent)
{
	pid_t kids[8];

	ck_assert_uint_eq(children_of(parent, kids, 8), 1);
	return kids[0];
}

/* ------------------------------------------------------------ the fork race */
static atomic_bool hammer_stop;
static atomic_ulong hammer_calls;

/*
 * Calls that umockdev's preload wraps, each holding its one trap_path_lock (with every
 * signal blocked) across the real call. The path is long so that the kernel spends its
 * time walking it while the lock is held: a fork then almost always copies it locked.
 */
static void *hammer(void *arg)
{
	static char path[3200];
	struct stat st;
	unsigned long n = 0;
	size_t len = 0;

	(void)arg;
	len += (size_t)snprintf(path, sizeof(path), "/");
	while (len + 16 < sizeof(path))
		len += (size_t)snprintf(path + len, sizeof(path) - len, "dev/../");
	snprintf(path + len, sizeof(path) - len, "dev/null");
	while (!atomic_load(&hammer_stop)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd >= 0)
			close(fd);
		(void)stat(path, &st);
		(void)access(path, R_OK);
		n++;
	}
	atomic_fetch_add(&hammer_calls, n);
	return NULL;
}

struct spawn_job {
	atomic_bool done;
	int r;
};

static void *spawn_once(void *arg)
{
	struct spawn_job *j = arg;
	struct prog_link_opts o = {
		.backend = PROG_BACKEND_OPENOCD, .serial = SERIAL, .timeout_ms = 3000};
	prog_link *l = NULL;

	j->r = prog_link_open(&o, &l);
	prog_link_close(&l);
	atomic_store(&j->done, true);
	return NULL;
}

START_TEST(spawn_while_threads_hold_preload_locks)
{
	pthread_t h[HAMMERS];
	unsigned hung = 0, failed = 0;
	int last_err = LPA_OK;

	atomic_store(&hammer_stop, false);
	for (int i = 0; i < HAMMERS; i++)
		ck_assert_int_eq(pthread_create(&h[i], NULL, hammer, NULL), 0);
	for (unsigned i = 0; i < spawns; i++) {
		/* Leaked when it hangs: a hung thread cannot be joined. */
		struct spawn_job *j = calloc(1, sizeof(*j));
		pthread_t t;
		struct timespec dl;

		ck_assert_ptr_nonnull(j);
		ck_assert_int_eq(pthread_create(&t, NULL, spawn_once, j), 0);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += SPAWN_DEADLINE_S;
		if (pthread_timedjoin_np(t, NULL, &dl) != 0) {
			fprintf(stderr, "spawn %u: hung (no return in %d s)\n", i,
				SPAWN_DEADLINE_S);
			pthread_detach(t);
			hung++;
			continue;
		}
		if (j->r != LPA_OK) {
			failed++;
			last_err = j->r;
		}
		free(j);
	}
	atomic_store(&hammer_stop, true);
	for (int i = 0; i < HAMMERS; i++)
		pthread_join(h[i], NULL);
	fprintf(stderr, "spawns: %u, hung: %u, failed: %u; wrapped calls meanwhile: %lu\n", spawns,
		hung, failed, atomic_load(&hammer_calls));
	ck_assert_uint_gt(atomic_load(&hammer_calls), 0);
	ck_assert_msg(hung == 0, "%u of %u spawns hung", hung, spawns);
	ck_assert_msg(failed == 0, "%u of %u opens failed, the last with %s", failed, spawns,
		      lpa_strerror(last_err));
}
END_TEST

/* ------------------------------------------------------------ exit paths */
static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

/* A private TMPDIR, so that anything the backend leaves there shows. */
static char *private_tmpdir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/lpa-test-tmp-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("TMPDIR", dir, 1);
	return dir;
}

START_TEST(unanswering_openocd_times_out_and_is_reaped)
{
	char *tmp = private_tmpdir();
	prog_link *l = open_link(1000);
	pid_t pid = the_openocd_of(getpid());
	uint32_t v;
	uint64_t t0;
	int r, status;

	ck_assert(dir_is_empty(tmp));
	ck_assert_int_eq(prog_link_connect(l, &v), LPA_OK);
	/* It neither answers nor exits: only a kill ends it. */
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	t0 = lpa_mono_ms();
	r = prog_dp_read(l, 0x0, &v);
	ck_assert_msg(r == LPA_ERR_TIMEOUT, "read: %s (%s)", lpa_strerror(r),
		      prog_link_last_error(l));
	/* Bounded: the reply, SIGTERM's grace and SIGKILL, not more. */
	ck_assert_uint_lt(lpa_mono_ms() - t0, 4000);
	/* Reaped already: no zombie, no live child. */
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	/* The link starts a new OpenOCD when asked to connect again. */
	ck_assert_int_eq(prog_link_connect(l, &v), LPA_OK);
	ck_assert_uint_eq(v, 0x6BA02477);
	prog_link_close(&l);
	ck_assert_int_eq(waitpid(-1, &status, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	ck_assert(dir_is_empty(tmp));
	rmdir(tmp);
}
END_TEST

START_TEST(openocd_dies_with_its_station)
{
	int ready[2], status;
	pid_t station, openocd;
	char c;
	uint64_t deadline;

	/* Orphans come to us, so we can wait for the OpenOCD the station leaves. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe(ready), 0);
	if ((station = fork()) == 0) {
		prog_link *l = open_link(3000);

		(void)l;
		(void)!write(ready[1], "r", 1);
		for (;;)
			pause();
	}
	ck_assert_int_gt(station, 0);
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	openocd = the_openocd_of(station);
	ck_assert_int_eq(kill(station, SIGKILL), 0);
	ck_assert_int_eq(waitpid(station, &status, 0), station);
	/* Its OpenOCD is killed by the kernel (parent-death signal) and reparented to us. */
	deadline = lpa_mono_ms() + 5000;
	while (waitpid(openocd, &status, WNOHANG) == 0) {
		ck_assert_msg(lpa_mono_ms() < deadline, "OpenOCD %d outlived its station", openocd);
		usleep(10000);
	}
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
}
END_TEST

START_TEST(openocd_starts_with_no_blocked_signals)
{
	sigset_t block;
	prog_link *l;
	char path[64], line[256];
	FILE *f;
	bool seen = false;

	/* As a station's worker thread might (signals handled by one thread). */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &block, NULL), 0);
	l = open_link(3000);
	snprintf(path, sizeof(path), "/proc/%d/status", the_openocd_of(getpid()));
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "SigBlk:", 7) == 0) {
			ck_assert_str_eq(line, "SigBlk:\t0000000000000000\n");
			seen = true;
		}
	}
	fclose(f);
	ck_assert(seen);
	prog_link_close(&l);
}
END_TEST

START_TEST(missing_binary_is_not_found)
{
	struct prog_link_opts o = {.backend = PROG_BACKEND_OPENOCD,
				   .serial = SERIAL,
				   .timeout_ms = 2000,
				   .openocd_path = "/nonexistent/openocd"};
	prog_link *l = NULL;
	int status;

	ck_assert_int_eq(prog_link_open(&o, &l), LPA_ERR_NOT_FOUND);
	ck_assert_ptr_null(l);
	o.openocd_path = "lpa-no-such-openocd";
	ck_assert_int_eq(prog_link_open(&o, &l), LPA_ERR_NOT_FOUND);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(waitpid(-1, &status, WNOHANG), -1);
}
END_TEST

int main(int argc, char **argv)
{
	const struct tu_case cases[] = {
		TU_CASE_SLOW(spawn_while_threads_hold_preload_locks, 600),
		TU_CASE(unanswering_openocd_times_out_and_is_reaped),
		TU_CASE(openocd_dies_with_its_station),
		TU_CASE(openocd_starts_with_no_blocked_signals),
		TU_CASE(missing_binary_is_not_found),
	};

	if (argc > 1)
		spawns = (unsigned)strtoul(argv[1], NULL, 10);
	return tu_main("openocd-process", cases, TU_N(cases));
}
