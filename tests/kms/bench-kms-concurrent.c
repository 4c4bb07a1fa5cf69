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
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "kmstest.h"

#define BENCH_MAX_STATIONS 64
#define BENCH_FLOODERS 3

struct bench_buf {
	char data[8192];
	size_t len;
};

struct bench_station {
	unsigned index; /* st<index> */
	char token[64];
	CURL *curl;
	struct kt_chip *chips;
	unsigned nchips;
	double *lat; /* seconds per request */
	unsigned nlat;
	unsigned failures;
	char first_error[256];
};

static EVP_PKEY *bench_pkg_key;
static atomic_int bench_stop;

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t bench_write(char *p, size_t size, size_t n, void *ud)
{
	struct bench_buf *b = ud;
	size_t len = size * n;

	if (b->len + len >= sizeof(b->data))
		len = sizeof(b->data) - 1 - b->len;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return size * n;
}

/* One request on the station's own connection; the HTTP status, -1 on transport failure. */
static long bench_http(struct bench_station *st, const char *method, const char *path,
		       const char *token, const char *body, struct bench_buf *out)
{
	char url[256], cert[700], key[700], ca[700], hdr[128], src[32];
	struct curl_slist *h = NULL;
	long status = -1;
	CURL *c;

	if (!st->curl)
		st->curl = curl_easy_init();
	c = st->curl;
	curl_easy_reset(c); /* keeps the connection */
	out->len = 0;
	out->data[0] = '\0';
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", kt.port, path);
	snprintf(ca, sizeof(ca), "%s/kms-ca.pem", kt.certs);
	snprintf(cert, sizeof(cert), "%s/st%u.pem", kt.certs, st->index);
	snprintf(key, sizeof(key), "%s/st%u.key", kt.certs, st->index);
	/* Each station from its own address, as on a line of separate machines. */
	snprintf(src, sizeof(src), "host!127.0.1.%u", st->index);
	curl_easy_setopt(c, CURLOPT_INTERFACE, src);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	if (token) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	return status;
}

static void bench_fail(struct bench_station *st, const char *what, long status,
		       const struct bench_buf *b)
{
	if (st->failures++ == 0)
		snprintf(st->first_error, sizeof(st->first_error), "%s: HTTP %ld %.180s", what,
			 status, b->data);
}

/* The chip's side: open the package, sign the receipt (what the simulator's agent does). */
static int bench_chip(struct kt_chip *chip, const uint8_t pkg[LPA_LPK1_LEN],
		      uint8_t receipt[LPA_LPR1_LEN])
{
	struct lpa_lpk1_hdr hdr;
	struct lpa_lpr1 r;
	lpa_secbuf *keys = NULL;
	uint8_t h[32];
	int rc;

	if (lpa_lpk1_open(pkg, LPA_LPK1_LEN, bench_pkg_key, chip->dik, chip->uid,
			  chip->last_counter, &hdr, &keys) != LPA_OK)
		return -1;
	chip->last_counter = hdr.counter;
	memset(&r, 0, sizeof(r));
	r.dev_eui = hdr.dev_eui;
	r.chip_uid = chip->uid;
	r.counter = hdr.counter;
	lpa_sha256(pkg, LPA_LPK1_LEN, h);
	memcpy(r.pkg_hash, h, sizeof(r.pkg_hash));
	rc = lpa_lpr1_build(&r, hdr.lorawan, keys, chip->dik, receipt);
	lpa_secbuf_free(&keys);
	return rc == LPA_OK ? 0 : -1;
}

static void bench_record(struct bench_station *st, double t0)
{
	st->lat[st->nlat++] = bench_now() - t0;
}

