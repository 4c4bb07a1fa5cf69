/*
 * bench-kms — throughput of the reference KMS for the device round trip that matters on
 * the line: issue (LPI1 in, LPK1 out) then confirm (LPR1 in, signed record out), over
 * HTTPS with mutual TLS on loopback, one station keeping its connection, one device at
 * a time as a station does. Chips are made before the clock starts; their share of the
 * work (opening the package, signing the receipt) is measured and reported apart.
 *
 *   meson test -C build --benchmark --suite kms -v      (KMS_BENCH_N devices, default 200)
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kmstest.h"

START_TEST(issue_confirm)
{
	const char *env = getenv("KMS_BENCH_N");
	int n = env ? atoi(env) : 200;
	struct kt_chip *chips = calloc((size_t)n, sizeof(*chips));
	struct kt_op op;
	struct kt_resp r;
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN];
	uint32_t counter;
	char token[64];
	double t0, t_kms = 0, t_chip = 0, t;

	ck_assert_ptr_nonnull(chips);
	ck_assert_int_gt(n, 0);
	kt.reuse = true;
	kt_operator(&op, "bench", "operator", NULL, NULL, NULL);
	kt_login_ok(&op, "st1", token);
	for (int i = 0; i < n; i++)
		kt_chip_new(&chips[i], false, 0);
	t0 = lpa_mono_s();
	for (int i = 0; i < n; i++) {
		t = lpa_mono_s();
		ck_assert_int_eq(
			kt_issue("st1", token, &chips[i], "BENCH", "1.1", &counter, pkg, &r), 201);
		kt_resp_free(&r);
		t_kms += lpa_mono_s() - t;
		t = lpa_mono_s();
		kt_chip_install(&chips[i], pkg, rc);
		t_chip += lpa_mono_s() - t;
		t = lpa_mono_s();
		ck_assert_int_eq(kt_confirm("st1", token, chips[i].dev_eui, counter, rc, &r), 200);
		kt_resp_free(&r);
		t_kms += lpa_mono_s() - t;
	}
	t = lpa_mono_s() - t0;
	printf("kms issue+confirm: %d devices in %.2f s: %.1f devices/s end to end;"
	       " KMS round trips alone %.1f devices/s (%.1f ms per device);"
	       " simulated chip %.1f ms per device\n",
	       n, t, n / t, n / t_kms, 1000 * t_kms / n, 1000 * t_chip / n);
	for (int i = 0; i < n; i++)
		kt_chip_free(&chips[i]);
	free(chips);
}
END_TEST

int main(void)
{
	const struct kt_case cases[] = {{"issue_confirm", issue_confirm}};

	return kt_main("kms-bench", cases, 1, kt_start, 600, true);
}
