/*
 * kms-audit.h — the append-only, hash-chained audit log (audit.c).
 */
#ifndef LPA_KMS_AUDIT_H
#define LPA_KMS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "kms-db.h"
#include "kms-err.h"

/* ------------------------------------------------------------------ audit */
/*
 * Appending inside the caller's write transaction (server.c: one per batch of calls):
 * open locks the log and reads the head; add chains one line {seq, time, ...entry
 * members..., prev} in memory; write appends them all (one write, fdatasync) and moves
 * the head in the transaction; close, after the caller's COMMIT or ROLLBACK, cuts the
 * written lines off again when the transaction did not commit, and unlocks.
 */
struct audit_batch;
int audit_batch_open(struct db *db, const char *path, struct audit_batch **b);
int audit_batch_add(struct audit_batch *b, json_t *entry);
int audit_batch_write(struct audit_batch *b, struct db *db);
void audit_batch_close(struct audit_batch **b, bool committed);
/* One line in a transaction of its own. */
int audit_append(struct db *db, const char *path, json_t *entry);
/* At start-up: lines after the database's head (written, then the process died before
 * its commit) are cut off; *cut says how many. A log that does not end in an intact head
 * line is left for `audit verify` to report. */
int audit_recover(struct db *db, const char *path, size_t *cut);
/* Writes the log to out as JSON Lines: the file at path, or on PostgreSQL the database's
 * lines. */
int audit_export(struct db *db, const char *path, FILE *out);
/* Verifies the chain of path (NULL on PostgreSQL: the database's lines) and (when db is
 * not NULL) that its last line is the head.
 * On failure *line is the 1-based line where it breaks and msg says why. */
int audit_verify(struct db *db, const char *path, size_t *lines, size_t *line, char *msg,
		 size_t msg_len);

#endif /* LPA_KMS_AUDIT_H */
