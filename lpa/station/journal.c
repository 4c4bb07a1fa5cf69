/*
 * journal.c — JSON Lines, one fsync'd O_APPEND write per entry:
 *   {"t":T,"step":"issued","uid":"…","dev_eui":"…","counter":N,"probe":"…","lot":"…"
 *    [,"receipt":"…"][,"record":"…"][,"reason":"…"]}
 * Nothing secret is ever in it: packages are ciphertext for one chip, receipts and
 * records are signed public data. The file at the journal's path is the live segment;
 * grown past a size it is archived and a delta of the chips it changed is written, merged
 * into a snapshot of every chip when the journal closes (journal-snapshot.c), so that
 * start-up reads the snapshot, its deltas and one segment, not the history. In memory a chip is
 * found by UID in a hash table; a finished one is a summary.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lpa/core/lpa-core.h"
#include "journal-state.h"
#include "jsonl.h"

static const char *const journal_steps[J_N_STEPS] = {
	"begin",    "issuing",   "issued",   "installing", "installed", "confirming", "confirmed",
	"recorded", "abandoned", "flashing", "flashed",    "enrolling", "enrolled",
};

const char *journal_step_name(enum journal_step s)
{
	return s < J_N_STEPS ? journal_steps[s] : "?";
}

struct journal_entry *journal_full(const struct journal_dev *d)
{
	return d->x != NULL ? d->x->full : NULL;
}

struct journal_extra *journal_extra(struct journal_dev *d)
{
	if (d->x == NULL)
		d->x = calloc(1, sizeof(*d->x));
	return d->x;
}

static void journal_extra_free(struct journal_dev *d)
{
	if (d->x != NULL) {
		free(d->x->more);
		free(d->x->full);
		free(d->x->reason);
		free(d->x);
		d->x = NULL;
	}
}

static size_t journal_hash(uint64_t uid, size_t cap)
{
	uid ^= uid >> 33;
	uid *= 0xff51afd7ed558ccdULL;
	uid ^= uid >> 33;
	return (size_t)uid & (cap - 1);
}

static struct journal_dev *journal_find(journal *j, uint64_t uid)
{
	if (j->index_cap == 0)
		return NULL;
	for (size_t h = journal_hash(uid, j->index_cap);; h = (h + 1) & (j->index_cap - 1)) {
		uint32_t k = j->index[h];

		if (k == 0)
			return NULL;
		if (j->dev[k - 1].uid == uid)
			return &j->dev[k - 1];
	}
}

static void journal_index_put(journal *j, size_t i)
{
	size_t h = journal_hash(j->dev[i].uid, j->index_cap);

	while (j->index[h] != 0)
		h = (h + 1) & (j->index_cap - 1);
	j->index[h] = (uint32_t)(i + 1);
}

/* Room for n chips, the table at most half full. */
int journal_index_reserve(journal *j, size_t n)
{
	size_t cap = j->index_cap ? j->index_cap : 256;
	uint32_t *old = j->index;

	while (cap < 2 * n)
		cap *= 2;
	if (cap == j->index_cap)
		return LPA_OK;
	if (n >= UINT32_MAX)
		return LPA_ERR_LENGTH;
	if ((j->index = calloc(cap, sizeof(*j->index))) == NULL) {
		j->index = old;
		return LPA_ERR_NOMEM;
	}
	free(old);
	j->index_cap = cap;
	for (size_t i = 0; i < j->n; i++)
		journal_index_put(j, i);
	return LPA_OK;
}

struct journal_dev *journal_slot(journal *j, uint64_t uid)
{
	struct journal_dev *d = journal_find(j, uid);

	if (d != NULL)
		return d;
	if (journal_index_reserve(j, j->n + 1) != LPA_OK)
		return NULL;
	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 64;

		if ((d = realloc(j->dev, cap * sizeof(*d))) == NULL)
			return NULL;
		j->dev = d;
		j->cap = cap;
	}
	memset(&j->dev[j->n], 0, sizeof(j->dev[0]));
	j->dev[j->n].uid = uid;
	j->dev[j->n].step = J_BEGIN;
	journal_index_put(j, j->n);
	return &j->dev[j->n++];
}

