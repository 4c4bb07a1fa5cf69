/*
 * kms.h — lpa-kms, the reference KMS: its subcommands (main.c dispatches to them).
 * The KMS's files share their interfaces through one header per area:
 *   kms-err.h      internal and API error codes, exit codes      err.c
 *   kms-db.h       state directory, kms.conf, the database        db.c db-sqlite.c
 *                  (SQLite or PostgreSQL) and its statements      db-pg.c conf.c
 *   kms-keys.h     the vault (key file or token), sealing, the   vault.c keys.c pin.c
 *                  KMS's own keys, record-key rotation
 *   kms-p11.h      the PKCS#11 token (dlopen'ed module)          p11.c
 *   kms-pki.h      station CA, certificates, DIK check           pki.c
 *   kms-request.h  routes and strict request bodies              request.c
 *   kms-server.h   the HTTPS server and one call in flight       server.c tls.c
 *   kms-auth.h     operators, login, sessions, rate limits       operator.c session.c rate.c
 *   kms-device.h   issue, confirm, abandon, challenge, records   device.c records.c
 *   kms-audit.h    the hash-chained audit log                    audit.c
 */
#ifndef LPA_KMS_H
#define LPA_KMS_H

#include "kms-err.h"

int admin_main(int argc, char **argv);
int audit_main(int argc, char **argv);
int serve_main(int argc, char **argv);

#endif /* LPA_KMS_H */
