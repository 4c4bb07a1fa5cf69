/*
 * batch.c — the provisioning engine behind `provision`, `batch` and `run`: one worker
 * thread per probe, each with its own link and KMS connection, sharing the journal and
 * the lot manifest. Devices a previous run left unfinished are reconciled first.
 *
 *   provision  one device, weighted progress on a terminal
 *   batch      line scripts: one JSON object per device on stdout, a summary, exit 0 only
 *              when every device passed
 *   run        the operator's shift: on a terminal the operator screen (screen.c: a
 *              tile per probe, a FAIL held until acknowledged), else a PASS/FAIL banner
 *              per device; a KMS outage pauses the line until the KMS answers again, a
 *              probe unplugged comes back when it is plugged in; Ctrl-C finishes the
 *              devices in flight, then stops
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>

#include "auth/auth.h"
#include "agent-image.h"
#include "pipeline.h"
#include "screen.h"
#include "cli.h"
#include "station.h"

#define BATCH_MAX_PROBES 32
#define BATCH_OLD_TOKENS 32    /* logins again in one shift */
#define BATCH_SESSION_WARN 600 /* seconds: the expiry is announced this long ahead */

enum batch_mode { MODE_PROVISION, MODE_BATCH, MODE_RUN };

struct batch_opts {
	enum batch_mode mode;
	const char *lot;
	unsigned count;     /* 0: until stopped (run) or until no chip comes (batch) */
	const char *probes; /* "all" or a comma list */
	bool resume;
	bool json;
	unsigned chip_timeout_s;
	bool have_backend;
	enum prog_backend backend;
};

struct batch {
	struct batch_opts o;
	struct station_config cfg;
	struct pipeline_shared shared;
	lpa_secbuf *token;
	EVP_PKEY *station_key;
	struct manifest_keys record_keys;
	struct agent_image agent; /* [agent] image, when configured */
	uint8_t *agent_bin;
	size_t agent_bin_len;
	struct prog_probe_info *probes;
	size_t n_probes;
	struct journal_entry *unfinished; /* a copy: the journal's own list moves */
	size_t n_unfinished;
	struct screen *screen; /* run on a terminal */
	/* The operator session: replaced while the shift runs by a login in the screen or
	 * one found in the keyring (lpa-station login). Replaced tokens are kept, not freed,
	 * until the shift ends: a KMS call in flight may still be using one. */
	pthread_mutex_t session_lock;
	time_t session_expires;
	time_t session_looked; /* the keyring was last read then */
	bool expiry_said;      /* the plain lines announced the expiry */
	char operator_name[64];
	lpa_secbuf *old_tokens[BATCH_OLD_TOKENS];
	size_t n_old_tokens;
	bool limited;        /* --count given */
	unsigned done;       /* --resume: records the lot's manifest already held */
	unsigned remaining;  /* when limited: devices this run may take (count - done) */
	size_t base;         /* records that do not count toward --count (without --resume) */
	atomic_uint claimed; /* slots taken: devices started, and new records recovered */
	atomic_uint passed, failed, recovered;
	pthread_mutex_t out_lock;
	double t0;
	bool tty;
};

struct batch_worker {
	struct batch *b;
	const struct prog_probe_info *probe;
	size_t slot; /* index among b->probes: the operator screen's tile */
	int err;     /* why the worker stopped early */
};

static volatile sig_atomic_t batch_stop;
/* Set when every slot of the lot is taken: workers waiting for a chip stop waiting. */
static atomic_bool batch_full;

