/*
 * pipeline.h — one device, start to finish: the agent step (the secure agent programmed
 * onto a chip that lacks it), entrance exam, GET_IDENTITY, KMS issue,
 * INSTALL_PACKAGE, KMS confirm, manifest record; every step journaled before and after,
 * and the reconciliation of devices a previous run left in between.
 */
#ifndef LPA_STATION_PIPELINE_H
#define LPA_STATION_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "journal.h"
#include "kms-client.h"
#include "manifest.h"
#include "programmer/programmer.h"

/* Why a device failed, for people and for line scripts (docs/lpa-station.md). */
enum pipeline_class {
	PC_PASS = 0,
	PC_NO_TARGET,       /* no chip answered */
	PC_PROBE_GONE,      /* the probe disappeared */
	PC_TARGET,          /* the chip answered wrongly (FAULT, protocol, family, timeout) */
	PC_EXAM,            /* refused by the entrance exam */
	PC_UNTRUSTED,       /* the KMS refused the chip's identity */
	PC_KMS_UNREACHABLE, /* the KMS could not be reached */
	PC_AUTH,            /* the session is not valid */
	PC_INSTALL,         /* the chip's agent rejected the package */
	PC_RECEIPT,         /* the KMS refused the receipt */
	PC_KMS_REFUSED,     /* the KMS refused otherwise */
	PC_STATE,           /* the journal or manifest could not be written */
	PC_IDENTITY,        /* the agent's identity names another chip than its SFlash */
	PC_KMS_RECORD,      /* the KMS's record fails the pinned keys or is not this device's */
	PC_AGENT_FLASH,     /* the secure agent could not be programmed onto the chip */
	PC_N
};
const char *pipeline_class_name(enum pipeline_class c);
/* What the operator should do about it, one short sentence. */
const char *pipeline_class_advice(enum pipeline_class c);
/* The exit code a command ending on class c exits with (STATION_EXIT_*). */
int pipeline_class_exit(enum pipeline_class c);
enum pipeline_class pipeline_classify(int err);
/* Whether a failure of this class stops the line: every further device would fail the
 * same way (session, state, KMS outage), or the KMS cannot be trusted. */
bool pipeline_class_stops_line(enum pipeline_class c);

/* The chip UID the agent's LPI1 names against the one the exam read from SFlash over SWD:
 * LPA_OK when equal, else LPA_ERR_MISMATCH with why. The KMS can check the LPI1 against
 * the DIK certificate, but only the station sees the SFlash. */
int pipeline_identity_check(uint64_t sflash_uid, const struct lpa_lpi1 *id, char *why,
			    size_t why_len);

struct agent_image;

/* Shared by all workers of one station process. */
struct pipeline_shared {
	const struct station_config *cfg;
	/* The operator session's token; replaced while the shift runs when the operator logs
	 * in again (a replaced token stays valid memory until the shift ends). */
	const lpa_secbuf *_Atomic token;
	const char *lot;
	journal *journal;
	manifest *manifest;
	pthread_mutex_t lock; /* journal and manifest */
	struct psoc6_exam_policy policy;
	const struct manifest_keys *record_keys; /* [kms] record_keys: every record is checked */
	/* [agent]: the image chips without it get (NULL: none configured), its bytes. */
	const struct agent_image *agent;
	const uint8_t *agent_bin;
	size_t agent_bin_len;
};

typedef void (*pipeline_progress_cb)(void *ctx, const char *step, unsigned percent);
/* Takes one of the lot's slots for the chip just examined; false: the lot is full. */
typedef bool (*pipeline_claim_cb)(void *ctx);

/* One worker's view: its probe, link and KMS connection. */
struct pipeline_worker {
	struct pipeline_shared *shared;
	kms_client *kms;
	prog_link *link;
	const char *probe_serial;
	const char *probe_firmware;
	pipeline_progress_cb progress;
	void *progress_ctx;
	pipeline_claim_cb claim; /* NULL: every chip may be provisioned */
	void *claim_ctx;
};

/* Why pipeline_device did not treat the chip as a device. */
enum pipeline_skip {
	PS_NONE = 0,
	PS_RECORDED, /* this lot already holds the record of the keys the chip holds */
	PS_NO_SLOT,  /* examined, but the claim found the lot full: nothing started */
};

struct pipeline_result {
	enum pipeline_class cls;
	int err;
	uint64_t chip_uid;
	uint64_t dev_eui;
	uint32_t counter;
	bool recovered; /* finished a device an earlier run left unfinished */
	enum pipeline_skip skip;
	bool appended;         /* passed, and its record went into the manifest now (not earlier) */
	bool claimed;          /* took a slot of the lot (w->claim said yes) */
	bool agent_programmed; /* the agent step programmed the [agent] image onto the chip */
	bool enrolled; /* the factory CA certified the chip in this pass (its record: "factory") */
	char reason[256];
	double seconds;
	struct prog_counters link; /* this device's share of the link counters */
};

/* Provisions the chip now on w->link (connected by the caller): the exam and identity,
 * then w->claim, then issue, install, confirm and record. A chip holding the keys this
 * lot already recorded for it is not provisioned again (res->skip). */
int pipeline_device(struct pipeline_worker *w, struct pipeline_result *res);

/*
 * Finishes or abandons an unfinished journal entry. For a device that may hold keys
 * (J_INSTALLING), w->link (may be NULL) is asked whether the chip in its socket is that
 * device and what its agent says; otherwise the attempt is abandoned at the KMS.
 */
int pipeline_reconcile(struct pipeline_worker *w, const struct journal_entry *e,
		       struct pipeline_result *res);

#endif