/* The index of s in the string table, adding it. */
int journal_intern(journal *j, const char *s, uint16_t *idx)
{
	size_t i = j->last_str;
	char **t;

	if (i < j->n_str && strcmp(j->str[i], s) == 0) {
		*idx = (uint16_t)i;
		return LPA_OK;
	}
	for (i = 0; i < j->n_str; i++)
		if (strcmp(j->str[i], s) == 0)
			break;
	if (i == j->n_str) {
		if (j->n_str == UINT16_MAX)
			return LPA_ERR_LENGTH;
		if ((t = realloc(j->str, (j->n_str + 1) * sizeof(*t))) == NULL)
			return LPA_ERR_NOMEM;
		j->str = t;
		if ((j->str[j->n_str] = strdup(s)) == NULL)
			return LPA_ERR_NOMEM;
		j->n_str++;
	}
	j->last_str = i;
	*idx = (uint16_t)i;
	return LPA_OK;
}

struct journal_attempt *journal_attempt_at(struct journal_dev *d, size_t i)
{
	return i == 0 ? &d->first : &d->x->more[i - 1];
}

struct journal_attempt *journal_attempt_find(struct journal_dev *d, uint64_t dev_eui,
					     uint32_t counter)
{
	for (size_t i = 0; i < d->n_attempts; i++) {
		struct journal_attempt *a = journal_attempt_at(d, i);

		if (a->dev_eui == dev_eui && a->counter == counter)
			return a;
	}
	return NULL;
}

struct journal_attempt *journal_attempt_add(struct journal_dev *d, uint64_t dev_eui,
					    uint32_t counter)
{
	struct journal_attempt *a = journal_attempt_find(d, dev_eui, counter);

	if (a != NULL)
		return a;
	if (d->n_attempts == UINT16_MAX)
		return NULL;
	if (d->n_attempts > 0) {
		if (journal_extra(d) == NULL ||
		    (a = realloc(d->x->more, d->n_attempts * sizeof(*a))) == NULL)
			return NULL;
		d->x->more = a;
	}
	a = journal_attempt_at(d, d->n_attempts++);
	*a = (struct journal_attempt){.dev_eui = dev_eui, .counter = counter};
	return a;
}

bool journal_finished(enum journal_step s)
{
	return s == J_RECORDED || s == J_ABANDONED;
}

/* The chip's state as an entry: its whole last entry when unfinished, else the summary
 * (no receipt or record: a finished device needs neither again). */
static void journal_dev_entry(const journal *j, const struct journal_dev *d,
			      struct journal_entry *e)
{
	if (journal_full(d) != NULL) {
		*e = *d->x->full;
		return;
	}
	memset(e, 0, sizeof(*e));
	e->step = (enum journal_step)d->step;
	e->t = d->t;
	e->chip_uid = d->uid;
	e->dev_eui = d->dev_eui;
	e->counter = d->counter;
	if (d->probe < j->n_str)
		snprintf(e->probe, sizeof(e->probe), "%s", j->str[d->probe]);
	if (d->lot < j->n_str)
		snprintf(e->lot, sizeof(e->lot), "%s", j->str[d->lot]);
	if (d->x != NULL && d->x->reason != NULL)
		snprintf(e->reason, sizeof(e->reason), "%s", d->x->reason);
}

/* Stores e as the chip's state: the totals follow, a finished chip drops its entry. */
int journal_dev_store(journal *j, struct journal_dev *d, const struct journal_entry *e)
{
	uint16_t lot, probe;
	int r;

	if ((r = journal_intern(j, e->lot, &lot)) != LPA_OK ||
	    (r = journal_intern(j, e->probe, &probe)) != LPA_OK)
		return r;
	if (journal_finished(e->step)) {
		char *reason = NULL;

		if (e->step == J_ABANDONED && e->reason[0] != '\0' &&
		    ((reason = strdup(e->reason)) == NULL || journal_extra(d) == NULL)) {
			free(reason);
			return LPA_ERR_NOMEM;
		}
		if (d->x != NULL) {
			free(d->x->reason);
			d->x->reason = reason;
			free(d->x->full);
			d->x->full = NULL;
			if (d->x->more == NULL && reason == NULL) {
				free(d->x);
				d->x = NULL;
			}
		}
	} else {
		if (journal_extra(d) == NULL ||
		    (d->x->full == NULL && (d->x->full = malloc(sizeof(*d->x->full))) == NULL))
			return LPA_ERR_NOMEM;
		*d->x->full = *e;
		free(d->x->reason);
		d->x->reason = NULL;
	}
	j->n_recorded -= d->step == J_RECORDED;
	j->n_abandoned -= d->step == J_ABANDONED;
	j->n_recorded += e->step == J_RECORDED;
	j->n_abandoned += e->step == J_ABANDONED;
	d->step = (uint8_t)e->step;
	d->t = (uint32_t)e->t;
	d->dev_eui = e->dev_eui;
	d->counter = e->counter;
	d->lot = lot;
	d->probe = probe;
	return LPA_OK;
}

