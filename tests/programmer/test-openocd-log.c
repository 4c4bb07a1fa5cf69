/*
 * test-openocd-log — the OpenOCD log classifier without an OpenOCD: lines as OpenOCD 0.12
 * writes them at debug level 3, split anywhere, and the errors they stand for.
 */
#include "programmer/openocd-log.h"
#include "testutil.h"

static struct openocd_log log_of(const char *text)
{
	struct openocd_log l;

	openocd_log_reset(&l);
	openocd_log_feed(&l, text, strlen(text));
	return l;
}

START_TEST(message_without_level_and_location)
{
	bool err = true;

	ck_assert_str_eq(openocd_log_msg("Debug: 1234 56 adi_v5_swd.c:178 swd_run_inner(): SWD "
					 "ack not OK @ 0 WAIT",
					 &err),
			 "SWD ack not OK @ 0 WAIT");
	ck_assert(!err);
	ck_assert_str_eq(openocd_log_msg("Error: 77 8 cmsis_dap.c:9 f(): No such device", &err),
			 "No such device");
	ck_assert(err);
	ck_assert_str_eq(openocd_log_msg("Info : clock speed 1000 kHz", &err),
			 "clock speed 1000 kHz");
	ck_assert(!err);
	/* Not a location: digits without "(): " stay. */
	ck_assert_str_eq(openocd_log_msg("12 apples", &err), "12 apples");
}
END_TEST

START_TEST(first_failing_ack_decides)
{
	struct openocd_log l = log_of("Debug: 1 2 a.c:3 f(): SWD ack not OK @ 4 WAIT\n"
				      "Debug: 5 6 a.c:7 f(): SWD ack not OK @ 0 FAULT\n");

	ck_assert(l.diag.wait);
	ck_assert(!l.diag.fault);
	ck_assert_int_eq(openocd_log_error(&l.diag, 1), LPA_ERR_WAIT);
	l = log_of("Debug: 5 6 a.c:7 f(): SWD ack not OK @ 0 FAULT\n");
	ck_assert_int_eq(openocd_log_error(&l.diag, 1), LPA_ERR_FAULT);
	l = log_of("Debug: 5 6 a.c:7 f(): SWD ack not OK @ 0 JUNK\n");
	ck_assert_int_eq(openocd_log_error(&l.diag, 1), LPA_ERR_NO_TARGET);
}
END_TEST

START_TEST(errors_in_order_of_precedence)
{
	struct openocd_log l = log_of("Error: Error connecting DP: cannot read IDR\n"
				      "Error: libusb_bulk_write error: LIBUSB_ERROR_NO_DEVICE\n");
	struct openocd_diag none = {0};

	/* The probe gone explains the rest. */
	ck_assert_int_eq(openocd_log_error(&l.diag, 1), LPA_ERR_PROBE_GONE);
	l = log_of("Error: Error connecting DP: cannot read IDR\n");
	ck_assert_int_eq(openocd_log_error(&l.diag, 1), LPA_ERR_NO_TARGET);
	l = log_of("Error: cmsis-dap command timed out\n");
	ck_assert_int_eq(openocd_log_error(&l.diag, 1), LPA_ERR_TIMEOUT);
	/* A timeout in a non-error line says nothing. */
	l = log_of("Info : timeout set to 100\n");
	ck_assert_int_eq(openocd_log_error(&l.diag, 1), LPA_ERR_PROTOCOL);
	/* Without a log line, OpenOCD's own codes. */
	ck_assert_int_eq(openocd_log_error(&none, -5), LPA_ERR_WAIT);
	ck_assert_int_eq(openocd_log_error(&none, -6), LPA_ERR_TIMEOUT);
	ck_assert_int_eq(openocd_log_error(&none, -4), LPA_ERR_PROTOCOL);
}
END_TEST

