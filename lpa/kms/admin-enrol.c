/*
 * admin-enrol.c — `lpa-kms admin` for enrolment: which CAs a lot accepts at issue
 * (set-lot-ca), and the factory device-identity CA's certificate for verifiers
 * (export-factory-ca).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "admin-private.h"
#include "kms-device.h"
#include "kms-pki.h"

int admin_lot_ca(const struct admin_opts *o)
{
	struct admin_ctx a;
	unsigned cas;
	int r;

	if (!req_name_ok(o->arg)) {
		fprintf(stderr, "lpa-kms: a lot name is 1..64 characters of A-Z a-z 0-9 . _ -\n");
		return KMS_ERR_INVAL;
	}
	if (!o->ca || enrol_cas_parse(o->ca, &cas) != KMS_OK) {
		fprintf(stderr, "lpa-kms: set-lot-ca LOT --ca vendor|factory|vendor,factory\n");
		return KMS_ERR_INVAL;
	}
	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK) {
		r = db_run(a.db, NULL,
			   "INSERT INTO lot_cas(lot, cas) VALUES(?, ?)"
			   " ON CONFLICT(lot) DO UPDATE SET cas = excluded.cas",
			   "ti", o->arg, (int64_t)cas);
		r = admin_end(&a, "set-lot-ca", o->arg, r);
	}
	if (r == KMS_OK)
		printf("lot %s accepts chips certified by the %s CA%s\n", o->arg, o->ca,
		       strchr(o->ca, ',') ? "s" : "");
	admin_close(&a);
	return r;
}

int admin_export_factory_ca(const struct admin_opts *o)
{
	struct admin_ctx a;
	uint8_t *der = NULL;
	size_t len = 0;
	X509 *cert = NULL;
	int r;

	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = keys_load_cert(a.db, KEY_FACTORY_CA, &der, &len)) == KMS_ERR_NOT_FOUND)
		fprintf(stderr, "lpa-kms: this KMS has no factory device-identity CA\n");
	if (r == KMS_OK && (r = pki_cert_from_der(der, len, &cert)) == KMS_OK &&
	    (r = admin_write_pem_cert(o->out ? o->out : ".", "factory-ca.pem", cert)) == KMS_OK)
		printf("wrote %s/factory-ca.pem\n", o->out ? o->out : ".");
	X509_free(cert);
	free(der);
	admin_close(&a);
	return r;
}
