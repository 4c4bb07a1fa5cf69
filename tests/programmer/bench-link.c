/*
 * bench-link — what one device costs on the wire, per backend (run under lpa-sim):
 *
 *   LPA_BENCH_STATE=DIR LPA_TEST_PKI=DIR bench-link BACKEND [ITERATIONS]
 *
 * For each operation it reports USB bulk transfers counted by the virtual probe (the
 * deterministic figure: the same for every run), the backend's own round trips, and
 * wall time. DIR is lpa-sim's --state directory, whose per-probe stats file the
 * simulator refreshes every 100 ms or so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "programmer/programmer.h"

struct usb_stats {
	unsigned long long out, in;
};

static int bench_stats(const char *serial, struct usb_stats *s)
{
	char path[1024], line[256], key[64];
	unsigned long long v;
	FILE *f;

	/* Let the simulator publish the counters of everything done so far. */
	usleep(300000);
	snprintf(path, sizeof(path), "%s/probes/%s/stats", getenv("LPA_BENCH_STATE"), serial);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	memset(s, 0, sizeof(*s));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%63s %llu", key, &v) != 2)
			continue;
		if (strcmp(key, "usb_out") == 0)
			s->out = v;
		else if (strcmp(key, "usb_in") == 0)
			s->in = v;
	}
	fclose(f);
	return 0;
}

enum bench_op { OP_IDENTIFY, OP_INSTALL, OP_READ2K, OP_N };
static const char *bench_names[OP_N] = {"connect + identify", "237 B package + INSTALL_PACKAGE",
					"2 KiB read"};

struct bench_ctx {
	prog_link *link;
	psoc6 *chip;
	EVP_PKEY *kms, *dik;
	struct lpa_lpi1 id;
	lpa_secbuf *keys;
	uint32_t counter;
};

static int bench_run(struct bench_ctx *b, enum bench_op op)
{
	uint8_t buf[2048], pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN];
	struct lpa_lpk1_hdr h = {.lorawan = LPA_LORAWAN_11, .dev_eui = 1, .key_id = 1};
	uint32_t siid;
	uint8_t prot;
	uint64_t uid;
	int r;

	switch (op) {
	case OP_IDENTIFY:
		psoc6_detach(&b->chip);
		if ((r = prog_link_connect(b->link, NULL)) != LPA_OK ||
		    (r = psoc6_attach(b->link, &b->chip)) != LPA_OK ||
		    (r = psoc6_silicon_id(b->chip, &siid, &prot)) != LPA_OK ||
		    (r = psoc6_unique_id(b->chip, &uid)) != LPA_OK)
			return r;
		return psoc6_get_identity(b->chip, &b->id, NULL, 0, NULL);
	case OP_INSTALL:
		/* Built outside the measurement would be fairer to neither: the KMS's work
		 * is not the link's, so build first, then time only the install. */
		return LPA_OK;
	case OP_READ2K:
		return prog_mem_read(b->link, 0, 0x10000000, buf, sizeof(buf));
	default:
		(void)h;
		(void)pkg;
		(void)rcpt;
		return LPA_ERR_INVAL;
	}
}

static int bench_install(struct bench_ctx *b, double *secs)
{
	struct lpa_lpk1_hdr h = {
		.lorawan = LPA_LORAWAN_11, .dev_eui = 0x70b3d57ed0000001ULL, .key_id = 1};
	uint8_t pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN];
	double t0;
	int r;

	h.chip_uid = b->id.chip_uid;
	h.counter = ++b->counter;
	if ((r = lpa_lpk1_build(&h, b->keys, b->dik, b->kms, NULL, NULL, pkg)) != LPA_OK)
		return r;
	t0 = lpa_mono_s();
	r = psoc6_install_package(b->chip, pkg, rcpt);
	*secs = lpa_mono_s() - t0;
	return r;
}

int main(int argc, char **argv)
{
	struct prog_link_opts o = {.timeout_ms = 10000};
	struct bench_ctx b = {0};
	int iters = argc > 2 ? atoi(argv[2]) : 5;
	char path[1024];
	FILE *f;

	if (argc < 2 || getenv("LPA_BENCH_STATE") == NULL || getenv("LPA_TEST_PKI") == NULL ||
	    iters < 1) {
		fprintf(stderr, "usage: LPA_BENCH_STATE=DIR LPA_TEST_PKI=DIR bench-link "
				"cmsis-dap|openocd [ITERATIONS]\n");
		return 2;
	}
	o.backend = strcmp(argv[1], "openocd") == 0 ? PROG_BACKEND_OPENOCD : PROG_BACKEND_CMSIS_DAP;
	snprintf(path, sizeof(path), "%s/kms-package.key", getenv("LPA_TEST_PKI"));
	if ((f = fopen(path, "r")) == NULL ||
	    (b.kms = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "bench-link: cannot read %s\n", path);
		return 1;
	}
	fclose(f);
	b.keys = lpa_secbuf_new(32);
	if (prog_link_open(&o, &b.link) != LPA_OK || bench_run(&b, OP_IDENTIFY) != LPA_OK ||
	    lpa_p256_from_public(b.id.dik_pub, &b.dik) != LPA_OK) {
		fprintf(stderr, "bench-link: cannot reach the chip: %s\n",
			b.link ? prog_link_last_error(b.link) : "no probe");
		return 1;
	}
	b.counter = b.id.last_counter;
	printf("| backend | operation | USB transfers (out+in) | backend round trips | wall ms "
	       "|\n");
	printf("|---|---|---|---|---|\n");
	for (int op = 0; op < OP_N; op++) {
		struct usb_stats s0, s1;
		struct prog_counters c0, c1;
		double secs = 0;

		if (bench_stats(prog_link_serial(b.link), &s0) != 0) {
			fprintf(stderr,
				"bench-link: no simulator stats (run under lpa-sim --state)\n");
			return 1;
		}
		prog_link_counters(b.link, &c0);
		for (int i = 0; i < iters; i++) {
			double t0 = lpa_mono_s(), one = 0;
			int r = op == OP_INSTALL ? bench_install(&b, &one) : bench_run(&b, op);

			if (r != LPA_OK) {
				fprintf(stderr, "bench-link: %s: %s (%s)\n", bench_names[op],
					lpa_strerror(r), prog_link_last_error(b.link));
				return 1;
			}
			secs += op == OP_INSTALL ? one : lpa_mono_s() - t0;
		}
		prog_link_counters(b.link, &c1);
		bench_stats(prog_link_serial(b.link), &s1);
		printf("| %s | %s | %.1f | %.1f | %.2f |\n", argv[1], bench_names[op],
		       (double)(s1.out + s1.in - s0.out - s0.in) / iters,
		       (double)(c1.round_trips - c0.round_trips) / iters, secs * 1000 / iters);
	}
	psoc6_detach(&b.chip);
	prog_link_close(&b.link);
	lpa_secbuf_free(&b.keys);
	lpa_pkey_free(&b.kms);
	lpa_pkey_free(&b.dik);
	return 0;
}
