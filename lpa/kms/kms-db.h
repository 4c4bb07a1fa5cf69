/*
 * kms-db.h — the KMS state directory and its database: SQLite (WAL, synchronous=FULL),
 * a versioned schema, and a small statement helper so that a query is one call instead
 * of a prepare/bind/step/finalize block with its own error branches.
 *
 * Layout of a KMS state directory (created by `lpa-kms admin init`):
 *   kms.db       SQLite (WAL): configuration, keys (private parts sealed), stations,
 *                operators, sessions, devices, attempts, challenges, audit head
 *   master.key   32 random bytes, 0600; seals every secret in kms.db (path configurable)
 *   audit.log    append-only JSON Lines, each line naming the SHA-256 of the previous one
 */
#ifndef LPA_KMS_DB_H
#define LPA_KMS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "kms-err.h"

struct kms_paths {
	char db[4096];
	char master_key[4096];
	char audit[4096];
};
/* dir and an optional master key path (NULL: DIR/master.key). */
int kms_paths_init(struct kms_paths *p, const char *dir, const char *master_key);

#define KMS_SCHEMA_VERSION 2
int db_open(const char *path, bool create, sqlite3 **db);
void db_close(sqlite3 **db);
int db_exec(sqlite3 *db, const char *sql);
int db_begin(sqlite3 *db); /* BEGIN IMMEDIATE: writers queue here, not mid-way */
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);

/*
 * Statements. Parameters bind from a format string, one letter per '?', in order:
 *   d  int                 i  int64_t
 *   u  uint64_t            (EUIs and UIDs: stored as their 64-bit two's complement)
 *   t  const char *        (NULL binds SQL NULL)
 *   b  const void *, size_t  (a blob; NULL binds SQL NULL)
 * db_run runs a statement to its end (a RETURNING row is ignored): KMS_OK, KMS_ERR_EXISTS
 * (a UNIQUE or PRIMARY KEY constraint), KMS_ERR_BUSY or KMS_ERR_DB; *changes (may be
 * NULL) receives the number of rows it changed.
 * db_query prepares, binds and steps to the first row: KMS_OK with *st on it,
 * KMS_ERR_NOT_FOUND when there is none (*st is then NULL), or an error. Columns are read
 * with sqlite3_column_*; db_next steps on (KMS_OK on a row, KMS_ERR_NOT_FOUND at the
 * end); db_done finalizes (NULL is fine).
 */
int db_run(sqlite3 *db, int *changes, const char *sql, const char *fmt, ...);
int db_query(sqlite3 *db, sqlite3_stmt **st, const char *sql, const char *fmt, ...);
int db_next(sqlite3_stmt *st);
void db_done(sqlite3_stmt **st);
/* Copies column col when it is a blob of exactly len bytes; false otherwise. */
bool db_col_blob(sqlite3_stmt *st, int col, void *out, size_t len);
/* Column col as a malloc'd copy of its bytes (text NUL-terminated); NULL on SQL NULL or
 * out of memory (*len 0). */
char *db_col_text_dup(sqlite3_stmt *st, int col);
uint8_t *db_col_blob_dup(sqlite3_stmt *st, int col, size_t *len);

int db_meta_get(sqlite3 *db, const char *key, char **value); /* malloc'd */
int db_meta_get_int(sqlite3 *db, const char *key, int64_t *value);
int db_meta_set(sqlite3 *db, const char *key, const char *value);
int db_meta_set_int(sqlite3 *db, const char *key, int64_t value);

#endif /* LPA_KMS_DB_H */