static void batch_on_signal(int sig)
{
	static const char msg[] =
		"lpa-station: stopping: finishing the devices in flight, taking no new chip\n";

	(void)sig;
	/* Said at once (write(2) is async-signal-safe), even while a call to a hanging
	 * KMS holds every worker; the first signal only. */
	if (!batch_stop && write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		batch_stop = 1;
	batch_stop = 1;
}

/* Whether every slot of the lot is taken. */
static bool batch_is_full(struct batch *b)
{
	return b->limited && atomic_load(&b->claimed) >= b->remaining;
}

/* Takes a slot for a device about to start; false when the lot is full. */
static bool batch_claim(void *ctx)
{
	struct batch *b = ctx;
	unsigned slot;

	if (!b->limited)
		return true;
	slot = atomic_fetch_add(&b->claimed, 1);
	if (slot + 1 >= b->remaining)
		atomic_store(&batch_full, true);
	return slot < b->remaining;
}

/* A device an earlier run left unfinished and this one recorded is one of the lot's
 * devices: with --resume its record takes a slot, so the workers do not wait for a chip
 * too many, unless the record was in the manifest already (counted in b->done: the
 * earlier run died between the append and the journal entry). */
static void batch_recovered(struct batch *b, const struct pipeline_result *res)
{
	atomic_fetch_add(&b->recovered, 1);
	if (b->limited && b->o.resume && res->appended &&
	    atomic_fetch_add(&b->claimed, 1) + 1 >= b->remaining)
		atomic_store(&batch_full, true);
}

/* ------------------------------------------------------------ reporting */
/* The version of the JSON Lines batch and provision --json print (docs/schema/). */
#define BATCH_SCHEMA 1

/* A JSON string, or (text that is not UTF-8, which jansson refuses) a marker saying so. */
static json_t *batch_json_text(const char *s)
{
	json_t *j = json_string(s);

	return j != NULL ? j : json_string("(not UTF-8)");
}

/* Unknown values are null, never a sentinel zero. */
static json_t *batch_json_eui(uint64_t v)
{
	char hex[17];

	if (v == 0)
		return json_null();
	lpa_eui_format(v, hex);
	return json_string(hex);
}

static json_t *batch_json_errid(int err)
{
	char buf[LPA_ERRID_MAX];
	const char *id = lpa_errid(err, buf, sizeof(buf));

	return id != NULL ? json_string(id) : json_null();
}

/* One line of JSON Lines on stdout, built by jansson (never pasted). */
static void batch_json_line(json_t *o)
{
	char *line = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	if (line != NULL)
		printf("%s\n", line);
	else
		fprintf(stderr, "lpa-station: cannot encode a result line\n");
	free(line);
	json_decref(o);
}

/* The screen tile of a probe; SIZE_MAX for a probe this run does not drive. */
static size_t batch_slot_of(const struct batch *b, const char *probe)
{
	for (size_t i = 0; i < b->n_probes; i++)
		if (strcmp(b->probes[i].serial, probe) == 0)
			return i;
	return SIZE_MAX;
}

static void batch_report(struct batch *b, const char *probe, const struct pipeline_result *r)
{
	if (b->screen != NULL) {
		screen_result(b->screen, batch_slot_of(b, probe), r);
		return;
	}
	pthread_mutex_lock(&b->out_lock);
	if (b->o.mode == MODE_RUN && !b->o.json) {
		unsigned p = atomic_load(&b->passed), f = atomic_load(&b->failed);
		double mins = (lpa_mono_s() - b->t0) / 60.0;

		if (r->cls == PC_PASS)
			printf("\n  %s  ██████  PASS  ██████   DevEUI %016llx%s\n", probe,
			       (unsigned long long)r->dev_eui, r->recovered ? "  (recovered)" : "");
		else
			printf("\n  %s  ██████  FAIL  ██████   %s\n  %*s  reason: %s\n  %*s  do: "
			       "%s\n",
			       probe, pipeline_class_name(r->cls), (int)strlen(probe), "",
			       r->reason, (int)strlen(probe), "", pipeline_class_advice(r->cls));
		printf("  pass %u   fail %u   %.1f devices/min\n", p, f,
		       mins > 0 ? (double)(p + f) / mins : 0.0);
	} else if (b->o.mode == MODE_PROVISION && !b->o.json) {
		if (r->cls == PC_PASS)
			printf("PASS  DevEUI %016llx  chip %016llx  counter %u  %.1f s%s\n",
			       (unsigned long long)r->dev_eui, (unsigned long long)r->chip_uid,
			       r->counter, r->seconds, r->recovered ? "  (recovered)" : "");
		else
			printf("FAIL  %s: %s\n  do: %s\n", pipeline_class_name(r->cls), r->reason,
			       pipeline_class_advice(r->cls));
	} else {
		batch_json_line(json_pack(
			"{s:i, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:b, s:b, s:o, s:o, s:f, s:I, "
			"s:I}",
			"schema", BATCH_SCHEMA, "type", "device", "probe", batch_json_text(probe),
			"chip_uid", batch_json_eui(r->chip_uid), "dev_eui",
			batch_json_eui(r->dev_eui), "counter",
			r->counter ? json_integer(r->counter) : json_null(), "result",
			r->cls == PC_PASS ? "pass" : "fail", "class", pipeline_class_name(r->cls),
			"recovered", r->recovered, "agent_programmed", r->agent_programmed,
			"message", r->reason[0] ? batch_json_text(r->reason) : json_null(), "error",
			batch_json_errid(r->err), "seconds", r->seconds, "link_round_trips",
			(json_int_t)r->link.round_trips, "link_commands",
			(json_int_t)r->link.commands));
	}
	fflush(stdout);
	pthread_mutex_unlock(&b->out_lock);
}

struct batch_progress {
	struct batch *b;
	const char *probe;
	size_t slot;
};

static void batch_on_progress(void *ctx, const char *step, unsigned pct)
{
	struct batch_progress *p = ctx;
	static const char bar[] = "##############################";

	if (p->b->screen != NULL) {
		screen_progress(p->b->screen, p->slot, step, pct);
		return;
	}
	if (!p->b->tty)
		return;
	pthread_mutex_lock(&p->b->out_lock);
	fprintf(stderr, "\r%-12s [%-30.*s] %3u%% %-10s", p->probe, (int)(pct * 30 / 100), bar, pct,
		step);
	if (pct == 100)
		fputc('\n', stderr);
	pthread_mutex_unlock(&p->b->out_lock);
}

/* ------------------------------------------------------------ the workers */

/* Polls until the probe sees a chip (want_present) or an empty socket; false on
 * timeout (0 = wait until stopped), stop, or a probe that is gone (*err). */
static bool batch_wait_chip(prog_link *link, bool want_present, unsigned timeout_s, int *err)
{
	double deadline = lpa_mono_s() + timeout_s;

	*err = LPA_OK;
	while (!batch_stop && !atomic_load(&batch_full)) {
		int r = prog_link_target_present(link);

		if (r == LPA_ERR_PROBE_GONE || r == LPA_ERR_NOT_FOUND) {
			*err = r;
			return false;
		}
		if ((r == LPA_OK) == want_present)
			return true;
		if (timeout_s != 0 && lpa_mono_s() > deadline)
			return false;
		usleep(50000);
	}
	return false;
}

/* After a device: wait until the socket holds another chip. Either the slot is seen
 * empty first (a person swaps chips), or a chip with another UID is simply there (a
 * handler, or a backend whose reconnect is slower than the swap). */
static bool batch_wait_next(prog_link *link, uint64_t last_uid, unsigned timeout_s, int *err)
{
	double deadline = lpa_mono_s() + timeout_s;

	*err = LPA_OK;
	while (!batch_stop && !atomic_load(&batch_full)) {
		int r = prog_link_target_present(link);
		psoc6 *chip = NULL;
		uint64_t uid = 0;

		if (r == LPA_ERR_PROBE_GONE || r == LPA_ERR_NOT_FOUND) {
			*err = r;
			return false;
		}
		if (r == LPA_ERR_NO_TARGET)
			return batch_wait_chip(
				link, true,
				timeout_s == 0 ? 0 : (unsigned)(deadline - lpa_mono_s() + 1), err);
		if (r == LPA_OK && psoc6_attach(link, &chip) == LPA_OK &&
		    psoc6_unique_id(chip, &uid) == LPA_OK && uid != last_uid) {
			psoc6_detach(&chip);
			return true;
		}
		psoc6_detach(&chip);
		if (timeout_s != 0 && lpa_mono_s() > deadline)
			return false;
		usleep(50000);
	}
	return false;
}

/* Hands back a chip that is no new device (this lot already holds its record: an earlier
 * run left it in the socket, or it was put back), and waits for the next one (false:
 * none came, *err says whether the probe failed). */
static bool batch_hand_back(struct batch_worker *bw, prog_link *link, uint64_t uid, int *err)
{
	struct batch *b = bw->b;

	fprintf(stderr,
		"lpa-station: %s: chip %016llx is already recorded in lot %s; waiting for the "
		"next chip\n",
		bw->probe->serial, (unsigned long long)uid, b->o.lot);
	(void)prog_link_disconnect(link);
	/* As after a device: long enough for the probe to end the chip's session. */
	usleep(100000);
	return batch_wait_next(link, uid, b->o.mode == MODE_RUN ? 0 : b->o.chip_timeout_s, err);
}

/* Sleeps up to ms, less when the shift stops. */
static void batch_pause_ms(unsigned ms)
{
	for (unsigned t = 0; t < ms && !batch_stop; t += 50)
		usleep(50000);
}

/* A line-wide condition: the screen's banner, else a line on stderr (NULL: it ended). */
static void batch_line_event(struct batch *b, const char *msg)
{
	if (b->screen != NULL)
		screen_banner(b->screen, msg);
	else if (msg != NULL)
		fprintf(stderr, "lpa-station: %s\n", msg);
}

/* The journal's unfinished devices of one probe, copied (the journal's list moves as
 * other workers write). */
static size_t batch_unfinished_of(struct batch *b, const char *probe, struct journal_entry **out)
{
	const struct journal_entry *all;
	size_t n, k = 0;

	pthread_mutex_lock(&b->shared.lock);
	n = journal_unfinished(b->shared.journal, &all);
	*out = calloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; *out != NULL && i < n; i++)
		if (strcmp(all[i].probe, probe) == 0)
			(*out)[k++] = all[i];
	pthread_mutex_unlock(&b->shared.lock);
	return k;
}

