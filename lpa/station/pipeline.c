/*
 * pipeline.c — one device through the station, journaled so that a crash at any instant
 * leaves it recoverable. The rule that keeps records safe: a step is journaled before it
 * starts, its result (DevEUI and counter, receipt, record) after it returns, and only
 * what the journal holds is relied on after a restart.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lpa/agent/agent-abi.h"
#include "pipeline-private.h"
#include "station.h"

/* The agent's enrolment calls (docs/protocols.md) and how long the station waits for one
 * (ENROL signs with the DIK, STORE_CERT writes two rows: as INSTALL_PACKAGE, 10 s). */
#define PSOC6_AGENT_SIGN_MS 10000

/* Where LPR1 names the package (docs/protocols.md): the first 16 bytes of its SHA-256. */
#define PIPELINE_RCPT_PKG_HASH 24

int pipeline_identity_check(uint64_t sflash_uid, const struct lpa_lpi1 *id, char *why,
			    size_t why_len)
{
	if (id->chip_uid == sflash_uid)
		return LPA_OK;
	snprintf(why, why_len,
		 "the agent's identity names chip UID %016llx, the SFlash holds %016llx",
		 (unsigned long long)id->chip_uid, (unsigned long long)sflash_uid);
	return LPA_ERR_MISMATCH;
}

static bool pipeline_is_agent_refusal(int err)
{
	return pipeline_classify(err) == PC_INSTALL;
}

void pipeline_progress(struct pipeline_worker *w, const char *step, unsigned pct)
{
	if (w->progress != NULL)
		w->progress(w->progress_ctx, step, pct);
}

