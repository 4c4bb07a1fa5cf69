/*
 * openocd.c — the OpenOCD backend of the link: one spawned `openocd` per link (per
 * probe), driven over its Tcl RPC port (tcl-rpc.c).
 *
 * Target configuration: a DAP and three mem_ap targets (AP0 system, AP1 CM0+, AP2 CM4),
 * not the stock target/psoc6.cfg. Measured against the simulator (docs/programmer.md):
 * the stock file examines and polls both Cortex-M cores (71 USB round trips at init
 * instead of 35, and about 520 more every second while idle, reading DHCSR) and installs
 * reset handlers that halt the cores; the CM0+ must keep running for IPC/SROM calls to
 * complete. mem_ap targets touch nothing but the APs we ask for.
 *
 * OpenOCD reports most failures only as text: the Tcl result of read_memory is a
 * generic "failed to read memory"; whether the target answered WAIT, FAULT or nothing is
 * a debug-level log line ("SWD ack not OK @ n WAIT"), the address a log line ("Failed
 * to read memory at 0x..."). So OpenOCD runs at debug_level 3 with its stderr on a pipe
 * that we drain while waiting for every reply (it would block on a full pipe), and each
 * request's lines are classified into LPA_ERR_* (openocd_scan_line).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "programmer-private.h"
#include "tcl-rpc.h"

#define OPENOCD_DAP "lpa.dap"
#define OPENOCD_N_APS 3 /* mem_ap targets lpa.ap0 .. lpa.ap2 */
/* Words per Tcl request, and per read_memory/write_memory inside it. A request is one
 * round trip to OpenOCD; the inner pieces bound what a WAIT costs: the pieces before it
 * are delivered, the request resumes at the piece that failed. */
#define OPENOCD_REQ_WORDS 1024
#define OPENOCD_PIECE_WORDS 64
#define OPENOCD_SCRIPT_MAX (OPENOCD_REQ_WORDS * 12 + 4096)
#define OPENOCD_LOG_TAIL 2048
#define OPENOCD_LINE_MAX 512
#define OPENOCD_SPAWN_TRIES 3

/* What OpenOCD's log said during one request. */
struct openocd_diag {
	bool wait, fault, noack, nodev, noprobe, timeout, not_examined, bind_failed;
	bool have_addr;
	uint32_t addr;
	char first_error[200];
};

struct openocd {
	/* settings */
	char *path, *adapter, *serial;
	unsigned timeout_ms, clock_khz;
	/* the running OpenOCD */
	pid_t pid; /* 0: not running */
	int err_fd;
	uint16_t port;
	char token[33];
	char dir[64], cfg[96]; /* private temp dir with the generated configuration */
	struct tcl_rpc rpc;
	/* its stderr */
	char line[OPENOCD_LINE_MAX];
	size_t line_len;
	char tail[OPENOCD_LOG_TAIL]; /* the last bytes, for "OpenOCD said ..." */
	size_t tail_len;
	struct openocd_diag diag;
	char probe_serial[64], probe_fw[32];
	/* totals over every OpenOCD this link ran */
	struct prog_counters ctr;
	char err[256];
	char *script;
	uint32_t vals[OPENOCD_REQ_WORDS]; /* values of one read request */
};

static int64_t openocd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void openocd_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------- stderr */

/* The message of a log line: without "Error: " and the debug-level "n t file:l fn(): ". */
static const char *openocd_line_msg(const char *line, bool *is_error)
{
	const char *p = line, *q;

	*is_error = strncmp(p, "Error: ", 7) == 0;
	if (*is_error)
		p += 7;
	else if (strncmp(p, "Info : ", 7) == 0 || strncmp(p, "Warn : ", 7) == 0 ||
		 strncmp(p, "Debug: ", 7) == 0 || strncmp(p, "User : ", 7) == 0)
		p += 7;
	if (*p >= '0' && *p <= '9' && (q = strstr(p, "(): ")) != NULL)
		p = q + 4;
	return p;
}