/* Finishes what the journal holds unfinished for this probe (an earlier run's devices at
 * start; in a shift, the devices a KMS outage cut). The chip last recovered is noted so a
 * provision run does not take it again. */
static bool batch_reconcile_probe(struct batch_worker *bw, struct pipeline_worker *w,
				  uint64_t *recovered_uid)
{
	struct batch *b = bw->b;
	struct journal_entry *mine;
	struct pipeline_result res;
	size_t n = batch_unfinished_of(b, bw->probe->serial, &mine);

	for (size_t i = 0; mine != NULL && i < n; i++) {
		pipeline_reconcile(w, &mine[i], &res);
		if (res.cls == PC_PASS) {
			batch_recovered(b, &res);
			*recovered_uid = res.chip_uid;
			batch_report(b, bw->probe->serial, &res);
		} else if (res.err != LPA_ERR_MISMATCH) {
			batch_report(b, bw->probe->serial, &res);
		}
		if (res.cls == PC_KMS_RECORD) {
			/* The KMS cannot be trusted: take no new chip. */
			bw->err = res.err;
			batch_stop = 1;
			break;
		}
	}
	free(mine);
	return !batch_stop;
}

/* run: the line waits for the KMS (false: the shift stopped first). Asking for its
 * public keys needs no session and changes nothing. */
static bool batch_wait_kms(struct batch *b, kms_client *kms)
{
	batch_line_event(b, "the KMS cannot be reached: the line is paused and resumes by "
			    "itself when the KMS answers");
	while (!batch_stop) {
		char *jwks = NULL;

		if (kms_keys(kms, &jwks) == LPA_OK) {
			free(jwks);
			batch_line_event(b, NULL);
			if (b->screen == NULL)
				fprintf(stderr,
					"lpa-station: the KMS answers again; the line goes on\n");
			return true;
		}
		batch_pause_ms(1000);
	}
	return false;
}

/* run: the probe disappeared; its slot waits until it is plugged in again and answers
 * (false: the shift stopped first). */
static bool batch_wait_probe(struct batch_worker *bw, const struct prog_link_opts *lo,
			     prog_link **link)
{
	struct batch *b = bw->b;

	if (b->screen != NULL)
		screen_disconnected(b->screen, bw->slot, true);
	else
		fprintf(stderr,
			"lpa-station: probe %s disconnected; its slot waits until it is plugged "
			"in again\n",
			bw->probe->serial);
	prog_link_close(link);
	while (!batch_stop) {
		batch_pause_ms(500);
		if (prog_link_open(lo, link) != LPA_OK)
			continue;
		int r = prog_link_target_present(*link);

		if (r != LPA_ERR_PROBE_GONE && r != LPA_ERR_NOT_FOUND) {
			if (b->screen != NULL)
				screen_disconnected(b->screen, bw->slot, false);
			else
				fprintf(stderr, "lpa-station: probe %s is back\n",
					bw->probe->serial);
			return true;
		}
		prog_link_close(link);
	}
	return false;
}