int pipeline_log(struct pipeline_worker *w, enum journal_step step, uint64_t uid, uint64_t dev_eui,
		 uint32_t counter, const char *receipt, const char *record, const char *reason)
{
	struct pipeline_shared *s = w->shared;
	static __thread struct journal_entry e;
	int r;

	memset(&e, 0, sizeof(e));
	e.step = step;
	e.chip_uid = uid;
	e.dev_eui = dev_eui;
	e.counter = counter;
	snprintf(e.probe, sizeof(e.probe), "%s", w->probe_serial ? w->probe_serial : "");
	snprintf(e.lot, sizeof(e.lot), "%s", s->lot ? s->lot : "");
	if (receipt != NULL)
		snprintf(e.receipt, sizeof(e.receipt), "%s", receipt);
	if (record != NULL)
		snprintf(e.record, sizeof(e.record), "%s", record);
	if (reason != NULL)
		snprintf(e.reason, sizeof(e.reason), "%s", reason);
	pthread_mutex_lock(&s->lock);
	r = journal_log(s->journal, &e);
	pthread_mutex_unlock(&s->lock);
	station_debug("%s: chip %016llx step %s dev_eui %016llx counter %u%s%s%s", e.probe,
		      (unsigned long long)uid, journal_step_name(step), (unsigned long long)dev_eui,
		      counter, reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	return r;
}

int pipeline_fail(struct pipeline_result *res, enum pipeline_class cls, int err, const char *fmt,
		  ...)
{
	va_list ap;

	res->cls = cls;
	res->err = err;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	return err;
}

/* The KMS's words for a refusal, or the transport's. */
static const char *pipeline_kms_detail(struct pipeline_worker *w, int err, char *buf, size_t cap)
{
	const struct kms_error *ke = kms_client_error(w->kms);

	if (ke->code[0] != '\0')
		snprintf(buf, cap, "%.100s (%.39s)", ke->message, ke->code);
	else if (ke->message[0] != '\0')
		snprintf(buf, cap, "%.50s: %.100s", lpa_strerror(err), ke->message);
	else
		snprintf(buf, cap, "%s", lpa_strerror(err));
	return buf;
}

/* Abandons an attempt at the KMS, then in the journal. If the KMS cannot be told, the
 * journal keeps the device unfinished, so a resume tells it later. */
static int pipeline_abandon(struct pipeline_worker *w, uint64_t uid, uint64_t dev_eui,
			    uint32_t counter, const char *reason)
{
	int r = LPA_OK;

	if (counter != 0) {
		r = kms_abandon(w->kms, w->shared->token, dev_eui, counter, reason);
		/* Already confirmed or closed: nothing left to abandon at the KMS. */
		if (r == LPA_ERR_KMS_REFUSED || r == LPA_ERR_KMS_RECEIPT)
			r = LPA_OK;
		if (r != LPA_OK)
			return r;
	}
	return pipeline_log(w, J_ABANDONED, uid, dev_eui, counter, NULL, NULL, reason);
}

enum install_state { INSTALL_UNKNOWN, INSTALL_NOT_DONE, INSTALL_DONE };

/* Whether the chip holds the keys of an attempt of ours the KMS never confirmed: any
 * attempt the journal has at `installing` for it and never recorded, not only the last
 * one (a later attempt may never have reached the chip). */
static bool pipeline_holds_own_keys(struct pipeline_worker *w, uint64_t uid,
				    const struct lpa_agent_status *st)
{
	bool own;

	if (!st->provisioned)
		return false;
	pthread_mutex_lock(&w->shared->lock);
	own = journal_unrecorded_attempt(w->shared->journal, uid, st->dev_eui, st->counter);
	pthread_mutex_unlock(&w->shared->lock);
	return own;
}

/* After an interrupted install of attempt `counter`: is the chip still there, and does it
 * hold keys of ours without a receipt (that attempt's, or an earlier unrecorded one's)?
 * *held is the counter the chip holds. */
static enum install_state pipeline_check_install(struct pipeline_worker *w, uint64_t uid,
						 uint32_t counter, psoc6 **chip_out, uint32_t *held)
{
	struct lpa_agent_status st;
	psoc6 *chip = NULL;
	uint64_t now_uid = 0;
	enum install_state s = INSTALL_UNKNOWN;

	*held = 0;
	if (chip_out != NULL)
		*chip_out = NULL;
	if (w->link == NULL)
		goto out;
	/* A browned-out chip is silent for a moment, then boots: give it 2 s to answer. */
	for (int i = 0; i < 40 && prog_link_connect(w->link, NULL) == LPA_ERR_NO_TARGET; i++)
		usleep(50000);
	if (prog_link_connect(w->link, NULL) != LPA_OK || psoc6_attach(w->link, &chip) != LPA_OK ||
	    psoc6_unique_id(chip, &now_uid) != LPA_OK || now_uid != uid ||
	    psoc6_get_status(chip, &st) != LPA_OK)
		goto out;
	*held = st.provisioned ? st.counter : 0;
	if (pipeline_holds_own_keys(w, uid, &st))
		s = INSTALL_DONE;
	else if (st.counter < counter)
		s = INSTALL_NOT_DONE;
out:
	if (chip_out != NULL && s != INSTALL_UNKNOWN)
		*chip_out = chip;
	else
		psoc6_detach(&chip);
	return s;
}

/* The record the KMS returned for this device: signed by a pinned record key, for this
 * DevEUI, chip, attempt, lot and package. Checked before it is journaled or appended. */
static int pipeline_check_record(struct pipeline_worker *w, uint64_t uid, uint64_t dev_eui,
				 uint32_t counter, const char *record, const uint8_t *pkg_hash,
				 size_t pkg_hash_len, struct pipeline_result *res)
{
	struct manifest_record_expect x = {.dev_eui = dev_eui,
					   .chip_uid = uid,
					   .counter = counter,
					   .lot = w->shared->lot,
					   .package_hash = pkg_hash,
					   .package_hash_len = pkg_hash_len,
					   .ca = res->enrolled ? "factory" : NULL};
	char err[200];
	int r;

	if (w->shared->record_keys == NULL)
		return pipeline_fail(res, PC_STATE, LPA_ERR_KEY, "%s",
				     "no pinned KMS record keys ([kms] record_keys)");
	r = manifest_record_check(w->shared->record_keys, record, &x, err, sizeof(err));
	if (r != LPA_OK)
		return pipeline_fail(res, pipeline_classify(r), r, "KMS record refused: %s", err);
	return LPA_OK;
}

static int pipeline_record(struct pipeline_worker *w, uint64_t uid, uint64_t dev_eui,
			   uint32_t counter, const char *record, struct pipeline_result *res)
{
	struct pipeline_shared *s = w->shared;
	bool there = false;
	int r;

	pipeline_progress(w, "record", 95);
	pthread_mutex_lock(&s->lock);
	/* A crash between the append and the J_RECORDED entry must not append twice. */
	r = manifest_contains(s->manifest, record, &there);
	if (r == LPA_OK && !there)
		r = manifest_append_record(s->manifest, record);
	pthread_mutex_unlock(&s->lock);
	if (r != LPA_OK)
		return pipeline_fail(res, PC_STATE, r, "cannot append to the manifest: %s",
				     lpa_strerror(r));
	res->appended = !there;
	if ((r = pipeline_log(w, J_RECORDED, uid, dev_eui, counter, NULL, NULL, NULL)) != LPA_OK)
		return pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s",
				     lpa_strerror(r));
	res->cls = PC_PASS;
	res->err = LPA_OK;
	pipeline_progress(w, "done", 100);
	return LPA_OK;
}

