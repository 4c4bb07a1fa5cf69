/*
 * journal.c — JSON Lines, one fsync'd O_APPEND write per entry:
 *   {"t":T,"step":"issued","uid":"…","dev_eui":"…","counter":N,"probe":"…","lot":"…"
 *    [,"receipt":"…"][,"record":"…"][,"reason":"…"]}
 * Nothing secret is ever in it: packages are ciphertext for one chip, receipts and
 * records are signed public data.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lpa/core/lpa-core.h"
#include "journal.h"
#include "jsonl.h"

static const char *const journal_steps[J_N_STEPS] = {
	"begin",      "issuing",   "issued",   "installing", "installed",
	"confirming", "confirmed", "recorded", "abandoned",
};

const char *journal_step_name(enum journal_step s)
{
	return s < J_N_STEPS ? journal_steps[s] : "?";
}

/* One attempt that reached `installing`: from then on the chip may hold its keys. */
struct journal_attempt {
	uint64_t dev_eui;
	uint32_t counter;
	bool recorded;
};

struct journal_dev {
	struct journal_entry e; /* the chip's last step, fields carried forward */
	struct journal_attempt *attempts;
	size_t n_attempts;
};

struct journal {
	int fd;
	struct journal_dev *dev; /* per chip, in order of first appearance */
	size_t n, cap;
	struct journal_entry *unfinished;
	size_t n_unfinished;
};

static struct journal_dev *journal_find(journal *j, uint64_t uid)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->dev[i].e.chip_uid == uid)
			return &j->dev[i];
	return NULL;
}

static struct journal_dev *journal_slot(journal *j, uint64_t uid)
{
	struct journal_dev *d = journal_find(j, uid);

	if (d != NULL)
		return d;
	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 64;

		if ((d = realloc(j->dev, cap * sizeof(*d))) == NULL)
			return NULL;
		j->dev = d;
		j->cap = cap;
	}
	memset(&j->dev[j->n], 0, sizeof(j->dev[0]));
	j->dev[j->n].e.chip_uid = uid;
	return &j->dev[j->n++];
}

static struct journal_attempt *journal_attempt_find(const struct journal_dev *d, uint64_t dev_eui,
						    uint32_t counter)
{
	for (size_t i = 0; i < d->n_attempts; i++)
		if (d->attempts[i].dev_eui == dev_eui && d->attempts[i].counter == counter)
			return &d->attempts[i];
	return NULL;
}

static struct journal_attempt *journal_attempt_add(struct journal_dev *d, uint64_t dev_eui,
						   uint32_t counter)
{
	struct journal_attempt *a = journal_attempt_find(d, dev_eui, counter);

	if (a != NULL)
		return a;
	if ((a = realloc(d->attempts, (d->n_attempts + 1) * sizeof(*a))) == NULL)
		return NULL;
	d->attempts = a;
	a = &d->attempts[d->n_attempts++];
	*a = (struct journal_attempt){.dev_eui = dev_eui, .counter = counter};
	return a;
}

static int journal_hex64(json_t *o, const char *k, uint64_t *v)
{
	json_t *s = json_object_get(o, k);
	uint8_t b[8];

	if (s == NULL) {
		*v = 0;
		return 0;
	}
	if (!json_is_string(s) || lpa_hex_decode(json_string_value(s), json_string_length(s), b, 8))
		return -1;
	*v = lpa_be_get(b, 8);
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
	struct journal_entry *d, keep;

	if (dev == NULL)
		return LPA_ERR_NOMEM;
	d = &dev->e;
	keep = *d;
	/* A new attempt (begin) inherits nothing of the chip's earlier ones: an attempt
	 * abandoned before its issue returned has no DevEUI or counter of its own, and
	 * must not show the previous attempt's. */
	if (e->step == J_BEGIN) {
		keep.dev_eui = 0;
		keep.counter = 0;
	}
	*d = *e;
	if (e->dev_eui == 0)
		d->dev_eui = keep.dev_eui;
	if (e->counter == 0)
		d->counter = keep.counter;
	if (e->probe[0] == '\0')
		memcpy(d->probe, keep.probe, sizeof(d->probe));
	if (e->lot[0] == '\0')
		memcpy(d->lot, keep.lot, sizeof(d->lot));
	/* A receipt matters until confirmed, a record until recorded; a new attempt
	 * (begin) starts clean. */
	if (e->receipt[0] == '\0' && e->step > J_INSTALLED && e->step < J_ABANDONED)
		memcpy(d->receipt, keep.receipt, sizeof(d->receipt));
	if (e->record[0] == '\0' && e->step == J_RECORDED)
		memcpy(d->record, keep.record, sizeof(d->record));
	/* Every attempt that reached the chip is remembered, not only the last: a chip can
	 * hold the keys of an earlier one when a later one never reached it. */
	if (d->step >= J_INSTALLING && d->step <= J_RECORDED && d->counter != 0) {
		if ((a = journal_attempt_add(dev, d->dev_eui, d->counter)) == NULL)
			return LPA_ERR_NOMEM;
		if (d->step == J_RECORDED)
			a->recorded = true;
	}
	return LPA_OK;
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

static int journal_replay(journal *j)
{
	return jsonl_replay(j->fd, journal_replay_line, j);
}

int journal_open(const char *path, journal **out)
{
	journal *j;
	int r;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return LPA_ERR_NOMEM;
	if ((j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		free(j);
		return LPA_ERR_SYSTEM;
	}
	if ((r = journal_replay(j)) != LPA_OK) {
		journal_close(&j);
		return r;
	}
	*out = j;
	return LPA_OK;
}

void journal_close(journal **jp)
{
	journal *j;

	if (jp == NULL || (j = *jp) == NULL)
		return;
	close(j->fd);
	for (size_t i = 0; i < j->n; i++)
		free(j->dev[i].attempts);
	free(j->dev);
	free(j->unfinished);
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
	snprintf(uid, sizeof(uid), "%016llx", (unsigned long long)e->chip_uid);
	snprintf(eui, sizeof(eui), "%016llx", (unsigned long long)e->dev_eui);
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
fail:
	json_decref(o);
	return r;
}

size_t journal_unfinished(journal *j, const struct journal_entry **list)
{
	struct journal_entry *u = realloc(j->unfinished, (j->n ? j->n : 1) * sizeof(*u));

	*list = NULL;
	if (u == NULL)
		return 0;
	j->unfinished = u;
	j->n_unfinished = 0;
	for (size_t i = 0; i < j->n; i++)
		if (j->dev[i].e.step != J_RECORDED && j->dev[i].e.step != J_ABANDONED)
			u[j->n_unfinished++] = j->dev[i].e;
	*list = u;
	return j->n_unfinished;
}

const struct journal_entry *journal_last(journal *j, uint64_t chip_uid)
{
	struct journal_dev *d = journal_find(j, chip_uid);

	return d != NULL ? &d->e : NULL;
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
	*recorded = *abandoned = *unfinished = 0;
	for (size_t i = 0; i < j->n; i++) {
		if (j->dev[i].e.step == J_RECORDED)
			(*recorded)++;
		else if (j->dev[i].e.step == J_ABANDONED)
			(*abandoned)++;
		else
			(*unfinished)++;
	}
}
