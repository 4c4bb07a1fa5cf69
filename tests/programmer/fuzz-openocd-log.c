/*
 * fuzz-openocd-log — the OpenOCD log classifier (programmer/openocd-log.c): any bytes,
 * fed whole and fed in pieces, must give the same diagnosis (a line split across reads of
 * the pipe is still one line), keep every buffer bounded and NUL-terminated, and map to
 * one of the errors openocd_log_error documents.
 *
 * Input: byte 0 the piece length (1..64) and the catch code's choice, then the log.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "programmer/openocd-log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bounded(const struct openocd_log *l)
{
	char out[256];

	if (l->tail_len > sizeof(l->tail) || l->line_len >= sizeof(l->line) ||
	    memchr(l->diag.first_error, '\0', sizeof(l->diag.first_error)) == NULL ||
	    memchr(l->probe_serial, '\0', sizeof(l->probe_serial)) == NULL ||
	    memchr(l->probe_fw, '\0', sizeof(l->probe_fw)) == NULL)
		abort();
	openocd_log_errors(l, out, sizeof(out));
	if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	openocd_log_last_line(l, out, sizeof(out));
	if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int rcs[] = {1, -4, -5, -6};
	/* Large: two of them do not belong on a small fuzzer stack. */
	static struct openocd_log whole, pieces;
	size_t piece;
	int rc, e;

	if (size < 1)
		return 0;
	piece = 1 + (data[0] & 63);
	rc = rcs[data[0] >> 6];
	data++;
	size--;
	openocd_log_reset(&whole);
	openocd_log_reset(&pieces);
	openocd_log_feed(&whole, (const char *)data, size);
	for (size_t off = 0; off < size; off += piece)
		openocd_log_feed(&pieces, (const char *)data + off,
				 size - off < piece ? size - off : piece);
	if (memcmp(&whole.diag, &pieces.diag, sizeof(whole.diag)) != 0 ||
	    whole.tail_len != pieces.tail_len ||
	    memcmp(whole.tail, pieces.tail, whole.tail_len) != 0 ||
	    strcmp(whole.probe_serial, pieces.probe_serial) != 0 ||
	    strcmp(whole.probe_fw, pieces.probe_fw) != 0)
		abort();
	check_bounded(&whole);
	e = openocd_log_error(&whole.diag, rc);
	if (e != LPA_ERR_PROBE_GONE && e != LPA_ERR_NO_TARGET && e != LPA_ERR_FAULT &&
	    e != LPA_ERR_WAIT && e != LPA_ERR_TIMEOUT && e != LPA_ERR_PROTOCOL)
		abort();
	openocd_log_begin(&whole);
	if (whole.diag.have_addr || whole.diag.first_error[0] != '\0')
		abort();
	return 0;
}