static void openocd_scan_line(struct openocd *o, const char *line)
{
	struct openocd_diag *d = &o->diag;
	bool is_error;
	const char *msg = openocd_line_msg(line, &is_error), *at;
	unsigned long a;

	if ((at = strstr(msg, "SWD ack not OK")) != NULL) {
		/* The first failing ack decides: later lines come from reconnect attempts. */
		if (!d->wait && !d->fault && !d->noack) {
			if (strstr(at, " WAIT") != NULL)
				d->wait = true;
			else if (strstr(at, " FAULT") != NULL)
				d->fault = true;
			else
				d->noack = true;
		}
	}
	if (strstr(msg, "Error connecting DP") != NULL || strstr(msg, "cannot read IDR") != NULL)
		d->noack = true;
	if (strstr(msg, "No such device") != NULL ||
	    strstr(msg, "LIBUSB_ERROR_NO_DEVICE") != NULL ||
	    strstr(msg, "may have been disconnected") != NULL)
		d->nodev = true;
	if (strstr(msg, "unable to find a matching CMSIS-DAP device") != NULL ||
	    strstr(msg, "No CMSIS-DAP device found") != NULL ||
	    strstr(msg, "unable to open CMSIS-DAP device") != NULL)
		d->noprobe = true;
	if (strstr(msg, "Target not examined yet") != NULL)
		d->not_examined = true;
	if (strstr(msg, "couldn't bind") != NULL || strstr(msg, "Address already in use") != NULL)
		d->bind_failed = true;
	if (is_error && (strstr(msg, "timed out") != NULL || strstr(msg, "timeout") != NULL))
		d->timeout = true;
	if (!d->have_addr && ((at = strstr(msg, "Failed to read memory at 0x")) != NULL ||
			      (at = strstr(msg, "Failed to write memory at 0x")) != NULL)) {
		char *end;

		at = strstr(at, "0x");
		a = strtoul(at, &end, 16);
		if (end != at && a <= 0xFFFFFFFFul) {
			d->have_addr = true;
			d->addr = (uint32_t)a;
		}
	}
	if ((at = strstr(msg, "CMSIS-DAP: Serial# = ")) != NULL)
		snprintf(o->probe_serial, sizeof(o->probe_serial), "%s", at + 21);
	if ((at = strstr(msg, "CMSIS-DAP: FW Version = ")) != NULL)
		snprintf(o->probe_fw, sizeof(o->probe_fw), "%s", at + 24);
	if (is_error && d->first_error[0] == '\0')
		snprintf(d->first_error, sizeof(d->first_error), "%s", msg);
}

static void openocd_keep_tail(struct openocd *o, const char *buf, size_t n)
{
	if (n >= sizeof(o->tail)) {
		memcpy(o->tail, buf + n - sizeof(o->tail), sizeof(o->tail));
		o->tail_len = sizeof(o->tail);
		return;
	}
	if (o->tail_len + n > sizeof(o->tail)) {
		size_t drop = o->tail_len + n - sizeof(o->tail);

		memmove(o->tail, o->tail + drop, o->tail_len - drop);
		o->tail_len -= drop;
	}
	memcpy(o->tail + o->tail_len, buf, n);
	o->tail_len += n;
}

/* Reads whatever OpenOCD wrote to stderr so far (never blocks). */
static void openocd_drain(void *ctx)
{
	struct openocd *o = ctx;
	char buf[4096];
	ssize_t n;

	while (o->err_fd >= 0 && (n = read(o->err_fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				goto eof;
			return;
		}
		openocd_keep_tail(o, buf, (size_t)n);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || buf[i] == '\r') {
				o->line[o->line_len] = '\0';
				if (o->line_len > 0)
					openocd_scan_line(o, o->line);
				o->line_len = 0;
			} else if (o->line_len < sizeof(o->line) - 1) {
				/* Longer lines (the echoed commands) are cut: their ends say
				 * nothing we look for. */
				o->line[o->line_len++] = buf[i];
			}
		}
	}
eof:
	/* OpenOCD closed its stderr: it is exiting. */
	close(o->err_fd);
	o->err_fd = -1;
	o->rpc.aux_fd = -1;
}

/* The last lines of OpenOCD's stderr that carry errors, for last_error. */
static void openocd_tail_errors(struct openocd *o, char *out, size_t out_len)
{
	char copy[OPENOCD_LOG_TAIL + 1], *save = NULL, *l;
	size_t o_len = 0;

	memcpy(copy, o->tail, o->tail_len);
	copy[o->tail_len] = '\0';
	out[0] = '\0';
	for (l = strtok_r(copy, "\r\n", &save); l != NULL; l = strtok_r(NULL, "\r\n", &save)) {
		bool is_error;
		const char *msg = openocd_line_msg(l, &is_error);
		int n;

		if (!is_error)
			continue;
		n = snprintf(out + o_len, out_len - o_len, "%s%s", o_len ? "; " : "", msg);
		if (n < 0 || (size_t)n >= out_len - o_len)
			break;
		o_len += (size_t)n;
	}
}

/* ------------------------------------------------------------- process */

/* Waits (bounded) for the child to exit; true when it was reaped. */
static bool openocd_reap(struct openocd *o, unsigned ms, int *status)
{
	int64_t deadline = openocd_now_ms() + ms;

	for (;;) {
		pid_t r = waitpid(o->pid, status, WNOHANG);

		if (r == o->pid || (r < 0 && errno == ECHILD)) {
			o->pid = 0;
			return true;
		}
		if (openocd_now_ms() >= deadline)
			return false;
		openocd_drain(o);
		openocd_sleep_ms(5);
	}
}

