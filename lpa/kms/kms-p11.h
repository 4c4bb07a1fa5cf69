/*
 * kms-p11.h — a PKCS#11 token as the KMS uses it (p11.c): the module loaded with dlopen
 * by path, one token found by its label, the user logged in once with a PIN, and the few
 * operations the KMS's keys need. Every key the KMS creates here is a token object that is
 * private, sensitive and not extractable: its value never crosses the PKCS#11 interface.
 *
 * Objects are named by CKA_LABEL (and the same bytes as CKA_ID): "lpa-kms sealing",
 * "lpa-kms package 1", "lpa-kms record 2", ...
 */
#ifndef LPA_KMS_P11_H
#define LPA_KMS_P11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lpa/core/lpa-core.h"

#include "kms-err.h"

struct p11;
typedef unsigned long p11_handle; /* CK_OBJECT_HANDLE */

#define P11_LABEL_SEALING "lpa-kms sealing"
#define P11_LABEL_MAX 64

/* Loads module, finds the token labelled token, logs the user in with pin. */
int p11_open(const char *module, const char *token, const lpa_secbuf *pin, struct p11 **t);
void p11_close(struct p11 **t);

int p11_random(struct p11 *t, void *buf, size_t len);

/* The private key (P-256) or secret key (AES) labelled label; KMS_ERR_NOT_FOUND if none,
 * KMS_ERR_EXISTS if more than one. */
int p11_find_private(struct p11 *t, const char *label, p11_handle *h);
int p11_find_secret(struct p11 *t, const char *label, p11_handle *h);

/* A new AES-256 key for AES-GCM, generated in the token (CKM_AES_KEY_GEN). */
int p11_aes_generate(struct p11 *t, const char *label);
/* AES-256-GCM in the token (CKM_AES_GCM), 96-bit nonce, 128-bit tag: out = ct || tag
 * (len + 16 bytes); open takes ct || tag (in_len >= 16) and writes in_len - 16 bytes. */
int p11_gcm_seal(struct p11 *t, p11_handle key, const uint8_t nonce[12], const uint8_t *aad,
		 size_t aad_len, const uint8_t *pt, size_t len, uint8_t *out);
int p11_gcm_open(struct p11 *t, p11_handle key, const uint8_t nonce[12], const uint8_t *aad,
		 size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *pt);

/* A P-256 key pair generated in the token (CKM_EC_KEY_PAIR_GEN); pub is its public key. */
int p11_ec_generate(struct p11 *t, const char *label, uint8_t pub[LPA_P256_PUB_LEN]);
/* An existing P-256 private key imported as a sensitive, non-extractable token object. */
int p11_ec_import(struct p11 *t, const char *label, EVP_PKEY *key);
/* CKM_ECDSA over a digest computed outside (SoftHSM 2.6 has no CKM_ECDSA_SHA256): raw r||s. */
int p11_ecdsa_sign(struct p11 *t, p11_handle key, const uint8_t digest[32],
		   uint8_t sig[LPA_P256_SIG_LEN]);
/* Destroys every object (private, public, secret) labelled label. */
int p11_destroy(struct p11 *t, const char *label);

/* What the token says about a key object: its protection flags, and whether reading its
 * value (C_GetAttributeValue CKA_VALUE) is refused, as it must be. */
struct p11_key_info {
	bool sensitive, extractable, always_sensitive, never_extractable;
	bool value_refused;
	unsigned long value_rv; /* the CK_RV of reading CKA_VALUE */
};
int p11_key_info(struct p11 *t, p11_handle key, struct p11_key_info *info);

#endif /* LPA_KMS_P11_H */
