/*
 * db-sqlite.c — the embedded database: SQLite in WAL mode with synchronous=FULL (a
 * confirmed device survives a power cut the moment its reply leaves), a versioned schema
 * (PRAGMA user_version), and prepared statements kept per thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db-private.h"

/* Version 1. Integers hold EUIs and UIDs as their 64-bit two's complement. Private keys,
 * TOTP secrets and root keys only ever appear sealed under the master key (vault.c). */
static const char sq_schema_v1[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE keys(purpose TEXT PRIMARY KEY, key_id INTEGER NOT NULL,"
	" pub BLOB NOT NULL, sealed BLOB NOT NULL, cert BLOB, created_at INTEGER NOT NULL);"
	"CREATE TABLE stations(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
	" serial INTEGER NOT NULL, fingerprint BLOB UNIQUE NOT NULL,"
	" created_at INTEGER NOT NULL, revoked_at INTEGER);"
	"CREATE TABLE operators(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
	" roles INTEGER NOT NULL, pw_hash TEXT NOT NULL, totp_sealed BLOB NOT NULL,"
	" totp_alg INTEGER NOT NULL, last_step INTEGER NOT NULL DEFAULT -1,"
	" failures INTEGER NOT NULL DEFAULT 0, locked INTEGER NOT NULL DEFAULT 0,"
	" lots TEXT NOT NULL, join_euis TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE sessions(token_hash BLOB PRIMARY KEY, operator_id INTEGER NOT NULL,"
	" station_id INTEGER NOT NULL, created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL);"
	"CREATE TABLE devices(dev_eui INTEGER PRIMARY KEY, chip_uid INTEGER UNIQUE NOT NULL,"
	" dik_pub BLOB NOT NULL, silicon_id INTEGER NOT NULL, counter INTEGER NOT NULL,"
	" provisioned_counter INTEGER, reprovision INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE attempts(dev_eui INTEGER NOT NULL, counter INTEGER NOT NULL,"
	" state TEXT NOT NULL CHECK(state IN ('issued','superseded','abandoned','confirmed')),"
	" lot TEXT NOT NULL, join_eui INTEGER NOT NULL, lorawan INTEGER NOT NULL,"
	" package BLOB NOT NULL, keys_sealed BLOB NOT NULL, station_id INTEGER NOT NULL,"
	" operator_id INTEGER NOT NULL, issued_at INTEGER NOT NULL, confirmed_at INTEGER,"
	" receipt BLOB, record TEXT, probe_serial TEXT, probe_firmware TEXT, reason TEXT,"
	" PRIMARY KEY(dev_eui, counter));"
	"CREATE INDEX attempts_lot ON attempts(lot, state);"
	"CREATE TABLE challenges(nonce BLOB PRIMARY KEY, dev_eui INTEGER NOT NULL,"
	" station_id INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
	"CREATE TABLE audit_head(id INTEGER PRIMARY KEY CHECK(id = 1), seq INTEGER NOT NULL,"
	" hash TEXT NOT NULL);";

/* Version 2: failed logins counted per (operator name, station), whether the name exists
 * or not (operators.failures and .locked are no longer used); operators can be disabled;
 * challenges are found by station and expiry for their clean-up. */
static const char sq_schema_v2[] =
	"CREATE TABLE login_failures(name TEXT NOT NULL, station_id INTEGER NOT NULL,"
	" failures INTEGER NOT NULL, locked_until INTEGER NOT NULL DEFAULT 0,"
	" last_at INTEGER NOT NULL, PRIMARY KEY(name, station_id));"
	"ALTER TABLE operators ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX challenges_station ON challenges(station_id, expires_at);"
	"CREATE INDEX challenges_expiry ON challenges(expires_at);";

/* Version 3: enrolment (one factory-CA certificate per chip UID), the CAs each lot
 * accepts at issue, and which CA an attempt's chip was certified by. */
static const char sq_schema_v3[] =
	"CREATE TABLE enrolments(chip_uid INTEGER PRIMARY KEY, dik_pub BLOB NOT NULL,"
	" silicon_id INTEGER NOT NULL, cert BLOB NOT NULL, lot TEXT NOT NULL,"
	" station_id INTEGER NOT NULL, operator_id INTEGER NOT NULL,"
	" enrolled_at INTEGER NOT NULL);"
	"CREATE TABLE lot_cas(lot TEXT PRIMARY KEY, cas INTEGER NOT NULL);"
	"ALTER TABLE attempts ADD COLUMN ca TEXT NOT NULL DEFAULT 'vendor';";

/* Version 4: the Join Server (join.c, peer.c): network and application servers as peers
 * with their KEKs (sealed), each device's JoinNonce and DevNonces, and the sessions whose
 * AppSKey an application server may fetch. */
static const char sq_schema_v4[] =
	"CREATE TABLE peers(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, kind TEXT NOT NULL "
	"CHECK(kind IN ('ns','as')), net_id INTEGER, serial INTEGER NOT NULL, fingerprint BLOB "
	"UNIQUE NOT NULL, kek_label TEXT UNIQUE NOT NULL, kek_sealed BLOB NOT NULL, kek_gen "
	"INTEGER NOT NULL, lots TEXT NOT NULL, join_euis TEXT NOT NULL, created_at INTEGER NOT "
	"NULL, revoked_at INTEGER);"
	"CREATE TABLE join_state(dev_eui INTEGER PRIMARY KEY, join_nonce INTEGER NOT NULL, "
	"last_dev_nonce INTEGER NOT NULL);"
	"CREATE TABLE dev_nonces(dev_eui INTEGER NOT NULL, dev_nonce INTEGER NOT NULL, PRIMARY "
	"KEY(dev_eui, dev_nonce));"
	"CREATE TABLE join_sessions(session_key_id BLOB PRIMARY KEY, dev_eui INTEGER NOT NULL, "
	"join_nonce INTEGER NOT NULL, ns_peer_id INTEGER NOT NULL, as_peer_id INTEGER NOT NULL, "
	"app_s_key_sealed BLOB NOT NULL, created_at INTEGER NOT NULL);";

struct sq_db {
	struct db base;
	sqlite3 *h;
};

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
	bool cached, busy;
};

static sqlite3 *sq_handle(struct db *db)
{
	return ((struct sq_db *)db)->h;
}

static int sq_exec(struct db *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(sq_handle(db), sql, NULL, NULL, &err);

	if (rc != SQLITE_OK) {
		fprintf(stderr, "lpa-kms: sqlite: %s\n", err ? err : sqlite3_errmsg(sq_handle(db)));
		sqlite3_free(err);
		return rc == SQLITE_BUSY ? KMS_ERR_BUSY : KMS_ERR_DB;
	}
	return KMS_OK;
}

static int sq_begin(struct db *db)
{
	return db_run(db, NULL, "BEGIN IMMEDIATE", NULL);
}

static int sq_commit(struct db *db)
{
	return db_run(db, NULL, "COMMIT", NULL);
}

static void sq_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(sq_handle(db)))
		sqlite3_exec(sq_handle(db), "ROLLBACK", NULL, NULL, NULL);
}

