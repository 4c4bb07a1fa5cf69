/*
 * manifest-record.c — one KMS record (docs/protocols.md "Manifest records and JWS"): the
 * pinned JWKS it is checked against, its signature under the key its kid names, and its
 * payload. The station checks every record it is given before journaling it (a KMS that
 * is not the pinned one, or a reply changed on the way, must not put a record into the
 * manifest); QA's verifier runs the same code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest.h"

static int record_err(char *err, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int record_err(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return r;
}

void manifest_keys_free(struct manifest_keys *k)
{
	for (size_t i = 0; i < k->n_record; i++)
		lpa_pkey_free(&k->record[i]);
	for (size_t i = 0; i < k->n_station; i++)
		lpa_pkey_free(&k->station[i]);
	k->n_record = 0;
	k->n_station = 0;
}

/* One record key of the JWKS: a P-256 public JWK with a distinct kid and, when it says
 * so, alg ES256. */
static int keys_add_record(struct manifest_keys *k, json_t *jwk, size_t i, const char *path,
			   char *err, size_t err_len)
{
	json_t *jkid = json_object_get(jwk, "kid"), *alg = json_object_get(jwk, "alg");
	const char *kid = json_string_value(jkid);
	char *s;
	int r;

	if (kid == NULL || kid[0] == '\0' || json_string_length(jkid) >= MANIFEST_KID_MAX)
		return record_err(err, err_len, LPA_ERR_KEY,
				  "%s: record key %zu has no \"kid\" (1..%d characters)", path, i,
				  MANIFEST_KID_MAX - 1);
	if (alg != NULL && (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256") != 0))
		return record_err(err, err_len, LPA_ERR_KEY,
				  "%s: record key %s: \"alg\" is not \"ES256\"", path, kid);
	for (size_t n = 0; n < k->n_record; n++)
		if (strcmp(k->record_kid[n], kid) == 0)
			return record_err(err, err_len, LPA_ERR_KEY,
					  "%s: kid %s names two record keys", path, kid);
	if (k->n_record == MANIFEST_MAX_KEYS)
		return record_err(err, err_len, LPA_ERR_KEY, "%s: more than %d record keys", path,
				  MANIFEST_MAX_KEYS);
	if ((s = json_dumps(jwk, JSON_COMPACT)) == NULL)
		return LPA_ERR_NOMEM;
	r = lpa_jwk_to_p256(s, &k->record[k->n_record]);
	free(s);
	if (r != LPA_OK)
		return record_err(err, err_len, r, "%s: record key %s is not a P-256 public JWK",
				  path, kid);
	snprintf(k->record_kid[k->n_record], MANIFEST_KID_MAX, "%s", kid);
	k->n_record++;
	return LPA_OK;
}

/* Takes root (a parsed JWKS) and frees it. */
static int manifest_keys_from_json(json_t *root, const char *path, struct manifest_keys *k,
				   char *err, size_t err_len)
{
	json_t *keys, *jwk;
	size_t i;
	int r = LPA_ERR_KEY;

	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(keys)) {
		record_err(err, err_len, r, "%s: no \"keys\" array", path);
		goto fail;
	}
	json_array_foreach(keys, i, jwk)
	{
		const char *purpose = json_string_value(json_object_get(jwk, "purpose"));

		/* Without a purpose a package key would verify records too: refuse it. */
		if (purpose == NULL) {
			record_err(err, err_len, r,
				   "%s: key %zu has no \"purpose\" (\"record\" or \"package\")",
				   path, i);
			goto fail;
		}
		if (strcmp(purpose, "record") == 0 &&
		    (r = keys_add_record(k, jwk, i, path, err, err_len)) != LPA_OK)
			goto fail;
		r = LPA_ERR_KEY;
	}
	if (k->n_record == 0) {
		record_err(err, err_len, r, "%s: no key with \"purpose\":\"record\"", path);
		goto fail;
	}
	r = LPA_OK;
fail:
	if (r != LPA_OK)
		manifest_keys_free(k);
	json_decref(root);
	return r;
}

/* Exactly 16 hex digits. */
static int record_hex64(json_t *o, const char *name, uint64_t *out)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_string(v) ||
	    lpa_eui_parse_len(json_string_value(v), json_string_length(v), out) != LPA_OK)
		return -1;
	return 0;
}