/* Empties a chip's state (its UID and index entry stay): a delta replaces it whole. */
void journal_dev_reset(journal *j, struct journal_dev *d)
{
	uint64_t uid = d->uid;
	uint8_t dirty = d->dirty;

	j->n_recorded -= d->step == J_RECORDED;
	j->n_abandoned -= d->step == J_ABANDONED;
	journal_extra_free(d);
	memset(d, 0, sizeof(*d));
	d->uid = uid;
	d->step = J_BEGIN;
	d->dirty = dirty;
}

static int journal_hex64(json_t *o, const char *k, uint64_t *v)
{
	json_t *s = json_object_get(o, k);

	if (s == NULL) {
		*v = 0;
		return 0;
	}
	if (!json_is_string(s) ||
	    lpa_eui_parse_len(json_string_value(s), json_string_length(s), v) != LPA_OK)
		return -1;
	return 0;
}

static int journal_str(json_t *o, const char *k, char *out, size_t cap)
{
	json_t *s = json_object_get(o, k);

	out[0] = '\0';
	if (s == NULL)
		return 0;
	if (!json_is_string(s) || json_string_length(s) >= cap)
		return -1;
	memcpy(out, json_string_value(s), json_string_length(s) + 1);
	return 0;
}

/* Parses one journal line strictly; LPA_ERR_ENCODING on anything unexpected. */
static int journal_parse(const char *line, size_t len, struct journal_entry *e)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL), *step, *t, *ctr;
	int r = LPA_ERR_ENCODING;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(o))
		goto fail;
	step = json_object_get(o, "step");
	t = json_object_get(o, "t");
	ctr = json_object_get(o, "counter");
	if (!json_is_string(step) || !json_is_integer(t) || (ctr && !json_is_integer(ctr)))
		goto fail;
	e->step = J_N_STEPS;
	for (int s = 0; s < J_N_STEPS; s++)
		if (strcmp(json_string_value(step), journal_steps[s]) == 0)
			e->step = (enum journal_step)s;
	if (e->step == J_N_STEPS)
		goto fail;
	e->t = (time_t)json_integer_value(t);
	if (ctr && (json_integer_value(ctr) < 0 || json_integer_value(ctr) > UINT32_MAX))
		goto fail;
	e->counter = ctr ? (uint32_t)json_integer_value(ctr) : 0;
	if (journal_hex64(o, "uid", &e->chip_uid) || journal_hex64(o, "dev_eui", &e->dev_eui) ||
	    journal_str(o, "probe", e->probe, sizeof(e->probe)) ||
	    journal_str(o, "lot", e->lot, sizeof(e->lot)) ||
	    journal_str(o, "receipt", e->receipt, sizeof(e->receipt)) ||
	    journal_str(o, "record", e->record, sizeof(e->record)) ||
	    journal_str(o, "reason", e->reason, sizeof(e->reason)))
		goto fail;
	if (json_object_get(o, "uid") == NULL)
		goto fail;
	r = LPA_OK;
fail:
	json_decref(o);
	return r;
}

/* The new entry as the device's state. Fields a step does not carry are kept from the
 * attempt's earlier entries (the DevEUI learned at J_ISSUED stays known later on). */