static int sq_errcode(sqlite3 *h, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return KMS_ERR_EXISTS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return KMS_ERR_BUSY;
	default:
		fprintf(stderr, "lpa-kms: sqlite: %s\n", sqlite3_errmsg(h));
		return KMS_ERR_DB;
	}
}

/*
 * Prepared statements are kept per thread and connection, keyed by the SQL text's
 * address (every statement is a literal): parsing SQL was the largest single cost of a
 * request. A statement still in use (nested use of the same SQL) gets a fresh,
 * uncached one. sq_close finalizes whatever a connection still has.
 */
#define SQ_CACHE 64

struct sq_cached {
	sqlite3 *h;
	const char *sql;
	struct sq_stmt s;
};
static __thread struct sq_cached sq_cache[SQ_CACHE];

static struct sq_cached *sq_cache_slot(sqlite3 *h, const char *sql)
{
	size_t k = (size_t)(((uintptr_t)sql >> 3) ^ ((uintptr_t)h >> 6));

	for (size_t i = 0; i < SQ_CACHE; i++) {
		struct sq_cached *e = &sq_cache[(k + i) % SQ_CACHE];

		if (!e->h || (e->h == h && e->sql == sql))
			return e;
	}
	return NULL; /* full: this one is not cached */
}

static int sq_prepare(struct db *db, const char *sql, struct sq_stmt **out)
{
	sqlite3 *h = sq_handle(db);
	struct sq_cached *e = sq_cache_slot(h, sql);
	struct sq_stmt *s;
	sqlite3_stmt *st;
	int rc;

	if (e && e->h && !e->s.busy) {
		e->s.busy = true;
		*out = &e->s;
		return KMS_OK;
	}
	if (e && e->h)
		e = NULL; /* in use: a fresh one, finalized after use */
	rc = sqlite3_prepare_v3(h, sql, -1, e ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "lpa-kms: sqlite prepare: %s\n", sqlite3_errmsg(h));
		return KMS_ERR_DB;
	}
	if (e) {
		e->h = h;
		e->sql = sql;
		s = &e->s;
		s->cached = true;
	} else if ((s = calloc(1, sizeof(*s))) == NULL) {
		sqlite3_finalize(st);
		return KMS_ERR_NOMEM;
	}
	s->base.db = db;
	s->st = st;
	s->busy = true;
	*out = s;
	return KMS_OK;
}

