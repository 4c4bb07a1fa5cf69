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
	/* "Already recorded?": the first 8 bytes of SHA-256 of every record's JWS, open
	 * addressing (0 is empty), built at open and kept up to date on append. */
	uint64_t *recs;
	size_t recs_cap, n_recs;
	bool recs_lost; /* a key could not be added: the file is read instead */
	/* The index file (PATH.idx): where the last good line ends, records since the
	 * index was last written or read, and whether end is known. */
	off_t end;
	size_t unindexed, appended;
	bool end_known;
};

static uint64_t manifest_record_key(const char *jws, size_t len)
{
	uint8_t h[32];
	uint64_t k;

	lpa_sha256(jws, len, h);
	k = lpa_be_get(h, 8);
	return k != 0 ? k : 1;
}

static bool manifest_recs_has(const manifest *m, uint64_t k)
{
	if (m->recs_cap == 0)
		return false;
	for (size_t i = (size_t)k & (m->recs_cap - 1);; i = (i + 1) & (m->recs_cap - 1)) {
		if (m->recs[i] == k)
			return true;
		if (m->recs[i] == 0)
			return false;
	}
}

static void manifest_recs_put(uint64_t *t, size_t cap, uint64_t k)
{
	size_t i = (size_t)k & (cap - 1);

	while (t[i] != 0 && t[i] != k)
		i = (i + 1) & (cap - 1);
	t[i] = k;
}

/* Adds a record's key, keeping the table at most half full. */
static int manifest_recs_add(manifest *m, uint64_t k)
{
	if (2 * (m->n_recs + 1) > m->recs_cap) {
		size_t cap = m->recs_cap ? 2 * m->recs_cap : 1024;
		uint64_t *t = calloc(cap, sizeof(*t));

		if (t == NULL)
			return LPA_ERR_NOMEM;
		for (size_t i = 0; i < m->recs_cap; i++)
			if (m->recs[i] != 0)
				manifest_recs_put(t, cap, m->recs[i]);
		free(m->recs);
		m->recs = t;
		m->recs_cap = cap;
	}
	if (!manifest_recs_has(m, k))
		m->n_recs++;
	manifest_recs_put(m->recs, m->recs_cap, k);
	return LPA_OK;
}

/*
 * The index file PATH.idx: what an open learns from the whole manifest, so that the next
 * open reads only the lines after it. Big-endian: "LPMI", version 1, u64 bytes covered,
 * u64 records, u64 open records, the chain head (64 hex digits), u64 keys, the keys
 * (u64 each), then the SHA-256 of all that. It is only a cache: it is used when the line
 * ending where it stops hashes to its chain head, and otherwise the whole file is read.
 */
#define MANIFEST_IDX_MAGIC "LPMI"
#define MANIFEST_IDX_VERSION 1
#define MANIFEST_IDX_FIXED (4 + 1 + 8 + 8 + 8 + 64 + 8)
#define MANIFEST_IDX_EVERY 256 /* records read past the index before it is rewritten */

static char *manifest_idx_path(const manifest *m, const char *suffix)
{
	size_t n = strlen(m->path) + strlen(suffix) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s%s", m->path, suffix);
	return p;
}

/* Whether the line of the manifest ending at byte end (its newline at end - 1) hashes
 * to head. */
static bool manifest_idx_head_holds(const manifest *m, off_t end, const char *head)
{
	size_t win = MANIFEST_MAX_LINE + 2, n, start;
	off_t from = end > (off_t)win ? end - (off_t)win : 0;
	char *buf, hex[MANIFEST_HASH_HEX];
	bool ok = false;

	if (end == 0)
		return strcmp(head, MANIFEST_ZERO_HASH) == 0;
	if ((buf = malloc(win)) == NULL)
		return false;
	n = (size_t)(end - from);
	if (pread(m->fd, buf, n, from) != (ssize_t)n || buf[n - 1] != '\n')
		goto out;
	for (start = n - 1; start > 0 && buf[start - 1] != '\n'; start--)
		;
	if (start == 0 && from != 0)
		goto out; /* longer than a line may be */
	manifest_line_hash(buf + start, n - 1 - start, hex);
	ok = strcmp(hex, head) == 0;
out:
	free(buf);
	return ok;
}

