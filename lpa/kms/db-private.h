/*
 * db-private.h — what db.c (the statement interface every caller uses) shares with the
 * two implementations behind it, db-sqlite.c and db-pg.c.
 */
#ifndef LPA_KMS_DB_PRIVATE_H
#define LPA_KMS_DB_PRIVATE_H

#include "kms-db.h"

#define DB_MAX_PARAMS 16

/* One bound parameter, as the format string named it. */
struct db_param {
	char type; /* 'i' (d, i and u), 't', 'b' */
	bool null;
	int64_t i;
	const void *p; /* text (NUL-terminated) or blob */
	size_t n;
};

struct db_ops {
	enum db_kind kind;
	int (*exec)(struct db *db, const char *sql);
	int (*begin)(struct db *db);
	int (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	/* Runs sql (cached by its address and text) with n parameters. With st, positions
	 * on the first row (KMS_ERR_NOT_FOUND: none); without, runs to the end and sets
	 * *changes. */
	int (*run)(struct db *db, const char *sql, const struct db_param *prm, size_t n,
		   struct db_stmt **st, int *changes);
	int (*next)(struct db_stmt *st);
	void (*done)(struct db_stmt *st);
	int64_t (*col_int64)(struct db_stmt *st, int col);
	const char *(*col_text)(struct db_stmt *st, int col);
	const void *(*col_bytes)(struct db_stmt *st, int col, size_t *len);
	bool (*col_null)(struct db_stmt *st, int col);
	void (*close)(struct db *db);
};

/* Every connection starts with its operations. */
struct db {
	const struct db_ops *ops;
	bool must_retry; /* a statement since db_begin failed with KMS_ERR_BUSY */
};
struct db_stmt {
	struct db *db;
};

int db_sqlite_open(const char *path, bool create, struct db **db);
int db_pg_open(const char *conninfo, bool create, struct db **db);

/* The schema step both share: version (0: none yet) to KMS_SCHEMA_VERSION. */
int db_schema_check(int version, bool create);

#endif /* LPA_KMS_DB_PRIVATE_H */
