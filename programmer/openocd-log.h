/*
 * openocd-log.h — OpenOCD's log read as a byte stream and classified (private to
 * programmer/).
 *
 * OpenOCD reports most failures only as text: the Tcl result of read_memory is a generic
 * "failed to read memory"; whether the target answered WAIT, FAULT or nothing is a
 * debug-level line ("SWD ack not OK @ n WAIT"), the faulting address another ("Failed to
 * read memory at 0x..."). The OpenOCD backend feeds everything the child writes into an
 * openocd_log and asks it, after each request, what the wire said.
 *
 * Pure functions over a buffer: no I/O, so that they can be unit-tested and fuzzed
 * without an OpenOCD.
 */
#ifndef LPA_PROGRAMMER_OPENOCD_LOG_H
#define LPA_PROGRAMMER_OPENOCD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lpa/core/lpa-core.h"

#define OPENOCD_LOG_TAIL 2048
#define OPENOCD_LOG_LINE_MAX 512

/* What the log said since the last openocd_log_begin (one request). */
struct openocd_diag {
	bool wait, fault, noack; /* the first SWD ack that was not OK */
	bool nodev;              /* the probe went away under OpenOCD */
	bool noprobe;            /* OpenOCD found no such probe */
	bool timeout, not_examined, bind_failed;
	bool have_addr; /* "Failed to read/write memory at 0x...": addr is valid */
	uint32_t addr;
	char first_error[200]; /* the first "Error: " message, "" when none */
};

struct openocd_log {
	char line[OPENOCD_LOG_LINE_MAX]; /* the line being read; longer lines are cut */
	size_t line_len;
	char tail[OPENOCD_LOG_TAIL]; /* the last bytes, for "OpenOCD said ..." */
	size_t tail_len;
	struct openocd_diag diag;
	/* What OpenOCD reported of the probe it opened ("" until then). */
	char probe_serial[64], probe_fw[32];
};

/* Forgets everything: a new OpenOCD. */
void openocd_log_reset(struct openocd_log *log);
/* Forgets the diagnosis: a new request. */
void openocd_log_begin(struct openocd_log *log);
/* Takes n more bytes of the stream (any bytes, any split); complete lines are scanned. */
void openocd_log_feed(struct openocd_log *log, const char *buf, size_t n);
/* Scans one line (NUL-terminated, without its end of line). */
void openocd_log_scan_line(struct openocd_log *log, const char *line);

/*
 * The message of a log line, without its "Error: " / "Info : " / "Warn : " / "Debug: " /
 * "User : " prefix and the debug-level "n t file:l fn(): " location; *is_error says
 * whether it was an error line.
 */
const char *openocd_log_msg(const char *line, bool *is_error);

/* The error messages among the tail's lines, joined with "; ", as many whole ones as fit. */
void openocd_log_errors(const struct openocd_log *log, char *out, size_t out_len);
/* The tail's last non-empty line, quoted (tcl_rpc_quote), for a child that died. */
void openocd_log_last_line(const struct openocd_log *log, char *out, size_t out_len);

/*
 * The error one failed request stands for, from the diagnosis and the Tcl catch code rc
 * (1 Tcl error, or OpenOCD's own: -5 ERROR_WAIT, -6 ERROR_TIMEOUT_REACHED): the probe
 * gone, no target, FAULT, WAIT, timeout, in that order; anything else LPA_ERR_PROTOCOL.
 */
int openocd_log_error(const struct openocd_diag *diag, int rc);

#endif /* LPA_PROGRAMMER_OPENOCD_LOG_H */
