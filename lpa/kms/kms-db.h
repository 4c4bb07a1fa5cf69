/*
 * kms-db.h — the KMS state directory and its database: one statement interface with two
 * implementations, SQLite (embedded, the default: WAL, synchronous=FULL; db-sqlite.c)
 * and PostgreSQL 15 through libpq (several KMS instances on one database; db-pg.c). The
 * call sites write one SQL text for both: '?' (or '?N') parameters, the SQL both
 * dialects share; each backend keeps its own schema and its own prepared statements.
 *
 * Layout of a KMS state directory (created by `lpa-kms admin init`):
 *   kms.conf     optional (conf.c): `postgresql = CONNINFO` puts the database in
 *                PostgreSQL; without it the database is kms.db here
 *   kms.db       SQLite (WAL): configuration, keys (private parts sealed), stations,
 *                operators, sessions, devices, attempts, challenges, audit head
 *   master.key   32 random bytes, 0600; seals every secret in the database (path
 *                configurable)
 *   audit.log    SQLite only: append-only JSON Lines, each naming the SHA-256 of the
 *                previous one (on PostgreSQL the lines are rows of the database)
 */
#ifndef LPA_KMS_DB_H
#define LPA_KMS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kms-err.h"

#define KMS_CONNINFO_MAX 1024

struct kms_paths {
	char db[4096]; /* the SQLite file (unused with PostgreSQL) */
	char master_key[4096];
	char audit[4096];
	char conf[4096];
	char conninfo[KMS_CONNINFO_MAX]; /* libpq connection string; "" for SQLite */
};
/* dir and an optional master key path (NULL: DIR/master.key); reads DIR/kms.conf when
 * there is one (KMS_ERR_CONF, the reason on stderr, when it does not parse). */
int kms_paths_init(struct kms_paths *p, const char *dir, const char *master_key);

/*
 * kms.conf (conf.c): lines `key = value`, '#' comments, blank lines. Keys:
 *   postgresql   a libpq connection string (keywords or a postgresql:// URI) without
 *                a password: the password comes from a passfile or the server trusts
 *                the Unix socket's peer (peer authentication)
 * kms_conf_parse returns KMS_OK or KMS_ERR_CONF with *why (enum kms_conf_err), the
 * 1-based *line and a message naming the fault.
 */
enum kms_conf_err {
	CONF_OK = 0,
	CONF_ERR_SYNTAX,   /* a line that is not `key = value` */
	CONF_ERR_KEY,      /* an unknown key */
	CONF_ERR_DUP,      /* a key given twice */
	CONF_ERR_VALUE,    /* an empty, overlong or non-printable value */
	CONF_ERR_CONNINFO, /* libpq does not parse the connection string */
	CONF_ERR_PASSWORD, /* the connection string carries a password */
	CONF_ERR_SIZE,     /* the file is too large */
};
struct kms_conf {
	char conninfo[KMS_CONNINFO_MAX];
};
int kms_conf_parse(const char *text, size_t len, struct kms_conf *conf, enum kms_conf_err *why,
		   unsigned *line, char *msg, size_t msg_len);
/* Reads path (ENOENT: the defaults, KMS_OK). */
int kms_conf_load(const char *path, struct kms_conf *conf);

/* SQLite files carry it in PRAGMA user_version, PostgreSQL in meta.schema_version. */
#define KMS_SCHEMA_VERSION 4

enum db_kind { DB_SQLITE, DB_POSTGRES };
struct db;      /* one connection, used by one thread at a time */
struct db_stmt; /* a statement positioned on a row */

int db_open(const struct kms_paths *p, bool create, struct db **db);
void db_close(struct db **db);
enum db_kind db_kind(const struct db *db);
int db_exec(struct db *db, const char *sql); /* statements without parameters */
/*
 * A write transaction. Writers queue at its start, not mid-way: SQLite's BEGIN
 * IMMEDIATE; on PostgreSQL a transaction-scoped advisory lock taken first, so that
 * writers of every KMS instance on the database run one after the other on fresh data
 * (READ COMMITTED: each statement sees what committed before the lock was granted).
 */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/*
 * Retries. A transaction that failed with KMS_ERR_BUSY — the database reported a
 * serialization failure or a deadlock (PostgreSQL 40001, 40P01) or stayed locked — is
 * rolled back and run again from nothing, a bounded number of times:
 *   unsigned tries = 0;
 *   do r = one_try(...); while (db_retry(r, &tries));
 * db_retry pauses (growing, jittered) and returns true while tries are left.
 * db_must_retry tells whether a statement of the open transaction failed so, even when
 * the caller went on (answered the call anyway): the whole transaction must go again.
 */
#define DB_TRIES 8
bool db_retry(int r, unsigned *tries);
bool db_must_retry(const struct db *db);

/*
 * Statements. Parameters bind from a format string, one letter per parameter, in order:
 *   d  int                 i  int64_t
 *   u  uint64_t            (EUIs and UIDs: stored as their 64-bit two's complement)
 *   t  const char *        (NULL binds SQL NULL)
 *   b  const void *, size_t  (a blob; NULL binds SQL NULL)
 * db_run runs a statement to its end (a RETURNING row is ignored): KMS_OK, KMS_ERR_EXISTS
 * (a UNIQUE, PRIMARY KEY or CHECK constraint), KMS_ERR_BUSY (locked; a serialization
 * failure or deadlock) or KMS_ERR_DB; *changes (may be NULL) receives the number of rows
 * it changed.
 * db_query runs and positions on the first row: KMS_OK with *st on it,
 * KMS_ERR_NOT_FOUND when there is none (*st is then NULL), or an error. db_next steps on
 * (KMS_OK on a row, KMS_ERR_NOT_FOUND at the end); db_done releases (NULL is fine).
 */
int db_run(struct db *db, int *changes, const char *sql, const char *fmt, ...);
int db_query(struct db *db, struct db_stmt **st, const char *sql, const char *fmt, ...);
int db_next(struct db_stmt *st);
void db_done(struct db_stmt **st);

/* Columns of the current row (0-based). SQL NULL reads as 0, "" or no bytes. Text and
 * bytes stay valid until the next db_next or db_done. */
int64_t db_col_int64(struct db_stmt *st, int col);
int db_col_int(struct db_stmt *st, int col);
const char *db_col_text(struct db_stmt *st, int col);
const void *db_col_bytes(struct db_stmt *st, int col, size_t *len); /* len may be NULL */
size_t db_col_len(struct db_stmt *st, int col);
bool db_col_null(struct db_stmt *st, int col);
/* Copies column col when it is a blob of exactly len bytes; false otherwise. */
bool db_col_blob(struct db_stmt *st, int col, void *out, size_t len);
/* Column col as a malloc'd copy of its bytes (text NUL-terminated); NULL on SQL NULL or
 * out of memory (*len 0). */
char *db_col_text_dup(struct db_stmt *st, int col);
uint8_t *db_col_blob_dup(struct db_stmt *st, int col, size_t *len);

int db_meta_get(struct db *db, const char *key, char **value); /* malloc'd */
int db_meta_get_int(struct db *db, const char *key, int64_t *value);
int db_meta_set(struct db *db, const char *key, const char *value);
int db_meta_set_int(struct db *db, const char *key, int64_t value);

#endif /* LPA_KMS_DB_H */