static bool batch_probe_gone(int err)
{
	return err == LPA_ERR_PROBE_GONE || err == LPA_ERR_NOT_FOUND;
}

/* ------------------------------------------------------------ the session */
/* The shift goes on with token (taken over) and its session; under session_lock. */
static int batch_session_take(struct batch *b, lpa_secbuf *token, const struct auth_session *as)
{
	if (b->n_old_tokens == BATCH_OLD_TOKENS) {
		lpa_secbuf_free(&token);
		return LPA_ERR_NOMEM;
	}
	b->old_tokens[b->n_old_tokens++] = b->token;
	b->token = token;
	atomic_store(&b->shared.token, token);
	b->session_expires = as->expires_at;
	b->expiry_said = false;
	snprintf(b->operator_name, sizeof(b->operator_name), "%s", as->operator_name);
	if (b->screen != NULL)
		screen_session_expiry(b->screen, as->expires_at);
	return LPA_OK;
}

/*
 * Before each chip, within BATCH_SESSION_WARN of the session's end: a session the keyring
 * holds that ends later (the operator ran lpa-station login) replaces this one; without
 * one, the plain lines say once what to do (the screen shows its banner by itself).
 */
static void batch_session_check(struct batch *b)
{
	struct auth_session as;
	lpa_secbuf *token = NULL;
	time_t now = time(NULL);

	if (b->o.mode != MODE_RUN)
		return;
	pthread_mutex_lock(&b->session_lock);
	if (now + BATCH_SESSION_WARN < b->session_expires || now < b->session_looked + 5)
		goto out;
	b->session_looked = now;
	if (auth_session_load(b->cfg.kms_url, &token, &as) == LPA_OK &&
	    as.expires_at > b->session_expires) {
		if (batch_session_take(b, token, &as) == LPA_OK)
			fprintf(stderr,
				"lpa-station: the shift goes on with the session of operator %s "
				"from the keyring\n",
				as.operator_name);
		token = NULL;
	}
	if (b->screen == NULL && !b->expiry_said &&
	    now + BATCH_SESSION_WARN >= b->session_expires) {
		long mins = (long)(b->session_expires - now + 59) / 60;

		fprintf(stderr,
			"lpa-station: the operator session ends in %ld min: log in again "
			"(lpa-station login, in this login session) and the shift goes on with "
			"the new session\n",
			mins > 0 ? mins : 0);
		b->expiry_said = true;
	}
out:
	pthread_mutex_unlock(&b->session_lock);
	lpa_secbuf_free(&token);
}

/* The screen's login (screen_login_fn): a new session at the KMS, kept in the keyring
 * as lpa-station login keeps it, and the shift's from now on. */
static int batch_relogin(void *ctx, const char *operator_name, const lpa_secbuf *password,
			 const lpa_secbuf *totp, char *msg, size_t msg_len)
{
	struct batch *b = ctx;
	struct kms_session_info info;
	struct auth_session as = {0};
	lpa_secbuf *token = NULL;
	kms_client *kms = NULL;
	int r;

	if ((r = kms_client_new(&b->cfg, &kms)) != LPA_OK) {
		snprintf(msg, msg_len, "cannot reach the KMS: %s", lpa_strerror(r));
		return r;
	}
	if ((r = kms_login(kms, operator_name, password, totp, 0, &token, &info)) != LPA_OK) {
		const struct kms_error *e = kms_client_error(kms);

		if (e != NULL && strcmp(e->code, "login_failed") == 0)
			snprintf(msg, msg_len,
				 "wrong operator name, password or TOTP code (each code works "
				 "once)");
		else
			snprintf(msg, msg_len, "%s%s%.80s", lpa_strerror(r),
				 e != NULL && e->message[0] ? ": " : "",
				 e != NULL ? e->message : "");
		goto out;
	}
	memcpy(as.operator_name, info.operator_name, sizeof(as.operator_name));
	memcpy(as.roles, info.roles, sizeof(as.roles));
	as.expires_at = info.expires_at;
	if ((r = auth_session_store(b->cfg.kms_url, token, &as)) != LPA_OK) {
		snprintf(msg, msg_len, "cannot keep the session in the kernel keyring: %s",
			 lpa_strerror(r));
		(void)kms_logout(kms, token);
		goto out;
	}
	pthread_mutex_lock(&b->session_lock);
	r = batch_session_take(b, token, &as);
	pthread_mutex_unlock(&b->session_lock);
	token = NULL;
	if (r != LPA_OK) {
		snprintf(msg, msg_len, "too many logins in one shift: end it and start another");
		goto out;
	}
	{
		struct tm tm;
		char until[16] = "";

		if (localtime_r(&as.expires_at, &tm) != NULL)
			strftime(until, sizeof(until), "%H:%M", &tm);
		snprintf(msg, msg_len, "session until %s", until);
	}
out:
	lpa_secbuf_free(&token);
	kms_client_free(&kms);
	return r;
}

