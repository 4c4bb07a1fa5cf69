/*
 * openocd.c — the OpenOCD backend of the link: one spawned `openocd` per link (per
 * probe), driven over its Tcl RPC port (tcl-rpc.c). The child's life is in
 * openocd-process.c, the reading of its log in openocd-log.c; here: its configuration,
 * the requests, and the link ops.
 *
 * Target configuration: a DAP and three mem_ap targets (AP0 system, AP1 CM0+, AP2 CM4),
 * not the stock target/psoc6.cfg. Measured against the simulator (docs/programmer.md):
 * the stock file examines and polls both Cortex-M cores (71 USB round trips at init
 * instead of 35, and about 520 more every second while idle, reading DHCSR) and installs
 * reset handlers that halt the cores; the CM0+ must keep running for IPC/SROM calls to
 * complete. mem_ap targets touch nothing but the APs we ask for. The one core target,
 * the CM0+ for OpenOCD's psoc6 flash driver, is examined only to write flash.
 *
 * OpenOCD reports most failures only as text, so it runs at debug_level 3 with its
 * output on a pipe that we drain while waiting for every reply (it would block on a full
 * pipe), and each request's lines are classified (openocd-log.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "openocd-log.h"
#include "openocd-process.h"
#include "programmer-private.h"
#include "tcl-rpc.h"

#define OPENOCD_DAP "lpa.dap"
#define OPENOCD_N_APS 3 /* mem_ap targets lpa.ap0 .. lpa.ap2 */
#define OPENOCD_CM0 "lpa.cm0"
/* Words per Tcl request, and per read_memory/write_memory inside it. A request is one
 * round trip to OpenOCD; the inner pieces bound what a WAIT costs: the pieces before it
 * are delivered, the request resumes at the piece that failed. */
#define OPENOCD_REQ_WORDS 1024
#define OPENOCD_PIECE_WORDS 64
#define OPENOCD_SCRIPT_MAX (OPENOCD_REQ_WORDS * 12 + 4096)
#define OPENOCD_CFG_MAX 2048
#define OPENOCD_SPAWN_TRIES 3

struct openocd {
	/* settings */
	char *exe; /* the resolved executable (openocd_process_resolve) */
	char *adapter, *serial;
	unsigned timeout_ms, clock_khz;
	/* the running OpenOCD */
	struct openocd_process proc;
	uint16_t port;
	char token[33];
	struct tcl_rpc rpc;
	struct openocd_log log; /* its output */
	/* totals over every OpenOCD this link ran */
	struct prog_counters ctr;
	char err[256];
	char *script;
	uint32_t vals[OPENOCD_REQ_WORDS]; /* values of one read request */
};

/* Appends to a buffer; false when it is full. */
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

/* ------------------------------------------------------------- the child */

/* Reads whatever OpenOCD wrote so far into the log (never blocks). */
static void openocd_drain(void *ctx)
{
	struct openocd *o = ctx;
	char buf[4096];
	ssize_t n;

	while ((n = openocd_process_read(&o->proc, buf, sizeof(buf))) > 0)
		openocd_log_feed(&o->log, buf, (size_t)n);
	if (o->proc.out_fd < 0)
		o->rpc.aux_fd = -1;
}

/*
 * Stops OpenOCD and reaps it, on every path. ask: the connection is in step, so
 * "shutdown" can be asked for (OpenOCD then releases the probe, DAP_Disconnect) and
 * waited for, bounded; otherwise (a reply that timed out, a broken connection) SIGTERM
 * at once, which OpenOCD also answers by releasing the probe; SIGKILL after that.
 */
static void openocd_stop(struct openocd *o, bool ask)
{
	ask = ask && o->proc.pid != 0 && o->rpc.fd >= 0;
	if (ask)
		(void)tcl_rpc_call(&o->rpc, "shutdown", o->timeout_ms);
	openocd_process_stop(&o->proc, ask ? o->timeout_ms : 0, openocd_drain, o);
	o->ctr.round_trips += o->rpc.answers;
	o->ctr.commands += o->rpc.requests;
	o->ctr.bytes_out += o->rpc.bytes_out;
	o->ctr.bytes_in += o->rpc.bytes_in;
	o->rpc.answers = o->rpc.requests = o->rpc.bytes_out = o->rpc.bytes_in = 0;
	tcl_rpc_close(&o->rpc);
	o->rpc.aux_fd = -1;
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
	return lpa_name_valid_extra(s, 63, ":");
}