static void *bench_station_run(void *arg)
{
	struct bench_station *st = arg;
	struct bench_buf b;
	char *body = malloc(4096), b64[2048], path[96];
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN];

	for (unsigned i = 0; body && i < st->nchips; i++) {
		struct kt_chip *chip = &st->chips[i];
		json_t *o;
		const char *p, *eui;
		size_t n;
		uint32_t counter;
		long status;
		double t0;

		kt_issue_body(chip, "BENCH", "1.1", KT_SILICON_ID, body, 4096);
		t0 = bench_now();
		status = bench_http(st, "POST", "/v1/devices/issue", st->token, body, &b);
		bench_record(st, t0);
		if (status != 201) {
			bench_fail(st, "issue", status, &b);
			continue;
		}
		o = json_loads(b.data, 0, NULL);
		p = json_string_value(json_object_get(o, "package"));
		eui = json_string_value(json_object_get(o, "dev_eui"));
		counter = (uint32_t)json_integer_value(json_object_get(o, "counter"));
		if (!p || !eui || lpa_b64url_decode(p, strlen(p), pkg, sizeof(pkg), &n) != LPA_OK ||
		    n != sizeof(pkg) || bench_chip(chip, pkg, rc) != 0) {
			json_decref(o);
			bench_fail(st, "package", status, &b);
			continue;
		}
		snprintf(path, sizeof(path), "/v1/devices/%s/confirm", eui);
		json_decref(o);
		kt_b64(rc, sizeof(rc), b64);
		snprintf(body, 4096,
			 "{\"counter\":%u,\"receipt\":\"%s\",\"probe\":{\"serial\":\"KP3-B%u\","
			 "\"firmware\":\"2.5.0\"}}",
			 counter, b64, st->index);
		t0 = bench_now();
		status = bench_http(st, "POST", path, st->token, body, &b);
		bench_record(st, t0);
		if (status != 200)
			bench_fail(st, "confirm", status, &b);
	}
	free(body);
	return NULL;
}

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

static struct bench_station stations[BENCH_MAX_STATIONS];

static void bench_level(unsigned n, unsigned devices)
{
	pthread_t th[BENCH_MAX_STATIONS];
	struct bench_buf b;
	unsigned per = (devices + n - 1) / n, fails = 0;
	size_t total = 0, k = 0;
	double t0, t, *all;

	for (unsigned s = 0; s < n; s++) {
		struct bench_station *st = &stations[s];

		st->chips = calloc(per, sizeof(*st->chips));
		st->lat = calloc(2 * per, sizeof(*st->lat));
		ck_assert(st->chips && st->lat);
		st->nchips = per;
		st->nlat = 0;
		st->failures = 0;
		for (unsigned i = 0; i < per; i++)
			kt_chip_new(&st->chips[i], false, 0);
		/* The connection is up (and the TLS handshake done) before the clock. */
		ck_assert_int_eq(bench_http(st, "GET", "/v1/keys", NULL, NULL, &b), 200);
	}
	t0 = bench_now();
	for (unsigned s = 0; s < n; s++)
		ck_assert_int_eq(pthread_create(&th[s], NULL, bench_station_run, &stations[s]), 0);
	for (unsigned s = 0; s < n; s++)
		pthread_join(th[s], NULL);
	t = bench_now() - t0;
	for (unsigned s = 0; s < n; s++)
		total += stations[s].nlat;
	all = malloc(total * sizeof(*all));
	ck_assert_ptr_nonnull(all);
	for (unsigned s = 0; s < n; s++) {
		struct bench_station *st = &stations[s];

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
	struct bench_station *st = arg;
	struct bench_buf b;
	char body[256];
	unsigned i = 0;

	while (!atomic_load(&bench_stop)) {
		snprintf(body, sizeof(body),
			 "{\"operator\":\"nobody-%u-%u\",\"password\":\"guess %u\",\"totp\":"
			 "\"123456\"}",
			 st->index, i, i);
		i++;
		bench_http(st, "POST", "/v1/sessions", NULL, body, &b);
	}
	return NULL;
}

static double bench_keys_median(struct bench_station *st, unsigned n)
{
	double *v = calloc(n, sizeof(*v)), m;
	struct bench_buf b;

	ck_assert_ptr_nonnull(v);
	for (unsigned i = 0; i < n; i++) {
		double t0 = bench_now();

		ck_assert_int_eq(bench_http(st, "GET", "/v1/keys", NULL, NULL, &b), 200);
		v[i] = bench_now() - t0;
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
		struct bench_station *honest = &stations[BENCH_FLOODERS];
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
		if (stations[s].curl)
			curl_easy_cleanup(stations[s].curl);
	lpa_pkey_free(&bench_pkg_key);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kms-bench-concurrent");
	TCase *tc = tcase_create("concurrent");
	SRunner *sr;
	int failed;

	kt.stations = BENCH_MAX_STATIONS;
	/* Production work factors: a login costs what it costs on a real KMS. */
	kt.argon2_t = "3";
	kt.argon2_m = "65536";
	tcase_add_unchecked_fixture(tc, kt_start, NULL);
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, concurrent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	failed += kt_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