static void *batch_worker_main(void *arg)
{
	struct batch_worker *bw = arg;
	struct batch *b = bw->b;
	struct prog_link_opts lo = {.backend = b->cfg.backend,
				    .serial = bw->probe->serial,
				    .clock_khz = b->cfg.clock_khz,
				    .openocd_path = b->cfg.openocd,
				    .openocd_adapter = b->cfg.openocd_adapter};
	struct batch_progress prog = {b, bw->probe->serial, bw->slot};
	struct pipeline_worker w = {.shared = &b->shared,
				    .probe_serial = bw->probe->serial,
				    .probe_firmware = bw->probe->firmware,
				    .progress = batch_on_progress,
				    .progress_ctx = &prog,
				    .claim = batch_claim,
				    .claim_ctx = b};
	struct pipeline_result res;
	uint64_t recovered_uid = 0;
	bool shift = b->o.mode == MODE_RUN;
	int r, werr;

	if ((r = prog_link_open(&lo, &w.link)) != LPA_OK ||
	    (r = kms_client_new(&b->cfg, &w.kms)) != LPA_OK) {
		bw->err = r;
		goto out;
	}
	/* Finish what an earlier run left on this probe before taking new chips. */
	if (!batch_reconcile_probe(bw, &w, &recovered_uid))
		goto out;
	for (;;) {
		if (batch_stop)
			break;
		/* The lot is complete once every slot is taken: do not wait for a chip. */
		if (batch_is_full(b))
			break;
		if (b->screen != NULL)
			screen_waiting(b->screen, bw->slot);
		batch_session_check(b);
		if (!batch_wait_chip(w.link, true, shift ? 0 : b->o.chip_timeout_s, &werr)) {
			if (shift && batch_probe_gone(werr) && batch_wait_probe(bw, &lo, &w.link))
				continue;
			bw->err = werr;
			break;
		}
		pipeline_device(&w, &res);
		if (res.skip == PS_NO_SLOT)
			break;
		if (res.skip == PS_RECORDED && b->o.mode == MODE_PROVISION &&
		    res.chip_uid == recovered_uid)
			break; /* the chip in the socket is the device just recovered: done */
		if (res.skip == PS_RECORDED && b->o.mode == MODE_PROVISION) {
			/* The one device asked for is done already: say so, as the exam would. */
			res.cls = PC_EXAM;
			res.err = LPA_ERR_MISMATCH;
			snprintf(res.reason, sizeof(res.reason),
				 "already provisioned and recorded in lot %.64s (DevEUI %016llx)",
				 b->o.lot, (unsigned long long)res.dev_eui);
		} else if (res.skip == PS_RECORDED) {
			if (!batch_hand_back(bw, w.link, res.chip_uid, &werr)) {
				if (shift && batch_probe_gone(werr) &&
				    batch_wait_probe(bw, &lo, &w.link))
					continue;
				bw->err = werr;
				break;
			}
			continue;
		}
		if (shift && res.cls == PC_KMS_UNREACHABLE) {
			/* A shift waits out an outage, and it is no verdict on the chip: the
			 * chip in the socket got no keys, or its attempt is journaled and
			 * settled as soon as the KMS is back; then the socket is tried again. */
			if (b->screen != NULL)
				screen_waiting(b->screen, bw->slot);
			if (!batch_wait_kms(b, w.kms) ||
			    !batch_reconcile_probe(bw, &w, &recovered_uid))
				break;
			continue;
		}
		if (res.cls == PC_PASS) {
			atomic_fetch_add(&b->passed, 1);
		} else {
			atomic_fetch_add(&b->failed, 1);
			/* --count counts good devices: a failed one gives its slot back, for
			 * the next chip to take. */
			if (b->limited && res.claimed) {
				atomic_fetch_sub(&b->claimed, 1);
				atomic_store(&batch_full, false);
			}
		}
		batch_report(b, bw->probe->serial, &res);
		if (pipeline_class_stops_line(res.cls)) {
			/* Every further device would fail the same way: stop the line rather
			 * than run chips through it (a KMS outage would burn the lot). */
			bw->err = res.err;
			batch_stop = 1;
			break;
		}
		if (res.cls == PC_PROBE_GONE) {
			if (shift && batch_wait_probe(bw, &lo, &w.link))
				continue;
			bw->err = res.err;
			break;
		}
		/* Hand the chip back; wait until it is taken out before the next one. */
		(void)prog_link_disconnect(w.link);
		if (b->o.mode == MODE_PROVISION || batch_is_full(b))
			break;
		/* On the screen a FAIL holds its slot until the operator has seen it. */
		if (b->screen != NULL && res.cls != PC_PASS &&
		    !screen_acknowledge(b->screen, bw->slot))
			break;
		usleep(100000);
		if (!batch_wait_next(w.link, res.chip_uid, shift ? 0 : b->o.chip_timeout_s,
				     &werr)) {
			if (shift && batch_probe_gone(werr) && batch_wait_probe(bw, &lo, &w.link))
				continue;
			bw->err = werr;
			break;
		}
	}
out:
	if (w.link != NULL)
		(void)prog_link_disconnect(w.link);
	kms_client_free(&w.kms);
	prog_link_close(&w.link);
	return NULL;
}

/* ------------------------------------------------------------ set-up */
static int batch_load_station_key(struct batch *b)
{
	FILE *f = fopen(b->cfg.tls_key, "r");

	if (f == NULL)
		return LPA_ERR_NOT_FOUND;
	b->station_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return b->station_key != NULL ? LPA_OK : LPA_ERR_KEY;
}

static bool batch_probe_selected(const char *list, const char *serial)
{
	char buf[1024], *save = NULL;

	if (list == NULL || strcmp(list, "all") == 0)
		return true;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (strcmp(t, serial) == 0)
			return true;
	return false;
}

static int batch_mkdir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? LPA_OK : LPA_ERR_SYSTEM;
}

