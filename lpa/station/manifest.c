/*
 * manifest.c — writing and verifying lot manifests.
 *
 * Line forms (compact JSON, one per line):
 *   {"seq":N,"record":"<JWS by the KMS record key>","prev":"<sha256 hex of previous line>"}
 *   {"trailer":{"lot":L,"count":C,"head":H},"key":<station JWK>,"sig":"<JWS over trailer>"}
 * The first line's prev is 64 zeros. seq counts records from 1 over the whole file;
 * a trailer's count is the number of records it closes (since the previous trailer) and
 * its head the hash of the line before it; the line after a trailer chains to the
 * trailer line itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "jsonl.h"
#include "manifest.h"

#define MANIFEST_MAX_LINE (16 * 1024)
#define MANIFEST_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

void manifest_line_hash(const char *line, size_t len, char hex[MANIFEST_HASH_HEX])
{
	uint8_t h[32];

	lpa_sha256(line, len, h);
	lpa_hex_encode(h, sizeof(h), hex);
}

/* ------------------------------------------------------------------ writer */
struct manifest {
	int fd;
	size_t seq;          /* records in the file */
	size_t open_records; /* records since the last trailer */
	char prev[MANIFEST_HASH_HEX];
	char path[4096];
};

/* One line of an existing manifest: chain head and record counts. */
static int manifest_scan_line(void *ctx, char *line, size_t n)
{
	manifest *m = ctx;
	json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
	int r = LPA_OK;

	if (o == NULL)
		return LPA_ERR_ENCODING;
	if (json_object_get(o, "record") != NULL) {
		m->seq++;
		m->open_records++;
	} else if (json_object_get(o, "trailer") != NULL) {
		m->open_records = 0;
	} else {
		r = LPA_ERR_ENCODING;
	}
	json_decref(o);
	if (r == LPA_OK)
		manifest_line_hash(line, n, m->prev);
	return r;
}

/* Reads the existing file: chain head, record count; cuts a torn last line. */
static int manifest_scan(manifest *m)
{
	strcpy(m->prev, MANIFEST_ZERO_HASH);
	return jsonl_replay(m->fd, manifest_scan_line, m);
}

