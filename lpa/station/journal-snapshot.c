/*
 * journal-snapshot.c — the journal's archive and snapshot. The live segment is the
 * journal's path; when it passes JOURNAL_SEGMENT_BYTES it is renamed into the archive
 * (BASE.d/NNNNNN.jsonl, never deleted) and the state of every chip is written to the
 * snapshot BASE.snap, which covers the archive up to that segment. Start-up loads the
 * snapshot, replays any archived segment it does not cover (a crash between the rename
 * and the snapshot), then the live segment.
 *
 * Archiving is on the hot path (the journal_log that fills a segment), so what it
 * writes there is incremental: a delta BASE.snap.d/NNNNNN (magic "LPJD") holding only the
 * chips changed since the snapshot or the delta before, covering segment NNNNNN. Start-up
 * loads the snapshot, then its deltas in order (a chip in a delta replaces its state).
 * When the journal closes (the batch is over) with deltas outstanding, the live segment
 * is archived and one full snapshot written; the deltas it covers are removed.
 *
 * Snapshot (big-endian): "LPJS", version 1, u32 covers, u32 strings, u32 chips;
 * strings: u16 length + bytes (lots and probes, < 65 bytes); chips: u64 uid, u64
 * dev_eui, u64 t, u32 counter, u8 step, u16 lot, u16 probe, u16 attempts, attempts
 * (u64 dev_eui, u32 counter, u8 recorded), u16 + reason; unfinished chips also u16 +
 * receipt, u16 + record; then the SHA-256 of all that. It ends exactly there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "journal-state.h"
#include "lpa/core/lpa-core.h"

#define JOURNAL_SEGMENT_BYTES (1024 * 1024) /* ~500 devices, ~50 ms to replay */
#define JOURNAL_SNAP_MAGIC "LPJS"
#define JOURNAL_DELTA_MAGIC "LPJD"
#define JOURNAL_SNAP_VERSION 1
#define JOURNAL_SNAP_BUF (64 * 1024)
/* Deltas before the hot path writes a full snapshot anyway (a station never closed):
 * start-up reads at most this many. */
#define JOURNAL_DELTAS_MAX 256

/* BASE (the path without its ".jsonl") followed by suffix, or by the archived segment
 * seg's name when suffix is "segment". */
static char *journal_snapshot_sibling(const char *path, const char *suffix, uint32_t seg)
{
	size_t n = strlen(path), base = n;
	char *out;

	if (n > 6 && strcmp(path + n - 6, ".jsonl") == 0)
		base = n - 6;
	if ((out = malloc(base + 32)) == NULL)
		return NULL;
	memcpy(out, path, base);
	if (strcmp(suffix, "segment") == 0)
		snprintf(out + base, 32, ".d/%06u.jsonl", seg);
	else if (strcmp(suffix, "delta") == 0)
		snprintf(out + base, 32, ".snap.d/%06u", seg);
	else
		snprintf(out + base, 32, "%s", suffix);
	return out;
}

char *journal_snapshot_segment_path(const char *path, uint32_t seg)
{
	return journal_snapshot_sibling(path, "segment", seg);
}

/* fsync of the directory holding path (or of path itself when it is one). */
static int journal_snapshot_sync_dir(const char *path, bool is_dir)
{
	char *d = strdup(path), *slash;
	int fd, r = LPA_ERR_SYSTEM;

	if (d == NULL)
		return LPA_ERR_NOMEM;
	if (!is_dir) {
		if ((slash = strrchr(d, '/')) == NULL)
			strcpy(d, ".");
		else if (slash == d)
			d[1] = '\0';
		else
			*slash = '\0';
	}
	if ((fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) == 0)
			r = LPA_OK;
		close(fd);
	}
	free(d);
	return r;
}

struct journal_snapshot_io {
	FILE *f;
	EVP_MD_CTX *md;
	int err; /* the first failure */
	/* Reading: a buffer of the file, hashed as it is filled up to the hash itself. */
	uint8_t *buf;
	size_t pos, len;
	uint64_t hash_left, consumed;
};