/* Confirm a receipt (first time or on resume), then record. */
static int pipeline_confirm(struct pipeline_worker *w, uint64_t uid, uint64_t dev_eui,
			    uint32_t counter, const uint8_t rcpt[LPA_LPR1_LEN],
			    const uint8_t *pkg_hash, size_t pkg_hash_len,
			    struct pipeline_result *res)
{
	char *record = NULL, b64[JOURNAL_RECEIPT_B64], detail[160];
	int r;

	pipeline_progress(w, "confirm", 80);
	lpa_b64url_encode(rcpt, LPA_LPR1_LEN, b64);
	if ((r = pipeline_log(w, J_CONFIRMING, uid, dev_eui, counter, b64, NULL, NULL)) != LPA_OK)
		return pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s",
				     lpa_strerror(r));
	r = kms_confirm(w->kms, w->shared->token, dev_eui, counter, rcpt, w->probe_serial,
			w->probe_firmware ? w->probe_firmware : "", &record);
	if (r == LPA_ERR_KMS_RECEIPT) {
		pipeline_kms_detail(w, r, detail, sizeof(detail));
		(void)pipeline_abandon(w, uid, dev_eui, counter, "receipt refused by the KMS");
		return pipeline_fail(res, PC_RECEIPT, r, "KMS refused the receipt: %s", detail);
	}
	if (r != LPA_OK) {
		/* The chip holds keys and a good receipt is journaled: keep it unfinished
		 * and confirm on resume, never abandon it for a KMS outage. */
		pipeline_kms_detail(w, r, detail, sizeof(detail));
		return pipeline_fail(res, pipeline_classify(r), r,
				     "confirm pending (resume the lot): %s", detail);
	}
	/* A record that fails is never journaled: the device stays `confirming`, and a
	 * --resume against the real KMS gets the stored record again (confirm is
	 * idempotent for the same receipt). */
	if ((r = pipeline_check_record(w, uid, dev_eui, counter, record, pkg_hash, pkg_hash_len,
				       res)) != LPA_OK) {
		free(record);
		return r;
	}
	r = pipeline_log(w, J_CONFIRMED, uid, dev_eui, counter, NULL, record, NULL);
	if (r == LPA_OK)
		r = pipeline_record(w, uid, dev_eui, counter, record, res);
	else
		pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s", lpa_strerror(r));
	free(record);
	return r;
}