/* The configuration of one OpenOCD, into cfg; its length, 0 when it does not fit. */
static size_t openocd_config(const struct openocd *o, char *cfg, size_t cap)
{
	size_t len = 0;
	bool ok = openocd_append(cfg, cap, &len,
				 "# Generated by lpa (programmer/openocd.c) for one link.\n"
				 "debug_level 3\n"
				 "set lpa_token %s\n"
				 "bindto 127.0.0.1\n"
				 "tcl_port %u\n"
				 "gdb_port disabled\n"
				 "telnet_port disabled\n"
				 "adapter driver %s\n",
				 o->token, o->port, o->adapter);

	if (ok && strcmp(o->adapter, "cmsis-dap") == 0)
		ok = openocd_append(cfg, cap, &len, "cmsis_dap_backend usb_bulk\n");
	if (ok && o->serial != NULL)
		ok = openocd_append(cfg, cap, &len, "adapter serial %s\n", o->serial);
	ok = ok && openocd_append(cfg, cap, &len,
				  "transport select swd\n"
				  "adapter speed %u\n"
				  /* No core targets: see the top of this file. */
				  "swd newdap lpa cpu -irlen 4\n"
				  "dap create " OPENOCD_DAP " -chain-position lpa.cpu\n",
				  o->clock_khz);
	for (unsigned ap = 0; ok && ap < OPENOCD_N_APS; ap++)
		ok = openocd_append(
			cfg, cap, &len,
			"target create lpa.ap%u mem_ap -dap " OPENOCD_DAP " -ap-num %u\n", ap, ap);
	/* The CM0+ as a core target, for OpenOCD's psoc6 flash driver only: examined when
	 * flash is written (openocd_flash_write), never polled before. Its algorithms'
	 * working area stays clear of the agent's protected RAM (the first 6 KiB) and of
	 * the SROM's top 2 KiB on every family. */
	ok = ok && openocd_append(cfg, cap, &len,
				  "target create " OPENOCD_CM0 " cortex_m -dap " OPENOCD_DAP
				  " -ap-num 1 -defer-examine -work-area-phys 0x08030000"
				  " -work-area-size 0x8000 -work-area-backup 0\n"
				  "flash bank lpa.main psoc6 0x10000000 0 0 0 " OPENOCD_CM0 "\n");
	/* init comes from the client, so that its failure reaches us as a reply. */
	ok = ok && openocd_append(cfg, cap, &len, "noinit\n");
	return ok ? len : 0;
}

/* The child exited early: its output says why. */
static int openocd_died(struct openocd *o, int status)
{
	char why[200];

	openocd_drain(o);
	openocd_log_errors(&o->log, why, sizeof(why));
	/* No "Error:" line (a crash, a library's own message): its last line. */
	if (why[0] == '\0')
		openocd_log_last_line(&o->log, why, sizeof(why));
	if (WIFEXITED(status))
		snprintf(o->err, sizeof(o->err), "OpenOCD exited with status %d: %s",
			 WEXITSTATUS(status), why[0] ? why : "(no error message)");
	else
		snprintf(o->err, sizeof(o->err), "OpenOCD killed by signal %d: %s",
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0, why);
	if (o->log.diag.noprobe)
		return LPA_ERR_NOT_FOUND;
	return o->log.diag.nodev ? LPA_ERR_PROBE_GONE : LPA_ERR_PROTOCOL;
}

/* Connects to the Tcl port of the OpenOCD just spawned, retrying until it listens. */
static int openocd_attach(struct openocd *o)
{
	uint64_t deadline = lpa_mono_ms() + o->timeout_ms;
	int status;

	for (;;) {
		openocd_drain(o);
		if (openocd_process_exited(&o->proc, &status))
			return openocd_died(o, status);
		if (tcl_rpc_connect(&o->rpc, o->port, o->timeout_ms) == LPA_OK)
			break;
		if (lpa_mono_ms() >= deadline) {
			snprintf(o->err, sizeof(o->err),
				 "OpenOCD did not open its Tcl port %u in %u ms", o->port,
				 o->timeout_ms);
			return LPA_ERR_TIMEOUT;
		}
		/* Woken early by its output or its exit. */
		if (openocd_process_wait(&o->proc, 10, &status, openocd_drain, o))
			return openocd_died(o, status);
	}
	/* Another process could have been listening on that port. */
	if (tcl_rpc_call(&o->rpc, "set lpa_token", o->timeout_ms) != LPA_OK ||
	    strcmp(o->rpc.reply, o->token) != 0) {
		/* Nothing more to say to it, not even "shutdown". */
		tcl_rpc_close(&o->rpc);
		snprintf(o->err, sizeof(o->err), "port %u is not our OpenOCD", o->port);
		return LPA_ERR_PROTOCOL;
	}
	return LPA_OK;
}

