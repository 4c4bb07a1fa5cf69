/*
 * test-kms-instances — several KMS instances on one PostgreSQL database (issue 13), run
 * beside a private server by pg-server.sh:
 *   two_instances    A and B on one database, 16 stations (half on each) provisioning
 *                    2,000 chips at once: no DevEUI twice, the allocation counter equals
 *                    the devices' rows, every manifest record verifies, the audit chain
 *                    is intact
 *   resend_elsewhere an issue and a confirm whose replies were "lost", sent again to the
 *                    other instance: the same DevEUI, the stored record
 *   instance_killed  the same with B killed (SIGKILL) once half the chips are done: its
 *                    stations move to A and resend what went unanswered; nothing is
 *                    lost or given twice
 *   deadlock_retried a transaction of the KMS chosen as a deadlock's victim (40P01) is
 *                    run again and the call still succeeds, with nothing allocated twice
 *   undo_500         a call whose second phase fails (500) leaves nothing behind, and
 *                    the calls committed with it are kept
 * The figures (seconds, fail-overs, resent issues) are printed for docs/benchmarks.md.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "kms-db.h"
#include "kt-station.h"

#define INST_STATIONS 16
#define INST_DEVICES 2000
#define INST_BASE 0x70b3d57ed0100000ull     /* kmstest.c's --dev-eui-base */
#define INST_WRITER_LOCK "7813732086034803" /* db-pg.c */

static unsigned inst_ports[2];
static int inst_b_pid;
static struct kt_station inst_st[INST_STATIONS];
static EVP_PKEY *inst_pkg_key, *inst_rec_key;

/* Instance A is kmstest's server; B another `serve` on the same directory (kms.conf). */
static void inst_start(void)
{
	kt_start();
	ck_assert_msg(kt.pg != NULL, "run under tests/kms/pg-server.sh");
	inst_ports[0] = kt.port;
	if (inst_b_pid == 0) {
		inst_b_pid = kt_serve("serve-b", &inst_ports[1]);
		inst_pkg_key = kt_kms_key("package");
		inst_rec_key = kt_kms_key("record");
		for (unsigned s = 0; s < INST_STATIONS; s++) {
			struct kt_op op;
			char name[16];

			snprintf(name, sizeof(name), "st%u", s + 1);
			kt_operator(&op, "line", "operator", NULL, NULL, NULL);
			kt_login_ok(&op, name, inst_st[s].token);
		}
	}
}

