/*
 * journal.h — the station's crash-safe journal. Every step of every device is written
 * (and fsync'd) before and after it runs; on start the journal tells which devices were
 * left in between, and how far they got, so that a station killed at any instant neither
 * loses a provisioned device's record nor burns a DevEUI.
 */
#ifndef LPA_STATION_JOURNAL_H
#define LPA_STATION_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Steps in order; the state of a device is its last step. */
enum journal_step {
	J_BEGIN = 0,  /* chip examined and identified */
	J_ISSUING,    /* about to ask the KMS for a package */
	J_ISSUED,     /* package received (DevEUI, counter known) */
	J_INSTALLING, /* about to send INSTALL_PACKAGE: from here the chip may hold keys */
	J_INSTALLED,  /* receipt received (kept in the journal) */
	J_CONFIRMING, /* about to send the receipt to the KMS */
	J_CONFIRMED,  /* KMS record received (kept in the journal) */
	J_RECORDED,   /* record appended to the manifest: done */
	J_ABANDONED,  /* given up, KMS told: done */
	/* The agent step, before begin (pipeline-agent.c); nothing at the KMS yet. */
	J_FLASHING, /* about to program the secure agent: main flash may be half written */
	J_FLASHED,  /* programmed, read back, and the new agent answered after its reset */
	/* Enrolment, before J_BEGIN, of a chip without a certified identity: */
	J_ENROLLING, /* about to ask the KMS's factory CA to certify the chip's DIK */
	J_ENROLLED,  /* the certificate is stored in the chip */
	J_N_STEPS
};

const char *journal_step_name(enum journal_step s);

#define JOURNAL_RECEIPT_B64 168 /* base64url of a 120-byte LPR1, plus NUL */
#define JOURNAL_RECORD_MAX 4096

struct journal_entry {
	enum journal_step step;
	time_t t;
	uint64_t chip_uid;
	uint64_t dev_eui;
	uint32_t counter;
	char probe[64];
	char lot[65];                      /* LPA_NAME_MAX + 1 */
	char receipt[JOURNAL_RECEIPT_B64]; /* J_INSTALLED */
	char record[JOURNAL_RECORD_MAX];   /* J_CONFIRMED: the KMS's JWS */
	char reason[128];                  /* J_ABANDONED */
};

typedef struct journal journal;

/* Opens (creating) the journal: its snapshot and the snapshot's deltas, the archived
 * segments they do not cover, then the live segment at path (a torn last line is cut off).
 * A live segment grown past 1 MiB is archived (PATH without .jsonl + ".d/NNNNNN.jsonl")
 * and a delta of the chips changed since the last one written (".snap.d/NNNNNN"), here or
 * in journal_log. */
int journal_open(const char *path, journal **j);
/* With deltas outstanding (the batch archived while it ran), archives the live segment
 * and merges them into one snapshot (".snap"): the whole-state write, off the hot path. */
void journal_close(journal **j);
/* Appends e (t is filled in) and fsyncs before returning. */
int journal_log(journal *j, struct journal_entry *e);
/* Devices whose last step is not J_RECORDED or J_ABANDONED, oldest first. The array is
 * owned by the journal and valid until the next journal_log. */
size_t journal_unfinished(journal *j, const struct journal_entry **list);
/* The last entry for a chip, or NULL; valid until the next call on the journal. For a
 * finished chip (recorded, abandoned) a summary: step, DevEUI, counter, probe, lot and an
 * abandon's reason, without receipt or record (nothing needs them again). */
const struct journal_entry *journal_last(journal *j, uint64_t chip_uid);
/* Whether this journal has an attempt for the chip with that DevEUI and counter that
 * reached `installing` and was never recorded: a chip holding those keys holds ours, and
 * the KMS never confirmed them. Every attempt counts, not only the chip's last one. */
bool journal_unrecorded_attempt(journal *j, uint64_t chip_uid, uint64_t dev_eui, uint32_t counter);
/* Counts of devices per final state (recorded, abandoned) in this journal. */
void journal_totals(journal *j, size_t *recorded, size_t *abandoned, size_t *unfinished);

#endif
