/*
 * test-preload.c — what concurrent programs do under one lpa-sim testbed, against the
 * faults of umockdev's preload library that lpa-sim-preload.so works around (run as
 * `lpa-sim --probes 2 -- test-sim-preload`).
 *
 * Forks of a multi-threaded process: umockdev's path and ioctl wrappers take global
 * mutexes, and a child forked while another thread held one blocked in its first
 * open() before exec (the OpenOCD backend's spawn, 1 in ~10 runs of
 * link-parallel-openocd).
 *
 * Uevent sockets: umockdev turns each process's uevent netlink socket into a Unix socket bound in
 * the testbed directory, named after the fd number alone; processes forked alike get the same
 * number, and a bind racing another one's unlink fails with EADDRINUSE, which libusb reports as
 * "initialization failed: Other error" (issue 9). lpa-sim's preload shim names the socket after the
 * process too (docs/simulator.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libusb.h>

#include "testutil.h"

#define KP3_VID 0x04b4
#define KP3_PID 0xf155

/* Forks n children, each running fn(i, arg) after the others are started too (a pipe
 * that opens when the parent closes it); returns how many exited non-zero. */
static unsigned run_children(unsigned n, int (*fn)(unsigned, void *), void *arg)
{
	pid_t pid[64];
	int gate[2], st;
	unsigned bad = 0;

	ck_assert_uint_le(n, TU_N(pid));
	ck_assert_int_eq(pipe(gate), 0);
	for (unsigned i = 0; i < n; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			char c;

			close(gate[1]);
			if (read(gate[0], &c, 1) != 0)
				_exit(100);
			close(gate[0]);
			_exit(fn(i, arg));
		}
	}
	close(gate[0]);
	close(gate[1]); /* all start now */
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	return bad;
}

/* The KitProg3s libusb sees; negative on an init error. */
static int count_probes(libusb_context *ctx)
{
	libusb_device **list;
	ssize_t n = libusb_get_device_list(ctx, &list);
	int found = 0;

	if (n < 0)
		return (int)n;
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor d;

		if (libusb_get_device_descriptor(list[i], &d) == 0 && d.idVendor == KP3_VID &&
		    d.idProduct == KP3_PID)
			found++;
	}
	libusb_free_device_list(list, 1);
	return found;
}

struct storm {
	unsigned loops;
	int want_probes;
	int report; /* write end: one byte per failed init */
};

static int storm_child(unsigned idx, void *arg)
{
	struct storm *s = arg;
	unsigned failed = 0;

	(void)idx;
	for (unsigned k = 0; k < s->loops; k++) {
		libusb_context *ctx = NULL;
		int r = libusb_init(&ctx);

		if (r != 0) {
			fprintf(stderr, "libusb_init: %s\n", libusb_error_name(r));
			failed++;
			continue;
		}
		if ((r = count_probes(ctx)) != s->want_probes) {
			fprintf(stderr, "found %d probes, not %d\n", r, s->want_probes);
			failed++;
		}
		libusb_exit(ctx);
	}
	for (unsigned k = 0; k < failed; k++)
		if (write(s->report, "x", 1) != 1)
			return 2;
	return failed ? 1 : 0;
}

/* The symptom: 16 processes x 50 libusb_init at once. Before the shim, 14 of 800
 * failed on a loaded machine; none may. */
START_TEST(libusb_init_storm)
{
	const char *serials = getenv("LPA_SIM_SERIALS");
	struct storm s = {.loops = 50};
	int rep[2];
	unsigned procs = 16, bad, failed = 0;
	char c;

	ck_assert_msg(serials != NULL, "run under lpa-sim");
	s.want_probes = 1;
	for (const char *p = serials; *p; p++)
		s.want_probes += *p == ' ';
	ck_assert_int_eq(pipe2(rep, O_CLOEXEC), 0);
	s.report = rep[1];
	bad = run_children(procs, storm_child, &s);
	close(rep[1]);
	while (read(rep[0], &c, 1) == 1)
		failed++;
	close(rep[0]);
	printf("usb-init storm: %u processes x %u libusb_init, %u failed\n", procs, s.loops,
	       failed);
	fflush(stdout);
	ck_assert_uint_eq(failed, 0);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

struct paths {
	int report;  /* write end: each child's bound path, one line */
	int release; /* read end: children hold their socket until it closes */
};

static int path_child(unsigned idx, void *arg)
{
	struct paths *p = arg;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK, .nl_groups = 1};
	struct sockaddr_un un;
	socklen_t len = sizeof(un);
	char line[sizeof(un.sun_path) + 2], c;
	int fd, n;

	(void)idx;
	/* The same fd number in every child: the socket is each one's first new fd. */
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (fd < 0 || bind(fd, (struct sockaddr *)&nl, sizeof(nl)) != 0) {
		fprintf(stderr, "uevent socket: %s\n", strerror(errno));
		return 1;
	}
	memset(&un, 0, sizeof(un));
	if (getsockname(fd, (struct sockaddr *)&un, &len) != 0 || un.sun_family != AF_UNIX) {
		fprintf(stderr, "not a umockdev uevent socket\n");
		return 1;
	}
	n = snprintf(line, sizeof(line), "%s\n", un.sun_path);
	if (write(p->report, line, (size_t)n) != n)
		return 1;
	if (read(p->release, &c, 1) != 0)
		return 1;
	close(fd);
	return 0;
}

