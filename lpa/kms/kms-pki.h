/*
 * kms-pki.h — X.509: the station CA, the certificates it issues, and the check of a chip's
 * DIK certificate against the device-identity CA (pki.c).
 */
#ifndef LPA_KMS_PKI_H
#define LPA_KMS_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lpa/core/lpa-core.h"

#include "kms-err.h"

typedef struct x509_st X509;
typedef struct x509_store_st X509_STORE;

/* --------------------------------------------------------------------- PKI */
int pki_ca_create(EVP_PKEY *key, const char *cn, X509 **cert);
/* A leaf for a station (client) or the KMS (server, with SANs "DNS:localhost,..."). */
int pki_issue(EVP_PKEY *ca_key, X509 *ca, EVP_PKEY *subject_key, const char *cn, bool server,
	      const char *sans, uint64_t serial, X509 **cert);
/* A chip's DIK certificate from the factory device-identity CA: subject serialNumber =
 * the UID (16 upper-case hex digits), OU "silicon ID XXXXXXXX", CN "lpa chip UID". */
int pki_issue_dik(EVP_PKEY *ca_key, X509 *ca, EVP_PKEY *dik, uint64_t chip_uid, uint32_t silicon_id,
		  uint64_t serial, X509 **cert);
int pki_cert_der(X509 *cert, uint8_t **der, size_t *len);
int pki_cert_from_der(const uint8_t *der, size_t len, X509 **cert);
int pki_cert_pem(X509 *cert, char **pem);
int pki_key_pem(EVP_PKEY *key, char **pem); /* PKCS#8, unencrypted: the caller wipes it */
int pki_write_file(const char *path, const void *data, size_t len, unsigned mode);
/*
 * Checks a DIK certificate against the device-identity CA (store): it must chain to the CA,
 * carry the DIK as its public key and the UID as its subject serialNumber (16 hex digits).
 * Returns KMS_OK with the DIK in *dik (the caller frees it), or an API error in *api with
 * a message.
 */
int pki_check_dik(X509_STORE *store, const struct lpa_lpi1 *id, EVP_PKEY **dik,
		  enum kms_api_err *api, char *msg, size_t msg_len);
/* A trust store holding the one CA certificate of ca_pem: built once, shared by threads. */
int pki_store_from_pem(const char *ca_pem, X509_STORE **store);

#endif /* LPA_KMS_PKI_H */
