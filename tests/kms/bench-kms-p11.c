/*
 * bench-kms-p11.c — what a key in SoftHSM2 costs per operation next to a key file: an
 * ECDSA signature (keys_sign: OpenSSL with the unsealed key, or CKM_ECDSA in the token
 * over a SHA-256 computed here) and a seal + open of 32 bytes of root keys (vault_seal /
 * vault_open: OpenSSL AES-256-GCM, or CKM_AES_GCM in the token), on one thread and on four.
 *   bench-kms-p11 SOFTHSM-TOKEN.SH [N]   (N operations per row, default 2000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kms-db.h"
#include "kms-keys.h"
#include "softhsm.h"

struct job {
	struct vault *v;
	struct keys_signer *signer;
	unsigned n;
	int seal; /* 0: sign, 1: seal + open */
	int failed;
};

static void *bench_run(void *arg)
{
	struct job *j = arg;
	uint8_t sig[LPA_P256_SIG_LEN], keys[32] = {1}, *blob = NULL;
	lpa_secbuf *out = NULL;
	size_t len;

	for (unsigned i = 0; i < j->n && !j->failed; i++) {
		if (!j->seal) {
			j->failed |= keys_sign(j->signer, keys, sizeof(keys), sig) != LPA_OK;
			continue;
		}
		j->failed |= vault_seal(j->v, "lpa-kms root keys", &i, sizeof(i), keys,
					sizeof(keys), &blob, &len) != KMS_OK ||
			     vault_open(j->v, "lpa-kms root keys", &i, sizeof(i), blob, len,
					&out) != KMS_OK;
		free(blob);
		blob = NULL;
		lpa_secbuf_free(&out);
	}
	return NULL;
}

/* n operations over threads threads: operations per second. */
static double bench_rate(struct vault *v, struct keys_signer *s, int seal, unsigned n,
			 unsigned threads)
{
	struct job j[4];
	pthread_t th[4];
	double t0 = lpa_mono_s();

	for (unsigned i = 0; i < threads; i++) {
		j[i] = (struct job){.v = v, .signer = s, .n = n / threads, .seal = seal};
		pthread_create(&th[i], NULL, bench_run, &j[i]);
	}
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		if (j[i].failed) {
			fprintf(stderr, "bench-kms-p11: an operation failed\n");
			exit(1);
		}
	}
	return n / (lpa_mono_s() - t0);
}

int main(int argc, char **argv)
{
	static const char *const labels[] = {"bench"};
	struct softhsm hsm;
	struct vault *v[2] = {NULL, NULL};
	struct keys_signer *s[2] = {NULL, NULL};
	struct vault_opts o = {.pin_fd = -1};
	struct db *db[2] = {NULL, NULL};
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	char path[700];

	if (argc < 2 || n < 4) {
		fprintf(stderr, "usage: bench-kms-p11 SOFTHSM-TOKEN.SH [N]\n");
		return 2;
	}
	lpa_secure_init(64 * 1024);
	softhsm_start(&hsm, argv[1], labels, 1);
	snprintf(path, sizeof(path), "%s/master.key", hsm.dir);
	if (vault_create_master(path) != KMS_OK || vault_load_file(path, &v[0]) != KMS_OK)
		return 1;
	o.module = hsm.module;
	o.token = "bench";
	o.pin_fd = softhsm_pin_fd(&hsm);
	if (vault_create_pkcs11(&o, &v[1]) != KMS_OK)
		return 1;
	close(o.pin_fd);
	for (int k = 0; k < 2; k++) {
		struct kms_paths paths = {0}; /* an SQLite file of its own */

		snprintf(paths.db, sizeof(paths.db), "%s/bench%d.db", hsm.dir, k);
		if (db_open(&paths, true, &db[k]) != KMS_OK ||
		    keys_create(db[k], v[k], KEY_RECORD, 1, NULL) != KMS_OK ||
		    keys_signer_load(db[k], v[k], KEY_RECORD, &s[k], NULL) != KMS_OK)
			return 1;
	}
	printf("| operation | threads | key file ops/s | SoftHSM2 ops/s |\n|---|---|---|---|\n");
	for (int seal = 0; seal < 2; seal++)
		for (unsigned threads = 1; threads <= 4; threads *= 4)
			printf("| %s | %u | %.0f | %.0f |\n",
			       seal ? "seal + open 32 B (AES-256-GCM)" : "ECDSA P-256 signature",
			       threads, bench_rate(v[0], s[0], seal, n, threads),
			       bench_rate(v[1], s[1], seal, n, threads));
	for (int k = 0; k < 2; k++) {
		keys_signer_free(&s[k]);
		vault_free(&v[k]);
		db_close(&db[k]);
	}
	softhsm_stop();
	return 0;
}
