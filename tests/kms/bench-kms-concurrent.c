/*
 * bench-kms-concurrent — the reference KMS serving many stations at once: S stations
 * (1, 4, 16, 64), each with its own operator session and its own TLS connection kept
 * open, each doing issue + confirm for its own chips as fast as the KMS answers. Chips
 * are made before the clock starts; the chip's share (opening the package, signing the
 * receipt) runs in the station threads, as it would on the line, on the same 2 cores.
 * Reports devices per second and the latency of single requests (p50, p99).
 *
 * Then a login flood: three stations sending logins (unknown operators, so each costs a
 * full Argon2id) while a fourth asks GET /v1/keys; reports that call's median latency
 * with and without the flood.
 *
 *   meson test -C build --benchmark --suite kms -v bench-kms-concurrent
 *   KMS_BENCH_STATIONS="1 4 16 64" KMS_BENCH_DEVICES=N (per level, default 1200)
 *   KMS_BENCH_FLOOD=0 (no login flood)
 *   KMS_BENCH_INSTANCES=2 (PostgreSQL only: a second `lpa-kms serve` on the same
 *   database; the stations alternate between the two)
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include "kt-station.h"

#define BENCH_MAX_STATIONS 64
#define BENCH_FLOODERS 3

static EVP_PKEY *bench_pkg_key;
static int bench_pid_b;
static atomic_int bench_stop;

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double bench_pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return n ? v[i < n ? i : n - 1] : 0;
}

static struct kt_station stations[BENCH_MAX_STATIONS];
static unsigned bench_ports[2], bench_instances = 1;

static void bench_level(unsigned n, unsigned devices)
{
	pthread_t th[BENCH_MAX_STATIONS];
	struct kt_buf b;
	unsigned per = (devices + n - 1) / n, fails = 0;
	size_t total = 0, k = 0;
	double t0, t, *all;

	for (unsigned s = 0; s < n; s++) {
		struct kt_station *st = &stations[s];

		st->chips = calloc(per, sizeof(*st->chips));
		st->lat = calloc(2 * per, sizeof(*st->lat));
		ck_assert(st->chips && st->lat);
		st->nchips = per;
		st->nlat = 0;
		st->pkg_key = bench_pkg_key;
		st->ports = bench_ports;
		st->nports = bench_instances;
		st->which = s % bench_instances;
		st->failures = 0;
		for (unsigned i = 0; i < per; i++)
			kt_chip_new(&st->chips[i], false, 0);
		/* The connection is up (and the TLS handshake done) before the clock. */
		ck_assert_int_eq(kt_station_http(st, "GET", "/v1/keys", NULL, NULL, &b), 200);
	}
	t0 = lpa_mono_s();
	for (unsigned s = 0; s < n; s++)
		ck_assert_int_eq(pthread_create(&th[s], NULL, kt_station_run, &stations[s]), 0);
	for (unsigned s = 0; s < n; s++)
		pthread_join(th[s], NULL);
	t = lpa_mono_s() - t0;
	for (unsigned s = 0; s < n; s++)
		total += stations[s].nlat;
	all = malloc(total * sizeof(*all));
	ck_assert_ptr_nonnull(all);
	for (unsigned s = 0; s < n; s++) {
		struct kt_station *st = &stations[s];

		memcpy(all + k, st->lat, st->nlat * sizeof(*all));
		k += st->nlat;
		fails += st->failures;
		if (st->failures)
			fprintf(stderr, "bench: st%u: %u failures, first: %s\n", st->index,
				st->failures, st->first_error);
		for (unsigned i = 0; i < st->nchips; i++)
			kt_chip_free(&st->chips[i]);
		free(st->chips);
		free(st->lat);
		st->chips = NULL;
		st->lat = NULL;
	}
	qsort(all, total, sizeof(*all), bench_cmp);
	printf("| %u | %u | %.2f | %.0f | %.1f | %.1f |\n", n, per * n, t, per * n / t,
	       1000 * bench_pct(all, total, 0.50), 1000 * bench_pct(all, total, 0.99));
	fflush(stdout);
	free(all);
	ck_assert_uint_eq(fails, 0);
}

/* ---------------------------------------------------------------- flood */
static void *bench_flood_run(void *arg)
{
	struct kt_station *st = arg;
	struct kt_buf b;
	char body[256];
	unsigned i = 0;

	while (!atomic_load(&bench_stop)) {
		snprintf(body, sizeof(body),
			 "{\"operator\":\"nobody-%u-%u\",\"password\":\"guess %u\",\"totp\":"
			 "\"123456\"}",
			 st->index, i, i);
		i++;
		kt_station_http(st, "POST", "/v1/sessions", NULL, body, &b);
	}
	return NULL;
}