static int record_name(json_t *o, const char *name, char out[LPA_NAME_MAX + 1])
{
	const char *s = json_string_value(json_object_get(o, name));

	if (!lpa_name_valid(s, LPA_NAME_MAX))
		return -1;
	strcpy(out, s);
	return 0;
}

static int record_payload(json_t *p, struct manifest_record *rec, char *err, size_t err_len)
{
	json_t *v = json_object_get(p, "v"), *ctr = json_object_get(p, "counter");
	json_t *ph = json_object_get(p, "package_sha256"), *ca;

	if (!json_is_object(p))
		return record_err(err, err_len, LPA_ERR_ENCODING, "record payload is not JSON");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return record_err(err, err_len, LPA_ERR_ENCODING, "record payload: \"v\" is not 1");
	if (record_hex64(p, "dev_eui", &rec->dev_eui) != 0)
		return record_err(err, err_len, LPA_ERR_ENCODING,
				  "record payload: \"dev_eui\" is not 16 hex digits");
	if (record_hex64(p, "chip_uid", &rec->chip_uid) != 0)
		return record_err(err, err_len, LPA_ERR_ENCODING,
				  "record payload: \"chip_uid\" is not 16 hex digits");
	if (!json_is_integer(ctr) || json_integer_value(ctr) < 1 ||
	    json_integer_value(ctr) > UINT32_MAX)
		return record_err(err, err_len, LPA_ERR_ENCODING,
				  "record payload: \"counter\" is not an integer in 1..2^32-1");
	rec->counter = (uint32_t)json_integer_value(ctr);
	if (record_name(p, "lot", rec->lot) != 0)
		return record_err(err, err_len, LPA_ERR_ENCODING,
				  "record payload: \"lot\" is not a name");
	if (record_name(p, "station", rec->station) != 0)
		return record_err(err, err_len, LPA_ERR_ENCODING,
				  "record payload: \"station\" is not a name");
	if (!json_is_string(ph) || json_string_length(ph) != 64 ||
	    lpa_hex_decode(json_string_value(ph), 64, rec->package_sha256, 32) != LPA_OK)
		return record_err(err, err_len, LPA_ERR_ENCODING,
				  "record payload: \"package_sha256\" is not 64 hex digits");
	/* Which CA certified the chip's DIK: absent in records from before enrolment
	 * existed (the vendor's, then). */
	ca = json_object_get(p, "ca");
	if (ca == NULL)
		snprintf(rec->ca, sizeof(rec->ca), "vendor");
	else if (!json_is_string(ca) || (strcmp(json_string_value(ca), "vendor") != 0 &&
					 strcmp(json_string_value(ca), "factory") != 0))
		return record_err(err, err_len, LPA_ERR_ENCODING,
				  "record payload: \"ca\" is not \"vendor\" or \"factory\"");
	else
		snprintf(rec->ca, sizeof(rec->ca), "%s", json_string_value(ca));
	return LPA_OK;
}

int manifest_record_verify(const struct manifest_keys *k, const char *jws,
			   struct manifest_record *rec, char *err, size_t err_len)
{
	const EVP_PKEY *key = NULL;
	uint8_t *payload = NULL;
	size_t plen = 0;
	char *kid = NULL, *kid2 = NULL;
	json_t *p;
	int r;

