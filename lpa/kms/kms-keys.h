/*
 * kms-keys.h — key storage: the master key and what it seals (vault.c), and the KMS's own
 * P-256 keys, one row per purpose, private parts sealed (keys.c).
 */
#ifndef LPA_KMS_KEYS_H
#define LPA_KMS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kms-db.h"
#include "lpa/core/lpa-core.h"

#include "kms-err.h"

/* ------------------------------------------------------------------ vault */
#define VAULT_KEY_LEN 32
int vault_create_master(const char *path);
int vault_load_master(const char *path, lpa_secbuf **key);
/* Sealed blob = nonce(12) || ciphertext || tag(16), AAD = label || context. */
#define VAULT_OVERHEAD 28
int vault_seal(const lpa_secbuf *master, const char *label, const void *ctx, size_t ctx_len,
	       const uint8_t *pt, size_t len, uint8_t **blob, size_t *blob_len);
int vault_open(const lpa_secbuf *master, const char *label, const void *ctx, size_t ctx_len,
	       const uint8_t *blob, size_t blob_len, lpa_secbuf **pt);

/* ---------------------------------------------------------------- key store */
/* Purposes of rows in the keys table. */
#define KEY_PACKAGE "package"
#define KEY_RECORD "record"
#define KEY_STATION_CA "station-ca"
#define KEY_TLS_SERVER "tls-server"
/* Creates (or imports, when priv is given) a P-256 key for a purpose; cert_der optional. */
int keys_store(struct db *db, const lpa_secbuf *master, const char *purpose, uint32_t key_id,
	       EVP_PKEY *key, const uint8_t *cert_der, size_t cert_len);
int keys_load(struct db *db, const lpa_secbuf *master, const char *purpose, EVP_PKEY **key,
	      uint32_t *key_id, uint8_t **cert_der, size_t *cert_len);
int keys_load_public(struct db *db, const char *purpose, EVP_PKEY **key, uint32_t *key_id);
/* "package-1", "record-1": the JWK kid of a key. */
void keys_kid(const char *purpose, uint32_t key_id, char kid[32]);
/* {"keys":[JWK with kid, use, key_id ...]} — what GET /v1/keys and export-keys show. */
int keys_jwks(struct db *db, json_t **jwks);

#endif /* LPA_KMS_KEYS_H */
