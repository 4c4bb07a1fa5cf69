/*
 * manifest.h — the lot manifest (docs/protocols.md): JSON Lines of KMS-signed device
 * records, hash-chained, closed by station-signed trailers. The writer appends one
 * fsync'd line at a time; the verifier is what QA runs offline.
 */
#ifndef LPA_STATION_MANIFEST_H
#define LPA_STATION_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lpa/core/lpa-core.h"

#define MANIFEST_HASH_HEX 65

/* ---- writer ---- */
typedef struct manifest manifest;

/* Opens (creating) the manifest at path for appending. A torn last line (a crash in the
 * middle of a write) is cut off; the chain of what remains is checked. */
int manifest_open(const char *path, manifest **m);
void manifest_close(manifest **m);
/* Appends {"seq":n,"record":jws,"prev":hash}, then fsync. */
int manifest_append_record(manifest *m, const char *jws);
/* Appends {"trailer":{"lot","count","head"},"key":JWK,"sig":JWS}, then fsync. */
int manifest_append_trailer(manifest *m, const char *lot, EVP_PKEY *station_key,
			    const char *station_kid);
size_t manifest_count(const manifest *m);
/* Whether a record line with exactly this JWS is in the file (resume after a crash
 * between the append and its journal entry must not append it twice). */
int manifest_contains(manifest *m, const char *jws, bool *found);

/* ---- verifier ---- */
struct manifest_keys {
	EVP_PKEY *record[8]; /* the KMS record-signing keys QA pinned */
	char record_kid[8][64];
	size_t n_record;
	EVP_PKEY *station; /* pinned station key; NULL: the trailer's own key, reported */
};

/* Loads a JWKS ({"keys":[...]}, as GET /v1/keys and lpa-kms admin export-keys give):
 * the keys whose "purpose" is "record" (or every key when none says). */
int manifest_keys_load_jwks(const char *path, struct manifest_keys *k, char *err, size_t err_len);
void manifest_keys_free(struct manifest_keys *k);

struct manifest_lot {
	char lot[64];
	size_t records;
	size_t trailers;
};

struct manifest_report {
	size_t lines;
	size_t records;
	size_t trailers;
	struct manifest_lot lots[32];
	size_t n_lots;
	bool trailer_key_pinned;
	char trailer_key_sha256[MANIFEST_HASH_HEX]; /* of the last trailer's key */
	bool open_batch;                            /* records after the last trailer */
	size_t bad_line; /* 1-based line of the first failure, 0 when none */
	char error[256]; /* what failed there */
};

/* Every check of docs/protocols.md; LPA_OK only when all hold. */
int manifest_verify(FILE *f, const struct manifest_keys *k, struct manifest_report *rep);

/* sha256 hex of a line's bytes (without its newline). */
void manifest_line_hash(const char *line, size_t len, char hex[MANIFEST_HASH_HEX]);

#endif