/* Issue, install, confirm, record for an examined and identified chip. */
static int pipeline_provision(struct pipeline_worker *w, psoc6 *chip, const uint8_t *raw,
			      size_t raw_len, uint64_t uid, uint32_t silicon_id,
			      struct pipeline_result *res, int depth)
{
	const struct station_config *cfg = w->shared->cfg;
	struct kms_issue_req req = {.lot = w->shared->lot,
				    .join_eui = cfg->join_eui,
				    .lorawan = cfg->lorawan,
				    .identity = raw,
				    .identity_len = raw_len,
				    .silicon_id = silicon_id};
	struct kms_issue_resp issued;
	uint8_t rcpt[LPA_LPR1_LEN];
	char detail[160], reason[200];
	psoc6 *again = NULL;
	int r;

	if ((r = pipeline_log(w, J_BEGIN, uid, 0, 0, NULL, NULL, NULL)) != LPA_OK ||
	    (r = pipeline_log(w, J_ISSUING, uid, 0, 0, NULL, NULL, NULL)) != LPA_OK)
		return pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s",
				     lpa_strerror(r));
	pipeline_progress(w, "issue", 20);
	if ((r = kms_issue(w->kms, w->shared->token, &req, &issued)) != LPA_OK) {
		pipeline_kms_detail(w, r, detail, sizeof(detail));
		/* Nothing reached the chip. If the KMS did issue and the reply was lost, its
		 * attempt is superseded by the chip's next issue. */
		snprintf(reason, sizeof(reason), "issue failed: %s", detail);
		(void)pipeline_log(w, J_ABANDONED, uid, 0, 0, NULL, NULL, reason);
		return pipeline_fail(res, pipeline_classify(r), r, "KMS issue failed: %s", detail);
	}
	res->dev_eui = issued.dev_eui;
	res->counter = issued.counter;
	if ((r = pipeline_log(w, J_ISSUED, uid, issued.dev_eui, issued.counter, NULL, NULL,
			      NULL)) != LPA_OK ||
	    (r = pipeline_log(w, J_INSTALLING, uid, issued.dev_eui, issued.counter, NULL, NULL,
			      NULL)) != LPA_OK)
		return pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s",
				     lpa_strerror(r));
	pipeline_progress(w, "install", 40);
	r = psoc6_install_package(chip, issued.package, rcpt);
	if (r != LPA_OK && pipeline_is_agent_refusal(r)) {
		snprintf(reason, sizeof(reason), "chip rejected the package: %s", lpa_strerror(r));
		(void)pipeline_abandon(w, uid, issued.dev_eui, issued.counter, reason);
		return pipeline_fail(res, PC_INSTALL, r, "%s", reason);
	}
	if (r != LPA_OK) {
		/* The link failed mid-install: ask the chip (if it is still there) whether
		 * it took the package. Installed without a receipt: do it once more as a new
		 * attempt (the chip accepts the higher counter), to get a receipt. */
		int link_err = r;
		uint32_t held;
		enum install_state st =
			pipeline_check_install(w, uid, issued.counter, &again, &held);

		if (st == INSTALL_DONE && depth == 0) {
			r = pipeline_provision(w, again, raw, raw_len, uid, silicon_id, res,
					       depth + 1);
			psoc6_detach(&again);
			return r;
		}
		psoc6_detach(&again);
		if (st == INSTALL_DONE)
			/* A second loss in a row: leave it to the next exam of the chip, which
			 * recognises keys of ours without a record and provisions it again. */
			snprintf(reason, sizeof(reason),
				 "install interrupted (%s); the chip holds the keys of attempt %u "
				 "without a receipt",
				 lpa_strerror(link_err), held);
		else
			snprintf(reason, sizeof(reason), "install interrupted (%s); %s",
				 lpa_strerror(link_err),
				 st == INSTALL_NOT_DONE ? "the chip did not take the package"
							: "the chip's state is unknown");
		if (pipeline_abandon(w, uid, issued.dev_eui, issued.counter, reason) != LPA_OK)
			snprintf(reason + strlen(reason), sizeof(reason) - strlen(reason),
				 "; KMS not told yet (resume)");
		return pipeline_fail(res, pipeline_classify(link_err), link_err, "%s", reason);
	}
	{
		char b64[JOURNAL_RECEIPT_B64];

		lpa_b64url_encode(rcpt, sizeof(rcpt), b64);
		if ((r = pipeline_log(w, J_INSTALLED, uid, issued.dev_eui, issued.counter, b64,
				      NULL, NULL)) != LPA_OK)
			return pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s",
					     lpa_strerror(r));
	}
	{
		uint8_t h[32];

		lpa_sha256(issued.package, sizeof(issued.package), h);
		return pipeline_confirm(w, uid, issued.dev_eui, issued.counter, rcpt, h, sizeof(h),
					res);
	}
}

