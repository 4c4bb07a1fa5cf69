/*
 * test-probe.c — the virtual KitProg3's CMSIS-DAP command processor: DAP_Info, the
 * transfer commands with their ACK codes and retries, the DUT sequence, fault injection
 * and the fault-spec parser. One TCase per behaviour.
 */
#include "simtest.h"
#include "testutil.h"

static struct sim_probe *probe;
static uint8_t resp[64];

static struct sim_probe *make_probe(unsigned n_chips, const char *faults)
{
	struct sim_probe_config pc;
	struct sim_probe *p = NULL;
	char err[128];

	memset(&pc, 0, sizeof(pc));
	snprintf(pc.serial, sizeof(pc.serial), "TEST0001");
	pc.handling_ms = 50;
	pc.now_ns = test_now;
	pc.chips = calloc(n_chips, sizeof(*pc.chips));
	for (unsigned i = 0; i < n_chips; i++)
		pc.chips[i] = test_chip_ex(SIM_FAMILY_V1, NULL, true);
	pc.n_chips = n_chips;
	if (faults)
		ck_assert_msg(sim_faults_parse(faults, 0, &pc.faults, err, sizeof(err)) == SIM_OK,
			      "%s", err);
	ck_assert_int_eq(sim_probe_new(&pc, &p), SIM_OK);
	return p;
}

static void setup(void)
{
	test_clock = 1000;
	probe = make_probe(2, NULL);
}

static void teardown(void)
{
	sim_probe_free(&probe);
}

static size_t cmd(struct sim_probe *p, const uint8_t *c, size_t len)
{
	memset(resp, 0xEE, sizeof(resp));
	return sim_probe_command(p, c, len, resp, sizeof(resp));
}