static PGconn *inst_pg(void)
{
	PGconn *c = PQconnectdb(kt.pg);

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

static void inst_exec(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
			      PQresultStatus(res) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

static long long inst_int(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	long long v;

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "%s: %s", sql,
		      PQresultErrorMessage(res));
	v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static int inst_cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* What must hold after any run: every chip of lot provisioned once, with its own DevEUI
 * and a record that verifies; the counter and the rows agree; the chain is intact. */
static void inst_check(const char *lot, unsigned per)
{
	uint64_t *euis = calloc(INST_STATIONS * per, sizeof(*euis));
	PGconn *c = inst_pg();
	char sql[256], out[4096];
	PGresult *res;
	size_t n = 0;

	ck_assert_ptr_nonnull(euis);
	for (unsigned s = 0; s < INST_STATIONS; s++) {
		struct kt_station *st = &inst_st[s];

		ck_assert_msg(st->failures == 0, "st%u: %u failures, first: %s", st->index,
			      st->failures, st->first_error);
		for (unsigned i = 0; i < st->nchips; i++) {
			uint8_t *pl = NULL;
			size_t pl_len;
			json_t *p;

			euis[n++] = st->chips[i].dev_eui;
			ck_assert_ptr_nonnull(st->records[i]);
			ck_assert_int_eq(
				lpa_jws_verify(st->records[i], inst_rec_key, NULL, &pl, &pl_len),
				LPA_OK);
			p = json_loadb((const char *)pl, pl_len, 0, NULL);
			ck_assert_ptr_nonnull(p);
			ck_assert_uint_eq(
				kt_hex64(json_string_value(json_object_get(p, "dev_eui"))),
				st->chips[i].dev_eui);
			ck_assert_uint_eq(
				kt_hex64(json_string_value(json_object_get(p, "chip_uid"))),
				st->chips[i].uid);
			ck_assert_str_eq(json_string_value(json_object_get(p, "lot")), lot);
			json_decref(p);
			free(pl);
		}
	}
	/* No DevEUI twice, and each inside the block. */
	qsort(euis, n, sizeof(*euis), inst_cmp64);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_ge(euis[i], INST_BASE);
		ck_assert(i == 0 || euis[i] != euis[i - 1]);
	}
	free(euis);
	/* The allocation counter equals the rows; each chip of the lot has one confirmed
	 * attempt, whose stored record verifies as well. */
	ck_assert_int_eq(inst_int(c, "SELECT value::bigint FROM meta WHERE key = 'dev_eui_next'"),
			 inst_int(c, "SELECT count(*) FROM devices"));
	ck_assert_int_eq(inst_int(c, "SELECT count(DISTINCT dev_eui) FROM devices"),
			 inst_int(c, "SELECT count(*) FROM devices"));
	snprintf(sql, sizeof(sql),
		 "SELECT record FROM attempts WHERE lot = '%s' AND state = 'confirmed'", lot);
	res = PQexec(c, sql);
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(res), (int)n);
	for (int i = 0; i < PQntuples(res); i++) {
		uint8_t *pl = NULL;
		size_t pl_len;

		ck_assert_int_eq(
			lpa_jws_verify(PQgetvalue(res, i, 0), inst_rec_key, NULL, &pl, &pl_len),
			LPA_OK);
		free(pl);
	}
	PQclear(res);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM (SELECT dev_eui FROM attempts WHERE lot = '%s' AND"
		 " state = 'confirmed' GROUP BY dev_eui HAVING count(*) > 1) t",
		 lot);
	ck_assert_int_eq(inst_int(c, sql), 0);
	/* Every decision of both instances is in the one chain, which is intact. */
	ck_assert_int_eq(inst_int(c, "SELECT count(*) FROM audit_log"),
			 inst_int(c, "SELECT seq FROM audit_head"));
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "audit", "verify", "--dir", kt.kms, NULL),
			 0);
	PQfinish(c);
}

/* 16 stations, half starting on each instance, INST_DEVICES chips of lot. When kill_at,
 * B is killed once that many chips are done. */