/*
 * Enrolment of a chip without a certified identity (GET_STATUS flag clear: its agent
 * generated the DIK at its first boot): the chip's LPE1, checked here first (an LPE1
 * whose proof of possession fails, or that names another chip, never reaches the KMS),
 * the KMS's factory CA certifies the DIK, the chip stores the certificate (its agent
 * refuses one for another key). Journaled before and after; a crash anywhere is repaired
 * by enrolling again: the KMS answers the same DIK with the same certificate and the
 * agent takes the same certificate again, and the KMS certifies a chip UID only once.
 */
static int pipeline_enrol(struct pipeline_worker *w, psoc6 *chip, uint64_t uid, uint32_t silicon_id,
			  struct pipeline_result *res)
{
	struct kms_enrol_req req = {.lot = w->shared->lot,
				    .join_eui = w->shared->cfg->join_eui,
				    .silicon_id = silicon_id};
	uint8_t lpe1[LPA_LPE1_LEN], *cert = NULL;
	size_t n = 0, cert_len = 0;
	struct lpa_lpe1 e;
	char detail[160], reason[200];
	int r;

	if ((r = pipeline_log(w, J_ENROLLING, uid, 0, 0, NULL, NULL, NULL)) != LPA_OK)
		return pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s",
				     lpa_strerror(r));
	pipeline_progress(w, "enrol", 5);
	if ((r = psoc6_agent_call(chip, AGENT_OP_ENROL, NULL, 0, lpe1, sizeof(lpe1), &n,
				  PSOC6_AGENT_SIGN_MS)) != LPA_OK) {
		snprintf(reason, sizeof(reason), "ENROL failed: %s", lpa_strerror(r));
		goto refused;
	}
	if ((r = lpa_lpe1_verify(lpe1, n, &e)) != LPA_OK) {
		snprintf(reason, sizeof(reason),
			 "the chip's enrolment request does not verify (%s): its proof of "
			 "possession of the key it names fails",
			 lpa_errname(r));
		r = LPA_ERR_KMS_UNTRUSTED;
		goto refused;
	}
	if (e.chip_uid != uid) {
		snprintf(reason, sizeof(reason),
			 "the chip's enrolment request names chip UID %016llx, the SFlash holds "
			 "%016llx",
			 (unsigned long long)e.chip_uid, (unsigned long long)uid);
		res->cls = PC_IDENTITY;
		res->err = LPA_ERR_MISMATCH;
		snprintf(res->reason, sizeof(res->reason), "%s", reason);
		(void)pipeline_log(w, J_ABANDONED, uid, 0, 0, NULL, NULL, reason);
		return LPA_ERR_MISMATCH;
	}
	req.lpe1 = lpe1;
	if ((r = kms_enrol(w->kms, w->shared->token, &req, &cert, &cert_len)) != LPA_OK) {
		pipeline_kms_detail(w, r, detail, sizeof(detail));
		snprintf(reason, sizeof(reason), "KMS refused the enrolment: %s", detail);
		goto refused;
	}
	r = psoc6_agent_call(chip, AGENT_OP_STORE_CERT, cert, cert_len, NULL, 0, &n,
			     PSOC6_AGENT_SIGN_MS);
	free(cert);
	if (r != LPA_OK) {
		snprintf(reason, sizeof(reason),
			 "the chip refused the factory CA's certificate: %s", lpa_strerror(r));
		goto refused;
	}
	if ((r = pipeline_log(w, J_ENROLLED, uid, 0, 0, NULL, NULL, NULL)) != LPA_OK)
		return pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s",
				     lpa_strerror(r));
	return LPA_OK;
