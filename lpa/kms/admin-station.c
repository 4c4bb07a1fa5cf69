/*
 * admin-station.c — `lpa-kms admin` for stations: a new station (key and certificate
 * from the station CA), a renewed certificate for one (a new key; the old certificate
 * stops working at once, the station's sessions go on), and revocation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "kms-keys.h"
#include "kms-request.h"

#include "admin-private.h"

/*
 * Inside the caller's transaction: the next serial, a new P-256 key and a clientAuth
 * certificate for name, written to out as NAME.key (0600), NAME.pem and kms-ca.pem.
 * Files first, then the caller commits: a station row never exists without its key.
 */
int admin_cert_issue(struct admin_ctx *a, const char *name, const char *out, int64_t *serial_out,
		     uint8_t fp[32])
{
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *cert = NULL;
	uint8_t *ca_der = NULL, *der = NULL;
	size_t ca_der_len, der_len;
	char path[4096], *key_pem = NULL;
	int64_t serial;
	int r;

	if ((r = keys_load(a->db, a->master, KEY_STATION_CA, &ca_key, NULL, &ca_der,
			   &ca_der_len)) != KMS_OK ||
	    (r = pki_cert_from_der(ca_der, ca_der_len, &ca)) != KMS_OK)
		goto fail;
	if (lpa_p256_generate(&key) != LPA_OK) {
		r = KMS_ERR_CRYPTO;
		goto fail;
	}
	if ((r = db_meta_get_int(a->db, "station_serial", &serial)) != KMS_OK ||
	    (r = db_meta_set_int(a->db, "station_serial", serial + 1)) != KMS_OK ||
	    (r = pki_issue(ca_key, ca, key, name, false, NULL, (uint64_t)serial + 1000, &cert)) !=
		    KMS_OK ||
	    (r = pki_cert_der(cert, &der, &der_len)) != KMS_OK)
		goto fail;
	lpa_sha256(der, der_len, fp);
	*serial_out = serial + 1000;
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		r = KMS_ERR_IO;
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/%s.key", out, name);
	unlink(path); /* a renewal replaces the old key */
	if ((r = pki_key_pem(key, &key_pem)) != KMS_OK ||
	    (r = pki_write_file(path, key_pem, strlen(key_pem), 0600)) != KMS_OK)
		goto fail;
	snprintf(path, sizeof(path), "%s.pem", name);
	if ((r = admin_write_pem_cert(out, path, cert)) != KMS_OK ||
	    (r = admin_write_pem_cert(out, "kms-ca.pem", ca)) != KMS_OK)
		goto fail;
	printf("%s: %s/%s.key (0600), %s/%s.pem, %s/kms-ca.pem\n", name, out, name, out, name, out);
fail:
	if (key_pem) {
		OPENSSL_cleanse(key_pem, strlen(key_pem));
		free(key_pem);
	}
	free(ca_der);
	free(der);
	X509_free(ca);
	X509_free(cert);
	lpa_pkey_free(&ca_key);
	lpa_pkey_free(&key);
	return r;
}

static int admin_station_args(const struct admin_opts *o, const char *cmd)
{
	if (req_name_ok(o->arg) && o->out)
		return KMS_OK;
	fprintf(stderr, "lpa-kms: %s NAME --out DIR (NAME: A-Z a-z 0-9 . _ -)\n", cmd);
	return KMS_ERR_INVAL;
}

int admin_station_add(const struct admin_opts *o)
{
	struct admin_ctx a;
	uint8_t fp[32];
	int64_t serial;
	int r;

	if ((r = admin_station_args(o, "add-station")) != KMS_OK ||
	    (r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK) {
		if ((r = admin_cert_issue(&a, o->arg, o->out, &serial, fp)) == KMS_OK &&
		    (r = db_run(a.db, NULL,
				"INSERT INTO stations(name, serial, fingerprint, created_at)"
				" VALUES(?, ?, ?, ?)",
				"tibi", o->arg, serial, fp, sizeof(fp), (int64_t)time(NULL))) ==
			    KMS_ERR_EXISTS)
			fprintf(stderr, "lpa-kms: station %s exists already\n", o->arg);
		r = admin_end(&a, "add-station", o->arg, r);
	}
	admin_close(&a);
	return r;
}

int admin_station_renew(const struct admin_opts *o)
{
	struct admin_ctx a;
	uint8_t fp[32];
	int64_t serial;
	int r, changed = 0;

	if ((r = admin_station_args(o, "renew-station")) != KMS_OK ||
	    (r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK) {
		struct db_stmt *st = NULL;

		/* Known and not revoked, before anything is written to --out. */
		r = db_query(a.db, &st,
			     "SELECT id FROM stations WHERE name = ? AND revoked_at IS NULL", "t",
			     o->arg);
		db_done(&st);
		if (r == KMS_ERR_NOT_FOUND)
			fprintf(stderr, "lpa-kms: no unrevoked station %s\n", o->arg);
		if (r == KMS_OK &&
		    (r = admin_cert_issue(&a, o->arg, o->out, &serial, fp)) == KMS_OK &&
		    (r = db_run(a.db, &changed,
				"UPDATE stations SET serial = ?, fingerprint = ? WHERE name = ?"
				" AND revoked_at IS NULL",
				"ibt", serial, fp, sizeof(fp), o->arg)) == KMS_OK &&
		    changed != 1)
			r = KMS_ERR_NOT_FOUND;
		r = admin_end(&a, "renew-station", o->arg, r);
	}
	if (r == KMS_OK)
		printf("station %s renewed: its old certificate is no longer accepted\n", o->arg);
	admin_close(&a);
	return r;
}

int admin_station_revoke(const struct admin_opts *o)
{
	struct admin_ctx a;
	int r, changed = 0;

	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK) {
		r = db_run(
			a.db, &changed,
			"UPDATE stations SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
			"it", (int64_t)time(NULL), o->arg);
		if (r == KMS_OK && changed != 1)
			r = KMS_ERR_NOT_FOUND;
		/* Its sessions end with it. */
		if (r == KMS_OK)
			r = db_run(a.db, NULL,
				   "DELETE FROM sessions WHERE station_id IN"
				   " (SELECT id FROM stations WHERE name = ?)",
				   "t", o->arg);
		r = admin_end(&a, "revoke-station", o->arg, r);
	}
	if (r == KMS_OK)
		printf("revoked station %s\n", o->arg);
	else if (r == KMS_ERR_NOT_FOUND)
		fprintf(stderr, "lpa-kms: no unrevoked station %s\n", o->arg);
	admin_close(&a);
	return r;
}