/* Loads PATH.idx when it is whole and agrees with the file; *from: where to read on. */
static int manifest_idx_load(manifest *m, off_t *from)
{
	char *path = manifest_idx_path(m, ".idx");
	uint8_t *buf = NULL, h[32];
	struct stat st, mst;
	uint64_t covered, seq, opn, n_keys;
	char head[MANIFEST_HASH_HEX];
	int fd = -1, r = LPA_ERR_NOMEM;

	*from = 0;
	if (path == NULL)
		goto out;
	r = LPA_ERR_SYSTEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 ||
	    fstat(m->fd, &mst) != 0)
		goto out;
	r = LPA_ERR_LENGTH;
	if (st.st_size < MANIFEST_IDX_FIXED + 32 ||
	    (st.st_size - MANIFEST_IDX_FIXED - 32) % 8 != 0 || st.st_size > (1 << 30))
		goto out;
	r = LPA_ERR_NOMEM;
	if ((buf = malloc((size_t)st.st_size)) == NULL)
		goto out;
	r = LPA_ERR_LENGTH;
	if (read(fd, buf, (size_t)st.st_size) != (ssize_t)st.st_size)
		goto out;
	r = LPA_ERR_MAGIC;
	if (memcmp(buf, MANIFEST_IDX_MAGIC, 4) != 0)
		goto out;
	r = LPA_ERR_VERSION;
	if (buf[4] != MANIFEST_IDX_VERSION)
		goto out;
	r = LPA_ERR_MISMATCH;
	lpa_sha256(buf, (size_t)st.st_size - 32, h);
	if (memcmp(h, buf + st.st_size - 32, 32) != 0)
		goto out;
	covered = lpa_be_get(buf + 5, 8);
	seq = lpa_be_get(buf + 13, 8);
	opn = lpa_be_get(buf + 21, 8);
	memcpy(head, buf + 29, 64);
	head[64] = '\0';
	n_keys = lpa_be_get(buf + 93, 8);
	r = LPA_ERR_LENGTH;
	if (n_keys != (uint64_t)(st.st_size - MANIFEST_IDX_FIXED - 32) / 8 || n_keys != seq ||
	    opn > seq || covered > (uint64_t)mst.st_size)
		goto out;
	/* The file it describes: the line where it stops is the chain head it names. */
	r = LPA_ERR_MISMATCH;
	if (!manifest_idx_head_holds(m, (off_t)covered, head))
		goto out;
	for (uint64_t i = 0; i < n_keys; i++) {
		uint64_t k = lpa_be_get(buf + MANIFEST_IDX_FIXED + 8 * i, 8);

		if (k == 0 || manifest_recs_has(m, k)) {
			r = LPA_ERR_ENCODING;
			goto out;
		}
		if ((r = manifest_recs_add(m, k)) != LPA_OK)
			goto out;
	}
	m->seq = (size_t)seq;
	m->open_records = (size_t)opn;
	memcpy(m->prev, head, sizeof(head));
	*from = (off_t)covered;
	r = LPA_OK;
out:
	if (r != LPA_OK) {
		free(m->recs);
		m->recs = NULL;
		m->recs_cap = m->n_recs = 0;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return r;
}