/* Stops OpenOCD: "shutdown" (it then releases the probe, DAP_Disconnect), bounded; then
 * SIGTERM, then SIGKILL. Always reaps. */
static void openocd_stop(struct openocd *o)
{
	int status;

	if (o->pid > 0) {
		if (o->rpc.fd >= 0)
			(void)tcl_rpc_call(&o->rpc, "shutdown", o->timeout_ms);
		if (!openocd_reap(o, o->timeout_ms, &status)) {
			kill(o->pid, SIGTERM);
			if (!openocd_reap(o, 500, &status)) {
				kill(o->pid, SIGKILL);
				while (waitpid(o->pid, &status, 0) < 0 && errno == EINTR)
					;
				o->pid = 0;
			}
		}
	}
	o->ctr.round_trips += o->rpc.answers;
	o->ctr.commands += o->rpc.requests;
	o->ctr.bytes_out += o->rpc.bytes_out;
	o->ctr.bytes_in += o->rpc.bytes_in;
	o->rpc.answers = o->rpc.requests = o->rpc.bytes_out = o->rpc.bytes_in = 0;
	tcl_rpc_close(&o->rpc);
	if (o->err_fd >= 0) {
		openocd_drain(o);
		if (o->err_fd >= 0)
			close(o->err_fd);
	}
	o->err_fd = -1;
	o->rpc.aux_fd = -1;
	if (o->cfg[0] != '\0')
		unlink(o->cfg);
	if (o->dir[0] != '\0')
		rmdir(o->dir);
	o->cfg[0] = o->dir[0] = '\0';
}

/* A loopback port nobody listens on right now. OpenOCD may still lose it to another
 * process before it binds; openocd_start then retries, and the token check makes sure we
 * never talk to somebody else's OpenOCD. */
static int openocd_free_port(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r = LPA_ERR_SYSTEM;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return LPA_ERR_SYSTEM;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
		*port = ntohs(sa.sin_port);
		r = LPA_OK;
	}
	close(fd);
	return r;
}

/* Names that go into the configuration unquoted: nothing Tcl would interpret. */
static bool openocd_safe_word(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.' || *s == ':'))
			return false;
	return true;
}