refused:
	/* Nothing is held for the chip: an enrolment the KMS made stays, for the same DIK. */
	(void)pipeline_log(w, J_ABANDONED, uid, 0, 0, NULL, NULL, reason);
	return pipeline_fail(res, pipeline_classify(r), r, "%s", reason);
}

/* Whether the keys on an "already provisioned" chip are from an attempt this station
 * journaled and never recorded (any of its attempts, not only the last). */
static bool pipeline_own_orphan(struct pipeline_worker *w, const struct psoc6_exam_result *exam)
{
	return pipeline_holds_own_keys(w, exam->uid, &exam->status);
}

/* Whether the chip holds exactly the keys this station recorded for it in this lot: the
 * device is done (a restart finds it still in the socket, or it was put back). */
static bool pipeline_recorded_here(struct pipeline_worker *w, const struct psoc6_exam_result *exam)
{
	const struct journal_entry *e;
	bool done;

	if (!exam->status.provisioned)
		return false;
	pthread_mutex_lock(&w->shared->lock);
	e = journal_last(w->shared->journal, exam->uid);
	done = e != NULL && e->step == J_RECORDED && e->counter == exam->status.counter &&
	       e->dev_eui == exam->status.dev_eui && strcmp(e->lot, w->shared->lot) == 0;
	pthread_mutex_unlock(&w->shared->lock);
	return done;
}