static void inst_run(const char *lot, unsigned kill_at, const char *what)
{
	pthread_t th[INST_STATIONS];
	struct kt_progress prog;
	struct kt_buf b;
	unsigned per = INST_DEVICES / INST_STATIONS, failovers = 0, reissues = 0;
	PGconn *c = inst_pg();
	const char *repeats_sql =
		"SELECT count(*) FROM audit_log WHERE line LIKE '%\"repeat\":true%'";
	long long repeats = inst_int(c, repeats_sql);
	double t0, t;

	kt_progress_init(&prog);
	for (unsigned s = 0; s < INST_STATIONS; s++) {
		struct kt_station *st = &inst_st[s];

		st->index = s + 1;
		st->lot = lot;
		st->ports = inst_ports;
		st->nports = 2;
		st->which = s % 2;
		st->pkg_key = inst_pkg_key;
		st->progress = &prog;
		st->collect_records = true;
		st->nchips = per;
		st->failures = st->failovers = st->reissues = 0;
		st->chips = calloc(per, sizeof(*st->chips));
		st->records = calloc(per, sizeof(*st->records));
		ck_assert(st->chips && st->records);
		for (unsigned i = 0; i < per; i++)
			kt_chip_new(&st->chips[i], false, 0);
		/* Connected (TLS done) to its first instance before the clock starts. */
		ck_assert_int_eq(kt_station_http(st, "GET", "/v1/keys", NULL, NULL, &b), 200);
	}
	t0 = lpa_mono_s();
	for (unsigned s = 0; s < INST_STATIONS; s++)
		ck_assert_int_eq(pthread_create(&th[s], NULL, kt_station_run, &inst_st[s]), 0);
	if (kill_at) {
		int status;

		ck_assert_msg(kt_progress_wait(&prog, kill_at, 120), "only %u chips done",
			      prog.done);
		ck_assert_int_eq(kill(inst_b_pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(inst_b_pid, &status, 0), inst_b_pid);
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		inst_b_pid = -1;
	}
	for (unsigned s = 0; s < INST_STATIONS; s++)
		pthread_join(th[s], NULL);
	t = lpa_mono_s() - t0;
	for (unsigned s = 0; s < INST_STATIONS; s++) {
		failovers += inst_st[s].failovers;
		reissues += inst_st[s].reissues;
	}
	repeats = inst_int(c, repeats_sql) - repeats;
	PQfinish(c);
	printf("%s: %u stations, %u devices on 2 instances in %.2f s (%.0f devices/s);"
	       " %u calls moved to the other instance, %u issues resent after a commit,"
	       " %lld confirms answered again from the stored record\n",
	       what, INST_STATIONS, per * INST_STATIONS, t, per * INST_STATIONS / t, failovers,
	       reissues, repeats);
	fflush(stdout);
	inst_check(lot, per);
	if (kill_at)
		ck_assert_uint_gt(failovers, 0); /* the kill did cut calls off */
	for (unsigned s = 0; s < INST_STATIONS; s++) {
		struct kt_station *st = &inst_st[s];

		for (unsigned i = 0; i < st->nchips; i++)
			kt_chip_free(&st->chips[i]);
		free(st->chips);
		st->chips = NULL;
		kt_station_free(st);
	}
}

START_TEST(two_instances)
{
	inst_run("LINES-AB", 0, "two instances");
}
END_TEST

START_TEST(instance_killed)
{
	ck_assert_int_gt(inst_b_pid, 0);
	inst_run("LINES-KILL", INST_DEVICES / 2, "instance B killed");
}
END_TEST

/* ------------------------------------------------------------- resending */
/* One call of station st3 to instance which (0: A, 1: B); the reply's JSON in *o. */
static long inst_call(unsigned which, const char *path, const char *body, json_t **o)
{
	struct kt_station st;
	struct kt_buf b;
	long status;

	memset(&st, 0, sizeof(st));
	st.index = 3;
	st.ports = inst_ports;
	st.nports = 2;
	st.which = which;
	status = kt_station_http(&st, "POST", path, inst_st[2].token, body, &b);
	*o = json_loads(b.data, 0, NULL);
	kt_station_free(&st);
	return status;
}

static void inst_package(json_t *o, uint8_t pkg[LPA_LPK1_LEN])
{
	const char *p = json_string_value(json_object_get(o, "package"));
	size_t n;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(lpa_b64url_decode(p, strlen(p), pkg, LPA_LPK1_LEN, &n), LPA_OK);
	ck_assert_uint_eq(n, LPA_LPK1_LEN);
}

/* What a station does when a reply is lost, against the other instance: the same answers. */
START_TEST(resend_elsewhere)
{
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN];
	char body[4096], path[96], b64[1024];
	json_t *o, *again;
	uint64_t eui;

	ck_assert_int_gt(inst_b_pid, 0);
	kt_chip_new(&chip, false, 0);
	kt_issue_body(&chip, "RESEND", "1.1", KT_SILICON_ID, body, sizeof(body));
	/* An issue answered by A, sent again to B: the same DevEUI, the next counter, and
	 * the first package can no longer be confirmed. */
	ck_assert_int_eq(inst_call(0, "/v1/devices/issue", body, &o), 201);
	eui = kt_hex64(json_string_value(json_object_get(o, "dev_eui")));
	ck_assert_int_eq(json_integer_value(json_object_get(o, "counter")), 1);
	json_decref(o);
	ck_assert_int_eq(inst_call(1, "/v1/devices/issue", body, &o), 201);
	ck_assert_uint_eq(kt_hex64(json_string_value(json_object_get(o, "dev_eui"))), eui);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "counter")), 2);
	inst_package(o, pkg);
	json_decref(o);
	kt_chip_install(&chip, pkg, rc);
	/* A confirm answered by B, sent again to A: the stored record, byte for byte. */
	kt_b64(rc, sizeof(rc), b64);
	snprintf(body, sizeof(body),
		 "{\"counter\":2,\"receipt\":\"%s\",\"probe\":{\"serial\":\"KP3-R\",\"firmware\":"
		 "\"2.5.0\"}}",
		 b64);
	snprintf(path, sizeof(path), "/v1/devices/%016llx/confirm", (unsigned long long)eui);
	ck_assert_int_eq(inst_call(1, path, body, &o), 200);
	ck_assert_int_eq(inst_call(0, path, body, &again), 200);
	ck_assert_str_eq(json_string_value(json_object_get(again, "record")),
			 json_string_value(json_object_get(o, "record")));
	json_decref(o);
	json_decref(again);
	kt_chip_free(&chip);
}
END_TEST