static const char *batch_usage(enum batch_mode m)
{
	switch (m) {
	case MODE_PROVISION:
		return "usage: lpa-station provision [--probe SERIAL] [--lot LOT] [--json]\n"
		       "Provisions the chip on one probe, with progress on a terminal.\n";
	case MODE_BATCH:
		return "usage: lpa-station batch --lot LOT [--count N] [--probes all|SERIAL,...]\n"
		       "                         [--resume] [--chip-timeout S]\n"
		       "All probes in parallel; one JSON object per device on stdout, then a\n"
		       "summary; exit 0 only when every device passed.\n";
	default:
		return "usage: lpa-station run [--lot LOT] [--probes all|SERIAL,...] [--json]\n"
		       "Shift mode: each probe's slot waits for a chip, provisions it, shows\n"
		       "PASS or FAIL, and waits for the next. Ctrl-C finishes and stops.\n";
	}
}

static int batch_parse(int argc, char **argv, struct batch_opts *o)
{
	static const struct option opts[] = {{"lot", required_argument, NULL, 'l'},
					     {"count", required_argument, NULL, 'n'},
					     {"probes", required_argument, NULL, 'p'},
					     {"probe", required_argument, NULL, 'p'},
					     {"resume", no_argument, NULL, 'r'},
					     {"json", no_argument, NULL, 'j'},
					     {"chip-timeout", required_argument, NULL, 't'},
					     {"backend", required_argument, NULL, 'b'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	char *end;
	int c;

	optind = 1;
	while ((c = station_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'l':
			o->lot = optarg;
			break;
		case 'n':
			o->count = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->count == 0 || o->count > 1000000) {
				fprintf(stderr, "lpa-station: --count takes 1..1000000\n");
				return STATION_EXIT_USAGE;
			}
			break;
		case 'p':
			o->probes = optarg;
			break;
		case 'r':
			o->resume = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 't':
			o->chip_timeout_s = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->chip_timeout_s == 0 || o->chip_timeout_s > 86400) {
				fprintf(stderr, "lpa-station: --chip-timeout takes 1..86400 s\n");
				return STATION_EXIT_USAGE;
			}
			break;
		case 'b':
			if (station_parse_backend(optarg, &o->backend) != 0) {
				fprintf(stderr, "lpa-station: unknown backend '%s'\n", optarg);
				return STATION_EXIT_USAGE;
			}
			o->have_backend = true;
			break;
		case 'h':
			printf("%s", batch_usage(o->mode));
			return -1;
		default:
			fprintf(stderr, "%s", batch_usage(o->mode));
			return STATION_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", batch_usage(o->mode));
		return STATION_EXIT_USAGE;
	}
	return 0;
}

static int batch_setup(struct batch *b, char *why, size_t why_len)
{
	struct auth_session sess;
	struct prog_probe_info *all = NULL;
	size_t n_all = 0;
	char path[CONFIG_PATH_MAX + 128];
	int r;

	if ((r = station_load_config(&b->cfg, NULL, true, why, why_len)) != STATION_EXIT_OK)
		return r;
	if (b->o.have_backend)
		b->cfg.backend = b->o.backend;
	if (b->o.lot == NULL && b->cfg.lot[0])
		b->o.lot = b->cfg.lot;
	if (b->o.lot == NULL) {
		snprintf(why, why_len, "no lot: give --lot or [provision] lot in station.conf");
		return STATION_EXIT_USAGE;
	}
	/* The lot names the manifest file: a name, never a path. */
	if (!lpa_name_valid(b->o.lot, LPA_NAME_MAX)) {
		snprintf(why, why_len,
			 "--lot '%.80s' is not a lot name: 1..%d of A-Z a-z 0-9 . _ - expected",
			 b->o.lot, LPA_NAME_MAX);
		return STATION_EXIT_USAGE;
	}
	if (!b->cfg.have_join_eui) {
		snprintf(why, why_len, "no JoinEUI: set [provision] join_eui in station.conf");
		return STATION_EXIT_USAGE;
	}
	if (auth_session_load(b->cfg.kms_url, &b->token, &sess) != LPA_OK) {
		snprintf(why, why_len, "not logged in (or the session expired): lpa-station login");
		return STATION_EXIT_AUTH;
	}
	b->session_expires = sess.expires_at;
	snprintf(b->operator_name, sizeof(b->operator_name), "%s", sess.operator_name);
	if ((r = station_key_private(b->cfg.tls_key, why, why_len)) != STATION_EXIT_OK)
		return r;
	if ((r = batch_load_station_key(b)) != LPA_OK) {
		snprintf(why, why_len, "cannot read the station key %.300s", b->cfg.tls_key);
		return STATION_EXIT_STATE;
	}
	/* Every record the KMS returns is checked against these before it is journaled. */
	if (manifest_keys_load_jwks(b->cfg.record_keys, &b->record_keys, why, why_len) != LPA_OK) {
		size_t n = strlen(why);

		snprintf(why + n, why_len - n,
			 " ([kms] record_keys: the KMS's JWKS, lpa-kms admin export-keys)");
		return STATION_EXIT_STATE;
	}
	b->shared.record_keys = &b->record_keys;
	/* The image the agent step programs: refused before any chip is touched unless it
	 * is exactly the configured one. */
	if (b->cfg.agent_image[0] != '\0') {
		if (agent_image_load(b->cfg.agent_image, b->cfg.agent_sha256, b->cfg.agent_version,
				     &b->agent, &b->agent_bin, &b->agent_bin_len, why,
				     why_len) != LPA_OK)
			return STATION_EXIT_STATE;
		b->shared.agent = &b->agent;
		b->shared.agent_bin = b->agent_bin;
		b->shared.agent_bin_len = b->agent_bin_len;
	}
	snprintf(path, sizeof(path), "%s/manifests", b->cfg.state_dir);
	if (batch_mkdir(b->cfg.state_dir) != LPA_OK || batch_mkdir(path) != LPA_OK) {
		snprintf(why, why_len, "cannot create %.300s", path);
		return STATION_EXIT_STATE;
	}
	snprintf(path, sizeof(path), "%s/journal.jsonl", b->cfg.state_dir);
	if ((r = journal_open(path, &b->shared.journal)) != LPA_OK) {
		snprintf(why, why_len, "journal %.300s: %s", path, lpa_strerror(r));
		return STATION_EXIT_STATE;
	}
	snprintf(path, sizeof(path), "%s/manifests/%s.jsonl", b->cfg.state_dir, b->o.lot);
	if ((r = manifest_open(path, &b->shared.manifest)) != LPA_OK) {
		snprintf(why, why_len, "manifest %.300s: %s", path, lpa_strerror(r));
		return STATION_EXIT_STATE;
	}
	{
		const struct journal_entry *u;

		b->n_unfinished = journal_unfinished(b->shared.journal, &u);
		if ((b->unfinished = calloc(b->n_unfinished + 1, sizeof(*u))) == NULL) {
			snprintf(why, why_len, "out of memory");
			return STATION_EXIT_STATE;
		}
		memcpy(b->unfinished, u, b->n_unfinished * sizeof(*u));
	}
	if (b->o.mode == MODE_BATCH && !b->o.resume &&
	    (manifest_count(b->shared.manifest) > 0 || b->n_unfinished > 0)) {
		snprintf(why, why_len,
			 "lot %s already has %zu records and %zu unfinished devices: --resume "
			 "continues it",
			 b->o.lot, manifest_count(b->shared.manifest), b->n_unfinished);
		return STATION_EXIT_USAGE;
	}
	if (b->o.count != 0) {
		size_t done = b->o.resume ? manifest_count(b->shared.manifest) : 0;

		b->limited = true;
		b->base = b->o.resume ? 0 : manifest_count(b->shared.manifest);
		b->done = done >= b->o.count ? b->o.count : (unsigned)done;
		b->remaining = b->o.count - b->done; /* 0: nothing new, still reconcile */
		if (b->remaining == 0)
			atomic_store(&batch_full, true);
	}
	if ((r = prog_probe_list(&all, &n_all)) != LPA_OK) {
		snprintf(why, why_len, "cannot list probes: %s", lpa_strerror(r));
		return STATION_EXIT_NO_PROBE;
	}
	b->probes = calloc(n_all + 1, sizeof(*b->probes));
	for (size_t i = 0; b->probes != NULL && i < n_all && b->n_probes < BATCH_MAX_PROBES; i++)
		if (batch_probe_selected(b->o.probes, all[i].serial) &&
		    (all[i].v2_bulk || b->cfg.backend == PROG_BACKEND_OPENOCD))
			b->probes[b->n_probes++] = all[i];
	free(all);
	if (b->n_probes == 0) {
		snprintf(why, why_len, "no usable probe%s%s", b->o.probes ? " among " : "",
			 b->o.probes ? b->o.probes : "");
		return STATION_EXIT_NO_PROBE;
	}
	if (b->o.mode == MODE_PROVISION && b->n_probes > 1) {
		snprintf(why, why_len, "%zu probes: name one with --probe", b->n_probes);
		return STATION_EXIT_USAGE;
	}
	b->shared.cfg = &b->cfg;
	b->shared.token = b->token;
	b->shared.lot = b->o.lot;
	psoc6_exam_policy_default(&b->shared.policy);
	b->shared.policy.allowed_protection = b->cfg.allowed_protection;
	b->shared.policy.allow_reprovision = b->cfg.reprovision;
	return STATION_EXIT_OK;
}

/* Unfinished devices on probes this run does not drive are settled without a link. */
static void batch_reconcile_orphans(struct batch *b)
{
	struct pipeline_worker w = {.shared = &b->shared};
	struct pipeline_result res;

	for (size_t i = 0; i < b->n_unfinished; i++) {
		const struct journal_entry *e = &b->unfinished[i];
		bool driven = false;

		for (size_t k = 0; k < b->n_probes; k++)
			driven |= strcmp(e->probe, b->probes[k].serial) == 0;
		if (driven)
			continue;
		if (w.kms == NULL && kms_client_new(&b->cfg, &w.kms) != LPA_OK)
			return;
		w.probe_serial = e->probe;
		pipeline_reconcile(&w, e, &res);
		if (res.cls == PC_PASS)
			batch_recovered(b, &res);
		if (res.cls == PC_PASS || res.err != LPA_ERR_MISMATCH)
			batch_report(b, e->probe, &res);
		if (res.cls == PC_KMS_RECORD) {
			batch_stop = 1;
			break;
		}
	}
	kms_client_free(&w.kms);
}

static int batch_run(enum batch_mode mode, int argc, char **argv)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct batch_worker workers[BATCH_MAX_PROBES];
	pthread_t threads[BATCH_MAX_PROBES];
	struct sigaction sa = {0};
	char why[512] = "";
	size_t rec = 0, ab = 0, un = 0;
	int rc, worker_err = LPA_OK;

	if (b == NULL)
		return STATION_EXIT_FAILURE;
	b->o.mode = mode;
	b->o.chip_timeout_s = 10;
	atomic_store(&batch_full, false);
	pthread_mutex_init(&b->out_lock, NULL);
	pthread_mutex_init(&b->shared.lock, NULL);
	pthread_mutex_init(&b->session_lock, NULL);
	if ((rc = batch_parse(argc, argv, &b->o)) != 0) {
		rc = rc < 0 ? STATION_EXIT_OK : rc;
		goto out;
	}
	if (mode == MODE_PROVISION)
		b->o.count = 1;
	if ((rc = batch_setup(b, why, sizeof(why))) != STATION_EXIT_OK) {
		fprintf(stderr, "lpa-station: %s\n", why);
		goto out;
	}
	b->tty = isatty(STDERR_FILENO) && (mode != MODE_BATCH || !b->o.json);
	b->tty = isatty(STDERR_FILENO);
	sa.sa_handler = batch_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	b->t0 = lpa_mono_s();
	if (mode == MODE_RUN && !b->o.json && screen_usable()) {
		const char *serials[BATCH_MAX_PROBES];

		for (size_t i = 0; i < b->n_probes; i++)
			serials[i] = b->probes[i].serial;
		/* No screen (a terminal ncurses cannot drive): the plain lines. */
		if (screen_open(&b->screen, b->o.lot, serials, b->n_probes, &batch_stop) ==
		    LPA_OK) {
			screen_session_expiry(b->screen, b->session_expires);
			screen_set_login(b->screen, batch_relogin, b, b->operator_name);
		}
	}
	batch_reconcile_orphans(b);
	if (mode == MODE_RUN && !b->o.json && b->screen == NULL)
		printf("lpa-station: lot %s, %zu probe(s); Ctrl-C stops after the devices in "
		       "flight\n",
		       b->o.lot, b->n_probes);
	for (size_t i = 0; i < b->n_probes; i++) {
		workers[i] = (struct batch_worker){.b = b, .probe = &b->probes[i], .slot = i};
		pthread_create(&threads[i], NULL, batch_worker_main, &workers[i]);
	}
	for (size_t i = 0; i < b->n_probes; i++) {
		pthread_join(threads[i], NULL);
		if (workers[i].err != LPA_OK && worker_err == LPA_OK)
			worker_err = workers[i].err;
	}
	screen_close(&b->screen);
	/* Close the batch: the trailer makes a truncated manifest detectable. */
	pthread_mutex_lock(&b->shared.lock);
	if (manifest_open_records(b->shared.manifest) > 0 &&
	    manifest_append_trailer(b->shared.manifest, b->o.lot, b->station_key,
				    b->cfg.name[0] ? b->cfg.name : "station") != LPA_OK)
		fprintf(stderr, "lpa-station: cannot write the manifest trailer\n");
	pthread_mutex_unlock(&b->shared.lock);
	journal_totals(b->shared.journal, &rec, &ab, &un);
	{
		unsigned p = atomic_load(&b->passed), f = atomic_load(&b->failed);
		unsigned rv = atomic_load(&b->recovered);
		double secs = lpa_mono_s() - b->t0;

		if (mode == MODE_RUN && !b->o.json)
			printf("\nshift ended: pass %u, fail %u, recovered %u, %.0f s\n", p, f, rv,
			       secs);
		else
			batch_json_line(json_pack(
				"{s:i, s:s, s:{s:o, s:i, s:i, s:i, s:I, s:I, s:f, s:f, s:o}}",
				"schema", BATCH_SCHEMA, "type", "summary", "summary", "lot",
				batch_json_text(b->o.lot), "passed", p, "failed", f, "recovered",
				rv, "unfinished", (json_int_t)un, "manifest_records",
				(json_int_t)manifest_count(b->shared.manifest), "seconds", secs,
				"devices_per_minute", secs > 0 ? 60.0 * (p + f) / secs : 0.0,
				"stopped", batch_json_errid(worker_err)));
		fflush(stdout);
		/* 0 only when every device passed and the lot is complete: --count records
		 * (with --resume, all of the lot's; else this run's), or (without --count) no
		 * probe stopped on an error before its chips ran out. */
		bool complete =
			b->limited && manifest_count(b->shared.manifest) - b->base >= b->o.count;

		if (mode == MODE_RUN)
			/* A shift ends when the operator ends it; its FAILs were each shown
			 * and acknowledged. Only a line stopped by an error says so. */
			rc = worker_err == LPA_OK ? STATION_EXIT_OK : station_exit_for(worker_err);
		else if (f > 0 || un > 0)
			rc = STATION_EXIT_INCOMPLETE;
		else if (complete)
			rc = STATION_EXIT_OK;
		else if (p + rv == 0 && worker_err != LPA_OK)
			rc = station_exit_for(worker_err);
		else if (p + rv == 0 && mode != MODE_RUN)
			rc = STATION_EXIT_NO_TARGET;
		else if (worker_err != LPA_OK || b->limited)
			rc = STATION_EXIT_INCOMPLETE;
		else
			rc = STATION_EXIT_OK;
	}
out:
	lpa_secbuf_free(&b->token);
	for (size_t i = 0; i < b->n_old_tokens; i++)
		lpa_secbuf_free(&b->old_tokens[i]);
	lpa_pkey_free(&b->station_key);
	manifest_keys_free(&b->record_keys);
	free(b->agent_bin);
	manifest_close(&b->shared.manifest);
	journal_close(&b->shared.journal);
	free(b->probes);
	free(b->unfinished);
	pthread_mutex_destroy(&b->out_lock);
	pthread_mutex_destroy(&b->shared.lock);
	pthread_mutex_destroy(&b->session_lock);
	free(b);
	return rc;
}

int provision_main(int argc, char **argv)
{
	return batch_run(MODE_PROVISION, argc, argv);
}

int batch_main(int argc, char **argv)
{
	return batch_run(MODE_BATCH, argc, argv);
}

int run_main(int argc, char **argv)
{
	return batch_run(MODE_RUN, argc, argv);
}