int manifest_open(const char *path, manifest **out)
{
	manifest *m;
	int r;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return LPA_ERR_NOMEM;
	snprintf(m->path, sizeof(m->path), "%s", path);
	/* O_APPEND: each line goes down in one write() at the end, whatever else happens. */
	if ((m->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
		free(m);
		return LPA_ERR_SYSTEM;
	}
	if ((r = manifest_scan(m)) != LPA_OK) {
		close(m->fd);
		free(m);
		return r;
	}
	*out = m;
	return LPA_OK;
}

void manifest_close(manifest **m)
{
	if (m == NULL || *m == NULL)
		return;
	close((*m)->fd);
	free(*m);
	*m = NULL;
}

size_t manifest_count(const manifest *m)
{
	return m->seq;
}

int manifest_contains(manifest *m, const char *jws, bool *found)
{
	FILE *f = fopen(m->path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*found = false;
	if (f == NULL)
		return LPA_ERR_SYSTEM;
	while (!*found && (n = getline(&line, &cap, f)) > 0) {
		json_t *o = json_loadb(line, (size_t)n, 0, NULL);
		json_t *rec = json_object_get(o, "record");

		if (json_is_string(rec) && strcmp(json_string_value(rec), jws) == 0)
			*found = true;
		json_decref(o);
	}
	free(line);
	fclose(f);
	return LPA_OK;
}

static int manifest_write_line(manifest *m, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t len;
	ssize_t w;
	int r = LPA_OK;

	if (s == NULL)
		return LPA_ERR_NOMEM;
	len = strlen(s);
	manifest_line_hash(s, len, m->prev);
	s[len] = '\n';
	/* One write of the whole line, then fsync: a record is on disk before the station
	 * reports the device done. A short write is a torn line the next open cuts. */
	w = write(m->fd, s, len + 1);
	if (w != (ssize_t)(len + 1) || fsync(m->fd) != 0)
		r = LPA_ERR_SYSTEM;
	free(s);
	return r;
}

int manifest_append_record(manifest *m, const char *jws)
{
	json_t *o = json_pack("{s:I,s:s,s:s}", "seq", (json_int_t)(m->seq + 1), "record", jws,
			      "prev", m->prev);
	int r;

	if (o == NULL)
		return LPA_ERR_NOMEM;
	if ((r = manifest_write_line(m, o)) == LPA_OK) {
		m->seq++;
		m->open_records++;
	}
	json_decref(o);
	return r;
}

int manifest_append_trailer(manifest *m, const char *lot, EVP_PKEY *station_key,
			    const char *station_kid)
{
	json_t *t = NULL, *o = NULL, *jwk = NULL;
	char *payload = NULL, *sig = NULL, *jwk_s = NULL;
	int r = LPA_ERR_NOMEM;

	if ((t = json_pack("{s:s,s:I,s:s}", "lot", lot, "count", (json_int_t)m->open_records,
			   "head", m->prev)) == NULL ||
	    (payload = json_dumps(t, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		goto fail;
	if ((r = lpa_jws_sign(station_key, station_kid, payload, strlen(payload), &sig)) !=
		    LPA_OK ||
	    (r = lpa_jwk_from_p256(station_key, station_kid, &jwk_s)) != LPA_OK)
		goto fail;
	r = LPA_ERR_NOMEM;
	if ((jwk = json_loads(jwk_s, 0, NULL)) == NULL ||
	    (o = json_pack("{s:O,s:O,s:s}", "trailer", t, "key", jwk, "sig", sig)) == NULL)
		goto fail;
	if ((r = manifest_write_line(m, o)) == LPA_OK)
		m->open_records = 0;
fail:
	json_decref(o);
	json_decref(jwk);
	json_decref(t);
	free(jwk_s);
	free(sig);
	free(payload);
	return r;
}

/* ---------------------------------------------------------------- verifier */
void manifest_keys_free(struct manifest_keys *k)
{
	for (size_t i = 0; i < k->n_record; i++)
		lpa_pkey_free(&k->record[i]);
	k->n_record = 0;
	lpa_pkey_free(&k->station);
}

int manifest_keys_load_jwks(const char *path, struct manifest_keys *k, char *err, size_t err_len)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *keys, *jwk;
	size_t i;
	bool any_purpose = false;
	int r = LPA_ERR_KEY;

	memset(k, 0, sizeof(*k));
	if (root == NULL) {
		snprintf(err, err_len, "%s: %s (line %d)", path, je.text, je.line);
		return LPA_ERR_ENCODING;
	}
	keys = json_object_get(root, "keys");
	if (!json_is_array(keys)) {
		snprintf(err, err_len, "%s: no \"keys\" array", path);
		goto fail;
	}
	json_array_foreach(keys, i, jwk)
	{
		if (json_is_string(json_object_get(jwk, "purpose")))
			any_purpose = true;
	}
	json_array_foreach(keys, i, jwk)
	{
		const char *purpose = json_string_value(json_object_get(jwk, "purpose"));
		const char *kid = json_string_value(json_object_get(jwk, "kid"));
		char *s;

		if (any_purpose && (purpose == NULL || strcmp(purpose, "record") != 0))
			continue;
		if (k->n_record == sizeof(k->record) / sizeof(k->record[0]))
			break;
		if ((s = json_dumps(jwk, JSON_COMPACT)) == NULL)
			goto fail;
		r = lpa_jwk_to_p256(s, &k->record[k->n_record]);
		free(s);
		if (r != LPA_OK) {
			snprintf(err, err_len, "%s: key %zu is not a P-256 public JWK", path, i);
			goto fail;
		}
		snprintf(k->record_kid[k->n_record], sizeof(k->record_kid[0]), "%s",
			 kid != NULL ? kid : "");
		k->n_record++;
	}
	if (k->n_record == 0) {
		snprintf(err, err_len, "%s: no record-signing key", path);
		r = LPA_ERR_KEY;
		goto fail;
	}
	r = LPA_OK;
fail:
	if (r != LPA_OK)
		manifest_keys_free(k);
	json_decref(root);
	return r;
}

struct seen {
	uint64_t v;
	size_t line;
};

struct verify {
	const struct manifest_keys *keys;
	struct manifest_report *rep;
	struct seen *eui, *uid;
	size_t n, cap;
	size_t open_records;
	char open_lot[64];
};

static int verify_fail(struct verify *v, size_t line, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int verify_fail(struct verify *v, size_t line, int r, const char *fmt, ...)
{
	va_list ap;

	v->rep->bad_line = line;
	va_start(ap, fmt);
	vsnprintf(v->rep->error, sizeof(v->rep->error), fmt, ap);
	va_end(ap);
	return r;
}

static struct manifest_lot *verify_lot(struct manifest_report *rep, const char *lot)
{
	for (size_t i = 0; i < rep->n_lots; i++)
		if (strcmp(rep->lots[i].lot, lot) == 0)
			return &rep->lots[i];
	if (rep->n_lots == sizeof(rep->lots) / sizeof(rep->lots[0]))
		return NULL;
	snprintf(rep->lots[rep->n_lots].lot, sizeof(rep->lots[0].lot), "%s", lot);
	return &rep->lots[rep->n_lots++];
}

static int verify_hex64(json_t *o, const char *name, uint64_t *out)
{
	json_t *v = json_object_get(o, name);
	uint8_t b[8];

	if (!json_is_string(v) || lpa_hex_decode(json_string_value(v), json_string_length(v), b, 8))
		return -1;
	*out = lpa_be_get(b, 8);
	return 0;
}

static int verify_record(struct verify *v, size_t line, json_t *o, size_t *seq)
{
	json_t *jseq = json_object_get(o, "seq"), *jrec = json_object_get(o, "record"), *p = NULL;
	const char *jws;
	uint8_t *payload = NULL;
	size_t plen = 0;
	char *kid = NULL;
	uint64_t eui, uid;
	const char *lot;
	int r = LPA_ERR_SIGNATURE;

	if (json_object_size(o) != 3 || !json_is_integer(jseq) || !json_is_string(jrec))
		return verify_fail(v, line, LPA_ERR_ENCODING, "not a record line");
	if ((size_t)json_integer_value(jseq) != *seq + 1)
		return verify_fail(v, line, LPA_ERR_MISMATCH, "seq %lld, expected %zu",
				   (long long)json_integer_value(jseq), *seq + 1);
	jws = json_string_value(jrec);
	/* The key named by the JWS kid, or any pinned record key when it names none. */
	for (size_t i = 0; i < v->keys->n_record && r != LPA_OK; i++) {
		free(kid);
		kid = NULL;
		free(payload);
		payload = NULL;
		r = lpa_jws_verify(jws, v->keys->record[i], &kid, &payload, &plen);
		if (r == LPA_OK && kid != NULL && v->keys->record_kid[i][0] &&
		    strcmp(kid, v->keys->record_kid[i]) != 0)
			r = LPA_ERR_SIGNATURE;
	}
	free(kid);
	if (r != LPA_OK) {
		free(payload);
		return verify_fail(v, line, r, "record signature does not verify with the KMS key");
	}
	p = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, NULL);
	free(payload);
	if (!json_is_object(p) || verify_hex64(p, "dev_eui", &eui) != 0 ||
	    verify_hex64(p, "chip_uid", &uid) != 0 || !json_is_string(json_object_get(p, "lot")) ||
	    !json_is_integer(json_object_get(p, "counter"))) {
		json_decref(p);
		return verify_fail(v, line, LPA_ERR_ENCODING,
				   "record payload lacks dev_eui, chip_uid, lot or counter");
	}
	lot = json_string_value(json_object_get(p, "lot"));
	if (v->open_records > 0 && strcmp(lot, v->open_lot) != 0) {
		r = verify_fail(v, line, LPA_ERR_MISMATCH,
				"record of lot %s inside a batch of lot %s", lot, v->open_lot);
		json_decref(p);
		return r;
	}
	snprintf(v->open_lot, sizeof(v->open_lot), "%s", lot);
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		struct seen *a = realloc(v->eui, cap * sizeof(*a)), *b;

		if (a != NULL)
			v->eui = a;
		b = realloc(v->uid, cap * sizeof(*b));
		if (b != NULL)
			v->uid = b;
		if (a == NULL || b == NULL) {
			json_decref(p);
			return LPA_ERR_NOMEM;
		}
		v->cap = cap;
	}
	v->eui[v->n] = (struct seen){eui, line};
	v->uid[v->n] = (struct seen){uid, line};
	v->n++;
	v->open_records++;
	(*seq)++;
	json_decref(p);
	return LPA_OK;
}

static int verify_trailer(struct verify *v, size_t line, json_t *o, const char *prev_hash)
{
	json_t *t = json_object_get(o, "trailer"), *jkey = json_object_get(o, "key"), *p = NULL;
	json_t *jsig = json_object_get(o, "sig");
	EVP_PKEY *key = NULL;
	uint8_t *payload = NULL, pub[LPA_P256_PUB_LEN], h[32];
	size_t plen = 0;
	char *s = NULL;
	struct manifest_lot *lot;
	int r;

	if (json_object_size(o) != 3 || !json_is_object(t) || !json_is_object(jkey) ||
	    !json_is_string(jsig) || !json_is_string(json_object_get(t, "lot")) ||
	    !json_is_integer(json_object_get(t, "count")) ||
	    !json_is_string(json_object_get(t, "head")))
		return verify_fail(v, line, LPA_ERR_ENCODING, "not a trailer line");
	if ((size_t)json_integer_value(json_object_get(t, "count")) != v->open_records)
		return verify_fail(v, line, LPA_ERR_MISMATCH, "trailer count %lld, batch has %zu",
				   (long long)json_integer_value(json_object_get(t, "count")),
				   v->open_records);
	if (strcmp(json_string_value(json_object_get(t, "head")), prev_hash) != 0)
		return verify_fail(v, line, LPA_ERR_MISMATCH, "trailer head is not the chain head");
	if (v->open_records > 0 &&
	    strcmp(json_string_value(json_object_get(t, "lot")), v->open_lot) != 0)
		return verify_fail(v, line, LPA_ERR_MISMATCH,
				   "trailer lot differs from its records");
	if ((s = json_dumps(jkey, JSON_COMPACT)) == NULL)
		return LPA_ERR_NOMEM;
	r = lpa_jwk_to_p256(s, &key);
	free(s);
	if (r != LPA_OK)
		return verify_fail(v, line, r, "trailer key is not a P-256 JWK");
	/* A pinned station key must be the one that signed. */
	if (v->keys->station != NULL) {
		uint8_t a[LPA_P256_PUB_LEN], b[LPA_P256_PUB_LEN];

		if (lpa_p256_public_bytes(key, a) != LPA_OK ||
		    lpa_p256_public_bytes(v->keys->station, b) != LPA_OK ||
		    memcmp(a, b, sizeof(a))) {
			lpa_pkey_free(&key);
			return verify_fail(
				v, line, LPA_ERR_SIGNATURE,
				"trailer signed by a key other than the pinned station key");
		}
	}
	lpa_p256_public_bytes(key, pub);
	lpa_sha256(pub, sizeof(pub), h);
	lpa_hex_encode(h, sizeof(h), v->rep->trailer_key_sha256);
	v->rep->trailer_key_pinned = v->keys->station != NULL;
	r = lpa_jws_verify(json_string_value(jsig), key, NULL, &payload, &plen);
	lpa_pkey_free(&key);
	if (r != LPA_OK)
		return verify_fail(v, line, r, "trailer signature does not verify");
	p = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, NULL);
	free(payload);
	if (p == NULL || !json_equal(p, t)) {
		json_decref(p);
		return verify_fail(v, line, LPA_ERR_MISMATCH,
				   "trailer signature covers other data");
	}
	json_decref(p);
	if ((lot = verify_lot(v->rep, json_string_value(json_object_get(t, "lot")))) != NULL) {
		lot->records += v->open_records;
		lot->trailers++;
	}
	v->open_records = 0;
	return LPA_OK;
}

static int seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int verify_unique(struct verify *v, struct seen *s, const char *what)
{
	qsort(s, v->n, sizeof(*s), seen_cmp);
	for (size_t i = 1; i < v->n; i++)
		if (s[i].v == s[i - 1].v)
			return verify_fail(v, s[i].line, LPA_ERR_MISMATCH,
					   "%s %016llx appears twice (first on line %zu)", what,
					   (unsigned long long)s[i].v, s[i - 1].line);
	return LPA_OK;
}

int manifest_verify(FILE *f, const struct manifest_keys *k, struct manifest_report *rep)
{
	struct verify v = {.keys = k, .rep = rep};
	char prev[MANIFEST_HASH_HEX] = MANIFEST_ZERO_HASH;
	char *line = NULL;
	size_t cap = 0, seq = 0;
	ssize_t n;
	int r = LPA_OK;

	memset(rep, 0, sizeof(*rep));
	while (r == LPA_OK && (n = getline(&line, &cap, f)) > 0) {
		json_t *o;
		json_error_t je;

		rep->lines++;
		if (line[n - 1] != '\n') {
			r = verify_fail(&v, rep->lines, LPA_ERR_LENGTH, "last line is incomplete");
			break;
		}
		line[--n] = '\0';
		if (n > MANIFEST_MAX_LINE) {
			r = verify_fail(&v, rep->lines, LPA_ERR_LENGTH, "line longer than %d bytes",
					MANIFEST_MAX_LINE);
			break;
		}
		if ((o = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je)) == NULL ||
		    !json_is_object(o)) {
			r = verify_fail(&v, rep->lines, LPA_ERR_ENCODING, "not a JSON object: %s",
					o == NULL ? je.text : "wrong type");
			json_decref(o);
			break;
		}
		if (json_object_get(o, "record") != NULL) {
			json_t *jprev = json_object_get(o, "prev");

			if (!json_is_string(jprev) || strcmp(json_string_value(jprev), prev) != 0)
				r = verify_fail(
					&v, rep->lines, LPA_ERR_MISMATCH,
					"chain broken: prev is not the hash of the line before");
			else
				r = verify_record(&v, rep->lines, o, &seq);
			if (r == LPA_OK)
				rep->records++;
		} else if (json_object_get(o, "trailer") != NULL) {
			if ((r = verify_trailer(&v, rep->lines, o, prev)) == LPA_OK)
				rep->trailers++;
		} else {
			r = verify_fail(&v, rep->lines, LPA_ERR_ENCODING,
					"neither a record nor a trailer");
		}
		json_decref(o);
		manifest_line_hash(line, (size_t)n, prev);
	}
	free(line);
	if (r == LPA_OK && ferror(f))
		r = verify_fail(&v, rep->lines, LPA_ERR_SYSTEM, "read error: %s", strerror(errno));
	if (r == LPA_OK && rep->lines == 0)
		r = verify_fail(&v, 0, LPA_ERR_LENGTH, "empty manifest");
	if (r == LPA_OK && (r = verify_unique(&v, v.eui, "DevEUI")) == LPA_OK)
		r = verify_unique(&v, v.uid, "chip UID");
	rep->open_batch = v.open_records > 0;
	if (r == LPA_OK && rep->open_batch) {
		struct manifest_lot *lot = verify_lot(rep, v.open_lot);

		if (lot != NULL)
			lot->records += v.open_records;
		r = verify_fail(&v, rep->lines, LPA_ERR_LENGTH,
				"%zu record(s) after the last trailer: the batch is not closed",
				v.open_records);
	}
	free(v.eui);
	free(v.uid);
	return r;
}
