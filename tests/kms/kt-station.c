/*
 * kt-station.c — many stations at once against one or several KMS instances
 * (kt-station.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kt-station.h"

void kt_progress_init(struct kt_progress *p)
{
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->done = 0;
}

bool kt_progress_wait(struct kt_progress *p, unsigned n, unsigned seconds)
{
	struct timespec until;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&p->lock);
	while (p->done < n && ok)
		ok = pthread_cond_timedwait(&p->cond, &p->lock, &until) != ETIMEDOUT;
	ok = p->done >= n;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

static void kt_progress_add(struct kt_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->done++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static size_t kt_station_write(char *p, size_t size, size_t n, void *ud)
{
	struct kt_buf *b = ud;
	size_t len = size * n;

	if (b->len + len >= sizeof(b->data))
		len = sizeof(b->data) - 1 - b->len;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return size * n;
}

static unsigned kt_station_port(const struct kt_station *st)
{
	return st->nports ? st->ports[st->which % st->nports] : kt.port;
}

long kt_station_http(struct kt_station *st, const char *method, const char *path, const char *token,
		     const char *body, struct kt_buf *out)
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
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", kt_station_port(st), path);
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
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, kt_station_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	return status;
}

/* A call that survives an instance going away: on a transport failure, the next
 * instance (a new connection) gets the same request. */
static long kt_station_call(struct kt_station *st, const char *path, const char *body,
			    struct kt_buf *out)
{
	long status = -1;

	for (unsigned i = 0; i < KT_STATION_FAILOVERS; i++) {
		double t0 = lpa_mono_s();

		status = kt_station_http(st, "POST", path, st->token, body, out);
		if (st->lat && st->nlat < 2 * st->nchips)
			st->lat[st->nlat++] = lpa_mono_s() - t0;
		if (status != -1 || st->nports < 2)
			break;
		st->failovers++;
		st->which++;
		curl_easy_cleanup(st->curl);
		st->curl = NULL;
	}
	return status;
}

static void kt_station_fail(struct kt_station *st, const char *what, long status,
			    const struct kt_buf *b)
{
	if (st->failures++ == 0)
		snprintf(st->first_error, sizeof(st->first_error), "%s: HTTP %ld %.180s", what,
			 status, b->data);
}

/* The chip's side: open the package, sign the receipt (what the simulator's agent does). */
static int kt_station_chip(struct kt_station *st, struct kt_chip *chip,
			   const uint8_t pkg[LPA_LPK1_LEN], uint8_t receipt[LPA_LPR1_LEN])
{
	struct lpa_lpk1_hdr hdr;
	struct lpa_lpr1 r;
	lpa_secbuf *keys = NULL;
	uint8_t h[32];
	int rc;

	if (lpa_lpk1_open(pkg, LPA_LPK1_LEN, st->pkg_key, chip->dik, chip->uid, chip->last_counter,
			  &hdr, &keys) != LPA_OK)
		return -1;
	chip->last_counter = hdr.counter;
	chip->dev_eui = hdr.dev_eui;
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

void *kt_station_run(void *arg)
{
	struct kt_station *st = arg;
	struct kt_buf b;
	char *body = malloc(4096), b64[2048], path[96];
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN];

	for (unsigned i = 0; body && i < st->nchips; i++) {
		struct kt_chip *chip = &st->chips[i];
		json_t *o;
		const char *p, *eui, *rec;
		size_t n;
		uint32_t counter;
		long status;

		kt_issue_body(chip, st->lot ? st->lot : "BENCH", "1.1", KT_SILICON_ID, body, 4096);
		status = kt_station_call(st, "/v1/devices/issue", body, &b);
		if (status != 201) {
			kt_station_fail(st, "issue", status, &b);
			continue;
		}
		o = json_loads(b.data, 0, NULL);
		p = json_string_value(json_object_get(o, "package"));
		eui = json_string_value(json_object_get(o, "dev_eui"));
		counter = (uint32_t)json_integer_value(json_object_get(o, "counter"));
		if (!p || !eui || lpa_b64url_decode(p, strlen(p), pkg, sizeof(pkg), &n) != LPA_OK ||
		    n != sizeof(pkg) || kt_station_chip(st, chip, pkg, rc) != 0) {
			json_decref(o);
			kt_station_fail(st, "package", status, &b);
			continue;
		}
		if (counter > 1)
			st->reissues++; /* a resent issue that had committed before */
		snprintf(path, sizeof(path), "/v1/devices/%s/confirm", eui);
		json_decref(o);
		kt_b64(rc, sizeof(rc), b64);
		snprintf(body, 4096,
			 "{\"counter\":%u,\"receipt\":\"%s\",\"probe\":{\"serial\":\"KP3-B%u\","
			 "\"firmware\":\"2.5.0\"}}",
			 counter, b64, st->index);
		status = kt_station_call(st, path, body, &b);
		if (status != 200) {
			kt_station_fail(st, "confirm", status, &b);
			continue;
		}
		if (st->collect_records && st->records) {
			o = json_loads(b.data, 0, NULL);
			rec = json_string_value(json_object_get(o, "record"));
			st->records[i] = rec ? strdup(rec) : NULL;
			json_decref(o);
		}
		kt_progress_add(st->progress);
	}
	free(body);
	return NULL;
}

void kt_station_free(struct kt_station *st)
{
	if (st->curl)
		curl_easy_cleanup(st->curl);
	st->curl = NULL;
	for (unsigned i = 0; st->records && i < st->nchips; i++)
		free(st->records[i]);
	free(st->records);
	st->records = NULL;
}
