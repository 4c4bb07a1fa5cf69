/*
 * bench-agent — the secure agent's firmware on the simulated CM0+: instructions per call
 * (what the core retired between notify and release), the simulated time they take on
 * the default clock (100 MHz, 1.5 cycles per instruction), and the host's emulation
 * speed in instructions per second (the core unthrottled). Usage:
 *   PKI_DIR=build/fixtures/pki AGENT_DIR=build/lpa/agent build/tests/sim/bench-agent [N]
 * Results go to docs/benchmarks.md.
 */
#include <stdio.h>
#include <time.h>

#include "simtest.h"

static void bench_report(const char *what, uint64_t insns, double host_s, unsigned n)
{
	double ns = (double)insns / n * SIM_CPI_X100 / 100.0 * 10.0; /* 10 ns a cycle */

	printf("%-16s %12.0f instructions  %9.3f ms simulated  %8.3f ms host  %6.1f M instr/s\n",
	       what, (double)insns / n, ns / 1e6, host_s / n * 1e3, (double)insns / host_s / 1e6);
}

static unsigned n = 5;

/* Inside a Check test (the simtest helpers assert), not forked. */
START_TEST(bench)
{
	EVP_PKEY *kms = test_kms_key(), *dik = NULL;
	struct sim_chip *c = test_chip(SIM_FAMILY_V1, kms);
	uint8_t pkg[LPA_LPK1_LEN], out[2048], in[24] = {0};
	struct lpa_lpk1_hdr h;
	lpa_secbuf *k = lpa_secbuf_new(32);
	size_t len;
	uint64_t r0, total = 0;
	double t0, host = 0;

	swd_connect(c);
	r0 = sim_chip_cpu_retired(c);
	(void)agent_call(c, AGENT_OP_GET_STATUS, NULL, 0, out, &len);
	bench_report("boot+GET_STATUS", sim_chip_cpu_retired(c) - r0, 0, 1);
	r0 = sim_chip_cpu_retired(c);
	t0 = lpa_mono_s();
	(void)agent_call(c, AGENT_OP_GET_IDENTITY, NULL, 0, out, &len);
	bench_report("GET_IDENTITY", sim_chip_cpu_retired(c) - r0, lpa_mono_s() - t0, 1);
	memset(lpa_secbuf_data(k), 0x42, 32);
	ck_assert_int_eq(lpa_p256_from_public(sim_chip_dik_pub(c), &dik), LPA_OK);
	for (unsigned i = 0; i < n; i++) {
		memset(&h, 0, sizeof(h));
		h.lorawan = LPA_LORAWAN_11;
		h.dev_eui = 0x70B3D57ED0000001ull;
		h.join_eui = 1;
		h.chip_uid = sim_chip_uid(c);
		h.counter = i + 1;
		h.key_id = 1;
		h.issued_at = 1790000000;
		ck_assert_int_eq(lpa_lpk1_build(&h, k, dik, kms, NULL, NULL, pkg), LPA_OK);
		r0 = sim_chip_cpu_retired(c);
		t0 = lpa_mono_s();
		ck_assert_uint_eq(agent_call(c, AGENT_OP_INSTALL, pkg, sizeof(pkg), out, &len),
				  AGENT_OK);
		host += lpa_mono_s() - t0;
		total += sim_chip_cpu_retired(c) - r0;
	}
	bench_report("INSTALL_PACKAGE", total, host, n);
	lpa_be_put(in, h.dev_eui, 8);
	total = 0;
	host = 0;
	for (unsigned i = 0; i < n; i++) {
		r0 = sim_chip_cpu_retired(c);
		t0 = lpa_mono_s();
		ck_assert_uint_eq(agent_call(c, AGENT_OP_PROVE, in, sizeof(in), out, &len),
				  AGENT_OK);
		host += lpa_mono_s() - t0;
		total += sim_chip_cpu_retired(c) - r0;
	}
	bench_report("PROVE", total, host, n);
	lpa_secbuf_free(&k);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&kms);
	sim_chip_free(&c);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("bench-agent");
	TCase *tc = tcase_create("bench");
	SRunner *r;
	int failed;

	if (argc > 1)
		n = (unsigned)atoi(argv[1]);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, bench);
	suite_add_tcase(s, tc);
	r = srunner_create(s);
	srunner_set_fork_status(r, CK_NOFORK);
	srunner_run_all(r, CK_SILENT);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