/* Writing: the buffer is hashed and written when full (and at the end). */
static void journal_snapshot_flush(struct journal_snapshot_io *io)
{
	if (io->err == LPA_OK && io->len > 0 &&
	    (!EVP_DigestUpdate(io->md, io->buf, io->len) ||
	     fwrite(io->buf, 1, io->len, io->f) != io->len))
		io->err = LPA_ERR_SYSTEM;
	io->len = 0;
}

static void journal_snapshot_put(struct journal_snapshot_io *io, const void *p, size_t n)
{
	if (io->len + n > JOURNAL_SNAP_BUF)
		journal_snapshot_flush(io);
	if (n > JOURNAL_SNAP_BUF) {
		io->err = LPA_ERR_LENGTH;
		return;
	}
	memcpy(io->buf + io->len, p, n);
	io->len += n;
}

static void journal_snapshot_put_int(struct journal_snapshot_io *io, uint64_t v, unsigned n)
{
	uint8_t b[8];

	lpa_be_put(b, v, n);
	journal_snapshot_put(io, b, n);
}

static void journal_snapshot_put_str(struct journal_snapshot_io *io, const char *s)
{
	size_t n = strlen(s);

	journal_snapshot_put_int(io, n, 2);
	journal_snapshot_put(io, s, n);
}

static void journal_snapshot_put_dev(struct journal_snapshot_io *io, journal *j,
				     struct journal_dev *d)
{
	journal_snapshot_put_int(io, d->uid, 8);
	journal_snapshot_put_int(io, d->dev_eui, 8);
	journal_snapshot_put_int(io, (uint64_t)d->t, 8);
	journal_snapshot_put_int(io, d->counter, 4);
	journal_snapshot_put_int(io, d->step, 1);
	journal_snapshot_put_int(io, d->lot, 2);
	journal_snapshot_put_int(io, d->probe, 2);
	journal_snapshot_put_int(io, d->n_attempts, 2);
	for (size_t i = 0; i < d->n_attempts; i++) {
		struct journal_attempt *a = journal_attempt_at(d, i);

		journal_snapshot_put_int(io, a->dev_eui, 8);
		journal_snapshot_put_int(io, a->counter, 4);
		journal_snapshot_put_int(io, a->recorded, 1);
	}
	(void)j;
	if (journal_full(d) != NULL) {
		journal_snapshot_put_str(io, d->x->full->reason);
		journal_snapshot_put_str(io, d->x->full->receipt);
		journal_snapshot_put_str(io, d->x->full->record);
	} else {
		journal_snapshot_put_str(io, d->x && d->x->reason ? d->x->reason : "");
	}
}

/* A chip changed: listed for the next delta. */
void journal_snapshot_mark(journal *j, struct journal_dev *d)
{
	if (d->dirty)
		return;
	if (j->n_dirty == j->dirty_cap) {
		size_t cap = j->dirty_cap ? 2 * j->dirty_cap : 1024;
		uint32_t *t = realloc(j->dirty, cap * sizeof(*t));

		if (t == NULL) {
			j->dirty_lost = true;
			return;
		}
		j->dirty = t;
		j->dirty_cap = cap;
	}
	j->dirty[j->n_dirty++] = (uint32_t)(d - j->dev);
	d->dirty = 1;
}

static void journal_snapshot_clean(journal *j)
{
	for (size_t i = 0; i < j->n_dirty; i++)
		j->dev[j->dirty[i]].dirty = 0;
	j->n_dirty = 0;
	j->dirty_lost = false;
}

/* Writes a snapshot (delta: only the listed chips, to the delta file of covers) covering
 * archived segments up to covers: tmp, fsync, rename, fsync of the directory. */