int pipeline_device(struct pipeline_worker *w, struct pipeline_result *res)
{
	struct psoc6_exam_result exam;
	struct prog_counters c0, c1;
	struct lpa_lpi1 id;
	uint8_t raw[LPA_LPI1_MAX_LEN];
	size_t raw_len = 0;
	psoc6 *chip = NULL;
	double t0 = lpa_mono_s();
	int r;

	memset(res, 0, sizeof(*res));
	prog_link_counters(w->link, &c0);
	pipeline_progress(w, "exam", 0);
	if ((r = psoc6_attach(w->link, &chip)) != LPA_OK) {
		if (r == LPA_ERR_STATE)
			pipeline_fail(res, PC_EXAM, r,
				      "the chip's system access port is closed: a SECURE or DEAD "
				      "life cycle, not provisionable on this line");
		else
			pipeline_fail(res, pipeline_classify(r), r,
				      "cannot identify the chip family: %s", lpa_strerror(r));
		goto out;
	}
	/* Before the exam's identity step: the secure agent itself, if the chip lacks it. */
	if ((r = pipeline_agent(w, chip, res)) != LPA_OK)
		goto out;
	r = psoc6_entrance_exam(chip, &w->shared->policy, &exam);
	if (exam.uid != 0 && pipeline_recorded_here(w, &exam)) {
		res->chip_uid = exam.uid;
		res->dev_eui = exam.status.dev_eui;
		res->counter = exam.status.counter;
		res->skip = PS_RECORDED;
		r = LPA_OK;
		goto out;
	}
	if (r == LPA_ERR_MISMATCH && pipeline_own_orphan(w, &exam)) {
		/* The keys on this chip are from an attempt of ours the KMS never confirmed
		 * (the station died, or lost the chip, between install and confirm): not a
		 * provisioned device, so provision it properly now. */
		r = LPA_OK;
	}
	if (r != LPA_OK) {
		res->chip_uid = exam.uid;
		pipeline_fail(res,
			      r == LPA_ERR_STATE || r == LPA_ERR_MISMATCH ||
					      r == LPA_ERR_UNSUPPORTED
				      ? PC_EXAM
				      : pipeline_classify(r),
			      r, "entrance exam: %s", exam.reason);
		goto out;
	}
	if (!exam.status.certified) {
		res->chip_uid = exam.uid;
		if ((r = pipeline_enrol(w, chip, exam.uid, exam.silicon_id, res)) != LPA_OK)
			goto out;
		res->enrolled = true;
	}
	pipeline_progress(w, "identity", 10);
	if ((r = psoc6_get_identity(chip, &id, raw, sizeof(raw), &raw_len)) != LPA_OK) {
		pipeline_fail(res, pipeline_classify(r), r, "GET_IDENTITY failed: %s",
			      lpa_strerror(r));
		goto out;
	}
	res->chip_uid = exam.uid;
	if ((r = pipeline_identity_check(exam.uid, &id, res->reason, sizeof(res->reason))) !=
	    LPA_OK) {
		res->cls = PC_IDENTITY;
		res->err = r;
		goto out;
	}
	if (w->claim != NULL && !w->claim(w->claim_ctx)) {
		res->skip = PS_NO_SLOT;
		r = LPA_OK;
		goto out;
	}
	res->claimed = w->claim != NULL;
	r = pipeline_provision(w, chip, raw, raw_len, id.chip_uid, exam.silicon_id, res, 0);
out:
	psoc6_detach(&chip);
	prog_link_counters(w->link, &c1);
	res->link.round_trips = c1.round_trips - c0.round_trips;
	res->link.commands = c1.commands - c0.commands;
	res->link.bytes_out = c1.bytes_out - c0.bytes_out;
	res->link.bytes_in = c1.bytes_in - c0.bytes_in;
	res->seconds = lpa_mono_s() - t0;
	return r;
}

int pipeline_reconcile(struct pipeline_worker *w, const struct journal_entry *e,
		       struct pipeline_result *res)
{
	uint8_t rcpt[LPA_LPR1_LEN], raw[LPA_LPI1_MAX_LEN];
	size_t n = 0, raw_len = 0;
	struct lpa_lpi1 id;
	psoc6 *chip = NULL;
	enum install_state st;
	uint32_t held, sid;
	uint8_t prot;
	int r;