/* ---------------------------------------------------------------- deadlock */
struct inst_issue {
	struct kt_chip chip;
	char token[64];
	struct kt_resp r;
};

static void *inst_issue_run(void *arg)
{
	struct inst_issue *is = arg;
	char body[4096];

	kt_issue_body(&is->chip, "DEADLOCK", "1.1", KT_SILICON_ID, body, sizeof(body));
	kt_http("st1", "POST", "/v1/devices/issue", is->token, NULL, body, strlen(body), &is->r);
	return NULL;
}

START_TEST(deadlock_retried)
{
	struct inst_issue is;
	PGconn *t = inst_pg(), *w = inst_pg();
	long long before = inst_int(w, "SELECT count(*) FROM devices");
	bool waiting = false;
	pthread_t th;
	PGresult *res;
	char cmd[1200];

	memset(&is, 0, sizeof(is));
	memcpy(is.token, inst_st[0].token, sizeof(is.token));
	kt_chip_new(&is.chip, false, 0);
	/* Another client of the database holds the DevEUI counter's row ... */
	inst_exec(t, "SET deadlock_timeout = '60s'"); /* the KMS's backend finds the cycle */
	inst_exec(t, "BEGIN");
	inst_exec(t, "SELECT value FROM meta WHERE key = 'dev_eui_next' FOR UPDATE");
	/* ... when an issue, holding the writers' lock, comes to move it and waits. */
	ck_assert_int_eq(pthread_create(&th, NULL, inst_issue_run, &is), 0);
	for (int i = 0; i < 1000 && !waiting; i++) {
		waiting = inst_int(w, "SELECT count(*) FROM pg_locks WHERE NOT granted") > 0;
		if (!waiting)
			usleep(10 * 1000);
	}
	ck_assert_msg(waiting, "the issue never waited for the row");
	/* Now that client wants the writers' lock: a cycle. PostgreSQL breaks it by failing
	 * the KMS's transaction (40P01), which lets go and runs again after this one. */
	ck_assert_int_eq(PQsendQuery(t, "SELECT pg_advisory_xact_lock(" INST_WRITER_LOCK ")"), 1);
	ck_assert_ptr_nonnull(res = PQgetResult(t));
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
	PQclear(res);
	while ((res = PQgetResult(t)) != NULL)
		PQclear(res);
	inst_exec(t, "ROLLBACK");
	pthread_join(th, NULL);
	ck_assert_msg(is.r.status == 201, "issue: HTTP %ld %s", is.r.status, is.r.body);
	ck_assert_uint_eq(kt_hex64(json_string_value(json_object_get(is.r.json, "dev_eui"))),
			  INST_BASE + (uint64_t)before);
	kt_resp_free(&is.r);
	/* One device more, one allocation more: the failed try left nothing behind. */
	ck_assert_int_eq(inst_int(w, "SELECT count(*) FROM devices"), before + 1);
	ck_assert_int_eq(inst_int(w, "SELECT value::bigint FROM meta WHERE key = 'dev_eui_next'"),
			 before + 1);
	snprintf(cmd, sizeof(cmd),
		 "grep -q 'deadlock (40P01)' '%s/serve.log' && grep -q 'transaction retried'"
		 " '%s/serve.log'",
		 kt.dir, kt.dir);
	ck_assert_int_eq(system(cmd), 0);
	kt_chip_free(&is.chip);
	PQfinish(t);
	PQfinish(w);
}
END_TEST