static int journal_snapshot_write_file(journal *j, uint32_t covers, bool delta)
{
	char *path = delta ? journal_snapshot_sibling(j->path, "delta", covers)
			   : journal_snapshot_sibling(j->path, ".snap", 0);
	char *tmp = journal_snapshot_sibling(j->path, delta ? ".snap.d/tmp" : ".snap.tmp", 0);
	struct journal_snapshot_io io = {.err = LPA_OK};
	uint8_t h[32];
	int fd = -1, r = LPA_ERR_NOMEM;

	if (path == NULL || tmp == NULL || (io.md = EVP_MD_CTX_new()) == NULL ||
	    (io.buf = malloc(JOURNAL_SNAP_BUF)) == NULL)
		goto out;
	r = LPA_ERR_SYSTEM;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    (io.f = fdopen(fd, "w")) == NULL)
		goto out;
	fd = -1;
	if (!EVP_DigestInit_ex(io.md, EVP_sha256(), NULL))
		goto out;
	journal_snapshot_put(&io, delta ? JOURNAL_DELTA_MAGIC : JOURNAL_SNAP_MAGIC, 4);
	journal_snapshot_put_int(&io, JOURNAL_SNAP_VERSION, 1);
	journal_snapshot_put_int(&io, covers, 4);
	journal_snapshot_put_int(&io, j->n_str, 4);
	journal_snapshot_put_int(&io, delta ? j->n_dirty : j->n, 4);
	for (size_t i = 0; i < j->n_str; i++)
		journal_snapshot_put_str(&io, j->str[i]);
	for (size_t i = 0; i < (delta ? j->n_dirty : j->n); i++)
		journal_snapshot_put_dev(&io, j, &j->dev[delta ? j->dirty[i] : i]);
	journal_snapshot_flush(&io);
	if (io.err != LPA_OK || !EVP_DigestFinal_ex(io.md, h, NULL) ||
	    fwrite(h, 1, sizeof(h), io.f) != sizeof(h) || fflush(io.f) != 0 ||
	    fsync(fileno(io.f)) != 0)
		goto out;
	r = fclose(io.f) == 0 ? LPA_OK : LPA_ERR_SYSTEM;
	io.f = NULL;
	if (r == LPA_OK && rename(tmp, path) != 0)
		r = LPA_ERR_SYSTEM;
	if (r == LPA_OK)
		r = journal_snapshot_sync_dir(path, false);
out:
	if (io.f != NULL)
		fclose(io.f);
	if (fd >= 0)
		close(fd);
	if (r != LPA_OK && tmp != NULL)
		unlink(tmp);
	EVP_MD_CTX_free(io.md);
	free(io.buf);
	free(path);
	free(tmp);
	return r;
}

/* The full snapshot covering segments up to covers; the deltas it makes useless go. */
int journal_snapshot_write(journal *j, uint32_t covers)
{
	int r = journal_snapshot_write_file(j, covers, false);

	if (r != LPA_OK)
		return r;
	for (uint32_t seg = j->snap_covers + 1; seg <= covers; seg++) {
		char *d = journal_snapshot_sibling(j->path, "delta", seg);

		if (d != NULL)
			(void)unlink(d);
		free(d);
	}
	j->snap_covers = covers;
	j->n_deltas = 0;
	j->delta_broken = false;
	journal_snapshot_clean(j);
	return LPA_OK;
}

/* The delta of segment seg: the chips changed since the last snapshot or delta. */
static int journal_snapshot_write_delta(journal *j, uint32_t seg)
{
	char *dir = journal_snapshot_sibling(j->path, ".snap.d", 0);
	int r = LPA_ERR_NOMEM;

	if (dir != NULL && (mkdir(dir, 0700) == 0 || errno == EEXIST))
		r = journal_snapshot_write_file(j, seg, true);
	else if (dir != NULL)
		r = LPA_ERR_SYSTEM;
	free(dir);
	if (r != LPA_OK)
		return r;
	j->n_deltas++;
	journal_snapshot_clean(j);
	return LPA_OK;
}

static void journal_snapshot_get(struct journal_snapshot_io *io, void *p, size_t n)
{
	uint8_t *out = p;

	while (io->err == LPA_OK && n > 0) {
		size_t k;

		if (io->pos == io->len) {
			io->pos = 0;
			io->len = fread(io->buf, 1, JOURNAL_SNAP_BUF, io->f);
			k = io->len < io->hash_left ? io->len : (size_t)io->hash_left;
			if (io->len == 0)
				io->err = LPA_ERR_LENGTH; /* torn: cut short */
			else if (!EVP_DigestUpdate(io->md, io->buf, k))
				io->err = LPA_ERR_CRYPTO;
			io->hash_left -= k;
			continue;
		}
		k = io->len - io->pos < n ? io->len - io->pos : n;
		memcpy(out, io->buf + io->pos, k);
		io->pos += k;
		io->consumed += k;
		out += k;
		n -= k;
	}
}

