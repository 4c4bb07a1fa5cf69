/*
 * openocd-log.c — OpenOCD's log as lines, classified into what the wire said
 * (openocd-log.h). The phrases are OpenOCD 0.12's (src/jtag/drivers/cmsis_dap.c,
 * src/target/adi_v5_swd.c, src/target/arm_adi_v5.c, src/server/server.c).
 */
#include <stdio.h>
#include <string.h>

#include "openocd-log.h"
#include "tcl-rpc.h"

void openocd_log_reset(struct openocd_log *log)
{
	memset(log, 0, sizeof(*log));
}

void openocd_log_begin(struct openocd_log *log)
{
	memset(&log->diag, 0, sizeof(log->diag));
}

const char *openocd_log_msg(const char *line, bool *is_error)
{
	const char *p = line, *q;

	*is_error = strncmp(p, "Error: ", 7) == 0;
	if (*is_error)
		p += 7;
	else if (strncmp(p, "Info : ", 7) == 0 || strncmp(p, "Warn : ", 7) == 0 ||
		 strncmp(p, "Debug: ", 7) == 0 || strncmp(p, "User : ", 7) == 0)
		p += 7;
	/* Debug level: "123 45 file.c:67 fn(): message". */
	if (*p >= '0' && *p <= '9' && (q = strstr(p, "(): ")) != NULL)
		p = q + 4;
	return p;
}

/* "0x" and 1..8 hex digits that end there: the address OpenOCD printed, or false. */
static bool openocd_log_addr(const char *s, uint32_t *addr)
{
	uint32_t v = 0;
	int i, d;

	if (s[0] != '0' || s[1] != 'x')
		return false;
	for (i = 0; i < 9 && (d = lpa_hex_digit(s[2 + i])) >= 0; i++)
		v = v << 4 | (uint32_t)d;
	if (i == 0 || i > 8)
		return false;
	*addr = v;
	return true;
}

/* Copies the rest of a line after a label, printable ASCII only. */
static void openocd_log_copy(char *out, size_t out_len, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < out_len; s++)
		out[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
	out[n] = '\0';
}

void openocd_log_scan_line(struct openocd_log *log, const char *line)
{
	struct openocd_diag *d = &log->diag;
	bool is_error;
	const char *msg = openocd_log_msg(line, &is_error), *at;

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
	/* OpenOCD reads TAR after a fault: the word that failed. A malformed number is no
	 * address at all (not 0). */
	if (!d->have_addr && ((at = strstr(msg, "Failed to read memory at ")) != NULL ||
			      (at = strstr(msg, "Failed to write memory at ")) != NULL))
		d->have_addr = openocd_log_addr(strstr(at, " at ") + 4, &d->addr);
	if ((at = strstr(msg, "CMSIS-DAP: Serial# = ")) != NULL)
		openocd_log_copy(log->probe_serial, sizeof(log->probe_serial), at + 21);
	if ((at = strstr(msg, "CMSIS-DAP: FW Version = ")) != NULL)
		openocd_log_copy(log->probe_fw, sizeof(log->probe_fw), at + 24);
	if (is_error && d->first_error[0] == '\0')
		openocd_log_copy(d->first_error, sizeof(d->first_error), msg);
}

static void openocd_log_keep_tail(struct openocd_log *log, const char *buf, size_t n)
{
	if (n >= sizeof(log->tail)) {
		memcpy(log->tail, buf + n - sizeof(log->tail), sizeof(log->tail));
		log->tail_len = sizeof(log->tail);
		return;
	}
	if (log->tail_len + n > sizeof(log->tail)) {
		size_t drop = log->tail_len + n - sizeof(log->tail);

		memmove(log->tail, log->tail + drop, log->tail_len - drop);
		log->tail_len -= drop;
	}
	memcpy(log->tail + log->tail_len, buf, n);
	log->tail_len += n;
}

void openocd_log_feed(struct openocd_log *log, const char *buf, size_t n)
{
	openocd_log_keep_tail(log, buf, n);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r') {
			log->line[log->line_len] = '\0';
			if (log->line_len > 0)
				openocd_log_scan_line(log, log->line);
			log->line_len = 0;
		} else if (log->line_len < sizeof(log->line) - 1) {
			/* Longer lines (the echoed commands) are cut: their ends say nothing
			 * we look for. */
			log->line[log->line_len++] = buf[i];
		}
	}
}

void openocd_log_errors(const struct openocd_log *log, char *out, size_t out_len)
{
	char copy[OPENOCD_LOG_TAIL + 1], *save = NULL, *l;
	size_t o_len = 0;

	if (out_len == 0)
		return;
	memcpy(copy, log->tail, log->tail_len);
	copy[log->tail_len] = '\0';
	out[0] = '\0';
	for (l = strtok_r(copy, "\r\n", &save); l != NULL; l = strtok_r(NULL, "\r\n", &save)) {
		bool is_error;
		const char *msg = openocd_log_msg(l, &is_error);
		char clean[OPENOCD_LOG_LINE_MAX];
		int n;

		if (!is_error)
			continue;
		openocd_log_copy(clean, sizeof(clean), msg);
		n = snprintf(out + o_len, out_len - o_len, "%s%s", o_len ? "; " : "", clean);
		if (n < 0 || (size_t)n >= out_len - o_len) {
			out[o_len] = '\0'; /* whole messages only */
			break;
		}
		o_len += (size_t)n;
	}
}

void openocd_log_last_line(const struct openocd_log *log, char *out, size_t out_len)
{
	size_t end = log->tail_len, start;

	while (end > 0 && (log->tail[end - 1] == '\n' || log->tail[end - 1] == '\r'))
		end--;
	for (start = end; start > 0 && log->tail[start - 1] != '\n' && log->tail[start - 1] != '\r';
	     start--)
		;
	tcl_rpc_quote(log->tail + start, end - start, out, out_len);
}

int openocd_log_error(const struct openocd_diag *diag, int rc)
{
	if (diag->nodev)
		return LPA_ERR_PROBE_GONE;
	if (diag->noack)
		return LPA_ERR_NO_TARGET;
	if (diag->fault)
		return LPA_ERR_FAULT;
	if (diag->wait || rc == -5) /* OpenOCD's ERROR_WAIT */
		return LPA_ERR_WAIT;
	if (diag->timeout || rc == -6) /* ERROR_TIMEOUT_REACHED */
		return LPA_ERR_TIMEOUT;
	return LPA_ERR_PROTOCOL;
}