static int journal_apply(journal *j, const struct journal_entry *e)
{
	struct journal_dev *dev = journal_slot(j, e->chip_uid);
	struct journal_attempt *a;
	struct journal_entry *d = &j->scratch, *keep;
	int r;

	if (dev == NULL)
		return LPA_ERR_NOMEM;
	if ((keep = malloc(sizeof(*keep))) == NULL)
		return LPA_ERR_NOMEM;
	journal_dev_entry(j, dev, keep);
	/* A new attempt (begin) inherits nothing of the chip's earlier ones: an attempt
	 * abandoned before its issue returned has no DevEUI or counter of its own, and
	 * must not show the previous attempt's. */
	if (e->step == J_BEGIN || e->step == J_FLASHING) {
		keep->dev_eui = 0;
		keep->counter = 0;
	}
	*d = *e;
	if (e->dev_eui == 0)
		d->dev_eui = keep->dev_eui;
	if (e->counter == 0)
		d->counter = keep->counter;
	if (e->probe[0] == '\0')
		memcpy(d->probe, keep->probe, sizeof(d->probe));
	if (e->lot[0] == '\0')
		memcpy(d->lot, keep->lot, sizeof(d->lot));
	/* A receipt matters until confirmed, a record until recorded; a new attempt
	 * (begin) starts clean. */
	if (e->receipt[0] == '\0' && e->step > J_INSTALLED && e->step < J_ABANDONED)
		memcpy(d->receipt, keep->receipt, sizeof(d->receipt));
	if (e->record[0] == '\0' && e->step == J_RECORDED)
		memcpy(d->record, keep->record, sizeof(d->record));
	free(keep);
	/* Every attempt that reached the chip is remembered, not only the last: a chip can
	 * hold the keys of an earlier one when a later one never reached it. */
	if (d->step >= J_INSTALLING && d->step <= J_RECORDED && d->counter != 0) {
		if ((a = journal_attempt_add(dev, d->dev_eui, d->counter)) == NULL)
			return LPA_ERR_NOMEM;
		if (d->step == J_RECORDED)
			a->recorded = true;
	}
	if ((r = journal_dev_store(j, dev, d)) == LPA_OK)
		journal_snapshot_mark(j, dev);
	return r;
}

static int journal_replay_line(void *ctx, char *line, size_t n)
{
	journal *j = ctx;
	struct journal_entry *e = malloc(sizeof(*e));
	int r;

	if (e == NULL)
		return LPA_ERR_NOMEM;
	if ((r = journal_parse(line, n, e)) == LPA_OK)
		r = journal_apply(j, e);
	free(e);
	return r;
}