static uint64_t journal_snapshot_get_int(struct journal_snapshot_io *io, unsigned n)
{
	uint8_t b[8] = {0};

	journal_snapshot_get(io, b, n);
	return io->err == LPA_OK ? lpa_be_get(b, n) : 0;
}

/* A string of fewer than cap bytes, without NUL; LPA_ERR_ENCODING otherwise. */
static void journal_snapshot_get_str(struct journal_snapshot_io *io, char *out, size_t cap)
{
	size_t n = (size_t)journal_snapshot_get_int(io, 2);

	out[0] = '\0';
	if (io->err == LPA_OK && n >= cap)
		io->err = LPA_ERR_ENCODING;
	journal_snapshot_get(io, out, n);
	if (io->err != LPA_OK)
		return;
	out[n] = '\0';
	if (strlen(out) != n)
		io->err = LPA_ERR_ENCODING;
}

static void journal_snapshot_get_dev(struct journal_snapshot_io *io, journal *j,
				     struct journal_entry *e, bool delta)
{
	struct journal_dev *d;
	uint64_t uid = journal_snapshot_get_int(io, 8), eui = journal_snapshot_get_int(io, 8);
	uint64_t t = journal_snapshot_get_int(io, 8);
	uint32_t ctr = (uint32_t)journal_snapshot_get_int(io, 4);
	uint64_t step = journal_snapshot_get_int(io, 1);
	uint16_t lot = (uint16_t)journal_snapshot_get_int(io, 2);
	uint16_t probe = (uint16_t)journal_snapshot_get_int(io, 2);
	uint32_t n_att = (uint32_t)journal_snapshot_get_int(io, 2);
	char reason[sizeof(e->reason)];
	size_t n;

	if (io->err != LPA_OK)
		return;
	if (step >= J_N_STEPS) {
		io->err = LPA_ERR_STATE;
		return;
	}
	if (lot >= j->n_str || probe >= j->n_str) {
		io->err = LPA_ERR_RESERVED;
		return;
	}
	n = j->n;
	if ((d = journal_slot(j, uid)) == NULL) {
		io->err = LPA_ERR_NOMEM;
		return;
	}
	if (j->n == n && !delta) {
		io->err = LPA_ERR_MISMATCH; /* a chip twice */
		return;
	}
	if (j->n == n)
		journal_dev_reset(j, d); /* a delta's chip replaces what came before */
	for (uint32_t i = 0; i < n_att && io->err == LPA_OK; i++) {
		uint64_t a_eui = journal_snapshot_get_int(io, 8);
		uint32_t a_ctr = (uint32_t)journal_snapshot_get_int(io, 4);
		uint64_t rec = journal_snapshot_get_int(io, 1);
		struct journal_attempt *a;

		if (io->err != LPA_OK)
			break;
		if (rec > 1 || a_ctr == 0 || journal_attempt_find(d, a_eui, a_ctr) != NULL)
			io->err = LPA_ERR_ENCODING;
		else if ((a = journal_attempt_add(d, a_eui, a_ctr)) == NULL)
			io->err = LPA_ERR_NOMEM;
		else
			a->recorded = rec == 1;
	}
	journal_snapshot_get_str(io, reason, sizeof(reason));
	if (io->err != LPA_OK)
		return;
	if (journal_finished((enum journal_step)step)) {
		/* The common case, kept cheap: no entry built. */
		d->step = (uint8_t)step;
		d->dev_eui = eui;
		d->counter = ctr;
		d->t = (uint32_t)t;
		d->lot = lot;
		d->probe = probe;
		j->n_recorded += step == J_RECORDED;
		j->n_abandoned += step == J_ABANDONED;
		if (reason[0] != '\0' && step == J_ABANDONED &&
		    (journal_extra(d) == NULL || (d->x->reason = strdup(reason)) == NULL))
			io->err = LPA_ERR_NOMEM;
		return;
	}
	memset(e, 0, sizeof(*e));
	e->chip_uid = uid;
	e->dev_eui = eui;
	e->t = (time_t)t;
	e->counter = ctr;
	e->step = (enum journal_step)step;
	memcpy(e->reason, reason, sizeof(reason));
	snprintf(e->lot, sizeof(e->lot), "%s", j->str[lot]);
	snprintf(e->probe, sizeof(e->probe), "%s", j->str[probe]);
	journal_snapshot_get_str(io, e->receipt, sizeof(e->receipt));
	journal_snapshot_get_str(io, e->record, sizeof(e->record));
	if (io->err == LPA_OK)
		io->err = journal_dev_store(j, d, e);
}

