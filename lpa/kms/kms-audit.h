/*
 * kms-audit.h — the append-only, hash-chained audit log (audit.c).
 */
#ifndef LPA_KMS_AUDIT_H
#define LPA_KMS_AUDIT_H

#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

#include "kms-err.h"

/* ------------------------------------------------------------------ audit */
/* Appends one line {seq, time, ...entry members..., prev}; the DB keeps the head. */
int audit_append(sqlite3 *db, const char *path, json_t *entry);
/* Verifies the chain of path and (when db is not NULL) that its last line is the head.
 * On failure *line is the 1-based line where it breaks and msg says why. */
int audit_verify(sqlite3 *db, const char *path, size_t *lines, size_t *line, char *msg,
		 size_t msg_len);

#endif /* LPA_KMS_AUDIT_H */
