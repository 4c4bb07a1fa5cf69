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

#include <jansson.h>

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
/* Appends {"trailer":{"lot","count","head"},"key":JWK,"sig":JWS}, then fsync.
 * LPA_ERR_INVAL when no record is open (a trailer closes at least one) or lot is no
 * name. */
int manifest_append_trailer(manifest *m, const char *lot, EVP_PKEY *station_key,
			    const char *station_kid);
size_t manifest_count(const manifest *m);
/* Records since the last trailer: a trailer is written only when this is > 0. */
size_t manifest_open_records(const manifest *m);
/* Whether a record line with exactly this JWS is in the file (resume after a crash
 * between the append and its journal entry must not append it twice). Answered from an
 * index of the records built at open and kept on append; the file is read only when the
 * index says yes (a resume), to be certain. */
int manifest_contains(manifest *m, const char *jws, bool *found);

/* ---- keys ---- */
#define MANIFEST_MAX_KEYS 8
#define MANIFEST_KID_MAX 64

struct manifest_keys {
	EVP_PKEY *record[MANIFEST_MAX_KEYS]; /* the KMS record-signing keys pinned */
	char record_kid[MANIFEST_MAX_KEYS][MANIFEST_KID_MAX];
	size_t n_record;
	EVP_PKEY *station[MANIFEST_MAX_KEYS]; /* pinned station keys (renewals: several) */
	size_t n_station;                     /* 0: the trailers' own keys, reported */
};

/* Loads a JWKS ({"keys":[...]}, as GET /v1/keys and lpa-kms admin export-keys give).
 * Every key must say its "purpose"; those whose purpose is "record" are the record keys
 * and must carry a distinct "kid" (a record names the key that signed it). */
int manifest_keys_load_jwks(const char *path, struct manifest_keys *k, char *err, size_t err_len);
/* The same from text (the fuzz target's entry). */
int manifest_keys_parse_jwks(const char *text, size_t len, struct manifest_keys *k, char *err,
			     size_t err_len);
void manifest_keys_free(struct manifest_keys *k);

/* ---- records (manifest-record.c) ---- */
/* What a record's payload says, as far as the station and QA check it. */
struct manifest_record {
	uint64_t dev_eui;
	uint64_t chip_uid;
	uint32_t counter;
	char lot[LPA_NAME_MAX + 1];
	char station[LPA_NAME_MAX + 1];
	uint8_t package_sha256[32];
	char kid[MANIFEST_KID_MAX];
	char ca[8]; /* "vendor" or "factory" (absent in the payload: "vendor") */
};

/* Verifies a record JWS: its kid names a pinned record key, that key's ES256 signature
 * holds, and the payload has v 1, dev_eui, chip_uid (16 hex digits), counter
 * (1..2^32-1), lot and station (names), package_sha256 (64 hex digits), ca ("vendor" or
 * "factory"; optional, absent meaning "vendor"). LPA_ERR_SIGNATURE
 * (kid, key, signature) or LPA_ERR_ENCODING (payload), with err saying which. */
int manifest_record_verify(const struct manifest_keys *k, const char *jws,
			   struct manifest_record *rec, char *err, size_t err_len);

/* What the station knows about the device a record must describe. */
struct manifest_record_expect {
	uint64_t dev_eui;
	uint64_t chip_uid;
	uint32_t counter;
	const char *lot;
	const uint8_t *package_hash; /* SHA-256 of the package the chip got, or its prefix */
	size_t package_hash_len;     /* 32, or 16 (the receipt's prefix) */
	const char *ca;              /* "factory" when this pass enrolled the chip; NULL: any */
};

/* manifest_record_verify, then every expected field: LPA_ERR_KMS_RECORD with err naming
 * the first that fails. The station runs this before it journals or appends a record. */
int manifest_record_check(const struct manifest_keys *k, const char *jws,
			  const struct manifest_record_expect *x, char *err, size_t err_len);

/* ---- verifier ---- */
struct manifest_lot {
	char lot[LPA_NAME_MAX + 1];
	size_t records;
	size_t trailers;
};

struct manifest_report {
	size_t lines;
	size_t records;
	size_t trailers;
	struct manifest_lot lots[32];
	size_t n_lots;
	char station[LPA_NAME_MAX + 1]; /* the station its records name */
	bool trailer_key_pinned;
	char trailer_key_sha256[MANIFEST_HASH_HEX]; /* of the last trailer's key */
	bool open_batch;                            /* records after the last trailer */
	size_t bad_line; /* 1-based line of the first failure, 0 when none */
	char error[256]; /* what failed there */
};

/* Called for every record line that verified, in file order (--kms compares them). */
typedef int (*manifest_record_cb)(void *ctx, size_t line, const char *jws,
				  const struct manifest_record *rec);

/* Every check of docs/protocols.md; LPA_OK only when all hold. */
int manifest_verify(FILE *f, const struct manifest_keys *k, struct manifest_report *rep);
/* The same, calling cb (when not NULL) for each good record; a non-zero return stops. */
int manifest_verify_cb(FILE *f, const struct manifest_keys *k, manifest_record_cb cb, void *ctx,
		       struct manifest_report *rep);

/* The report as JSON text (malloc'd), built with jansson: file, ok, lines, records,
 * trailers, station, trailer key, lots, and on failure line and error. kms: NULL, or an
 * object the caller built (the --kms comparison). */
char *manifest_report_json(const char *file, int result, const struct manifest_report *rep,
			   json_t *kms);

/* The exact bytes a trailer's signature covers: {"lot":L,"count":C,"head":H}, compact,
 * in that order (malloc'd). */
char *manifest_trailer_payload(const char *lot, size_t count, const char *head);

/* sha256 hex of a line's bytes (without its newline). */
void manifest_line_hash(const char *line, size_t len, char hex[MANIFEST_HASH_HEX]);

#endif