/* Replays one archived segment; a missing one is LPA_ERR_SYSTEM with errno ENOENT. */
static int journal_replay_segment(journal *j, uint32_t seg)
{
	char *p = journal_snapshot_segment_path(j->path, seg);
	int fd, r;

	if (p == NULL)
		return LPA_ERR_NOMEM;
	fd = open(p, O_RDWR | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return LPA_ERR_SYSTEM;
	/* Archived segments end on a line boundary (they were live segments). */
	r = jsonl_replay(fd, journal_replay_line, j);
	close(fd);
	return r;
}

static void journal_forget(journal *j)
{
	for (size_t i = 0; i < j->n; i++) {
		journal_extra_free(&j->dev[i]);
	}
	free(j->dev);
	free(j->index);
	for (size_t i = 0; i < j->n_str; i++)
		free(j->str[i]);
	free(j->str);
	free(j->dirty);
	j->dirty = NULL;
	j->n_dirty = j->dirty_cap = 0;
	j->dirty_lost = false;
	j->dev = NULL;
	j->index = NULL;
	j->str = NULL;
	j->n = j->cap = j->index_cap = j->n_str = j->last_str = 0;
	j->n_recorded = j->n_abandoned = 0;
}

/*
 * The state before the live segment: the snapshot, then every archived segment it does
 * not cover. A snapshot that does not load (torn, corrupt, missing) is only a cache:
 * the archive itself is replayed from its first segment, and nothing is lost.
 */
static int journal_load_history(journal *j)
{
	uint32_t covers = 0;
	int r;

	if (journal_snapshot_load(j, &covers) != LPA_OK) {
		journal_forget(j);
		covers = 0;
		j->snap_covers = 0;
		j->n_deltas = 0;
	}
	j->segment = covers;
	for (uint32_t seg = covers + 1;; seg++) {
		if ((r = journal_replay_segment(j, seg)) != LPA_OK) {
			if (r != LPA_ERR_SYSTEM || errno != ENOENT)
				return r;
			break;
		}
		j->segment = seg;
	}
	/* Segments the snapshot did not cover (a crash before it was written, or it did not
	 * load): a new one, so that the next start reads them no more. Best effort: the
	 * archive stays the truth. */
	if (j->segment > covers)
		(void)journal_snapshot_write(j, j->segment);
	return LPA_OK;
}

int journal_open(const char *path, journal **out)
{
	journal *j;
	struct stat st;
	int r;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return LPA_ERR_NOMEM;
	j->fd = -1;
	if ((j->path = strdup(path)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	if ((r = journal_load_history(j)) != LPA_OK)
		goto fail;
	if ((j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		r = LPA_ERR_SYSTEM;
		goto fail;
	}
	if ((r = jsonl_replay(j->fd, journal_replay_line, j)) != LPA_OK)
		goto fail;
	if (fstat(j->fd, &st) != 0) {
		r = LPA_ERR_SYSTEM;
		goto fail;
	}
	j->live_bytes = st.st_size;
	if ((r = journal_snapshot_compact(j, false)) != LPA_OK)
		goto fail;
	j->opened = true;
	*out = j;
	return LPA_OK;
fail:
	journal_close(&j);
	return r;
}

void journal_close(journal **jp)
{
	journal *j;

	if (jp == NULL || (j = *jp) == NULL)
		return;
	/* The batch is over: its deltas merged into one snapshot, off the hot path. */
	if (j->opened && j->fd >= 0)
		(void)journal_snapshot_compact(j, true);
	if (j->fd >= 0)
		close(j->fd);
	journal_forget(j);
	free(j->unfinished);
	free(j->path);
	free(j);
	*jp = NULL;
}

int journal_log(journal *j, struct journal_entry *e)
{
	json_t *o;
	char uid[17], eui[17], *s;
	size_t len;
	int r = LPA_ERR_NOMEM;

	if (e->step >= J_N_STEPS)
		return LPA_ERR_INVAL;
	e->t = time(NULL);
	lpa_eui_format(e->chip_uid, uid);
	lpa_eui_format(e->dev_eui, eui);
	if ((o = json_pack("{s:I,s:s,s:s}", "t", (json_int_t)e->t, "step", journal_steps[e->step],
			   "uid", uid)) == NULL)
		return LPA_ERR_NOMEM;
	if ((e->dev_eui && json_object_set_new(o, "dev_eui", json_string(eui))) ||
	    (e->counter && json_object_set_new(o, "counter", json_integer(e->counter))) ||
	    (e->probe[0] && json_object_set_new(o, "probe", json_string(e->probe))) ||
	    (e->lot[0] && json_object_set_new(o, "lot", json_string(e->lot))) ||
	    (e->receipt[0] && json_object_set_new(o, "receipt", json_string(e->receipt))) ||
	    (e->record[0] && json_object_set_new(o, "record", json_string(e->record))) ||
	    (e->reason[0] && json_object_set_new(o, "reason", json_string(e->reason))))
		goto fail;
	if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		goto fail;
	len = strlen(s);
	s[len] = '\n';
	/* The entry is on disk before the step it announces starts (or is reported). */
	r = write(j->fd, s, len + 1) == (ssize_t)(len + 1) && fsync(j->fd) == 0 ? LPA_OK
										: LPA_ERR_SYSTEM;
	free(s);
	if (r == LPA_OK)
		r = journal_apply(j, e);
	if (r == LPA_OK) {
		j->live_bytes += (off_t)(len + 1);
		r = journal_snapshot_compact(j, false);
	}
fail:
	json_decref(o);
	return r;
}

size_t journal_unfinished(journal *j, const struct journal_entry **list)
{
	size_t k = 0;
	struct journal_entry *u;

	*list = NULL;
	for (size_t i = 0; i < j->n; i++)
		k += journal_full(&j->dev[i]) != NULL;
	if ((u = realloc(j->unfinished, (k ? k : 1) * sizeof(*u))) == NULL)
		return 0;
	j->unfinished = u;
	j->n_unfinished = 0;
	for (size_t i = 0; i < j->n; i++)
		if (journal_full(&j->dev[i]) != NULL)
			u[j->n_unfinished++] = *j->dev[i].x->full;
	*list = u;
	return j->n_unfinished;
}

const struct journal_entry *journal_last(journal *j, uint64_t chip_uid)
{
	struct journal_dev *d = journal_find(j, chip_uid);

	if (d == NULL)
		return NULL;
	if (journal_full(d) != NULL)
		return d->x->full;
	journal_dev_entry(j, d, &j->scratch);
	return &j->scratch;
}

bool journal_unrecorded_attempt(journal *j, uint64_t chip_uid, uint64_t dev_eui, uint32_t counter)
{
	struct journal_dev *d = journal_find(j, chip_uid);
	struct journal_attempt *a;

	if (d == NULL || counter == 0 || (a = journal_attempt_find(d, dev_eui, counter)) == NULL)
		return false;
	return !a->recorded;
}

void journal_totals(journal *j, size_t *recorded, size_t *abandoned, size_t *unfinished)
{
	*recorded = j->n_recorded;
	*abandoned = j->n_abandoned;
	*unfinished = j->n - j->n_recorded - j->n_abandoned;
}
