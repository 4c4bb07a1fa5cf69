/*
 * bench-kms-join.c — joins per second the Join Server sustains (docs/benchmarks.md): C
 * network-server connections (1, then 16: env KMS_BENCH_CONNS), each a thread with its own
 * TLS connection kept open (one peer certificate, as a network server's pool uses one) and
 * its own provisioned 1.1 device, sending JoinReqs with increasing DevNonces as fast as
 * answers come. Every answer must be Success (its join-accept is not opened here: the
 * functional tests do that). Prints joins/s, p50/p99 latency and the bytes of one JoinReq
 * and one JoinAns.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "kmstest.h"

#define BENCH_MAX_CONNS 64

struct bench_conn {
	struct kt_chip chip;
	uint16_t next_nonce;
	unsigned joins, failures;
	double *lat;
	size_t req_bytes, ans_bytes;
	char first_error[256];
};

struct bench_buf {
	char data[8192];
	size_t len;
};

static size_t bench_write(char *d, size_t size, size_t n, void *ud)
{
	struct bench_buf *b = ud;
	size_t k = size * n;

	if (b->len + k < sizeof(b->data)) {
		memcpy(b->data + b->len, d, k);
		b->len += k;
		b->data[b->len] = '\0';
	}
	return size * n;
}

static void *bench_run(void *arg)
{
	struct bench_conn *bc = arg;
	char url[128], cert[700], key[700], ca[700], body[1024], phy_hex[47];
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	const uint8_t *nwk = lpa_secbuf_cdata(bc->chip.keys) + 16;
	uint64_t join_eui = kt_hex64(KT_JOIN_EUI);

	snprintf(url, sizeof(url), "https://127.0.0.1:%u/lbi", kt.port);
	snprintf(cert, sizeof(cert), "%s/nsb.pem", kt.certs);
	snprintf(key, sizeof(key), "%s/nsb.key", kt.certs);
	snprintf(ca, sizeof(ca), "%s/kms-ca.pem", kt.certs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_write);
	for (unsigned i = 0; i < bc->joins; i++) {
		struct bench_buf b = {.len = 0};
		uint8_t phy[23];
		uint16_t dn = bc->next_nonce++;
		long status = 0;
		double t0;

		phy[0] = 0;
		for (int k = 0; k < 8; k++) {
			phy[1 + k] = (uint8_t)(join_eui >> (8 * k));
			phy[9 + k] = (uint8_t)(bc->chip.dev_eui >> (8 * k));
		}
		phy[17] = (uint8_t)dn;
		phy[18] = (uint8_t)(dn >> 8);
		lpa_lorawan_join_request_mic(nwk, 0, join_eui, bc->chip.dev_eui, dn, phy + 19);
		lpa_hex_encode(phy, 23, phy_hex);
		snprintf(
			body, sizeof(body),
			"{\"ProtocolVersion\":\"1.0\",\"SenderID\":\"000077\",\"ReceiverID\":\"%"
			"s\","
			"\"TransactionID\":%u,\"MessageType\":\"JoinReq\",\"MACVersion\":\"1.1.0\","
			"\"PHYPayload\":\"%s\",\"DevEUI\":\"%016llx\",\"DevAddr\":\"26011234\","
			"\"DLSettings\":\"00\",\"RxDelay\":1,\"CFList\":\"\"}",
			KT_JOIN_EUI, i, phy_hex, (unsigned long long)bc->chip.dev_eui);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		t0 = lpa_mono_s();
		if (curl_easy_perform(c) != CURLE_OK ||
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
		    status != 200 || !strstr(b.data, "\"ResultCode\":\"Success\"")) {
			if (!bc->failures++)
				snprintf(bc->first_error, sizeof(bc->first_error), "%ld %.200s",
					 status, b.data);
			continue;
		}
		bc->lat[i] = lpa_mono_s() - t0;
		bc->req_bytes = strlen(body);
		bc->ans_bytes = b.len;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

START_TEST(joins)
{
	static struct bench_conn conns[BENCH_MAX_CONNS];
	const char *env = getenv("KMS_BENCH_CONNS");
	const char *total_env = getenv("KMS_BENCH_JOINS");
	unsigned total = total_env ? (unsigned)atoi(total_env) : 1600;
	char list[64], token[64], *save = NULL;
	struct kt_op op;

	snprintf(list, sizeof(list), "%s", env ? env : "1 16");
	kt_peer_add("nsb", "ns", "000077", "ns:000077:nsb", "BENCH", NULL);
	kt_peer_add("asb", "as", NULL, "as:asb", "BENCH", NULL);
	kt_operator(&op, "bench", "operator", NULL, NULL, NULL);
	kt_login_ok(&op, "st1", token);
	for (unsigned i = 0; i < BENCH_MAX_CONNS; i++) {
		uint8_t pkg[LPA_LPK1_LEN], receipt[LPA_LPR1_LEN];
		struct kt_resp r;
		uint32_t counter;

		kt_chip_new(&conns[i].chip, false, 0);
		ck_assert_int_eq(
			kt_issue("st1", token, &conns[i].chip, "BENCH", "1.1", &counter, pkg, &r),
			201);
		kt_resp_free(&r);
		kt_chip_install(&conns[i].chip, pkg, receipt);
		ck_assert_int_eq(
			kt_confirm("st1", token, conns[i].chip.dev_eui, counter, receipt, &r), 200);
		kt_resp_free(&r);
		conns[i].next_nonce = 1;
	}
	printf("| NS connections | joins | joins/s | p50 ms | p99 ms |\n|---|---|---|---|---|\n");
	for (char *tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		unsigned n = (unsigned)atoi(tok), per = total / (n ? n : 1), failures = 0;
		pthread_t t[BENCH_MAX_CONNS];
		double t0, wall, *all;
		size_t nl = 0;

		ck_assert(n >= 1 && n <= BENCH_MAX_CONNS);
		for (unsigned i = 0; i < n; i++) {
			conns[i].joins = per;
			conns[i].failures = 0;
			conns[i].lat = calloc(per, sizeof(double));
			ck_assert_ptr_nonnull(conns[i].lat);
		}
		t0 = lpa_mono_s();
		for (unsigned i = 0; i < n; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, bench_run, &conns[i]), 0);
		for (unsigned i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		wall = lpa_mono_s() - t0;
		all = calloc((size_t)n * per, sizeof(double));
		ck_assert_ptr_nonnull(all);
		for (unsigned i = 0; i < n; i++) {
			failures += conns[i].failures;
			ck_assert_msg(conns[i].failures == 0, "connection %u: %s", i,
				      conns[i].first_error);
			memcpy(all + nl, conns[i].lat, per * sizeof(double));
			nl += per;
			free(conns[i].lat);
		}
		qsort(all, nl, sizeof(double), bench_cmp);
		printf("| %u | %zu | %.0f | %.1f | %.1f |\n", n, nl, (double)nl / wall,
		       1e3 * all[nl / 2], 1e3 * all[nl * 99 / 100]);
		free(all);
		ck_assert_uint_eq(failures, 0);
	}
	printf("JoinReq %zu bytes, JoinAns %zu bytes (1.1: three network-key envelopes and the "
	       "AppSKey's)\n",
	       conns[0].req_bytes, conns[0].ans_bytes);
	for (unsigned i = 0; i < BENCH_MAX_CONNS; i++)
		kt_chip_free(&conns[i].chip);
}
END_TEST

int main(void)
{
	const struct kt_case cases[] = {{"joins", joins}};
	int status;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	status = kt_main("kms-bench-join", cases, 1, kt_start, 1200, true);
	curl_global_cleanup();
	return status;
}
