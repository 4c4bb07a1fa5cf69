/*
 * bench-flash — main-flash programming per backend, against the physical floor (run
 * under lpa-sim, docs/benchmarks.md "Flash programming"):
 *
 *   LPA_BENCH_STATE=DIR bench-flash BACKEND KIB [MAX_TRANSFERS_PER_ROW [MAX_WAITS_PER_ROW]]
 *
 * Writes KIB KiB of seeded pseudo-random bytes at 0x10000000 through psoc6_flash_write,
 * reads them back (psoc6_flash_verify), then reports the rows and erases, the USB bulk
 * transfers the virtual probe counted (DIR/probes/SERIAL/stats: deterministic), the
 * wall time, KiB/s, and the floor: the simulator's datasheet times (row program 5 ms,
 * (sub)sector erase 11 ms) times the calls. With MAX_TRANSFERS_PER_ROW it is a test:
 * exit 1 when the write or the read-back fails, or the write took more USB transfers
 * (or host round trips) per row than that: the pipelining's bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "programmer/programmer.h"

#define ROW_PROGRAM_MS 5.0 /* fixtures/sim chip.c sim_latency_default, the datasheet's */
#define ERASE_MS 11.0

static unsigned long long bench_usb(const char *serial)
{
	char path[1024], line[256], key[64];
	unsigned long long v, n = 0;
	const char *dir = getenv("LPA_BENCH_STATE");
	FILE *f;

	if (dir == NULL)
		return 0;
	/* The simulator publishes its counters every 100 ms or so. */
	usleep(300000);
	snprintf(path, sizeof(path), "%s/probes/%s/stats", dir, serial);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%63s %llu", key, &v) == 2 &&
		    (strcmp(key, "usb_out") == 0 || strcmp(key, "usb_in") == 0))
			n += v;
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	struct prog_link_opts o = {.timeout_ms = 5000};
	struct psoc6_flash_plan plan;
	struct prog_counters c0, c1;
	prog_link *l = NULL;
	psoc6 *chip = NULL;
	uint8_t *img, sha[32];
	char why[200] = "";
	unsigned long long u0, u1;
	uint32_t bad = 0, x = 0x12345678u;
	size_t len;
	double t0, t1, floor_ms, max_per_row = 0, max_waits = 0, waits;
	int r;

	if (argc < 3) {
		fprintf(stderr,
			"usage: bench-flash cmsis-dap|openocd KIB [MAX_TRANSFERS_PER_ROW]\n");
		return 2;
	}
	o.backend = strcmp(argv[1], "openocd") == 0 ? PROG_BACKEND_OPENOCD : PROG_BACKEND_CMSIS_DAP;
	len = (size_t)strtoul(argv[2], NULL, 10) * 1024;
	if (argc > 3)
		max_per_row = strtod(argv[3], NULL);
	if (argc > 4)
		max_waits = strtod(argv[4], NULL);
	if ((img = malloc(len)) == NULL || psoc6_flash_plan(0x10000000u, len, &plan) != LPA_OK)
		return 2;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		img[i] = (uint8_t)x;
	}
	if ((r = prog_link_open(&o, &l)) != LPA_OK || (r = prog_link_connect(l, NULL)) != LPA_OK ||
	    (r = psoc6_attach(l, &chip)) != LPA_OK) {
		fprintf(stderr, "bench-flash: cannot reach the chip: %s (%s)\n", lpa_strerror(r),
			l ? prog_link_last_error(l) : "");
		return 1;
	}
	u0 = bench_usb(prog_link_serial(l));
	prog_link_counters(l, &c0);
	t0 = lpa_mono_s();
	r = psoc6_flash_write(chip, 0x10000000u, img, len, why, sizeof(why));
	t1 = lpa_mono_s();
	prog_link_counters(l, &c1);
	u1 = bench_usb(prog_link_serial(l));
	if (r != LPA_OK) {
		fprintf(stderr, "bench-flash: write failed: %s: %s\n", lpa_strerror(r), why);
		return 1;
	}
	if ((r = psoc6_flash_verify(chip, 0x10000000u, img, len, sha, &bad)) != LPA_OK) {
		fprintf(stderr, "bench-flash: read-back: %s at 0x%08x\n", lpa_strerror(r), bad);
		return 1;
	}
	floor_ms = plan.rows * ROW_PROGRAM_MS +
		   (plan.sector_erases + plan.subsector_erases) * ERASE_MS;
	printf("backend %s  image %zu KiB  rows %u  erases %u+%u  host_waits %llu  "
	       "usb_transfers %llu (%.2f/row)  "
	       "ms %.0f  KiB/s %.1f  floor_ms %.0f  floor_KiB/s %.1f  vs_floor %.3f\n",
	       prog_link_backend_name(l), len / 1024, plan.rows, plan.sector_erases,
	       plan.subsector_erases, (unsigned long long)(c1.round_trips - c0.round_trips),
	       u1 - u0, (double)(u1 - u0) / plan.rows, (t1 - t0) * 1000,
	       (double)len / 1024 / (t1 - t0), floor_ms, (double)len / 1024 / (floor_ms / 1000),
	       (t1 - t0) * 1000 / floor_ms);
	waits = (double)(c1.round_trips - c0.round_trips) / plan.rows;
	psoc6_detach(&chip);
	prog_link_close(&l);
	free(img);
	if (max_waits > 0 && waits > max_waits) {
		fprintf(stderr, "bench-flash: %.2f host round trips per row, more than %.2f\n",
			waits, max_waits);
		return 1;
	}
	if (max_per_row > 0 && u0 != 0 && (double)(u1 - u0) / plan.rows > max_per_row) {
		fprintf(stderr, "bench-flash: %.2f USB transfers per row, more than %.2f\n",
			(double)(u1 - u0) / plan.rows, max_per_row);
		return 1;
	}
	return 0;
}
