/*
 * kms-keys.h — key storage: the vault (a master key file or a PKCS#11 token) and what it
 * seals (vault.c, p11.c, pin.c), and the KMS's own P-256 keys, one row per purpose (keys.c).
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
/*
 * The vault (vault.c): the sealing key that protects every secret at rest (root keys, TOTP
 * secrets, the TLS and station-CA keys), the randomness root keys are drawn from, and where
 * the package- and record-signing keys live. Two kinds:
 *   file    a master key file (32 random bytes, 0600); signing keys sealed in the database;
 *           AES-256-GCM and randomness by OpenSSL in this process.
 *   pkcs11  a PKCS#11 token (p11.c): the sealing key and both signing keys are token
 *           objects that never leave it; AES-256-GCM, ECDSA and randomness by the token.
 * The database's meta table says which (keystore = file | pkcs11, pkcs11_module,
 * pkcs11_token); a database without it is a key-file KMS.
 */
struct vault;
struct p11;
enum vault_kind { VAULT_FILE, VAULT_PKCS11 };

/* How to reach a vault: options of `serve` and `admin`. */
struct vault_opts {
	const char *master_key;     /* key file (file kind) */
	const char *module;         /* PKCS#11 module path; NULL: the database's pkcs11_module */
	const char *token;          /* token label (init only; then the database's) */
	int pin_fd;                 /* the PIN from this descriptor; -1: from a credential */
	const char *pin_credential; /* $CREDENTIALS_DIRECTORY/NAME; NULL: "pkcs11-pin" */
};

#define VAULT_KEY_LEN 32
int vault_create_master(const char *path);
int vault_load_file(const char *path, struct vault **v);
/* A token prepared for a new KMS: logs in and generates the sealing key. */
int vault_create_pkcs11(const struct vault_opts *o, struct vault **v);
/* The vault the database names (o->master_key is the key file for the file kind). */
int vault_load_db(struct db *db, const struct vault_opts *o, struct vault **v);
/* Records the vault's kind (and module and token) in the database's meta. */
int vault_save_config(struct db *db, const struct vault *v);
void vault_free(struct vault **v);
enum vault_kind vault_kind(const struct vault *v);
struct p11 *vault_token(const struct vault *v); /* NULL for a key file */
/* Sealed blob = nonce(12) || ciphertext || tag(16), AAD = label || NUL || context. */
#define VAULT_OVERHEAD 28
int vault_seal(const struct vault *v, const char *label, const void *ctx, size_t ctx_len,
	       const uint8_t *pt, size_t len, uint8_t **blob, size_t *blob_len);
int vault_open(const struct vault *v, const char *label, const void *ctx, size_t ctx_len,
	       const uint8_t *blob, size_t blob_len, lpa_secbuf **pt);
/* Random bytes for secrets: root keys, TOTP secrets (the token's RNG with PKCS#11). */
int vault_random(const struct vault *v, void *buf, size_t len);

/* The token PIN from o->pin_fd or the systemd credential (pin.c). */
int pin_read(const struct vault_opts *o, lpa_secbuf **pin);

/* ---------------------------------------------------------------- key store */
/* Purposes of rows in the keys table. A record-signing key replaced by a newer one keeps
 * its row (public key only) under "record/N", N its key id, so that it stays published. */
#define KEY_PACKAGE "package"
#define KEY_RECORD "record"
#define KEY_RECORD_RETIRED "record/"
#define KEY_STATION_CA "station-ca"
#define KEY_TLS_SERVER "tls-server"
#define KEY_FACTORY_CA "factory-ca" /* certifies DIKs of chips enrolled here (enrol.c) */
/* A key kept sealed in the database (station CA, TLS server; signing keys of a key-file
 * vault); cert_der optional. */
int keys_store(struct db *db, const struct vault *v, const char *purpose, uint32_t key_id,
	       EVP_PKEY *key, const uint8_t *cert_der, size_t cert_len);
int keys_load(struct db *db, const struct vault *v, const char *purpose, EVP_PKEY **key,
	      uint32_t *key_id, uint8_t **cert_der, size_t *cert_len);
int keys_load_public(struct db *db, const char *purpose, EVP_PKEY **key, uint32_t *key_id);
/* The certificate of a key's row (malloc'd DER); KMS_ERR_NOT_FOUND when it has none. */
int keys_load_cert(struct db *db, const char *purpose, uint8_t **der, size_t *len);

/*
 * Signing keys (package, record) wherever the vault keeps them: a token object (the row's
 * sealed column then names it: "pkcs11:" LABEL) or sealed in the row. keys_create makes
 * one (imports key when given) and writes its row; keys_signer_load finds the one a row
 * names. keys_sign is an lpa_p256_signer: ECDSA-SHA256, raw r||s; with a token the SHA-256
 * is computed here and only the digest goes in (CKM_ECDSA).
 */
struct keys_signer;
#define KEYS_TOKEN_REF "pkcs11:" /* a row's sealed column naming a token object */
int keys_create(struct db *db, const struct vault *v, const char *purpose, uint32_t key_id,
		EVP_PKEY *import);
int keys_signer_load(struct db *db, const struct vault *v, const char *purpose,
		     struct keys_signer **signer, uint32_t *key_id);
void keys_signer_free(struct keys_signer **signer);
int keys_sign(void *signer, const void *msg, size_t len, uint8_t sig[LPA_P256_SIG_LEN]);
/* The token label of a signing key: "lpa-kms record 2". */
void keys_token_label(const char *purpose, uint32_t key_id, char label[64]);
/*
 * Record-signing key rotation: a new key (id one past the newest), the current one kept
 * as "record/N" with its public key so that records it signed still verify. The old
 * private part stays where it was (sealed, or in the token): a server not yet restarted
 * still signs with it, and those records must verify too.
 */
int keys_rotate_record(struct db *db, const struct vault *v, uint32_t *old_id, uint32_t *new_id);

/* "package-1", "record-1": the JWK kid of a key. */
void keys_kid(const char *purpose, uint32_t key_id, char kid[32]);
/* {"keys":[JWK with kid, use, key_id ...]}: the package key, then every record key, the
 * current one and those it replaced — what GET /v1/keys and export-keys show. */
int keys_jwks(struct db *db, json_t **jwks);

#endif /* LPA_KMS_KEYS_H */