static double bench_keys_median(struct kt_station *st, unsigned n)
{
	double *v = calloc(n, sizeof(*v)), m;
	struct kt_buf b;

	ck_assert_ptr_nonnull(v);
	for (unsigned i = 0; i < n; i++) {
		double t0 = lpa_mono_s();

		ck_assert_int_eq(kt_station_http(st, "GET", "/v1/keys", NULL, NULL, &b), 200);
		v[i] = lpa_mono_s() - t0;
	}
	qsort(v, n, sizeof(*v), bench_cmp);
	m = bench_pct(v, n, 0.5);
	free(v);
	return m;
}

START_TEST(concurrent)
{
	const char *env = getenv("KMS_BENCH_STATIONS");
	const char *dev = getenv("KMS_BENCH_DEVICES");
	unsigned devices = dev ? (unsigned)atoi(dev) : 1200, levels[8], nlevels = 0, max = 0;
	char list[64];

	snprintf(list, sizeof(list), "%s", env ? env : "1 4 16 64");
	for (char *tok = strtok(list, " "); tok && nlevels < 8; tok = strtok(NULL, " ")) {
		levels[nlevels] = (unsigned)atoi(tok);
		ck_assert(levels[nlevels] >= 1 && levels[nlevels] <= BENCH_MAX_STATIONS);
		if (levels[nlevels] > max)
			max = levels[nlevels];
		nlevels++;
	}
	bench_pkg_key = kt_kms_key("package");
	bench_ports[0] = kt.port;
	if (getenv("KMS_BENCH_INSTANCES") && atoi(getenv("KMS_BENCH_INSTANCES")) == 2) {
		ck_assert_msg(kt.pg != NULL, "two instances need PostgreSQL (pg-server.sh)");
		bench_pid_b = kt_serve("serve-b", &bench_ports[1]);
		bench_instances = 2;
	}
	for (unsigned s = 0; s < BENCH_MAX_STATIONS; s++) {
		struct kt_op op;
		char name[16];

		stations[s].index = s + 1;
		if (s >= max && s >= BENCH_FLOODERS + 1)
			continue;
		snprintf(name, sizeof(name), "st%u", s + 1);
		kt_operator(&op, "bench", "operator", NULL, NULL, NULL);
		kt_login_ok(&op, name, stations[s].token);
	}
	printf("| stations | devices | seconds | devices/s | p50 ms | p99 ms |\n"
	       "|---|---|---|---|---|---|\n");
	for (unsigned l = 0; l < nlevels; l++)
		bench_level(levels[l], devices);

	/* The login flood (KMS_BENCH_FLOOD=0: none, e.g. to count the KMS's CPU time per
	 * device from two runs). */
	if (!getenv("KMS_BENCH_FLOOD") || atoi(getenv("KMS_BENCH_FLOOD")) != 0) {
		pthread_t th[BENCH_FLOODERS];
		struct kt_station *honest = &stations[BENCH_FLOODERS];
		double idle, flooded;

		idle = bench_keys_median(honest, 20);
		atomic_store(&bench_stop, 0);
		for (unsigned i = 0; i < BENCH_FLOODERS; i++)
			ck_assert_int_eq(
				pthread_create(&th[i], NULL, bench_flood_run, &stations[i]), 0);
		flooded = bench_keys_median(honest, 20);
		atomic_store(&bench_stop, 1);
		for (unsigned i = 0; i < BENCH_FLOODERS; i++)
			pthread_join(th[i], NULL);
		printf("GET /v1/keys median: %.1f ms idle, %.1f ms while %d stations flood "
		       "logins\n",
		       1000 * idle, 1000 * flooded, BENCH_FLOODERS);
	}
	for (unsigned s = 0; s < BENCH_MAX_STATIONS; s++)
		kt_station_free(&stations[s]);
	if (bench_pid_b > 0) {
		int status;

		kill(bench_pid_b, SIGTERM);
		ck_assert_int_eq(waitpid(bench_pid_b, &status, 0), bench_pid_b);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	lpa_pkey_free(&bench_pkg_key);
}
END_TEST

int main(void)
{
	const struct kt_case cases[] = {{"concurrent", concurrent}};

	kt.stations = BENCH_MAX_STATIONS;
	/* Production work factors: a login costs what it costs on a real KMS. */
	kt.argon2_t = "3";
	kt.argon2_m = "65536";
	return kt_main("kms-bench-concurrent", cases, 1, kt_start, 1200, true);
}