/*
 * Loads the snapshot into an empty journal. LPA_ERR_SYSTEM when there is none; a torn
 * or corrupt one: LPA_ERR_MAGIC, LPA_ERR_VERSION, LPA_ERR_LENGTH (cut short, or bytes
 * after its hash), LPA_ERR_MISMATCH (hash, or a chip twice), LPA_ERR_STATE (a step),
 * LPA_ERR_RESERVED (a string index), LPA_ERR_ENCODING (a string or an attempt).
 */
static int journal_snapshot_load_file(journal *j, uint32_t seg, bool delta, uint32_t *covers)
{
	char *path = delta ? journal_snapshot_sibling(j->path, "delta", seg)
			   : journal_snapshot_sibling(j->path, ".snap", 0);
	struct journal_snapshot_io io = {.err = LPA_OK};
	struct journal_entry *e = malloc(sizeof(*e));
	uint8_t magic[4], h[32], want[32];
	uint32_t n_str, n_dev;
	char s[LPA_NAME_MAX + 1];
	struct stat st;
	int r = LPA_ERR_NOMEM;

	*covers = 0;
	if (path == NULL || e == NULL || (io.md = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(io.md, EVP_sha256(), NULL))
		goto out;
	r = LPA_ERR_SYSTEM;
	if ((io.f = fopen(path, "rb")) == NULL || fstat(fileno(io.f), &st) != 0)
		goto out;
	r = LPA_ERR_NOMEM;
	if ((io.buf = malloc(JOURNAL_SNAP_BUF)) == NULL)
		goto out;
	io.hash_left = st.st_size > 32 ? (uint64_t)st.st_size - 32 : 0;
	journal_snapshot_get(&io, magic, 4);
	if (io.err == LPA_OK &&
	    memcmp(magic, delta ? JOURNAL_DELTA_MAGIC : JOURNAL_SNAP_MAGIC, 4) != 0)
		io.err = LPA_ERR_MAGIC;
	if (io.err == LPA_OK && journal_snapshot_get_int(&io, 1) != JOURNAL_SNAP_VERSION &&
	    io.err == LPA_OK)
		io.err = LPA_ERR_VERSION;
	*covers = (uint32_t)journal_snapshot_get_int(&io, 4);
	if (io.err == LPA_OK && delta && *covers != seg)
		io.err = LPA_ERR_MISMATCH; /* a delta names its own segment */
	n_str = (uint32_t)journal_snapshot_get_int(&io, 4);
	n_dev = (uint32_t)journal_snapshot_get_int(&io, 4);
	/* Counts the file cannot hold (a chip takes at least 37 bytes) are refused before
	 * anything is sized on them. */
	if (io.err == LPA_OK && (n_str > UINT16_MAX ||
				 (uint64_t)n_str * 2 + (uint64_t)n_dev * 37 > (uint64_t)st.st_size))
		io.err = LPA_ERR_LENGTH;
	for (uint32_t i = 0; i < n_str && io.err == LPA_OK; i++) {
		uint16_t idx;

		journal_snapshot_get_str(&io, s, sizeof(s));
		if (io.err == LPA_OK && (io.err = journal_intern(j, s, &idx)) == LPA_OK && idx != i)
			io.err = LPA_ERR_ENCODING; /* a string twice */
	}
	/* The chips' array sized once (its growth would double the memory). */
	if (io.err == LPA_OK && n_dev > 0 && !delta) {
		struct journal_dev *d = realloc(j->dev, ((size_t)n_dev + 1024) * sizeof(*d));

		if (d == NULL)
			io.err = LPA_ERR_NOMEM;
		else {
			j->dev = d;
			j->cap = (size_t)n_dev + 1024;
			io.err = journal_index_reserve(j, j->cap);
		}
	}
	for (uint32_t i = 0; i < n_dev && io.err == LPA_OK; i++)
		journal_snapshot_get_dev(&io, j, e, delta);
	/* The hash follows the last chip, and the file ends with it. */
	if (io.err == LPA_OK && io.consumed + 32 != (uint64_t)st.st_size)
		io.err = LPA_ERR_LENGTH;
	if (io.err == LPA_OK && !EVP_DigestFinal_ex(io.md, want, NULL))
		io.err = LPA_ERR_CRYPTO;
	journal_snapshot_get(&io, h, sizeof(h));
	if (io.err == LPA_OK && memcmp(h, want, sizeof(h)) != 0)
		io.err = LPA_ERR_MISMATCH;
	r = io.err;
out:
	if (io.f != NULL)
		fclose(io.f);
	EVP_MD_CTX_free(io.md);
	free(io.buf);
	free(e);
	free(path);
	return r;
}

/*
 * The snapshot, then its deltas in order: the state up to the last segment they cover
 * (*covers). No snapshot is an empty one covering nothing; a delta that is missing ends
 * the chain (the archive is replayed from there); one that is torn or corrupt fails the
 * whole load like a bad snapshot (the caller then replays the whole archive).
 */
int journal_snapshot_load(journal *j, uint32_t *covers)
{
	uint32_t c = 0, got;
	char *base = journal_snapshot_sibling(j->path, ".snap", 0);
	int r = LPA_ERR_NOMEM;

	*covers = 0;
	j->snap_covers = 0;
	j->n_deltas = 0;
	if (base == NULL)
		return r;
	r = access(base, F_OK) == 0 || errno != ENOENT ? journal_snapshot_load_file(j, 0, false, &c)
						       : LPA_OK;
	free(base);
	if (r != LPA_OK)
		return r;
	j->snap_covers = c;
	for (;;) {
		char *d = journal_snapshot_sibling(j->path, "delta", c + 1);
		bool there = d != NULL && access(d, F_OK) == 0;

		free(d);
		if (!there)
			break;
		if ((r = journal_snapshot_load_file(j, c + 1, true, &got)) != LPA_OK)
			return r;
		c = got;
		j->n_deltas++;
	}
	*covers = c;
	return LPA_OK;
}

/* Archives the live segment and writes a snapshot covering it, when it has grown past
 * JOURNAL_SEGMENT_BYTES. Every step leaves a state the next start reads in full: after
 * the rename the archived segment is replayed until a snapshot covers it. Only the loss
 * of the live file is an error; a snapshot that cannot be written is retried next time. */
int journal_snapshot_compact(journal *j, bool closing)
{
	uint32_t seg = j->segment + 1;
	bool merge = closing && (j->n_deltas > 0 || j->delta_broken);
	char *dir = journal_snapshot_sibling(j->path, ".d", 0),
	     *arch = journal_snapshot_segment_path(j->path, seg);
	int r = LPA_OK;

	if (dir == NULL || arch == NULL)
		goto out;
	/* Closing with deltas outstanding: the live segment (nothing in it is still
	 * needed live: the batch is over) is archived too, and one snapshot covers all. */
	if (merge && j->live_bytes == 0) {
		(void)journal_snapshot_write(j, j->segment);
		goto out;
	}
	if (j->live_bytes < JOURNAL_SEGMENT_BYTES && !merge)
		goto out;
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || access(arch, F_OK) == 0 ||
	    rename(j->path, arch) != 0)
		goto out; /* nothing moved: the live segment simply goes on */
	/* Both directory entries on disk before the snapshot claims the segment. */
	(void)journal_snapshot_sync_dir(dir, true);
	(void)journal_snapshot_sync_dir(j->path, false);
	j->segment = seg;
	close(j->fd);
	if ((j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		r = LPA_ERR_SYSTEM;
		goto out;
	}
	(void)journal_snapshot_sync_dir(j->path, false);
	j->live_bytes = 0;
	/* On the hot path only what changed is written (a delta, independent of history);
	 * the whole state when closing, or when a delta could not be. */
	if (merge || j->dirty_lost || j->delta_broken || j->n_deltas >= JOURNAL_DELTAS_MAX)
		(void)journal_snapshot_write(j, seg);
	else if (journal_snapshot_write_delta(j, seg) != LPA_OK)
		j->delta_broken = true;
out:
	free(dir);
	free(arch);
	return r;
}
