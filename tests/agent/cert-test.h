/*
 * cert-test.h — an X.509 certificate for a chip's DIK, made with OpenSSL, for the agent
 * tests that store one (STORE_CERT): test-fw-enrol.c, test-fw-image.c.
 */
#ifndef LPA_TESTS_AGENT_CERT_TEST_H
#define LPA_TESTS_AGENT_CERT_TEST_H

#include <string.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lpa/core/lpa-core.h"

/* An X.509 certificate for pub (65 bytes), signed by the test CA; pad makes it longer
 * (an extra subject attribute) to cross the first row. */
static inline size_t make_cert(EVP_PKEY *ca, const uint8_t pub[65], long serial, size_t pad,
			       uint8_t *der)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	EVP_PKEY *k = NULL;
	char big[61];
	unsigned char *p = der;
	int len;

	ck_assert_int_eq(lpa_p256_from_public(pub, &k), LPA_OK);
	ck_assert(X509_set_version(x, 2));
	ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	ck_assert(X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_ASC,
					     (const unsigned char *)"0F2A1B3C4D5E6F70", -1, -1, 0));
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < pad; i += sizeof(big) - 1)
		ck_assert(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC,
						     (const unsigned char *)big, -1, -1, 0));
	ck_assert(X509_set_subject_name(x, n));
	X509_NAME_free(n);
	n = X509_NAME_new();
	ck_assert(X509_NAME_add_entry_by_txt(
		n, "CN", MBSTRING_ASC, (const unsigned char *)"lpa test factory CA", -1, -1, 0));
	ck_assert(X509_set_issuer_name(x, n));
	ck_assert(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	ck_assert(X509_set_pubkey(x, k));
	ck_assert(X509_sign(x, ca, EVP_sha256()) > 0);
	len = i2d_X509(x, &p);
	ck_assert_int_gt(len, 0);
	X509_NAME_free(n);
	X509_free(x);
	lpa_pkey_free(&k);
	return (size_t)len;
}

#endif