/* Writes PATH.idx: tmp, fsync, rename, fsync of the directory. Best effort. */
static int manifest_idx_write(manifest *m)
{
	char *path = manifest_idx_path(m, ".idx"), *tmp = manifest_idx_path(m, ".idx.tmp");
	size_t len = MANIFEST_IDX_FIXED + 8 * m->n_recs + 32, k = 0;
	uint8_t *buf = NULL;
	int fd = -1, r = LPA_ERR_NOMEM;

	if (!m->end_known || m->recs_lost || m->n_recs != m->seq) {
		r = LPA_ERR_STATE;
		goto out;
	}
	if (path == NULL || tmp == NULL || (buf = malloc(len)) == NULL)
		goto out;
	memcpy(buf, MANIFEST_IDX_MAGIC, 4);
	buf[4] = MANIFEST_IDX_VERSION;
	lpa_be_put(buf + 5, (uint64_t)m->end, 8);
	lpa_be_put(buf + 13, m->seq, 8);
	lpa_be_put(buf + 21, m->open_records, 8);
	memcpy(buf + 29, m->prev, 64);
	lpa_be_put(buf + 93, m->n_recs, 8);
	for (size_t i = 0; i < m->recs_cap; i++)
		if (m->recs[i] != 0)
			lpa_be_put(buf + MANIFEST_IDX_FIXED + 8 * k++, m->recs[i], 8);
	lpa_sha256(buf, len - 32, buf + len - 32);
	r = LPA_ERR_SYSTEM;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
	    write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0) {
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		goto out;
	}
	{
		char *slash = strrchr(tmp, '/');
		int dfd;

		if (slash != NULL)
			*(slash == tmp ? slash + 1 : slash) = '\0';
		else
			strcpy(tmp, ".");
		if ((dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	m->unindexed = m->appended = 0;
	r = LPA_OK;
out:
	free(buf);
	free(path);
	free(tmp);
	return r;
}

/* One line of an existing manifest: chain head and record counts. */
static int manifest_scan_line(void *ctx, char *line, size_t n)
{
	manifest *m = ctx;
	json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
	int r = LPA_OK;

	if (o == NULL)
		return LPA_ERR_ENCODING;
	if (json_object_get(o, "record") != NULL) {
		json_t *rec = json_object_get(o, "record");

		m->seq++;
		m->open_records++;
		m->unindexed++;
		if (json_is_string(rec))
			r = manifest_recs_add(m, manifest_record_key(json_string_value(rec),
								     json_string_length(rec)));
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
	off_t from = 0;
	int r;

	strcpy(m->prev, MANIFEST_ZERO_HASH);
	/* The index, when it agrees with the file, saves reading what it covers. */
	if (manifest_idx_load(m, &from) != LPA_OK) {
		strcpy(m->prev, MANIFEST_ZERO_HASH);
		m->seq = m->open_records = 0;
		from = 0;
	}
	if ((r = jsonl_replay_from(m->fd, from, manifest_scan_line, m)) != LPA_OK)
		return r;
	if ((m->end = lseek(m->fd, 0, SEEK_END)) >= 0)
		m->end_known = true;
	if (m->unindexed >= MANIFEST_IDX_EVERY)
		(void)manifest_idx_write(m);
	return LPA_OK;
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
		free(m->recs);
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
	/* Not for a tail read at open alone (a few lines after a crash): reading it again
	 * costs less than an fsync'd rewrite. */
	if ((*m)->appended > 0 || (*m)->unindexed >= MANIFEST_IDX_EVERY)
		(void)manifest_idx_write(*m);
	close((*m)->fd);
	free((*m)->recs);
	free(*m);
	*m = NULL;
}

size_t manifest_count(const manifest *m)
{
	return m->seq;
}

size_t manifest_open_records(const manifest *m)
{
	return m->open_records;
}

char *manifest_trailer_payload(const char *lot, size_t count, const char *head)
{
	json_t *t =
		json_pack("{s:s,s:I,s:s}", "lot", lot, "count", (json_int_t)count, "head", head);
	char *s = t != NULL ? json_dumps(t, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(t);
	return s;
}

int manifest_contains(manifest *m, const char *jws, bool *found)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*found = false;
	/* Every record of the file is in the index: not there, not in the file. */
	if (!m->recs_lost && !manifest_recs_has(m, manifest_record_key(jws, strlen(jws))))
		return LPA_OK;
	/* There: a resume after a crash between the append and its journal entry (or a
	 * 64-bit collision): the file says for certain. */
	if ((f = fopen(m->path, "r")) == NULL)
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
	/* Where the good lines end is known only after whole writes. */
	if (w == (ssize_t)(len + 1))
		m->end += w;
	else
		m->end_known = false;
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
		m->unindexed++;
		m->appended++;
		/* On disk: the index must say so, or a retry would append it twice. */
		if (manifest_recs_add(m, manifest_record_key(jws, strlen(jws))) != LPA_OK)
			m->recs_lost = true;
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

	if (m->open_records == 0 || !lpa_name_valid(lot, LPA_NAME_MAX) || station_kid == NULL ||
	    station_kid[0] == '\0')
		return LPA_ERR_INVAL;
	if ((payload = manifest_trailer_payload(lot, m->open_records, m->prev)) == NULL ||
	    (t = json_loads(payload, 0, NULL)) == NULL)
		goto fail;
	if ((r = lpa_jws_sign(station_key, station_kid, payload, strlen(payload), &sig)) !=
		    LPA_OK ||
	    (r = lpa_jwk_from_p256(station_key, station_kid, &jwk_s)) != LPA_OK)
		goto fail;
	r = LPA_ERR_NOMEM;
	if ((jwk = json_loads(jwk_s, 0, NULL)) == NULL ||
	    (o = json_pack("{s:O,s:O,s:s}", "trailer", t, "key", jwk, "sig", sig)) == NULL)
		goto fail;
	if ((r = manifest_write_line(m, o)) == LPA_OK) {
		m->open_records = 0;
		m->unindexed++;
		m->appended++;
	}
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
/* The DevEUIs (or chip UIDs) seen so far and the line of each: an open-addressing table,
 * at most half full; line 0 marks an empty slot. Checked as each record is read, so that
 * the report names the first line that fails, a duplicate included. */
struct seen {
	uint64_t v;
	size_t line;
};

struct seen_set {
	struct seen *s;
	size_t n, cap;
};

static size_t seen_slot(const struct seen_set *t, uint64_t v)
{
	size_t i = (size_t)((v * 0x9E3779B97F4A7C15ULL) >> 32) & (t->cap - 1);

	while (t->s[i].line != 0 && t->s[i].v != v)
		i = (i + 1) & (t->cap - 1);
	return i;
}

/* The line v was first seen on (0: not seen), after which v is recorded at line. */
static int seen_add(struct seen_set *t, uint64_t v, size_t line, size_t *first)
{
	size_t i;

	if (2 * (t->n + 1) > t->cap) {
		struct seen_set g = {.cap = t->cap ? 2 * t->cap : 512};

		if ((g.s = calloc(g.cap, sizeof(*g.s))) == NULL)
			return LPA_ERR_NOMEM;
		for (size_t j = 0; j < t->cap; j++)
			if (t->s[j].line != 0)
				g.s[seen_slot(&g, t->s[j].v)] = t->s[j];
		g.n = t->n;
		free(t->s);
		*t = g;
	}
	i = seen_slot(t, v);
	*first = t->s[i].line;
	if (*first == 0) {
		t->s[i] = (struct seen){v, line};
		t->n++;
	}
	return LPA_OK;
}

struct verify {
	const struct manifest_keys *keys;
	struct manifest_report *rep;
	struct seen_set eui, uid;
	size_t open_records;
	char open_lot[LPA_NAME_MAX + 1];
	manifest_record_cb cb;
	void *cb_ctx;
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

/* A DevEUI or chip UID appears in one record of a manifest only. */
static int verify_unique(struct verify *v, struct seen_set *t, uint64_t val, size_t line,
			 const char *what)
{
	size_t first = 0;
	int r;

	if ((r = seen_add(t, val, line, &first)) != LPA_OK)
		return r;
	if (first != 0)
		return verify_fail(v, line, LPA_ERR_MISMATCH,
				   "%s %016llx appears twice (first on line %zu)", what,
				   (unsigned long long)val, first);
	return LPA_OK;
}

static int verify_record(struct verify *v, size_t line, json_t *o, size_t *seq)
{
	json_t *jseq = json_object_get(o, "seq"), *jrec = json_object_get(o, "record");
	struct manifest_record rec;
	char err[200];
	int r;

	if (json_object_size(o) != 3 || !json_is_integer(jseq) || !json_is_string(jrec))
		return verify_fail(v, line, LPA_ERR_ENCODING, "not a record line");
	if (json_integer_value(jseq) != (json_int_t)(*seq + 1))
		return verify_fail(v, line, LPA_ERR_MISMATCH, "seq %lld, expected %zu",
				   (long long)json_integer_value(jseq), *seq + 1);
	if ((r = manifest_record_verify(v->keys, json_string_value(jrec), &rec, err,
					sizeof(err))) != LPA_OK)
		return verify_fail(v, line, r, "%s", err);
	if (v->open_records > 0 && strcmp(rec.lot, v->open_lot) != 0)
		return verify_fail(v, line, LPA_ERR_MISMATCH,
				   "record of lot %s inside a batch of lot %s", rec.lot,
				   v->open_lot);
	/* A manifest is one station's: confirm returns records to the station that
	 * confirmed, so a record naming another station was spliced in. */
	if (v->rep->station[0] == '\0')
		strcpy(v->rep->station, rec.station);
	else if (strcmp(rec.station, v->rep->station) != 0)
		return verify_fail(v, line, LPA_ERR_MISMATCH,
				   "record of station %s in a manifest of station %s", rec.station,
				   v->rep->station);
	if ((r = verify_unique(v, &v->eui, rec.dev_eui, line, "DevEUI")) != LPA_OK ||
	    (r = verify_unique(v, &v->uid, rec.chip_uid, line, "chip UID")) != LPA_OK)
		return r;
	snprintf(v->open_lot, sizeof(v->open_lot), "%s", rec.lot);
	v->open_records++;
	(*seq)++;
	if (v->cb != NULL && (r = v->cb(v->cb_ctx, line, json_string_value(jrec), &rec)) != 0)
		return verify_fail(v, line, r, "stopped by the caller");
	return LPA_OK;
}

/* 64 lower-case hex digits, as the writer puts them. */
static bool verify_is_hash(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The trailer key: a P-256 public JWK with a kid; one of the pinned station keys when
 * any are given. Reports its fingerprint. */
static int verify_trailer_key(struct verify *v, size_t line, json_t *jkey, EVP_PKEY **key)
{
	uint8_t pub[LPA_P256_PUB_LEN], h[32];
	bool pinned = false;
	char *s;
	int r;

	if ((s = json_dumps(jkey, JSON_COMPACT)) == NULL)
		return LPA_ERR_NOMEM;
	r = lpa_jwk_to_p256(s, key);
	free(s);
	if (r != LPA_OK)
		return verify_fail(v, line, r, "trailer key is not a P-256 JWK");
	if ((r = lpa_p256_public_bytes(*key, pub)) != LPA_OK)
		return r;
	for (size_t i = 0; i < v->keys->n_station && !pinned; i++) {
		uint8_t b[LPA_P256_PUB_LEN];

		pinned = lpa_p256_public_bytes(v->keys->station[i], b) == LPA_OK &&
			 memcmp(pub, b, sizeof(b)) == 0;
	}
	if (v->keys->n_station > 0 && !pinned)
		return verify_fail(v, line, LPA_ERR_SIGNATURE,
				   "trailer signed by a key other than the pinned station key");
	lpa_sha256(pub, sizeof(pub), h);
	lpa_hex_encode(h, sizeof(h), v->rep->trailer_key_sha256);
	v->rep->trailer_key_pinned = pinned;
	return LPA_OK;
}

static int verify_trailer(struct verify *v, size_t line, json_t *o, const char *prev_hash)
{
	json_t *t = json_object_get(o, "trailer"), *jkey = json_object_get(o, "key");
	json_t *jsig = json_object_get(o, "sig"), *jcount = json_object_get(t, "count");
	const char *lot = json_string_value(json_object_get(t, "lot"));
	const char *head = json_string_value(json_object_get(t, "head"));
	const char *key_kid = json_string_value(json_object_get(jkey, "kid"));
	EVP_PKEY *key = NULL;
	uint8_t *payload = NULL;
	size_t plen = 0;
	char *want = NULL, *kid = NULL;
	struct manifest_lot *l;
	int r;

	if (json_object_size(o) != 3 || !json_is_object(t) || json_object_size(t) != 3 ||
	    !json_is_object(jkey) || !json_is_string(jsig) || lot == NULL ||
	    !json_is_integer(jcount) || head == NULL)
		return verify_fail(v, line, LPA_ERR_ENCODING, "not a trailer line");
	if (!lpa_name_valid(lot, LPA_NAME_MAX))
		return verify_fail(v, line, LPA_ERR_ENCODING, "trailer lot is not a name");
	if (!verify_is_hash(head))
		return verify_fail(v, line, LPA_ERR_ENCODING,
				   "trailer head is not 64 lower-case hex digits");
	/* A trailer closes at least one record: a file must not pass on trailers alone. */
	if (v->open_records == 0)
		return verify_fail(v, line, LPA_ERR_LENGTH, "trailer closes no record");
	if (json_integer_value(jcount) != (json_int_t)v->open_records)
		return verify_fail(v, line, LPA_ERR_MISMATCH, "trailer count %lld, batch has %zu",
				   (long long)json_integer_value(jcount), v->open_records);
	if (strcmp(head, prev_hash) != 0)
		return verify_fail(v, line, LPA_ERR_MISMATCH, "trailer head is not the chain head");
	if (strcmp(lot, v->open_lot) != 0)
		return verify_fail(v, line, LPA_ERR_MISMATCH,
				   "trailer lot differs from its records");
	if (key_kid == NULL || !lpa_name_valid(key_kid, LPA_NAME_MAX))
		return verify_fail(v, line, LPA_ERR_ENCODING,
				   "trailer key has no kid (the station's name)");
	if ((r = verify_trailer_key(v, line, jkey, &key)) != LPA_OK)
		goto out;
	if ((r = lpa_jws_verify(json_string_value(jsig), key, &kid, &payload, &plen)) != LPA_OK) {
		r = verify_fail(v, line, r, "trailer signature does not verify");
		goto out;
	}
	if (kid == NULL || strcmp(kid, key_kid) != 0) {
		r = verify_fail(v, line, LPA_ERR_SIGNATURE,
				"trailer signature's kid is not the trailer key's kid");
		goto out;
	}
	/* The signature covers exactly these bytes: nothing reordered, added or spaced. */
	if ((want = manifest_trailer_payload(lot, v->open_records, head)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto out;
	}
	if (plen != strlen(want) || memcmp(payload, want, plen) != 0) {
		r = verify_fail(v, line, LPA_ERR_MISMATCH,
				"trailer signature covers other bytes than the trailer");
		goto out;
	}
	if ((l = verify_lot(v->rep, lot)) == NULL) {
		r = verify_fail(v, line, LPA_ERR_LENGTH, "more than %zu lots in one manifest",
				sizeof(v->rep->lots) / sizeof(v->rep->lots[0]));
		goto out;
	}
	l->records += v->open_records;
	l->trailers++;
	v->open_records = 0;
	r = LPA_OK;
out:
	lpa_pkey_free(&key);
	free(payload);
	free(kid);
	free(want);
	return r;
}

int manifest_verify(FILE *f, const struct manifest_keys *k, struct manifest_report *rep)
{
	return manifest_verify_cb(f, k, NULL, NULL, rep);
}

int manifest_verify_cb(FILE *f, const struct manifest_keys *k, manifest_record_cb cb, void *ctx,
		       struct manifest_report *rep)
{
	struct verify v = {.keys = k, .rep = rep, .cb = cb, .cb_ctx = ctx};
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
	rep->open_batch = v.open_records > 0;
	if (r == LPA_OK && rep->open_batch) {
		struct manifest_lot *lot = verify_lot(rep, v.open_lot);

		if (lot != NULL)
			lot->records += v.open_records;
		r = verify_fail(&v, rep->lines, LPA_ERR_LENGTH,
				"%zu record(s) after the last trailer: the batch is not closed",
				v.open_records);
	}
	free(v.eui.s);
	free(v.uid.s);
	return r;
}

/* Printable ASCII only (a file name or an error quoting input may hold anything, and
 * jansson refuses strings that are not UTF-8). */
static char *manifest_ascii(const char *in)
{
	size_t n = strlen(in);
	char *out = malloc(n + 1);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		out[i] = i == n ? '\0' : (in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?');
	return out;
}

char *manifest_report_json(const char *file, int result, const struct manifest_report *rep,
			   json_t *kms)
{
	json_t *o = NULL, *lots = json_array();
	char *s = NULL, *fname = manifest_ascii(file), *err = manifest_ascii(rep->error);

	if (lots == NULL || fname == NULL || err == NULL) {
		json_decref(lots);
		goto out;
	}
	for (size_t i = 0; i < rep->n_lots; i++)
		if (json_array_append_new(
			    lots, json_pack("{s:s,s:I,s:I}", "lot", rep->lots[i].lot, "records",
					    (json_int_t)rep->lots[i].records, "trailers",
					    (json_int_t)rep->lots[i].trailers)) != 0) {
			json_decref(lots);
			goto out;
		}
	/* Values the file supplies (file name, lots, the error naming them) are strings
	 * jansson escapes: nothing in the file can add or change a member. */
	o = json_pack("{s:s,s:b,s:I,s:I,s:I,s:s?,s:s?,s:b,s:o}", "file", fname, "ok",
		      result == LPA_OK, "lines", (json_int_t)rep->lines, "records",
		      (json_int_t)rep->records, "trailers", (json_int_t)rep->trailers, "station",
		      rep->station[0] ? rep->station : NULL, "trailer_key_sha256",
		      rep->trailer_key_sha256[0] ? rep->trailer_key_sha256 : NULL,
		      "trailer_key_pinned", rep->trailer_key_pinned, "lots", lots);
	if (o == NULL)
		goto out;
	if (json_object_set(o, "kms", kms != NULL ? kms : json_null()) != 0 ||
	    (result != LPA_OK &&
	     (json_object_set_new(o, "line", json_integer((json_int_t)rep->bad_line)) != 0 ||
	      json_object_set_new(o, "error", json_string(err)) != 0 ||
	      json_object_set_new(o, "error_id", json_string(lpa_errname(result))) != 0)))
		goto out;
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(o);
	free(fname);
	free(err);
	return s;
}
