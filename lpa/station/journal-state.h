/*
 * journal-state.h — inside the journal (journal.c, journal-snapshot.c): what is kept of
 * each chip, and the archive and snapshot that keep start-up short. Not for callers:
 * journal.h is the API.
 */
#ifndef LPA_STATION_JOURNAL_STATE_H
#define LPA_STATION_JOURNAL_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal.h"

/* One attempt that reached `installing`: from then on the chip may hold its keys. */
struct journal_attempt {
	uint64_t dev_eui;
	uint32_t counter;
	bool recorded;
};

/*
 * What is kept of a chip. A finished one (recorded, abandoned) keeps only what the
 * look-ups need (step, DevEUI, counter, lot, probe, its attempts, an abandon's reason);
 * an unfinished one also its whole last entry (receipt, record), which reconcile needs.
 */
struct journal_extra {
	struct journal_attempt *more; /* attempts[1..] */
	struct journal_entry *full;   /* unfinished only */
	char *reason;                 /* abandoned only, when one was given */
};

/* 56 bytes: at 100,000 chips of history the whole journal is a few MB. */
struct journal_dev {
	uint64_t uid;
	uint64_t dev_eui;
	struct journal_attempt first; /* attempts[0] */
	uint32_t counter;
	uint32_t t;          /* seconds since 1970, as time_t until 2106 */
	uint16_t lot, probe; /* indices in the journal's string table */
	uint16_t n_attempts;
	uint8_t step;
	uint8_t dirty;           /* changed since the last snapshot or delta (j->dirty) */
	struct journal_extra *x; /* NULL for most finished chips */
};

struct journal {
	int fd;
	char *path;              /* the live segment */
	struct journal_dev *dev; /* per chip, in order of first appearance */
	size_t n, cap;
	uint32_t *index; /* open addressing by chip UID: dev index + 1, 0 empty */
	size_t index_cap;
	char **str; /* lots and probes: few, and the same on almost every line */
	size_t n_str, last_str;
	size_t n_recorded, n_abandoned;
	uint32_t segment; /* the last archived segment */
	/* The snapshot covers segments up to snap_covers, each delta one more (snap_covers +
	 * 1 .. + n_deltas); dirty lists the chips changed since the last of them. */
	uint32_t snap_covers, n_deltas;
	uint32_t *dirty; /* indices in dev */
	size_t n_dirty, dirty_cap;
	bool dirty_lost;              /* a chip could not be listed: the next write is a full one */
	bool delta_broken;            /* a delta could not be written: none until a full snapshot */
	bool opened;                  /* journal_open finished: journal_close may merge */
	off_t live_bytes;             /* size of the live segment */
	bool compacting_ok;           /* the archive directory can be used */
	struct journal_entry scratch; /* what journal_last returns for a finished chip */
	struct journal_entry *unfinished;
	size_t n_unfinished;
};

/* journal.c: the chips. */
struct journal_entry *journal_full(const struct journal_dev *d);
struct journal_extra *journal_extra(struct journal_dev *d);
struct journal_attempt *journal_attempt_at(struct journal_dev *d, size_t i);
struct journal_attempt *journal_attempt_find(struct journal_dev *d, uint64_t dev_eui,
					     uint32_t counter);
struct journal_attempt *journal_attempt_add(struct journal_dev *d, uint64_t dev_eui,
					    uint32_t counter);
bool journal_finished(enum journal_step s);
struct journal_dev *journal_slot(journal *j, uint64_t uid);
int journal_intern(journal *j, const char *s, uint16_t *idx);
int journal_index_reserve(journal *j, size_t n);
int journal_dev_store(journal *j, struct journal_dev *d, const struct journal_entry *e);
void journal_dev_reset(journal *j, struct journal_dev *d);

/* journal-snapshot.c: the archive and the snapshot. */
char *journal_snapshot_segment_path(const char *path, uint32_t seg);
int journal_snapshot_write(journal *j, uint32_t covers);
int journal_snapshot_load(journal *j, uint32_t *covers);
int journal_snapshot_compact(journal *j, bool closing);
void journal_snapshot_mark(journal *j, struct journal_dev *d);

#endif