/* Done with a statement: a cached one is reset for its next use, any other finalized. */
static void sq_release(struct sq_stmt *s)
{
	if (s->cached) {
		sqlite3_reset(s->st);
		sqlite3_clear_bindings(s->st);
		s->busy = false;
		return;
	}
	sqlite3_finalize(s->st);
	free(s);
}

static int sq_bind(struct sq_stmt *s, const struct db_param *prm, size_t n)
{
	int rc = SQLITE_OK;

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		const struct db_param *q = &prm[i];
		int k = (int)i + 1;

		if (q->null)
			rc = sqlite3_bind_null(s->st, k);
		else if (q->type == 'i')
			rc = sqlite3_bind_int64(s->st, k, (sqlite3_int64)q->i);
		else if (q->type == 't')
			rc = sqlite3_bind_text(s->st, k, q->p, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_blob64(s->st, k, q->p, q->n, SQLITE_STATIC);
	}
	if (rc != SQLITE_OK || (int)n != sqlite3_bind_parameter_count(s->st)) {
		/* A programming error: the format does not match the statement. */
		fprintf(stderr, "lpa-kms: sqlite bind: %s\n",
			rc != SQLITE_OK ? sqlite3_errstr(rc) : "wrong parameter count");
		return KMS_ERR_DB;
	}
	return KMS_OK;
}

static int sq_next(struct db_stmt *st)
{
	struct sq_stmt *s = (struct sq_stmt *)st;
	int rc = sqlite3_step(s->st);

	if (rc == SQLITE_ROW)
		return KMS_OK;
	if (rc == SQLITE_DONE)
		return KMS_ERR_NOT_FOUND;
	return sq_errcode(sqlite3_db_handle(s->st), rc);
}

static void sq_done(struct db_stmt *st)
{
	sq_release((struct sq_stmt *)st);
}

static int sq_run(struct db *db, const char *sql, const struct db_param *prm, size_t n,
		  struct db_stmt **st, int *changes)
{
	struct sq_stmt *s = NULL;
	int r, rc;

	if ((r = sq_prepare(db, sql, &s)) != KMS_OK)
		return r;
	if ((r = sq_bind(s, prm, n)) != KMS_OK) {
		sq_release(s);
		return r;
	}
	if (st) {
		*st = &s->base;
		if ((r = sq_next(*st)) != KMS_OK) {
			sq_release(s);
			*st = NULL;
		}
		return r;
	}
	while ((rc = sqlite3_step(s->st)) == SQLITE_ROW)
		;
	r = rc == SQLITE_DONE ? KMS_OK : sq_errcode(sq_handle(db), rc);
	if (r == KMS_OK)
		*changes = sqlite3_changes(sq_handle(db));
	sq_release(s);
	return r;
}

static int64_t sq_col_int64(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(((struct sq_stmt *)st)->st, col);
}

static const char *sq_col_text(struct db_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(((struct sq_stmt *)st)->st, col);

	return t ? (const char *)t : "";
}