static int openocd_write_cfg(struct openocd *o)
{
	const char *tmp = getenv("TMPDIR");
	FILE *f = NULL;
	int fd, r = LPA_ERR_SYSTEM;

	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(o->dir, sizeof(o->dir), "%s/lpa-openocd-XXXXXX", tmp);
	if (mkdtemp(o->dir) == NULL) { /* mode 0700 */
		snprintf(o->err, sizeof(o->err), "mkdtemp: %s", strerror(errno));
		o->dir[0] = '\0';
		return LPA_ERR_SYSTEM;
	}
	snprintf(o->cfg, sizeof(o->cfg), "%s/lpa.cfg", o->dir);
	if ((fd = open(o->cfg, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		snprintf(o->err, sizeof(o->err), "%s: %s", o->cfg, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	fprintf(f,
		"# Generated by lpa (programmer/openocd.c) for one link; removed when it ends.\n"
		"debug_level 3\n"
		"set lpa_token %s\n"
		"bindto 127.0.0.1\n"
		"tcl_port %u\n"
		"gdb_port disabled\n"
		"telnet_port disabled\n"
		"adapter driver %s\n",
		o->token, o->port, o->adapter);
	if (strcmp(o->adapter, "cmsis-dap") == 0)
		fprintf(f, "cmsis_dap_backend usb_bulk\n");
	if (o->serial != NULL)
		fprintf(f, "adapter serial %s\n", o->serial);
	fprintf(f,
		"transport select swd\n"
		"adapter speed %u\n"
		/* No core targets: see the top of this file. */
		"swd newdap lpa cpu -irlen 4\n"
		"dap create " OPENOCD_DAP " -chain-position lpa.cpu\n",
		o->clock_khz);
	for (unsigned ap = 0; ap < OPENOCD_N_APS; ap++)
		fprintf(f, "target create lpa.ap%u mem_ap -dap " OPENOCD_DAP " -ap-num %u\n", ap,
			ap);
	/* init comes from the client, so that its failure reaches us as a reply. */
	fprintf(f, "noinit\n");
	r = fflush(f) == 0 && ferror(f) == 0 ? LPA_OK : LPA_ERR_SYSTEM;
out:
	if (f != NULL && fclose(f) != 0)
		r = LPA_ERR_SYSTEM;
	return r;
}

/* fork/exec as OpenSSH's start_helper: a close-on-exec pipe tells exec failure (the
 * child writes errno into it) from success (EOF at exec). */
static int openocd_spawn(struct openocd *o)
{
	int ep[2] = {-1, -1}, errp[2] = {-1, -1}, e = 0, r = LPA_ERR_SYSTEM;
	char *argv[] = {o->path, "-f", o->cfg, NULL};
	pid_t pid;
	ssize_t n;

	if (pipe2(ep, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		snprintf(o->err, sizeof(o->err), "pipe: %s", strerror(errno));
		goto out;
	}
	if ((pid = fork()) < 0) {
		snprintf(o->err, sizeof(o->err), "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		int devnull = open("/dev/null", O_RDWR);
		int rep = fcntl(ep[1], F_DUPFD_CLOEXEC, 10);
		int err = fcntl(errp[1], F_DUPFD_CLOEXEC, 10);

		if (devnull < 0 || rep < 0 || err < 0 || dup2(devnull, 0) < 0 || dup2(err, 1) < 0 ||
		    dup2(err, 2) < 0 || chdir(o->dir) != 0)
			_exit(127);
		/* Nothing else of ours leaks into OpenOCD (other links' sockets). */
		if (rep != 3 && dup3(rep, 3, O_CLOEXEC) < 0)
			_exit(127);
		closefrom(4);
		execvp(argv[0], argv);
		e = errno;
		(void)!write(3, &e, sizeof(e));
		_exit(127);
	}
	o->pid = pid;
	close(ep[1]);
	close(errp[1]);
	ep[1] = errp[1] = -1;
	while ((n = read(ep[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(e)) {
		int status;

		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		o->pid = 0;
		snprintf(o->err, sizeof(o->err), "cannot run %s: %s", o->path, strerror(e));
		r = e == ENOENT || e == EACCES ? LPA_ERR_NOT_FOUND : LPA_ERR_SYSTEM;
		goto out;
	}
	o->err_fd = errp[0];
	errp[0] = -1;
	(void)fcntl(o->err_fd, F_SETFL, fcntl(o->err_fd, F_GETFL) | O_NONBLOCK);
	o->rpc.aux_fd = o->err_fd;
	o->rpc.aux_cb = openocd_drain;
	o->rpc.aux_ctx = o;
	r = LPA_OK;
out:
	for (int i = 0; i < 2; i++) {
		if (ep[i] >= 0)
			close(ep[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return r;
}

/* The child exited early: its stderr says why. */
static int openocd_died(struct openocd *o, int status)
{
	char why[200];

	openocd_drain(o);
	openocd_tail_errors(o, why, sizeof(why));
	if (why[0] == '\0') {
		/* No "Error:" line (a crash, a library's own message): its last line. */
		size_t end = o->tail_len, start;

		while (end > 0 && (o->tail[end - 1] == '\n' || o->tail[end - 1] == '\r'))
			end--;
		for (start = end; start > 0 && o->tail[start - 1] != '\n'; start--)
			;
		tcl_rpc_quote(o->tail + start, end - start, why, sizeof(why));
	}
	if (WIFEXITED(status))
		snprintf(o->err, sizeof(o->err), "OpenOCD exited with status %d: %s",
			 WEXITSTATUS(status), why[0] ? why : "(no error message)");
	else
		snprintf(o->err, sizeof(o->err), "OpenOCD killed by signal %d: %s",
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0, why);
	o->pid = 0;
	if (o->diag.noprobe)
		return LPA_ERR_NOT_FOUND;
	return o->diag.nodev ? LPA_ERR_PROBE_GONE : LPA_ERR_PROTOCOL;
}

/* Connects to the Tcl port of the OpenOCD just spawned, retrying until it listens. */
static int openocd_attach(struct openocd *o)
{
	int64_t deadline = openocd_now_ms() + o->timeout_ms;
	int status;

	for (;;) {
		openocd_drain(o);
		if (waitpid(o->pid, &status, WNOHANG) == o->pid)
			return openocd_died(o, status);
		if (tcl_rpc_connect(&o->rpc, o->port, o->timeout_ms) == LPA_OK)
			break;
		if (openocd_now_ms() >= deadline) {
			snprintf(o->err, sizeof(o->err),
				 "OpenOCD did not open its Tcl port %u in %u ms", o->port,
				 o->timeout_ms);
			return LPA_ERR_TIMEOUT;
		}
		openocd_sleep_ms(10);
	}
	/* Another process could have been listening on that port. */
	if (tcl_rpc_call(&o->rpc, "set lpa_token", o->timeout_ms) != LPA_OK ||
	    strcmp(o->rpc.reply, o->token) != 0) {
		snprintf(o->err, sizeof(o->err), "port %u is not our OpenOCD", o->port);
		return LPA_ERR_PROTOCOL;
	}
	return LPA_OK;
}

/* ------------------------------------------------------------- requests */

/* Maps what the log said (and catch's code) to an error; fills o->err. */
static int openocd_classify(struct openocd *o, int rc, const char *text, size_t text_len)
{
	const struct openocd_diag *d = &o->diag;
	char quoted[120];
	int r;

	if (d->nodev)
		r = LPA_ERR_PROBE_GONE;
	else if (d->noack)
		r = LPA_ERR_NO_TARGET;
	else if (d->fault)
		r = LPA_ERR_FAULT;
	else if (d->wait || rc == -5) /* OpenOCD's ERROR_WAIT */
		r = LPA_ERR_WAIT;
	else if (d->timeout || rc == -6) /* ERROR_TIMEOUT_REACHED */
		r = LPA_ERR_TIMEOUT;
	else
		r = LPA_ERR_PROTOCOL;
	tcl_rpc_quote(text, text_len, quoted, sizeof(quoted));
	if (d->first_error[0] != '\0')
		snprintf(o->err, sizeof(o->err), "OpenOCD: %s", d->first_error);
	else
		snprintf(o->err, sizeof(o->err), "OpenOCD: error %d: %s", rc, quoted);
	return r;
}

/*
 * One script, one reply. After a transport failure OpenOCD is stopped (a late reply
 * would be taken for the next one's) and the error says what its stderr said.
 */
static int openocd_call(struct openocd *o, const char *script)
{
	int r, status;

	if (o->pid == 0) {
		snprintf(o->err, sizeof(o->err), "OpenOCD is not running (connect first)");
		return LPA_ERR_NO_TARGET;
	}
	openocd_drain(o);
	memset(&o->diag, 0, sizeof(o->diag));
	r = tcl_rpc_call(&o->rpc, script, o->timeout_ms);
	openocd_drain(o);
	if (r == LPA_OK)
		return LPA_OK;
	snprintf(o->err, sizeof(o->err), "%s", o->rpc.err);
	if (r == LPA_ERR_PROBE_GONE) {
		/* Did it die? Give it a moment to finish, then report its last words. */
		if (openocd_reap(o, 200, &status))
			r = openocd_died(o, status);
	}
	if (r == LPA_ERR_PROBE_GONE && !o->diag.nodev)
		r = LPA_ERR_PROTOCOL;
	openocd_stop(o);
	return r;
}

/* A wrapped command: LPA_OK with *text the result, or the classified error. */
static int openocd_cmd(struct openocd *o, const char *cmd, const char **text, size_t *text_len)
{
	char quoted[120];
	int r, rc;

	if ((r = tcl_rpc_wrap(cmd, o->script, OPENOCD_SCRIPT_MAX)) != LPA_OK ||
	    (r = openocd_call(o, o->script)) != LPA_OK)
		return r;
	if (tcl_rpc_parse_reply(o->rpc.reply, o->rpc.reply_len, &rc, text, text_len) != LPA_OK) {
		tcl_rpc_quote(o->rpc.reply, o->rpc.reply_len, quoted, sizeof(quoted));
		snprintf(o->err, sizeof(o->err), "malformed reply from OpenOCD: \"%s\"", quoted);
		return LPA_ERR_PROTOCOL;
	}
	if (rc != 0)
		return openocd_classify(o, rc, *text, *text_len);
	return LPA_OK;
}

static int openocd_cmd_u32(struct openocd *o, const char *cmd, uint32_t *val)
{
	const char *text;
	size_t len;
	char quoted[120];
	int r;

	if ((r = openocd_cmd(o, cmd, &text, &len)) != LPA_OK)
		return r;
	if (tcl_rpc_parse_u32s(text, len, UINT32_MAX, val, 1) != LPA_OK) {
		tcl_rpc_quote(text, len, quoted, sizeof(quoted));
		snprintf(o->err, sizeof(o->err), "unexpected value from OpenOCD: \"%s\"", quoted);
		return LPA_ERR_PROTOCOL;
	}
	return LPA_OK;
}

/* Starts OpenOCD and initialises the adapter and the DAP. A missing target is not an
 * error here (connect says so); a missing probe is. */
static int openocd_start(struct openocd *o)
{
	const char *text;
	size_t len;
	int r = LPA_ERR_SYSTEM;
	uint8_t rnd[16];

	for (int attempt = 0; attempt < OPENOCD_SPAWN_TRIES; attempt++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return LPA_ERR_SYSTEM;
		lpa_hex_encode(rnd, sizeof(rnd), o->token);
		memset(&o->diag, 0, sizeof(o->diag));
		o->tail_len = o->line_len = 0;
		if ((r = openocd_free_port(&o->port)) != LPA_OK ||
		    (r = openocd_write_cfg(o)) != LPA_OK || (r = openocd_spawn(o)) != LPA_OK)
			goto fail;
		r = openocd_attach(o);
		/* The configuration has been read: it need not outlive the start. */
		unlink(o->cfg);
		rmdir(o->dir);
		o->cfg[0] = o->dir[0] = '\0';
		if (r == LPA_OK)
			break;
		/* Lost the port to another process: try another one. */
		if (!o->diag.bind_failed && r != LPA_ERR_PROTOCOL)
			goto fail;
		openocd_stop(o);
	}
	if (r != LPA_OK)
		goto fail;
	r = openocd_cmd(o, "init", &text, &len);
	if (r == LPA_ERR_NO_TARGET)
		r = LPA_OK; /* the probe is there, the socket is empty */
	if (r != LPA_OK) {
		if (o->diag.noprobe) {
			snprintf(o->err, sizeof(o->err), "OpenOCD: %s",
				 o->diag.first_error[0] ? o->diag.first_error : "no such probe");
			r = LPA_ERR_NOT_FOUND;
		}
		goto fail;
	}
	/* No background polling: every USB round trip is one we asked for. */
	if ((r = openocd_cmd(o, "poll off", &text, &len)) != LPA_OK)
		goto fail;
	return LPA_OK;
fail:
	openocd_stop(o);
	return r;
}

/* ------------------------------------------------------------- link ops */
static int openocd_dp_read(void *ctx, uint8_t reg, uint32_t *val)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), OPENOCD_DAP " dpreg 0x%x", reg);
	return openocd_cmd_u32(ctx, cmd, val);
}

static int openocd_dp_write(void *ctx, uint8_t reg, uint32_t val)
{
	char cmd[64];
	const char *text;
	size_t len;

	snprintf(cmd, sizeof(cmd), OPENOCD_DAP " dpreg 0x%x 0x%08x", reg, val);
	return openocd_cmd(ctx, cmd, &text, &len);
}

static int openocd_ap_read(void *ctx, uint8_t ap, uint8_t reg, uint32_t *val)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), OPENOCD_DAP " apreg %u 0x%x", ap, reg);
	return openocd_cmd_u32(ctx, cmd, val);
}

static int openocd_ap_write(void *ctx, uint8_t ap, uint8_t reg, uint32_t val)
{
	char cmd[64];
	const char *text;
	size_t len;

	snprintf(cmd, sizeof(cmd), OPENOCD_DAP " apreg %u 0x%x 0x%08x", ap, reg, val);
	return openocd_cmd(ctx, cmd, &text, &len);
}

/* Appends to the script buffer; false when it is full. */
static bool openocd_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool openocd_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

/*
 * One request moving up to OPENOCD_REQ_WORDS units at addr, in pieces of
 * OPENOCD_PIECE_WORDS. The reply is "<rc> <units done> [values...]": on failure the
 * pieces before the failing one count as done (and, for reads, their data comes back).
 */
static int openocd_mem_req(struct openocd *o, bool write, uint8_t ap, uint32_t addr, unsigned size,
			   uint8_t *buf, size_t units, size_t *done)
{
	size_t len = 0, tlen;
	const char *text, *sp;
	char quoted[120];
	int r, rc;
	uint32_t ndone;

	*done = 0;
	if (!openocd_append(o->script, OPENOCD_SCRIPT_MAX, &len,
			    "set lpa_n 0; set lpa_d {}; set lpa_rc [catch {"
			    "if {![lpa.ap%u was_examined]} {lpa.ap%u arp_examine}; "
			    "foreach {a k v} {",
			    ap, ap))
		return LPA_ERR_NOMEM;
	for (size_t i = 0; i < units; i += OPENOCD_PIECE_WORDS) {
		size_t k = units - i < OPENOCD_PIECE_WORDS ? units - i : OPENOCD_PIECE_WORDS;

		if (!openocd_append(o->script, OPENOCD_SCRIPT_MAX, &len, "0x%08x %zu {",
				    addr + (uint32_t)(i * size), k))
			return LPA_ERR_NOMEM;
		for (size_t j = 0; write && j < k; j++) {
			const uint8_t *p = buf + (i + j) * size;
			uint32_t v = size == 4 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 |
							 (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
					       : p[0];

			if (!openocd_append(o->script, OPENOCD_SCRIPT_MAX, &len, "%s0x%x",
					    j ? " " : "", v))
				return LPA_ERR_NOMEM;
		}
		if (!openocd_append(o->script, OPENOCD_SCRIPT_MAX, &len, "} "))
			return LPA_ERR_NOMEM;
	}
	if (write) {
		if (!openocd_append(o->script, OPENOCD_SCRIPT_MAX, &len,
				    "} {lpa.ap%u write_memory $a %u $v; incr lpa_n $k}} lpa_res]; "
				    "set lpa_out \"$lpa_rc $lpa_n\"",
				    ap, size * 8))
			return LPA_ERR_NOMEM;
	} else if (!openocd_append(o->script, OPENOCD_SCRIPT_MAX, &len,
				   "} {set lpa_d [concat $lpa_d [lpa.ap%u read_memory $a %u $k]]; "
				   "incr lpa_n $k}} lpa_res]; "
				   "set lpa_out \"$lpa_rc $lpa_n $lpa_d\"",
				   ap, size * 8)) {
		return LPA_ERR_NOMEM;
	}

	if ((r = openocd_call(o, o->script)) != LPA_OK)
		return r;
	if (tcl_rpc_parse_reply(o->rpc.reply, o->rpc.reply_len, &rc, &text, &tlen) != LPA_OK)
		goto proto;
	/* "<units done>" then, for reads, exactly that many values. */
	sp = memchr(text, ' ', tlen);
	if (tcl_rpc_parse_u32s(text, sp ? (size_t)(sp - text) : tlen, (uint32_t)units, &ndone, 1) !=
		    LPA_OK ||
	    (rc == 0 && ndone != units) || (rc != 0 && ndone % OPENOCD_PIECE_WORDS != 0))
		goto proto;
	if (!write) {
		const char *vtext = sp ? sp + 1 : text + tlen;
		size_t vlen = sp ? tlen - (size_t)(sp + 1 - text) : 0;

		if (tcl_rpc_parse_u32s(vtext, vlen, size == 4 ? UINT32_MAX : 0xFF, o->vals,
				       ndone) != LPA_OK)
			goto proto;
		for (size_t i = 0; i < ndone; i++) {
			uint8_t *p = buf + i * size;

			p[0] = (uint8_t)o->vals[i];
			if (size == 4) {
				p[1] = (uint8_t)(o->vals[i] >> 8);
				p[2] = (uint8_t)(o->vals[i] >> 16);
				p[3] = (uint8_t)(o->vals[i] >> 24);
			}
		}
	} else if (sp != NULL) {
		goto proto;
	}
	*done = ndone;
	return rc == 0 ? LPA_OK : openocd_classify(o, rc, "", 0);
proto:
	tcl_rpc_quote(o->rpc.reply, o->rpc.reply_len, quoted, sizeof(quoted));
	snprintf(o->err, sizeof(o->err), "malformed reply from OpenOCD: \"%s\"", quoted);
	return LPA_ERR_PROTOCOL;
}

/*
 * A memory run: requests of up to OPENOCD_REQ_WORDS units. WAIT is retried here, from
 * the piece that met it, until timeout_ms has passed without the run completing: OpenOCD
 * reconnects after every failed transfer, so each retry is cheap, and a WAIT storm
 * longer than the probe's own retries is what the link expects us to ride out.
 */
static int openocd_mem(struct openocd *o, bool write, uint8_t ap, uint32_t addr, unsigned size,
		       uint8_t *buf, size_t len, uint32_t *fault_addr)
{
	int64_t deadline = openocd_now_ms() + o->timeout_ms;
	size_t units = len / size, off = 0;
	int r = LPA_OK;

	if (ap >= OPENOCD_N_APS) {
		snprintf(o->err, sizeof(o->err), "no mem_ap target for AP%u", ap);
		return LPA_ERR_UNSUPPORTED;
	}
	while (off < units) {
		size_t n = units - off < OPENOCD_REQ_WORDS ? units - off : OPENOCD_REQ_WORDS, done;
		uint32_t a = addr + (uint32_t)(off * size);

		r = openocd_mem_req(o, write, ap, a, size, buf + off * size, n, &done);
		off += done;
		*fault_addr = addr + (uint32_t)(off * size);
		if (r == LPA_OK)
			continue;
		if (r == LPA_ERR_FAULT) {
			/* OpenOCD read TAR after the fault: the word that failed. */
			if (o->diag.have_addr && o->diag.addr >= *fault_addr &&
			    o->diag.addr < addr + len)
				*fault_addr = o->diag.addr & ~(uint32_t)(size - 1);
			snprintf(o->err, sizeof(o->err), "bus fault at 0x%08x", *fault_addr);
			return r;
		}
		if (r != LPA_ERR_WAIT || openocd_now_ms() >= deadline)
			return r;
	}
	return LPA_OK;
}

static int openocd_mem_read(void *ctx, uint8_t ap, uint32_t addr, unsigned size, void *buf,
			    size_t len, uint32_t *fault_addr)
{
	return openocd_mem(ctx, false, ap, addr, size, buf, len, fault_addr);
}

static int openocd_mem_write(void *ctx, uint8_t ap, uint32_t addr, unsigned size, const void *buf,
			     size_t len, uint32_t *fault_addr)
{
	return openocd_mem(ctx, true, ap, addr, size, (uint8_t *)(uintptr_t)buf, len, fault_addr);
}

/*
 * OpenOCD's init (or its reconnect after a failed transfer) already did the SWD
 * bring-up; here: DPIDR (which makes OpenOCD reconnect if it needs to), and the
 * power-up acknowledge. OpenOCD is started again after disconnect().
 */
static int openocd_connect(void *ctx, uint32_t *dpidr)
{
	struct openocd *o = ctx;
	uint32_t ctrl = 0;
	int64_t deadline;
	int r;

	if (o->pid == 0 && (r = openocd_start(o)) != LPA_OK)
		return r;
	if ((r = openocd_dp_read(o, 0x0, dpidr)) != LPA_OK)
		return r;
	deadline = openocd_now_ms() + o->timeout_ms;
	for (;;) {
		if ((r = openocd_dp_read(o, 0x4, &ctrl)) != LPA_OK)
			return r;
		if ((ctrl & 0xA0000000u) == 0xA0000000u)
			return LPA_OK;
		if (openocd_now_ms() >= deadline) {
			snprintf(o->err, sizeof(o->err), "debug power-up not acknowledged");
			return LPA_ERR_TIMEOUT;
		}
		/* A chip swapped in behind OpenOCD's back: power it up ourselves. */
		if ((r = openocd_dp_write(o, 0x4, 0x50000000u)) != LPA_OK)
			return r;
	}
}

/* Ends the session with this chip: OpenOCD shuts down, which releases the probe
 * (DAP_Disconnect). The next connect() starts a new OpenOCD. */
static int openocd_disconnect(void *ctx)
{
	openocd_stop(ctx);
	return LPA_OK;
}

static void openocd_close(void *ctx)
{
	struct openocd *o = ctx;

	if (o == NULL)
		return;
	openocd_stop(o);
	free(o->rpc.reply);
	free(o->script);
	free(o->path);
	free(o->adapter);
	free(o->serial);
	free(o);
}

static int openocd_open(const struct prog_link_opts *opts, void **ctx, char *serial,
			size_t serial_len, char *firmware, size_t firmware_len)
{
	struct openocd *o;
	const char *adapter = opts->openocd_adapter ? opts->openocd_adapter : "cmsis-dap";
	int r;

	*ctx = NULL;
	if (!openocd_safe_word(adapter) ||
	    (opts->serial != NULL && !openocd_safe_word(opts->serial)))
		return LPA_ERR_INVAL;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return LPA_ERR_NOMEM;
	tcl_rpc_init(&o->rpc);
	o->err_fd = -1;
	o->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 2000;
	o->clock_khz = opts->clock_khz ? opts->clock_khz : 1000;
	if ((o->path = strdup(opts->openocd_path ? opts->openocd_path : "openocd")) == NULL ||
	    (o->adapter = strdup(adapter)) == NULL ||
	    (opts->serial != NULL && (o->serial = strdup(opts->serial)) == NULL) ||
	    (o->script = malloc(OPENOCD_SCRIPT_MAX)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	if ((r = openocd_start(o)) != LPA_OK)
		goto fail;
	snprintf(serial, serial_len, "%s",
		 o->probe_serial[0] ? o->probe_serial : (o->serial ? o->serial : ""));
	snprintf(firmware, firmware_len, "%s", o->probe_fw);
	*ctx = o;
	return LPA_OK;
fail:
	openocd_close(o);
	return r;
}

static void openocd_counters(void *ctx, struct prog_counters *c)
{
	struct openocd *o = ctx;

	*c = o->ctr;
	c->round_trips += o->rpc.answers;
	c->commands += o->rpc.requests;
	c->bytes_out += o->rpc.bytes_out;
	c->bytes_in += o->rpc.bytes_in;
}

static const char *openocd_last_error(void *ctx)
{
	return ((struct openocd *)ctx)->err;
}

const struct prog_link_ops prog_openocd_ops = {
	.name = "openocd",
	.open = openocd_open,
	.close = openocd_close,
	.connect = openocd_connect,
	.disconnect = openocd_disconnect,
	.dp_read = openocd_dp_read,
	.dp_write = openocd_dp_write,
	.ap_read = openocd_ap_read,
	.ap_write = openocd_ap_write,
	.mem_read = openocd_mem_read,
	.mem_write = openocd_mem_write,
	.counters = openocd_counters,
	.last_error = openocd_last_error,
};
