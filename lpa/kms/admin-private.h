/*
 * admin-private.h — what the files of `lpa-kms admin` share: the options, the open
 * KMS directory, the transaction an administrative change runs in together with its
 * audit line, secrets read without echo, and each command.
 */
#ifndef LPA_KMS_ADMIN_PRIVATE_H
#define LPA_KMS_ADMIN_PRIVATE_H

#include <stdbool.h>

#include "lpa/core/lpa-core.h"

#include "kms-db.h"
#include "kms-keys.h"
#include "kms-pki.h"

#define ADMIN_MIN_PASSWORD 8

struct admin_ctx {
	struct kms_paths paths;
	struct db *db;
	struct vault *master;
};

/* Options every admin command takes. */
enum {
	A_DIR = 256,
	A_MK,
	A_ROLE,
	A_LOTS,
	A_JOIN,
	A_ALG,
	A_PWFD,
	A_TOTPFD,
	A_OUT,
	A_DEVCA,
	A_EUIBASE,
	A_EUICOUNT,
	A_SAN,
	A_PKGKEY,
	A_PKGID,
	A_A2T,
	A_A2M,
	A_JSON,
	A_COUNTER,
	A_KEYSTORE,
	A_P11MOD,
	A_P11TOKEN,
	A_PINFD,
	A_PINCRED,
	A_CA,
	A_KIND,
	A_NETID,
	A_KEKLABEL,
	A_LOT,
	A_FORMAT,
	A_KEK,
};

struct admin_opts {
	const char *dir, *master_key, *role, *lots, *join_euis, *alg, *out, *device_ca, *eui_base,
		*san, *package_key;
	const char *keystore, *pkcs11_module, *pkcs11_token, *pin_credential, *ca;
	const char *kind, *net_id, *kek_label, *lot, *format, *kek; /* peers, export-devices */
	int password_fd, totp_fd, pin_fd;
	unsigned long eui_count, package_key_id, argon2_t, argon2_m, counter;
	bool json, has_counter;
	const char *arg; /* the NAME operand */
};

int admin_open(const struct admin_opts *o, struct admin_ctx *a);
/* How o reaches the vault (key file path from a->paths). */
void admin_vault_opts(const struct admin_opts *o, const struct admin_ctx *a, struct vault_opts *vo);
void admin_close(struct admin_ctx *a);
/*
 * A change runs between admin_begin (the write transaction) and admin_end, which, when r
 * is KMS_OK, appends the audit line in that same transaction and commits both or
 * neither; otherwise it rolls the change back and records the failure on its own.
 * Returns r, or why the change could not be recorded.
 */
int admin_begin(struct admin_ctx *a);
int admin_end(struct admin_ctx *a, const char *action, const char *target, int r);
/* A password: from --password-fd, or the terminal twice without echo. */
int admin_password(const struct admin_opts *o, const char *name, lpa_secbuf **pw);
/* A new TOTP secret: to --totp-secret-fd (base32), or as an otpauth:// URI and QR code. */
int admin_show_totp(const struct admin_opts *o, const char *name, enum lpa_totp_alg alg,
		    const lpa_secbuf *secret);
int admin_alg(const char *s, enum lpa_totp_alg *alg);
int admin_write_pem_cert(const char *dir, const char *file, X509 *cert);

/* admin-operator.c */
int admin_operator_add(const struct admin_opts *o);
int admin_operator_reset_totp(const struct admin_opts *o);
int admin_operator_unlock(const struct admin_opts *o);
int admin_operator_password(const struct admin_opts *o);
int admin_operator_disable(const struct admin_opts *o);
int admin_operator_enable(const struct admin_opts *o);
int admin_operator_remove(const struct admin_opts *o);
int admin_operator_scope(const struct admin_opts *o);
/* admin-station.c; admin_cert_issue: inside the caller's transaction, a P-256 key and a
 * clientAuth certificate from the KMS's CA for name (stations and peers alike), written to
 * out as NAME.key (0600), NAME.pem and kms-ca.pem; fp its SHA-256 fingerprint. */
int admin_cert_issue(struct admin_ctx *a, const char *name, const char *out, int64_t *serial_out,
		     uint8_t fp[32]);
int admin_station_add(const struct admin_opts *o);
int admin_station_renew(const struct admin_opts *o);
int admin_station_revoke(const struct admin_opts *o);
/* admin-peer.c: Join Server peers, and devices exported to a customer's Join Server */
int admin_peer_add(const struct admin_opts *o);
int admin_peer_rotate(const struct admin_opts *o);
int admin_peer_revoke(const struct admin_opts *o);
int admin_peer_list(const struct admin_opts *o);
int admin_export_devices(const struct admin_opts *o);
/* admin-keys.c */
int admin_keys_rotate_record(const struct admin_opts *o);
int admin_keys_show(const struct admin_opts *o);
/* admin-enrol.c */
int admin_lot_ca(const struct admin_opts *o);
int admin_export_factory_ca(const struct admin_opts *o);
/* admin-device.c */
int admin_device_reprovision(const struct admin_opts *o);
int admin_device_show(const struct admin_opts *o);
int admin_device_list(const struct admin_opts *o);

#endif /* LPA_KMS_ADMIN_PRIVATE_H */