static const void *sq_col_bytes(struct db_stmt *st, int col, size_t *len)
{
	sqlite3_stmt *s = ((struct sq_stmt *)st)->st;
	const void *p = sqlite3_column_blob(s, col);

	*len = (size_t)sqlite3_column_bytes(s, col);
	return p;
}

static bool sq_col_null(struct db_stmt *st, int col)
{
	return sqlite3_column_type(((struct sq_stmt *)st)->st, col) == SQLITE_NULL;
}

static void sq_close(struct db *db)
{
	sqlite3 *h = sq_handle(db);
	sqlite3_stmt *st;

	/* This thread's cache forgets the connection; statements other threads (gone by
	 * now: each connection is used by one thread) cached are finalized with the rest. */
	for (size_t i = 0; i < SQ_CACHE; i++)
		if (sq_cache[i].h == h)
			memset(&sq_cache[i], 0, sizeof(sq_cache[i]));
	while ((st = sqlite3_next_stmt(h, NULL)) != NULL)
		sqlite3_finalize(st);
	sqlite3_close_v2(h);
	free(db);
}

static const struct db_ops sq_ops = {
	.kind = DB_SQLITE,
	.exec = sq_exec,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.run = sq_run,
	.next = sq_next,
	.done = sq_done,
	.col_int64 = sq_col_int64,
	.col_text = sq_col_text,
	.col_bytes = sq_col_bytes,
	.col_null = sq_col_null,
	.close = sq_close,
};

static int sq_schema(struct db *db, bool create)
{
	struct db_stmt *st = NULL;
	int r, version = 0;

	if ((r = db_query(db, &st, "PRAGMA user_version", NULL)) == KMS_OK)
		version = db_col_int(st, 0);
	db_done(&st);
	if (r != KMS_OK && r != KMS_ERR_NOT_FOUND)
		return r;
	if (version == KMS_SCHEMA_VERSION)
		return KMS_OK;
	if ((r = db_schema_check(version, create)) != KMS_OK)
		return r;
	/* One transaction from whatever version the file has to the current one: a new
	 * database runs every step, an older one the steps it lacks. */
	if ((r = db_begin(db)) != KMS_OK)
		return r;
	if ((version < 1 && (r = db_exec(db, sq_schema_v1)) != KMS_OK) ||
	    (version < 2 && (r = db_exec(db, sq_schema_v2)) != KMS_OK) ||
	    (version < 3 && (r = db_exec(db, sq_schema_v3)) != KMS_OK) ||
	    (version < 4 && (r = db_exec(db, sq_schema_v4)) != KMS_OK) ||
	    (r = db_exec(db, "PRAGMA user_version = 4")) != KMS_OK) {
		db_rollback(db);
		return r;
	}
	if (version != 0)
		fprintf(stderr, "lpa-kms: database schema upgraded from version %d to %d\n",
			version, KMS_SCHEMA_VERSION);
	return db_commit(db);
}

int db_sqlite_open(const char *path, bool create, struct db **out)
{
	int flags =
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	struct sq_db *d = calloc(1, sizeof(*d));
	struct db *db = &d->base;
	int r;

	*out = NULL;
	if (!d)
		return KMS_ERR_NOMEM;
	d->base.ops = &sq_ops;
	if (sqlite3_open_v2(path, &d->h, flags, NULL) != SQLITE_OK) {
		fprintf(stderr, "lpa-kms: cannot open database %s: %s\n", path,
			d->h ? sqlite3_errmsg(d->h) : "out of memory");
		r = KMS_ERR_DB;
		goto fail;
	}
	/* Admin commands may run while the server does: wait for the writer, boundedly. */
	sqlite3_busy_timeout(d->h, 5000);
	if ((r = db_exec(db, "PRAGMA journal_mode = WAL")) != KMS_OK ||
	    (r = db_exec(db, "PRAGMA synchronous = FULL")) != KMS_OK ||
	    (r = db_exec(db, "PRAGMA foreign_keys = ON")) != KMS_OK ||
	    (r = db_exec(db, "PRAGMA secure_delete = ON")) != KMS_OK ||
	    (r = sq_schema(db, create)) != KMS_OK)
		goto fail;
	*out = db;
	return KMS_OK;
fail:
	sq_close(db);
	return r;
}