/* Connect + JTAG-to-SWD + DPIDR + power-up, as OpenOCD does it. */
static void dap_attach(struct sim_probe *p)
{
	static const uint8_t conn[] = {0x02, 0x01};
	static const uint8_t seq[] = {0x12, 136,  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x9e,
				      0xe7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	static const uint8_t xfer[] = {0x05, 0,    4,    0x02, 0x00, 0x1E, 0,   0,
				       0,    0x04, 0x00, 0x00, 0x00, 0x50, 0x06};

	ck_assert_uint_eq(cmd(p, conn, sizeof(conn)), 2);
	ck_assert_uint_eq(resp[1], 1);
	ck_assert_uint_eq(cmd(p, seq, sizeof(seq)), 2);
	ck_assert_uint_eq(resp[1], 0);
	ck_assert_uint_eq(cmd(p, xfer, sizeof(xfer)), 11); /* two reads */
	ck_assert_uint_eq(resp[1], 4);
	ck_assert_uint_eq(resp[2], SIM_ACK_OK);
	ck_assert_uint_eq(sim_le32(resp + 3), 0x6BA02477u);
}

static uint8_t read_dpidr(struct sim_probe *p)
{
	static const uint8_t x[] = {0x05, 0, 1, 0x02};

	cmd(p, x, sizeof(x));
	return resp[2];
}

START_TEST(probe_info)
{
	const uint8_t serial[] = {0x00, 0x03}, size[] = {0x00, 0xFF}, cnt[] = {0x00, 0xFE};
	const uint8_t caps[] = {0x00, 0xF0}, prod[] = {0x00, 0x02}, none[] = {0x00, 0x42};

	cmd(probe, serial, 2);
	ck_assert_str_eq((char *)resp + 2, "TEST0001");
	cmd(probe, prod, 2);
	ck_assert(strstr((char *)resp + 2, "CMSIS-DAP") != NULL);
	ck_assert_uint_eq(cmd(probe, size, 2), 4);
	ck_assert_uint_eq(resp[2] | resp[3] << 8, 64);
	cmd(probe, cnt, 2);
	ck_assert_uint_eq(resp[2], 4);
	cmd(probe, caps, 2);
	ck_assert_uint_eq(resp[2] & 1, 1); /* SWD */
	ck_assert_uint_eq(cmd(probe, none, 2), 2);
	ck_assert_uint_eq(resp[1], 0);
}
END_TEST

START_TEST(probe_unknown_commands_answer_ff)
{
	const uint8_t vendor[] = {0x42}, jtag[] = {0x14, 1, 0}, queue[] = {0x7E, 0};

	ck_assert_uint_eq(cmd(probe, vendor, 1), 1);
	ck_assert_uint_eq(resp[0], 0xFF);
	ck_assert_uint_eq(cmd(probe, jtag, 3), 1);
	ck_assert_uint_eq(resp[0], 0xFF);
	ck_assert_uint_eq(cmd(probe, queue, 2), 1);
	ck_assert_uint_eq(resp[0], 0xFF);
}
END_TEST

START_TEST(probe_simple_commands)
{
	const uint8_t host[] = {0x01, 0, 1}, delay[] = {0x09, 10, 0};
	const uint8_t clk[] = {0x11, 0x40, 0x42, 0x0F, 0}, clk0[] = {0x11, 0, 0, 0, 0};
	const uint8_t swdcfg[] = {0x13, 0}, tcfg[] = {0x04, 0, 64, 0, 0, 0};
	const uint8_t pins[] = {0x10, 0x80, 0x80, 0, 0, 0, 0}, abort_[] = {0x07};

	cmd(probe, host, 3);
	ck_assert_uint_eq(resp[1], 0);
	cmd(probe, delay, 3);
	ck_assert_uint_eq(resp[1], 0);
	cmd(probe, clk, 5);
	ck_assert_uint_eq(resp[1], 0);
	cmd(probe, clk0, 5);
	ck_assert_uint_eq(resp[1], 0xFF);
	cmd(probe, swdcfg, 2);
	ck_assert_uint_eq(resp[1], 0);
	cmd(probe, tcfg, 6);
	ck_assert_uint_eq(resp[1], 0);
	ck_assert_uint_eq(cmd(probe, pins, 7), 2);
	ck_assert_uint_eq(resp[1] & 0x80, 0x80);
	ck_assert_uint_eq(cmd(probe, abort_, 1), 0); /* TransferAbort has no response */
}
END_TEST

START_TEST(probe_transfer_block_round_trip)
{
	uint8_t w[64] = {0x06, 0, 4, 0, 0x0D}; /* AP write DRW x4 */
	const uint8_t setup_ap[] = {0x05, 0, 3, 0x08, 0,    0,    0,    0,    0x01,
				    0x12, 0, 0, 0x23, 0x05, 0x00, 0x01, 0x00, 0x08};
	const uint8_t r[] = {0x06, 0, 4, 0, 0x0F};

	dap_attach(probe);
	cmd(probe, setup_ap, sizeof(setup_ap)); /* SELECT 0, CSW 32-bit inc, TAR 0x08000100 */
	ck_assert_uint_eq(resp[2], SIM_ACK_OK);
	for (int i = 0; i < 4; i++)
		sim_put_le32(w + 5 + 4 * i, 0x11111111u * (uint32_t)(i + 1));
	cmd(probe, w, 21);
	ck_assert_uint_eq(resp[1] | resp[2] << 8, 4);
	ck_assert_uint_eq(resp[3], SIM_ACK_OK);
	cmd(probe, setup_ap, sizeof(setup_ap));
	ck_assert_uint_eq(cmd(probe, r, sizeof(r)), 4 + 16);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(sim_le32(resp + 4 + 4 * i), 0x11111111u * (uint32_t)(i + 1));
}
END_TEST

START_TEST(probe_transfer_value_match)
{
	/* match mask 0xFFFF0000, then read DPIDR expecting 0x6BA0xxxx, then 0x1234xxxx */
	const uint8_t ok[] = {0x05, 0, 2, 0x20, 0, 0, 0xFF, 0xFF, 0x12, 0, 0, 0xA0, 0x6B};
	const uint8_t bad[] = {0x05, 0, 2, 0x20, 0, 0, 0xFF, 0xFF, 0x12, 0, 0, 0x34, 0x12};

	dap_attach(probe);
	cmd(probe, ok, sizeof(ok));
	ck_assert_uint_eq(resp[1], 2);
	ck_assert_uint_eq(resp[2], SIM_ACK_OK);
	cmd(probe, bad, sizeof(bad));
	ck_assert_uint_eq(resp[1], 1);
	ck_assert_uint_eq(resp[2], SIM_ACK_OK | 0x10); /* value mismatch */
}
END_TEST

/* As the USB side runs it: a value-match read that does not match keeps the command in
 * the probe (pending) until MatchRetry retries' wire time at the SWJ clock has passed,
 * however often it is carried on; then the mismatch. 100 retries at 1 MHz: 100 x 46 us. */
START_TEST(probe_value_match_waits_wire_time)
{
	const uint8_t clock[] = {0x11, 0x40, 0x42, 0x0F, 0x00}; /* 1 MHz */
	const uint8_t cfg[] = {0x04, 0, 64, 0, 100, 0};
	const uint8_t bad[] = {0x05, 0, 2, 0x20, 0, 0, 0xFF, 0xFF, 0x12, 0, 0, 0x34, 0x12};
	const uint8_t ok[] = {0x05, 0, 2, 0x20, 0, 0, 0xFF, 0xFF, 0x12, 0, 0, 0xA0, 0x6B};
	bool pending = false;
	size_t n;

	dap_attach(probe);
	cmd(probe, clock, sizeof(clock));
	cmd(probe, cfg, sizeof(cfg));
	n = sim_probe_submit(probe, bad, sizeof(bad), resp, sizeof(resp), &pending);
	ck_assert_uint_eq(n, 0);
	ck_assert(pending);
	for (int i = 0; i < 1000; i++) {
		test_clock += 4000; /* 4 us a call: 4 ms in all, short of 4.6 ms */
		ck_assert_uint_eq(sim_probe_resume(probe, resp, sizeof(resp), &pending), 0);
		ck_assert(pending);
	}
	test_clock += 600000;
	n = sim_probe_resume(probe, resp, sizeof(resp), &pending);
	ck_assert(!pending);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(resp[0], 0x05);
	ck_assert_uint_eq(resp[1], 1);
	ck_assert_uint_eq(resp[2], SIM_ACK_OK | 0x10);
	/* A read that matches at once is answered at once. */
	n = sim_probe_submit(probe, ok, sizeof(ok), resp, sizeof(resp), &pending);
	ck_assert(!pending);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(resp[1], 2);
	/* Nothing is pending any more. */
	ck_assert_uint_eq(sim_probe_resume(probe, resp, sizeof(resp), &pending), 0);
	ck_assert(!pending);
}
END_TEST

START_TEST(probe_empty_slot_is_noack)
{
	struct sim_probe *p = make_probe(0, NULL);
	const uint8_t x[] = {0x05, 0, 1, 0x02};

	cmd(p, x, sizeof(x));
	ck_assert_uint_eq(resp[1], 0);
	ck_assert_uint_eq(resp[2], SIM_ACK_NOACK);
	sim_probe_free(&p);
}
END_TEST

START_TEST(probe_dut_sequence)
{
	const uint8_t disc[] = {0x03}, host_off[] = {0x01, 0, 0}, conn[] = {0x02, 1};
	struct sim_probe_stats st;
	unsigned idx;
	uint64_t uid0;

	dap_attach(probe);
	uid0 = sim_chip_uid(sim_probe_current(probe, &idx));
	ck_assert_uint_eq(idx, 0);
	/* a disconnect followed by a connect is OpenOCD's reconnect: same DUT */
	cmd(probe, disc, 1);
	cmd(probe, conn, 2);
	ck_assert_uint_eq(read_dpidr(probe), SIM_ACK_OK);
	/* a disconnect followed by anything else: the DUT leaves */
	cmd(probe, disc, 1);
	cmd(probe, host_off, 3);
	ck_assert_ptr_null(sim_probe_current(probe, &idx));
	ck_assert_uint_eq(read_dpidr(probe), SIM_ACK_NOACK);
	test_clock += 49 * 1000000ull;
	ck_assert_uint_eq(read_dpidr(probe), SIM_ACK_NOACK); /* handling time: 50 ms */
	test_clock += 1000000ull;
	dap_attach(probe);
	ck_assert_uint_ne(sim_chip_uid(sim_probe_current(probe, &idx)), uid0);
	ck_assert_uint_eq(idx, 1);
	/* a connect long after the disconnect is the next DUT's session */
	cmd(probe, disc, 1);
	test_clock += 60 * 1000000ull;
	cmd(probe, conn, 2);
	ck_assert_ptr_null(sim_probe_current(probe, &idx));
	test_clock += 100 * 1000000ull;
	ck_assert_uint_eq(read_dpidr(probe), SIM_ACK_NOACK); /* no chips left */
	sim_probe_stats(probe, &st);
	ck_assert_uint_eq(st.chips_done, 2);
}
END_TEST

START_TEST(probe_wait_storm_and_retry)
{
	struct sim_probe *p = make_probe(1, "wait-storm=1000000:3");
	const uint8_t retry1[] = {0x04, 0, 1, 0, 0, 0}, retry9[] = {0x04, 0, 9, 0, 0, 0};
	const uint8_t idr[] = {0x05, 0, 2, 0x08, 0xF0, 0, 0, 0, 0x0F};
	struct sim_probe_stats st;

	dap_attach(p); /* DP accesses see no WAIT */
	cmd(p, retry1, 6);
	cmd(p, idr, sizeof(idr));
	ck_assert_uint_eq(resp[1], 1);
	ck_assert_uint_eq(resp[2], SIM_ACK_WAIT); /* 3 WAITs > 1 retry */
	cmd(p, retry9, 6);
	cmd(p, idr, sizeof(idr));
	ck_assert_uint_eq(resp[1], 2);
	ck_assert_uint_eq(resp[2], SIM_ACK_OK);
	ck_assert_uint_eq(sim_le32(resp + 3), 0x84770001u);
	sim_probe_stats(p, &st);
	ck_assert_uint_eq(st.swd_wait, 3); /* the storm outlived the first command */
	sim_probe_free(&p);
}
END_TEST

START_TEST(probe_fault_range)
{
	struct sim_probe *p = make_probe(1, "fault=0x08000100-0x080001ff");
	const uint8_t rd[] = {0x05, 0, 4,    0x08, 0,    0,    0,    0,    0x01, 0x02,
			      0,    0, 0x23, 0x05, 0x00, 0x01, 0x00, 0x08, 0x0F};
	const uint8_t rd2[] = {0x05, 0, 4,    0x08, 0,    0,    0,    0,    0x01, 0x02,
			       0,    0, 0x23, 0x05, 0x00, 0x02, 0x00, 0x08, 0x0F};
	const uint8_t clr[] = {0x08, 0, 0x1E, 0, 0, 0};

	dap_attach(p);
	cmd(p, rd, sizeof(rd));
	ck_assert_uint_eq(resp[1], 3);
	ck_assert_uint_eq(resp[2], SIM_ACK_FAULT);
	cmd(p, clr, sizeof(clr)); /* DAP_WriteABORT clears the sticky error */
	ck_assert_uint_eq(resp[1], 0);
	cmd(p, rd2, sizeof(rd2));
	ck_assert_uint_eq(resp[1], 4);
	ck_assert_uint_eq(resp[2], SIM_ACK_OK);
	sim_probe_free(&p);
}
END_TEST

START_TEST(probe_noack_at_pulls_the_dut)
{
	struct sim_probe *p = make_probe(2, "noack-at=6");
	struct sim_probe_stats st;
	unsigned idx;

	dap_attach(p);                                   /* transfers 1..4 */
	ck_assert_uint_eq(read_dpidr(p), SIM_ACK_OK);    /* 5 */
	ck_assert_uint_eq(read_dpidr(p), SIM_ACK_NOACK); /* 6: pulled */
	ck_assert_ptr_null(sim_probe_current(p, &idx));
	test_clock += 50 * 1000000ull;
	dap_attach(p);
	sim_probe_current(p, &idx);
	ck_assert_uint_eq(idx, 1);
	sim_probe_stats(p, &st);
	ck_assert_uint_eq(st.chips_done, 1);
	sim_probe_free(&p);
}
END_TEST

START_TEST(probe_unplug_at)
{
	struct sim_probe *p = make_probe(1, "unplug-at=3");
	const uint8_t info[] = {0x00, 0x04};

	ck_assert_uint_gt(cmd(p, info, 2), 0);
	ck_assert(!sim_probe_unplugged(p));
	ck_assert_uint_gt(cmd(p, info, 2), 0);
	ck_assert_uint_eq(cmd(p, info, 2), 0);
	ck_assert(sim_probe_unplugged(p));
	ck_assert_uint_eq(cmd(p, info, 2), 0);
	sim_probe_free(&p);
}
END_TEST

START_TEST(probe_reset_target_resets_chip)
{
	const uint8_t rst[] = {0x0A};

	dap_attach(probe);
	ck_assert_uint_eq(cmd(probe, rst, 1), 3);
	ck_assert_uint_eq(resp[1], 0);
	ck_assert_uint_eq(resp[2], 1);
	/* XRES reset the debug port too: SWD must be selected again */
	ck_assert_uint_eq(read_dpidr(probe), SIM_ACK_NOACK);
	dap_attach(probe);
}
END_TEST

START_TEST(probe_counts_commands)
{
	const uint8_t info[] = {0x00, 0x04};
	struct sim_probe_stats st;

	for (int i = 0; i < 5; i++)
		cmd(probe, info, 2);
	sim_probe_count_usb(probe, 0, 2);
	sim_probe_count_usb(probe, 1, 8);
	sim_probe_stats(probe, &st);
	ck_assert_uint_eq(st.dap_commands, 5);
	ck_assert_uint_eq(st.usb_out, 1);
	ck_assert_uint_eq(st.bytes_in, 8);
}
END_TEST

START_TEST(faults_parse_full_spec)
{
	struct sim_faults f = {0};
	char err[128];

	ck_assert_int_eq(sim_faults_parse("seed=7,wait-storm=1000:40,fault=0x10-0x20,"
					  "noack-at=99,brownout-flash=2,flash-fail=6,"
					  "brownout-install=3:after-flip,unplug-at=500,"
					  "slow-flash=4,slow-agent=2ms,usb-latency=1ms",
					  0, &f, err, sizeof(err)),
			 SIM_OK);
	ck_assert_uint_eq(f.seed, 7);
	ck_assert_uint_eq(f.wait_storm_ppm, 1000);
	ck_assert_uint_eq(f.wait_storm_len, 40);
	ck_assert_uint_eq(f.n_fault_ranges, 1);
	ck_assert_uint_eq(f.fault_range[0].hi, 0x20);
	ck_assert_uint_eq(f.noack_at, 99);
	ck_assert_uint_eq(f.brownout_flash_at, 2);
	ck_assert_uint_eq(f.flash_fail_at, 6);
	ck_assert_uint_eq(f.brownout_install_at, 3);
	ck_assert_int_eq(f.brownout_install_stage, SIM_INSTALL_AFTER_FLIP);
	ck_assert_uint_eq(f.unplug_at, 500);
	ck_assert_uint_eq(f.slow_flash, 4);
	ck_assert_uint_eq(f.slow_agent_us, 2000);
	ck_assert_uint_eq(f.usb_latency_us, 1000);
}
END_TEST

START_TEST(faults_parse_probe_prefix)
{
	struct sim_faults f0 = {0}, f1 = {0};
	char err[128];

	ck_assert_int_eq(
		sim_faults_parse("p1:noack-at=5,usb-latency=250", 0, &f0, err, sizeof(err)),
		SIM_OK);
	ck_assert_int_eq(
		sim_faults_parse("p1:noack-at=5,usb-latency=250", 1, &f1, err, sizeof(err)),
		SIM_OK);
	ck_assert_uint_eq(f0.noack_at, 0);
	ck_assert_uint_eq(f1.noack_at, 5);
	ck_assert_uint_eq(f0.usb_latency_us, 250);
	ck_assert_uint_eq(f1.usb_latency_us, 250);
}
END_TEST

START_TEST(faults_parse_rejects)
{
	static const char *bad[] = {
		"nonsense=1",
		"noack-at",
		"noack-at=",
		"noack-at=-1",
		"noack-at=12x",
		"fault=0x20-0x10",
		"fault=0x10",
		"wait-storm=5",
		"wait-storm=2000000:1",
		"brownout-install=1:sideways",
		"slow-agent=3s",
		"p:noack-at=1",
		"p1noack-at=1",
		"p0:bogus=1",
		"usb-latency=99999999",
		"flash-fail=0",
		"flash-fail=x",
	};
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sim_faults f = {0};

		err[0] = '\0';
		ck_assert_msg(sim_faults_parse(bad[i], 0, &f, err, sizeof(err)) == SIM_ERR_INVAL,
			      "accepted '%s'", bad[i]);
		ck_assert_msg(strncmp(err, "faults: ", 8) == 0, "no message for '%s'", bad[i]);
	}
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(probe_info),
		TU_CASE(probe_unknown_commands_answer_ff),
		TU_CASE(probe_simple_commands),
		TU_CASE(probe_transfer_block_round_trip),
		TU_CASE(probe_transfer_value_match),
		TU_CASE(probe_value_match_waits_wire_time),
		TU_CASE(probe_empty_slot_is_noack),
		TU_CASE(probe_dut_sequence),
		TU_CASE(probe_wait_storm_and_retry),
		TU_CASE(probe_fault_range),
		TU_CASE(probe_noack_at_pulls_the_dut),
		TU_CASE(probe_unplug_at),
		TU_CASE(probe_reset_target_resets_chip),
		TU_CASE(probe_counts_commands),
		TU_CASE(faults_parse_full_spec),
		TU_CASE(faults_parse_probe_prefix),
		TU_CASE(faults_parse_rejects),
	};

	return tu_main_fixture("sim-probe", cases, TU_N(cases), setup, teardown);
}
