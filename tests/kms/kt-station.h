/*
 * kt-station.h — a provisioning station as the KMS sees it, for the tests and benchmarks
 * of many stations at once (bench-kms-concurrent.c, test-kms-instances.c): its own
 * operator session, its own TLS connection kept open from its own loopback address, and
 * issue + confirm for its chips as fast as the KMS answers, the chip's share (opening the
 * package, signing the receipt) done here with the core library.
 *
 * A station may know several KMS instances (ports): when one does not answer at all (a
 * transport failure: killed, restarting), it moves to the next and sends the same call
 * again, as the station's own client retries. Issue and confirm are safe to resend: the
 * chip keeps its DevEUI, the newest package is the one installed, and a confirm already
 * recorded returns its stored record.
 */
#ifndef LPA_KT_STATION_H
#define LPA_KT_STATION_H

#include <pthread.h>
#include <stdint.h>

#include <curl/curl.h>

#include "kmstest.h"

#define KT_STATION_FAILOVERS 8 /* transport failures in a row before a call gives up */

struct kt_buf {
	char data[8192];
	size_t len;
};

/* How many devices all stations have confirmed; waited on by whoever must act mid-run. */
struct kt_progress {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned done;
};
void kt_progress_init(struct kt_progress *p);
/* Waits until at least n devices are done (bounded: false after seconds). */
bool kt_progress_wait(struct kt_progress *p, unsigned n, unsigned seconds);

struct kt_station {
	unsigned index;  /* st<index>, from 127.0.1.<index> */
	char token[64];  /* the operator's session */
	const char *lot; /* "BENCH" when NULL */
	const unsigned *ports;
	unsigned nports; /* 0: kt.port only */
	unsigned which;  /* the instance in use */
	CURL *curl;
	EVP_PKEY *pkg_key; /* the package-signing key (kt_kms_key("package")) */
	struct kt_chip *chips;
	unsigned nchips;
	char **records; /* per chip, the confirm's record (when collect_records) */
	bool collect_records;
	double *lat; /* seconds per request, 2 per chip */
	unsigned nlat;
	unsigned failures;  /* calls that did not get their answer */
	unsigned failovers; /* transport failures moved to another instance */
	unsigned reissues;  /* issues answered with a counter above 1 */
	char first_error[256];
	struct kt_progress *progress; /* may be NULL */
};

/* One request on the station's connection to its current instance; the HTTP status, -1
 * on a transport failure. */
long kt_station_http(struct kt_station *st, const char *method, const char *path, const char *token,
		     const char *body, struct kt_buf *out);
/* Issue + confirm for each of st's chips (a pthread start routine). */
void *kt_station_run(void *arg);
void kt_station_free(struct kt_station *st); /* its connection and records */

#endif /* LPA_KT_STATION_H */