START_TEST(fault_address_strict)
{
	struct openocd_log l = log_of("Error: Failed to read memory at 0x08010080\n");

	ck_assert(l.diag.have_addr);
	ck_assert_uint_eq(l.diag.addr, 0x08010080);
	l = log_of("Error: Failed to write memory at 0xffffFFFC, more\n");
	ck_assert(l.diag.have_addr);
	ck_assert_uint_eq(l.diag.addr, 0xFFFFFFFC);
	/* No digits, too many, not hex: no address (not 0, not a truncation). */
	static const char *bad[] = {
		"Error: Failed to read memory at 0x\n",
		"Error: Failed to read memory at 0x123456789\n",
		"Error: Failed to read memory at 0xZZ\n",
		"Error: Failed to read memory at 08010080\n",
		"Error: Failed to read memory at -0x10\n",
	};
	for (size_t i = 0; i < TU_N(bad); i++) {
		l = log_of(bad[i]);
		ck_assert_msg(!l.diag.have_addr, "address from \"%s\"", bad[i]);
	}
	/* The first good one counts. */
	l = log_of("Error: Failed to read memory at 0xZZ\n"
		   "Error: Failed to read memory at 0x20\n"
		   "Error: Failed to read memory at 0x40\n");
	ck_assert(l.diag.have_addr);
	ck_assert_uint_eq(l.diag.addr, 0x20);
}
END_TEST

START_TEST(lines_split_anywhere)
{
	const char *text = "Info : CMSIS-DAP: Serial# = SIM0000003\r\n"
			   "Info : CMSIS-DAP: FW Version = 2.0.0\n"
			   "Error: Failed to read memory at 0x1000\n";
	struct openocd_log whole = log_of(text), bytes;

	openocd_log_reset(&bytes);
	for (size_t i = 0; text[i] != '\0'; i++)
		openocd_log_feed(&bytes, text + i, 1);
	ck_assert_mem_eq(&whole.diag, &bytes.diag, sizeof(whole.diag));
	ck_assert_str_eq(bytes.probe_serial, "SIM0000003");
	ck_assert_str_eq(bytes.probe_fw, "2.0.0");
	ck_assert(bytes.diag.have_addr);
	/* An unterminated line is not scanned yet. */
	openocd_log_reset(&bytes);
	openocd_log_feed(&bytes, "Error: No such device", 21);
	ck_assert(!bytes.diag.nodev);
	openocd_log_feed(&bytes, "\n", 1);
	ck_assert(bytes.diag.nodev);
}
END_TEST

START_TEST(long_lines_cut_and_text_cleaned)
{
	char line[3000];
	struct openocd_log l;

	memset(line, 'x', sizeof(line));
	memcpy(line + sizeof(line) - 20, "No such device\n", 15);
	openocd_log_reset(&l);
	openocd_log_feed(&l, line, sizeof(line) - 5);
	/* The end of an over-long line (an echoed script) is not looked at. */
	ck_assert(!l.diag.nodev);
	ck_assert_uint_le(l.tail_len, sizeof(l.tail));
	l = log_of("Info : CMSIS-DAP: Serial# = SIM\x1b[31m\n");
	ck_assert_str_eq(l.probe_serial, "SIM?[31m");
}
END_TEST

START_TEST(error_lines_for_the_operator)
{
	struct openocd_log l = log_of("Info : hello\nError: first\nDebug: x\nError: second\n");
	char out[64];

	openocd_log_errors(&l, out, sizeof(out));
	ck_assert_str_eq(out, "first; second");
	ck_assert_str_eq(l.diag.first_error, "first");
	openocd_log_errors(&l, out, 10);
	ck_assert_str_eq(out, "first");
	l = log_of("Segmentation fault\n\n");
	openocd_log_last_line(&l, out, sizeof(out));
	ck_assert_str_eq(out, "Segmentation fault");
	openocd_log_begin(&l);
	ck_assert_str_eq(l.diag.first_error, "");
}
END_TEST

START_TEST(probe_and_port_trouble)
{
	struct openocd_log l = log_of("Error: unable to find a matching CMSIS-DAP device\n"
				      "Error: couldn't bind tcl to socket on port 6666: Address "
				      "already in use\n"
				      "Error: Target not examined yet\n");

	ck_assert(l.diag.noprobe);
	ck_assert(l.diag.bind_failed);
	ck_assert(l.diag.not_examined);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(message_without_level_and_location),
		TU_CASE(first_failing_ack_decides),
		TU_CASE(errors_in_order_of_precedence),
		TU_CASE(fault_address_strict),
		TU_CASE(lines_split_anywhere),
		TU_CASE(long_lines_cut_and_text_cleaned),
		TU_CASE(error_lines_for_the_operator),
		TU_CASE(probe_and_port_trouble),
	};

	return tu_main("openocd-log", cases, TU_N(cases));
}