	memset(res, 0, sizeof(*res));
	res->chip_uid = e->chip_uid;
	res->dev_eui = e->dev_eui;
	res->counter = e->counter;
	res->recovered = true;
	switch (e->step) {
	case J_ENROLLING:
	case J_ENROLLED:
		/* Nothing of the KMS's is open for the chip: its next exam enrols it again
		 * (the same certificate, for the same DIK) or finds it certified. */
		r = pipeline_log(w, J_ABANDONED, e->chip_uid, 0, 0, NULL, NULL,
				 "interrupted during enrolment");
		return pipeline_fail(res, r == LPA_OK ? PC_KMS_REFUSED : PC_STATE,
				     r == LPA_OK ? LPA_ERR_MISMATCH : r, "%s",
				     "interrupted during enrolment; the chip enrols again at its "
				     "next exam");
	case J_BEGIN:
	case J_ISSUING:
		r = pipeline_log(w, J_ABANDONED, e->chip_uid, 0, 0, NULL, NULL,
				 "interrupted before a package was installed");
		return pipeline_fail(res, r == LPA_OK ? PC_KMS_REFUSED : PC_STATE,
				     r == LPA_OK ? LPA_ERR_MISMATCH : r, "%s",
				     "interrupted before install; abandoned");
	case J_FLASHING:
	case J_FLASHED:
		/* Nothing was issued. The chip, examined again, is programmed again (a
		 * half-written image is erased first) or found current. */
		r = pipeline_log(w, J_ABANDONED, e->chip_uid, 0, 0, NULL, NULL,
				 e->step == J_FLASHING
					 ? "interrupted while programming the secure agent"
					 : "interrupted after programming the secure agent");
		return pipeline_fail(res, r == LPA_OK ? PC_AGENT_FLASH : PC_STATE,
				     r == LPA_OK ? LPA_ERR_MISMATCH : r, "%s",
				     "interrupted in the agent step; abandoned");
	case J_ISSUED:
		r = pipeline_abandon(w, e->chip_uid, e->dev_eui, e->counter,
				     "interrupted before install");
		return pipeline_fail(res, r == LPA_OK ? PC_KMS_REFUSED : pipeline_classify(r),
				     r == LPA_OK ? LPA_ERR_MISMATCH : r, "%s",
				     "interrupted before install; abandoned");
	case J_INSTALLING:
		st = pipeline_check_install(w, e->chip_uid, e->counter, &chip, &held);
		if (st == INSTALL_DONE &&
		    psoc6_get_identity(chip, &id, raw, sizeof(raw), &raw_len) == LPA_OK &&
		    id.chip_uid == e->chip_uid && psoc6_silicon_id(chip, &sid, &prot) == LPA_OK) {
			/* Keys of ours without a receipt (this attempt's, or an earlier one's
			 * when this one never reached the chip): provision once more to get
			 * one; the new issue supersedes both at the KMS. */
			r = pipeline_provision(w, chip, raw, raw_len, e->chip_uid, sid, res, 1);
			psoc6_detach(&chip);
			res->recovered = true;
			return r;
		}
		psoc6_detach(&chip);
		r = pipeline_abandon(
			w, e->chip_uid, e->dev_eui, e->counter,
			st == INSTALL_NOT_DONE
				? "interrupted install: the chip did not take the package"
				: "interrupted install: chip not present to check");
		return pipeline_fail(res, r == LPA_OK ? PC_INSTALL : pipeline_classify(r),
				     r == LPA_OK ? LPA_ERR_MISMATCH : r, "%s",
				     "interrupted install; abandoned");
	case J_INSTALLED:
	case J_CONFIRMING:
		if (lpa_b64url_decode(e->receipt, strlen(e->receipt), rcpt, sizeof(rcpt), &n) !=
			    LPA_OK ||
		    n != LPA_LPR1_LEN)
			return pipeline_fail(res, PC_STATE, LPA_ERR_ENCODING, "%s",
					     "journal holds no usable receipt");
		/* The package itself is not journaled; the receipt names its hash as the
		 * chip computed it (the first 16 bytes of SHA-256). */
		return pipeline_confirm(w, e->chip_uid, e->dev_eui, e->counter, rcpt,
					rcpt + PIPELINE_RCPT_PKG_HASH, 16, res);
	case J_CONFIRMED:
		if (lpa_b64url_decode(e->receipt, strlen(e->receipt), rcpt, sizeof(rcpt), &n) !=
			    LPA_OK ||
		    n != LPA_LPR1_LEN)
			return pipeline_fail(res, PC_STATE, LPA_ERR_ENCODING, "%s",
					     "journal holds no usable receipt");
		/* A journaled record is checked again (the journal is a file); one that
		 * fails is fetched again from the KMS with the receipt. */
		if (pipeline_check_record(w, e->chip_uid, e->dev_eui, e->counter, e->record,
					  rcpt + PIPELINE_RCPT_PKG_HASH, 16, res) != LPA_OK)
			return pipeline_confirm(w, e->chip_uid, e->dev_eui, e->counter, rcpt,
						rcpt + PIPELINE_RCPT_PKG_HASH, 16, res);
		return pipeline_record(w, e->chip_uid, e->dev_eui, e->counter, e->record, res);
	default:
		return LPA_OK;
	}
}