/* The cause, deterministically: processes holding their uevent sockets at the same
 * time (same fd number) are bound to distinct paths. */
START_TEST(uevent_paths_distinct)
{
	struct paths p;
	int rep[2], rel[2];
	char buf[8192], *save, *line;
	const char *seen[16];
	size_t len = 0;
	unsigned n = 0, procs = 8;
	pid_t pid;
	ssize_t r;
	int st;

	ck_assert_ptr_nonnull(getenv("UMOCKDEV_DIR"));
	ck_assert_int_eq(pipe2(rep, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(rel, O_CLOEXEC), 0);
	p.report = rep[1];
	p.release = rel[0];
	/* A runner process forks the children, so that they hold their sockets until all
	 * paths have been read here. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(rep[0]);
		close(rel[1]);
		_exit(run_children(procs, path_child, &p) ? 1 : 0);
	}
	close(rep[1]);
	close(rel[0]);
	while (n < procs && (r = read(rep[0], buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)r;
		n = 0;
		for (size_t i = 0; i < len; i++)
			n += buf[i] == '\n';
	}
	close(rel[1]); /* release them */
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child failed");
	close(rep[0]);
	buf[len] = '\0';
	n = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		for (unsigned i = 0; i < n; i++)
			ck_assert_msg(strcmp(seen[i], line) != 0, "two processes bound %s", line);
		ck_assert_uint_lt(n, TU_N(seen));
		seen[n++] = line;
	}
	ck_assert_uint_eq(n, procs);
}
END_TEST

static volatile int hammer_stop;

/* Wrapped calls in a loop: umockdev's path lock is held most of the time. (No device
 * node: umockdev's table of open device fds is not safe against concurrent open/close of
 * one node, which would leak entries here.) */
static void *hammer(void *arg)
{
	struct stat st;

	(void)arg;
	while (!hammer_stop) {
		int fd = open("/sys/bus/usb/devices/1-1/idVendor", O_RDONLY | O_CLOEXEC);

		if (fd >= 0)
			close(fd);
		stat("/sys/bus/usb/devices", &st);
	}
	return NULL;
}

/* Forks while four threads hammer umockdev's wrappers; each child makes wrapped calls
 * (as a spawn does before exec) and exits. A child still running 10 s later is stuck on
 * a lock that its parent's thread held at fork time; the first one ends the test. */
START_TEST(fork_while_threads_in_wrappers)
{
	pthread_t t[4];
	unsigned forks = 400, stuck = 0, k;

	ck_assert_ptr_nonnull(getenv("UMOCKDEV_DIR"));
	for (unsigned i = 0; i < TU_N(t); i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (k = 0; k < forks && !stuck; k++) {
		struct timespec nap = {0, 1000 * 1000};
		pid_t pid = fork();
		int st, waited = 0;

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			int fd = open("/dev/null", O_RDWR);
			struct stat sb;

			stat("/dev/bus/usb/001/002", &sb);
			_exit(fd >= 0 ? 0 : 1);
		}
		while (waitpid(pid, &st, WNOHANG) == 0) {
			if (++waited == 10000) {
				kill(pid, SIGKILL);
				ck_assert_int_eq(waitpid(pid, &st, 0), pid);
				stuck++;
				break;
			}
			nanosleep(&nap, NULL);
		}
	}
	hammer_stop = 1;
	for (unsigned i = 0; i < TU_N(t); i++)
		pthread_join(t[i], NULL);
	printf("fork storm: %u forks under 4 busy threads, %u child stuck\n", k, stuck);
	fflush(stdout);
	ck_assert_uint_eq(stuck, 0);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(uevent_paths_distinct),
		TU_CASE_SLOW(libusb_init_storm, 120),
		TU_CASE_SLOW(fork_while_threads_in_wrappers, 120),
	};

	return tu_main("sim-preload", cases, TU_N(cases));
}