/* ------------------------------------------------------------- requests */

/* The classified error of a failed request (openocd_log_error); fills o->err. */
static int openocd_classify(struct openocd *o, int rc, const char *text, size_t text_len)
{
	const struct openocd_diag *d = &o->log.diag;
	char quoted[120];

	tcl_rpc_quote(text, text_len, quoted, sizeof(quoted));
	if (d->first_error[0] != '\0')
		snprintf(o->err, sizeof(o->err), "OpenOCD: %s", d->first_error);
	else
		snprintf(o->err, sizeof(o->err), "OpenOCD: error %d: %s", rc, quoted);
	return openocd_log_error(d, rc);
}

/*
 * One script, one reply. After a transport failure OpenOCD is stopped (a late reply
 * would be taken for the next one's) and the error says what its output said.
 */
static int openocd_call(struct openocd *o, const char *script)
{
	int r, status;

	if (o->proc.pid == 0) {
		snprintf(o->err, sizeof(o->err), "OpenOCD is not running (connect first)");
		return LPA_ERR_NO_TARGET;
	}
	openocd_drain(o);
	openocd_log_begin(&o->log);
	r = tcl_rpc_call(&o->rpc, script, o->timeout_ms);
	openocd_drain(o);
	if (r == LPA_OK)
		return LPA_OK;
	snprintf(o->err, sizeof(o->err), "%s", o->rpc.err);
	if (r == LPA_ERR_PROBE_GONE) {
		/* Did it die? Give it a moment to finish, then report its last words. */
		if (openocd_process_wait(&o->proc, 200, &status, openocd_drain, o))
			r = openocd_died(o, status);
	}
	if (r == LPA_ERR_PROBE_GONE && !o->log.diag.nodev)
		r = LPA_ERR_PROTOCOL;
	openocd_stop(o, false);
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
	char cfg[OPENOCD_CFG_MAX];

	for (int attempt = 0; attempt < OPENOCD_SPAWN_TRIES; attempt++) {
		size_t cfg_len;

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return LPA_ERR_SYSTEM;
		lpa_hex_encode(rnd, sizeof(rnd), o->token);
		openocd_log_reset(&o->log);
		if ((r = openocd_free_port(&o->port)) != LPA_OK)
			goto fail;
		if ((cfg_len = openocd_config(o, cfg, sizeof(cfg))) == 0) {
			snprintf(o->err, sizeof(o->err), "OpenOCD configuration too long");
			r = LPA_ERR_LENGTH;
			goto fail;
		}
		if ((r = openocd_process_spawn(&o->proc, o->exe, cfg, cfg_len, o->timeout_ms)) !=
		    LPA_OK) {
			snprintf(o->err, sizeof(o->err), "%s", o->proc.err);
			goto fail;
		}
		o->rpc.aux_fd = o->proc.out_fd;
		o->rpc.aux_cb = openocd_drain;
		o->rpc.aux_ctx = o;
		if ((r = openocd_attach(o)) == LPA_OK)
			break;
		/* Lost the port to another process: try another one. */
		if (!o->log.diag.bind_failed && r != LPA_ERR_PROTOCOL)
			goto fail;
		openocd_stop(o, false);
	}
	if (r != LPA_OK)
		goto fail;
	r = openocd_cmd(o, "init", &text, &len);
	if (r == LPA_ERR_NO_TARGET)
		r = LPA_OK; /* the probe is there, the socket is empty */
	if (r != LPA_OK) {
		if (o->log.diag.noprobe) {
			snprintf(o->err, sizeof(o->err), "OpenOCD: %s",
				 o->log.diag.first_error[0] ? o->log.diag.first_error
							    : "no such probe");
			r = LPA_ERR_NOT_FOUND;
		}
		goto fail;
	}
	/* No background polling: every USB round trip is one we asked for. */
	if ((r = openocd_cmd(o, "poll off", &text, &len)) != LPA_OK)
		goto fail;
	return LPA_OK;
fail:
	openocd_stop(o, o->rpc.fd >= 0);
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
	uint64_t deadline = lpa_mono_ms() + o->timeout_ms;
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
			if (o->log.diag.have_addr && o->log.diag.addr >= *fault_addr &&
			    o->log.diag.addr < addr + len)
				*fault_addr = o->log.diag.addr & ~(uint32_t)(size - 1);
			snprintf(o->err, sizeof(o->err), "bus fault at 0x%08x", *fault_addr);
			return r;
		}
		if (r != LPA_ERR_WAIT || lpa_mono_ms() >= deadline)
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
	uint64_t deadline;
	int r;

	if (o->proc.pid == 0 && (r = openocd_start(o)) != LPA_OK)
		return r;
	if ((r = openocd_dp_read(o, 0x0, dpidr)) != LPA_OK)
		return r;
	deadline = lpa_mono_ms() + o->timeout_ms;
	for (;;) {
		if ((r = openocd_dp_read(o, 0x4, &ctrl)) != LPA_OK)
			return r;
		if ((ctrl & 0xA0000000u) == 0xA0000000u)
			return LPA_OK;
		if (lpa_mono_ms() >= deadline) {
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
	openocd_stop(ctx, true);
	return LPA_OK;
}

static void openocd_close(void *ctx)
{
	struct openocd *o = ctx;

	if (o == NULL)
		return;
	openocd_stop(o, true);
	free(o->rpc.reply);
	free(o->script);
	free(o->exe);
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
	openocd_process_init(&o->proc);
	o->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 2000;
	o->clock_khz = opts->clock_khz ? opts->clock_khz : 1000;
	if ((o->adapter = strdup(adapter)) == NULL ||
	    (opts->serial != NULL && (o->serial = strdup(opts->serial)) == NULL) ||
	    (o->script = malloc(OPENOCD_SCRIPT_MAX)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	if ((r = openocd_process_resolve(opts->openocd_path ? opts->openocd_path : "openocd",
					 &o->exe, o->err, sizeof(o->err))) != LPA_OK ||
	    (r = openocd_start(o)) != LPA_OK)
		goto fail;
	snprintf(serial, serial_len, "%s",
		 o->log.probe_serial[0] ? o->log.probe_serial : (o->serial ? o->serial : ""));
	snprintf(firmware, firmware_len, "%s", o->log.probe_fw);
	*ctx = o;
	return LPA_OK;
fail:
	openocd_close(o);
	return r;
}

/*
 * Main flash through OpenOCD's psoc6 driver, as a factory's OpenOCD flow does it: the
 * CM0+ examined and halted (the driver runs its SROM park loop on it), then `flash
 * write_image erase` of the bytes from a private temporary file. Background polling is
 * turned off first: the examined core would otherwise be polled for the rest of the
 * link's life.
 */
static int openocd_flash_write(void *ctx, uint32_t addr, const void *data, size_t len)
{
	struct openocd *o = ctx;
	char path[] = "/tmp/lpa-flash-XXXXXX", cmd[256];
	const char *text;
	size_t tlen;
	unsigned saved = o->timeout_ms;
	int fd, r;

	if ((fd = mkstemp(path)) < 0)
		return LPA_ERR_SYSTEM;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return LPA_ERR_SYSTEM;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "poll off; " OPENOCD_CM0 " arp_examine; " OPENOCD_CM0 " arp_halt; " OPENOCD_CM0
		 " arp_waitstate halted %u; flash write_image erase %s 0x%08x bin",
		 saved, path, addr);
	/* Erase and program take the SROM about 16 ms a row; OpenOCD's own round trips
	 * add more. Bound the whole by the rows, generously. */
	o->timeout_ms = saved + (unsigned)(len / 512 + 1) * 200;
	r = openocd_cmd(o, cmd, &text, &tlen);
	o->timeout_ms = saved;
	unlink(path);
	return r;
}

/*
 * SYSRESETREQ resets the APs too, but OpenOCD keeps each AP's CSW and TAR cached: the
 * next block write would go out without its auto-increment, every word to one address.
 * Writing both registers through `apreg` makes OpenOCD's cache and the APs agree again
 * (the reset values: 32-bit, no increment, privileged data; TAR 0).
 */
static int openocd_reset(void *ctx)
{
	struct openocd *o = ctx;
	char cmd[512];
	size_t len = 0;
	const char *text;
	size_t tlen;

	(void)openocd_mem_write(o, 1, 0xE000ED0C, 4, &(uint32_t){0x05FA0004}, 4, &(uint32_t){0});
	for (unsigned ap = 0; ap < OPENOCD_N_APS; ap++)
		openocd_append(cmd, sizeof(cmd), &len,
			       "%s" OPENOCD_DAP " apreg %u 0x00 0x03000002; " OPENOCD_DAP
			       " apreg %u 0x04 0",
			       ap ? "; " : "", ap, ap);
	(void)openocd_cmd(o, cmd, &text, &tlen);
	return openocd_connect(o, &(uint32_t){0});
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
	.flash_write = openocd_flash_write,
	.reset = openocd_reset,
	.last_error = openocd_last_error,
};