/* ------------------------------------------------------------------ a 500 */
#define UNDO_CALLS 8

static void *inst_issue_lot(void *arg)
{
	struct inst_issue *is = arg;
	char body[4096];

	kt_issue_body(&is->chip, is->chip.lorawan ? "POISON" : "UNDO", "1.1", KT_SILICON_ID, body,
		      sizeof(body));
	kt_http("st2", "POST", "/v1/devices/issue", is->token, NULL, body, strlen(body), &is->r);
	return NULL;
}

START_TEST(undo_500)
{
	struct inst_issue is[UNDO_CALLS];
	pthread_t th[UNDO_CALLS];
	PGconn *w = inst_pg();
	long long before = inst_int(w, "SELECT count(*) FROM devices");
	char out[4096];

	/* Every attempt of lot POISON fails in its second phase (a constraint the KMS does
	 * not expect): that call answers 500 and leaves nothing, while the calls committed
	 * in the same transaction go on. */
	inst_exec(w,
		  "ALTER TABLE attempts ADD CONSTRAINT poison CHECK (lot <> 'POISON') NOT VALID");
	for (unsigned i = 0; i < UNDO_CALLS; i++) {
		memset(&is[i], 0, sizeof(is[i]));
		memcpy(is[i].token, inst_st[1].token, sizeof(is[i].token));
		kt_chip_new(&is[i].chip, false, 0);
		is[i].chip.lorawan = i % 4 == 0; /* marks the poisoned ones */
	}
	for (unsigned i = 0; i < UNDO_CALLS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, inst_issue_lot, &is[i]), 0);
	for (unsigned i = 0; i < UNDO_CALLS; i++)
		pthread_join(th[i], NULL);
	inst_exec(w, "ALTER TABLE attempts DROP CONSTRAINT poison");
	for (unsigned i = 0; i < UNDO_CALLS; i++) {
		ck_assert_int_eq(is[i].r.status, is[i].chip.lorawan ? 500 : 201);
		kt_resp_free(&is[i].r);
		kt_chip_free(&is[i].chip);
	}
	/* The poisoned calls allocated nothing, and their 500s are in the intact chain. */
	ck_assert_int_eq(inst_int(w, "SELECT count(*) FROM devices"), before + UNDO_CALLS * 3 / 4);
	ck_assert_int_eq(inst_int(w, "SELECT value::bigint FROM meta WHERE key = 'dev_eui_next'"),
			 before + UNDO_CALLS * 3 / 4);
	ck_assert_int_eq(inst_int(w, "SELECT count(*) FROM audit_log WHERE line LIKE"
				     " '%\"action\":\"issue\",\"status\":500%'"),
			 UNDO_CALLS / 4);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "audit", "verify", "--dir", kt.kms, NULL),
			 0);
	PQfinish(w);
}
END_TEST

int main(void)
{
	/* One TCase, in one process: the tests share the instances, and B's pid. */
	const struct kt_case cases[] = {
		{"instances", two_instances},   {"instances", resend_elsewhere},
		{"instances", instance_killed}, {"instances", deadlock_retried},
		{"instances", undo_500},
	};
	int failed;

	kt.stations = INST_STATIONS;
	failed = kt_check("kms-instances", cases, sizeof(cases) / sizeof(cases[0]), inst_start, 240,
			  true);
	if (inst_b_pid > 0) {
		int status;

		kill(inst_b_pid, SIGTERM);
		waitpid(inst_b_pid, &status, 0);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	lpa_pkey_free(&inst_pkg_key);
	lpa_pkey_free(&inst_rec_key);
	failed += kt_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