	memset(rec, 0, sizeof(*rec));
	/* The key is the one the header names; a record without a kid verifies under
	 * none (it would otherwise pass under whichever pinned key happens to fit). */
	if ((r = lpa_jws_kid(jws, &kid)) != LPA_OK)
		return record_err(err, err_len, r == LPA_ERR_NOMEM ? r : LPA_ERR_SIGNATURE,
				  "record is not an ES256 JWS (%s)", lpa_errname(r));
	if (kid == NULL)
		return record_err(err, err_len, LPA_ERR_SIGNATURE, "record JWS names no kid");
	for (size_t i = 0; i < k->n_record && key == NULL; i++)
		if (strcmp(k->record_kid[i], kid) == 0)
			key = k->record[i];
	if (key == NULL) {
		r = record_err(err, err_len, LPA_ERR_SIGNATURE,
			       "record kid %.60s is not a pinned record key", kid);
		free(kid);
		return r;
	}
	snprintf(rec->kid, sizeof(rec->kid), "%s", kid);
	free(kid);
	if ((r = lpa_jws_verify(jws, key, &kid2, &payload, &plen)) != LPA_OK)
		return record_err(err, err_len, r == LPA_ERR_NOMEM ? r : LPA_ERR_SIGNATURE,
				  "record signature does not verify with the pinned key %s",
				  rec->kid);
	free(kid2);
	p = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, NULL);
	free(payload);
	r = record_payload(p, rec, err, err_len);
	json_decref(p);
	return r;
}

int manifest_record_check(const struct manifest_keys *k, const char *jws,
			  const struct manifest_record_expect *x, char *err, size_t err_len)
{
	struct manifest_record rec;
	int r = manifest_record_verify(k, jws, &rec, err, err_len);

	if (r == LPA_ERR_NOMEM)
		return r;
	if (r != LPA_OK)
		return LPA_ERR_KMS_RECORD;
	if (rec.dev_eui != x->dev_eui)
		return record_err(err, err_len, LPA_ERR_KMS_RECORD,
				  "record names DevEUI %016llx, this device is %016llx",
				  (unsigned long long)rec.dev_eui, (unsigned long long)x->dev_eui);
	if (rec.chip_uid != x->chip_uid)
		return record_err(err, err_len, LPA_ERR_KMS_RECORD,
				  "record names chip UID %016llx, this chip is %016llx",
				  (unsigned long long)rec.chip_uid,
				  (unsigned long long)x->chip_uid);
	if (rec.counter != x->counter)
		return record_err(err, err_len, LPA_ERR_KMS_RECORD,
				  "record names counter %u, this attempt is %u", rec.counter,
				  x->counter);
	if (strcmp(rec.lot, x->lot) != 0)
		return record_err(err, err_len, LPA_ERR_KMS_RECORD,
				  "record names lot %s, this lot is %.64s", rec.lot, x->lot);
	if (x->package_hash_len == 0 || x->package_hash_len > 32 ||
	    memcmp(rec.package_sha256, x->package_hash, x->package_hash_len) != 0)
		return record_err(err, err_len, LPA_ERR_KMS_RECORD, "%s",
				  "record names another package than the chip got");
	if (x->ca != NULL && strcmp(rec.ca, x->ca) != 0)
		return record_err(
			err, err_len, LPA_ERR_KMS_RECORD,
			"record says the %s CA certified the chip, the station enrolled it "
			"with the %s CA",
			rec.ca, x->ca);
	return LPA_OK;
}

int manifest_keys_load_jwks(const char *path, struct manifest_keys *k, char *err, size_t err_len)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);

	memset(k, 0, sizeof(*k));
	if (root == NULL)
		return record_err(err, err_len, LPA_ERR_ENCODING, "%s: %s (line %d)", path, je.text,
				  je.line);
	return manifest_keys_from_json(root, path, k, err, err_len);
}

int manifest_keys_parse_jwks(const char *text, size_t len, struct manifest_keys *k, char *err,
			     size_t err_len)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);

	memset(k, 0, sizeof(*k));
	if (root == NULL)
		return record_err(err, err_len, LPA_ERR_ENCODING, "JWKS: %s (line %d)", je.text,
				  je.line);
	return manifest_keys_from_json(root, "JWKS", k, err, err_len);
}
