/*
 * test-kms-attacks.c — the attacks a red-team pass found against the reference KMS, each
 * performed again against a real lpa-kms over HTTPS: an operator out of scope or at
 * another station acting on an attempt or a challenge, challenges piling up, lockouts
 * that lock out the wrong people or tell names apart, a chip's unsigned claims about its
 * counter and silicon ID, a decision made while the audit log cannot be written, client
 * certificates not meant for client authentication. One TCase per attack; each asserts
 * the attack now fails.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kms-db.h"
#include "kms-keys.h"
#include "kms-pki.h"
#include "kmstest.h"

#define LOT_A "LOT-A"
#define LOT_B "LOT-B"

/* ---------------------------------------------------------------- helpers */
static void session(struct kt_op *op, const char *prefix, const char *roles, const char *lots,
		    const char *station, char token[64])
{
	kt_operator(op, prefix, roles, NULL, "--lots", lots);
	kt_login_ok(op, station, token);
}

/* A chip issued in lot, installed (receipt in rc), not confirmed. */
static uint32_t issued(const char *station, const char *token, struct kt_chip *chip,
		       const char *lot, uint8_t rc[LPA_LPR1_LEN])
{
	struct kt_resp r;
	uint8_t pkg[LPA_LPK1_LEN];
	uint32_t counter;

	kt_chip_new(chip, false, 0);
	ck_assert_int_eq(kt_issue(station, token, chip, lot, "1.1", &counter, pkg, &r), 201);
	kt_resp_free(&r);
	kt_chip_install(chip, pkg, rc);
	return counter;
}

static long abandon(const char *station, const char *token, uint64_t dev_eui, uint32_t counter,
		    struct kt_resp *r)
{
	char path[96], body[96];

	snprintf(path, sizeof(path), "/v1/devices/%016llx/abandon", (unsigned long long)dev_eui);
	snprintf(body, sizeof(body), "{\"counter\":%u,\"reason\":\"attack\"}", counter);
	kt_http(station, "POST", path, token, NULL, body, strlen(body), r);
	return r->status;
}

/* The KMS database, opened beside the running server (SQLite in WAL mode or PostgreSQL:
 * both may). */
static struct db *kms_db(void)
{
	struct kms_paths paths;
	struct db *db = NULL;

	ck_assert_int_eq(kms_paths_init(&paths, kt.kms, NULL), KMS_OK);
	ck_assert_int_eq(db_open(&paths, false, &db), KMS_OK);
	return db;
}

/* The first column of the first row of sql with one parameter ('i' int64_t or 'b' blob). */
static int64_t db_int(const char *sql, const char *fmt, ...)
{
	struct db *db = kms_db();
	struct db_stmt *st = NULL;
	int64_t v = -1;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (fmt[0] == 'b') {
		const void *p = va_arg(ap, const void *);
		size_t n = va_arg(ap, size_t);

		rc = db_query(db, &st, sql, "b", p, n);
	} else {
		rc = db_query(db, &st, sql, "i", va_arg(ap, int64_t));
	}
	va_end(ap);
	if (rc == KMS_OK)
		v = db_col_int64(st, 0);
	db_done(&st);
	db_close(&db);
	return v;
}

static int64_t station_id(const char *name)
{
	struct db *db = kms_db();
	struct db_stmt *st = NULL;
	int64_t id = -1;

	if (db_query(db, &st, "SELECT id FROM stations WHERE name = ?", "t", name) == KMS_OK)
		id = db_col_int64(st, 0);
	db_done(&st);
	db_close(&db);
	return id;
}

/* The LPI1 rebuilt with what a lying chip (or agent) says about itself. */
static void chip_claims(struct kt_chip *c, uint32_t last_counter, uint32_t silicon_id)
{
	struct lpa_lpi1 id;

	ck_assert_int_eq(lpa_lpi1_parse(c->lpi1, c->lpi1_len, &id), LPA_OK);
	id.last_counter = last_counter;
	id.silicon_id = silicon_id;
	ck_assert_int_eq(lpa_lpi1_build(&id, c->lpi1, sizeof(c->lpi1), &c->lpi1_len), LPA_OK);
}

static int64_t allocated(void)
{
	char out[8192], *p;

	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "list", "--dir", kt.kms, NULL),
			 0);
	p = strstr(out, " allocated");
	ck_assert_ptr_nonnull(p);
	while (p > out && p[-1] != ' ')
		p--;
	return strtoll(p, NULL, 10);
}

/* ------------------------------------------------- attempts: scope, station */
START_TEST(attempt_out_of_scope)
{
	struct kt_op a, b;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t rc[LPA_LPR1_LEN];
	char ta[64], tb[64];
	uint32_t counter;

	session(&a, "lotA", "operator", LOT_A, "st1", ta);
	session(&b, "lotB", "operator", LOT_B, "st1", tb);
	counter = issued("st1", ta, &chip, LOT_A, rc);
	/* The attack: the lot-B operator, at the same station, ends or confirms the lot-A
	 * operator's attempt. */
	ck_assert_int_eq(abandon("st1", tb, chip.dev_eui, counter, &r), 403);
	ck_assert_str_eq(kt_error(&r), "out_of_scope");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_confirm("st1", tb, chip.dev_eui, counter, rc, &r), 403);
	ck_assert_str_eq(kt_error(&r), "out_of_scope");
	kt_resp_free(&r);
	/* The attempt is untouched: its own operator confirms it. */
	ck_assert_int_eq(kt_confirm("st1", ta, chip.dev_eui, counter, rc, &r), 200);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(attempt_other_station)
{
	struct kt_op a, c;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t rc[LPA_LPR1_LEN];
	char ta[64], tc[64];
	uint32_t counter;

	session(&a, "st1op", "operator", "*", "st1", ta);
	session(&c, "st2op", "operator", "*", "st2", tc);
	counter = issued("st1", ta, &chip, LOT_A, rc);
	ck_assert_int_eq(abandon("st2", tc, chip.dev_eui, counter, &r), 403);
	ck_assert_str_eq(kt_error(&r), "other_station");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_confirm("st2", tc, chip.dev_eui, counter, rc, &r), 403);
	ck_assert_str_eq(kt_error(&r), "other_station");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_confirm("st1", ta, chip.dev_eui, counter, rc, &r), 200);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

/* --------------------------------------------------------------- challenges */
/* A provisioned chip and a QA session at st1. */
static void provisioned(struct kt_chip *chip, char token[64])
{
	struct kt_op op;
	struct kt_resp r;
	uint8_t rc[LPA_LPR1_LEN];
	uint32_t counter;

	session(&op, "qa", "operator,qa", "*", "st1", token);
	counter = issued("st1", token, chip, LOT_A, rc);
	ck_assert_int_eq(kt_confirm("st1", token, chip->dev_eui, counter, rc, &r), 200);
	kt_resp_free(&r);
}

START_TEST(challenge_other_station)
{
	struct kt_op other, scoped;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t nonce[16], n2[16];
	char token[64], t2[64], t3[64];

	provisioned(&chip, token);
	session(&other, "qa2", "qa", "*", "st2", t2);
	ck_assert_int_eq(kt_challenge("st1", token, chip.dev_eui, nonce), 201);
	/* Another station answers (or uses up) st1's challenge: refused, not consumed. */
	ck_assert_int_eq(kt_verify("st2", t2, &chip, chip.keys, nonce, &r), 403);
	ck_assert_str_eq(kt_error(&r), "other_station");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_verify("st1", token, &chip, chip.keys, nonce, &r), 200);
	kt_resp_free(&r);
	/* QA out of the device's lot neither challenges it nor reads its lot. */
	session(&scoped, "qaB", "qa", LOT_B, "st1", t3);
	ck_assert_int_eq(kt_challenge("st1", t3, chip.dev_eui, n2), 403);
	kt_http("st1", "GET", "/v1/lots/" LOT_A "/records", t3, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_str_eq(kt_error(&r), "out_of_scope");
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(challenges_bounded)
{
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t first[16], nonce[16], stale[16];
	char token[64];
	int64_t st1 = station_id("st1");

	provisioned(&chip, token);
	ck_assert_int_gt(st1, 0);
	/* The attack: open challenges until the table fills (they were never removed). The
	 * server runs with --challenges-max 8: the oldest give way. */
	ck_assert_int_eq(kt_challenge("st1", token, chip.dev_eui, first), 201);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(kt_challenge("st1", token, chip.dev_eui, nonce), 201);
	ck_assert_int_le(db_int("SELECT count(*) FROM challenges WHERE station_id = ?", "i", st1),
			 8);
	ck_assert_int_eq(kt_verify("st1", token, &chip, chip.keys, first, &r), 409);
	ck_assert_str_eq(kt_error(&r), "no_challenge");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_verify("st1", token, &chip, chip.keys, nonce, &r), 200);
	kt_resp_free(&r);
	/* Expired ones are removed one lifetime (--challenge-ttl 4) after they expire. */
	ck_assert_int_eq(kt_challenge("st1", token, chip.dev_eui, stale), 201);
	sleep(9);
	ck_assert_int_eq(kt_challenge("st1", token, chip.dev_eui, nonce), 201);
	ck_assert_int_eq(db_int("SELECT count(*) FROM challenges WHERE nonce = ?", "b", stale,
				sizeof(stale)),
			 0);
	ck_assert_int_eq(db_int("SELECT count(*) FROM challenges WHERE expires_at < ?", "i",
				(int64_t)time(NULL) - 4),
			 0);
	kt_chip_free(&chip);
}
END_TEST

/* ------------------------------------------------------------------ lockout */
START_TEST(lockout_per_station)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN];
	uint32_t counter;
	char token[64], t2[64];

	/* The operator is at work at st1 with a session. */
	session(&op, "victim", "operator", "*", "st1", token);
	/* The attack: someone at st3 who knows the name fails five (here three) times. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(kt_login(&op, "st3", "guessed wrong", 0, NULL, &r), 401);
		kt_resp_free(&r);
	}
	ck_assert_int_eq(kt_login(&op, "st3", "guessed wrong", 0, NULL, &r), 423);
	kt_resp_free(&r);
	/* The session at st1 goes on working... */
	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT_A, "1.1", &counter, pkg, &r), 201);
	kt_resp_free(&r);
	/* ...and the operator still logs in at another station (the next TOTP step). */
	ck_assert_int_eq(kt_login(&op, "st2", NULL, 1, t2, &r), 201);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(lockout_backoff)
{
	struct kt_op op;
	struct kt_resp r;
	const char *msg;
	char out[256];
	int wait;

	kt_operator(&op, "backoff", "operator", NULL, NULL, NULL);
	kt_totp_settle();
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(kt_login(&op, "st1", "wrong password!", 0, NULL, &r), 401);
		kt_resp_free(&r);
	}
	/* Locked (--lockout 2) even with the right credentials... */
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 0, NULL, &r), 423);
	ck_assert_str_eq(kt_error(&r), "account_locked");
	kt_resp_free(&r);
	/* ...for a while only: then one more failure locks for twice as long. */
	sleep(3);
	ck_assert_int_eq(kt_login(&op, "st1", "wrong password!", 0, NULL, &r), 401);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 0, NULL, &r), 423);
	msg = json_string_value(json_object_get(r.json, "message"));
	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(strstr(msg, "retry in "));
	wait = atoi(strstr(msg, "retry in ") + 9);
	ck_assert_int_ge(wait, 3);
	ck_assert_int_le(wait, 4);
	kt_resp_free(&r);
	ck_assert_int_eq(
		kt_run(-1, -1, out, sizeof(out), "admin", "unlock", op.name, "--dir", kt.kms, NULL),
		0);
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 0, NULL, &r), 201);
	kt_resp_free(&r);
}
END_TEST

START_TEST(unknown_like_known)
{
	struct kt_op known, ghost;
	struct kt_resp rk, rg;

	kt_operator(&known, "known", "operator", NULL, NULL, NULL);
	ghost = known;
	ghost.name[0] = 'g'; /* "known-..." -> "gnown-...": no such operator */
	/* The attack: fail as often with a real and a made-up name, compare the answers. */
	for (int i = 0; i < 5; i++) {
		kt_login(&known, "st2", "wrong password!", 0, NULL, &rk);
		kt_login(&ghost, "st2", "wrong password!", 0, NULL, &rg);
		ck_assert_int_eq(rk.status, rg.status);
		ck_assert_str_eq(kt_error(&rk), kt_error(&rg));
		if (i >= 3)
			ck_assert_int_eq(rk.status, 423);
		kt_resp_free(&rk);
		kt_resp_free(&rg);
	}
}
END_TEST

/* -------------------------------------------------------- the chip's claims */
START_TEST(chip_counter_claim)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN];
	uint32_t counter;
	char token[64], uid[17], out[1024];
	int64_t before;

	session(&op, "claims", "operator", "*", "st1", token);
	kt_chip_new(&chip, false, 0);
	/* The attack: a chip that says it already took package 0xFFFFFFFE got counter
	 * 0xFFFFFFFF and could never be provisioned again. */
	chip_claims(&chip, 0xFFFFFFFEu, KT_SILICON_ID);
	before = allocated();
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT_A, "1.1", &counter, pkg, &r), 409);
	ck_assert_str_eq(kt_error(&r), "identity_conflict");
	kt_resp_free(&r);
	ck_assert_int_eq(allocated(), before); /* no DevEUI spent on it */
	/* Telling the truth, it gets the KMS's counter 1, and after provisioning, with an
	 * admin's authorisation, counter 2. */
	chip_claims(&chip, 0, KT_SILICON_ID);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT_A, "1.1", &counter, pkg, &r), 201);
	kt_resp_free(&r);
	ck_assert_uint_eq(counter, 1);
	kt_chip_install(&chip, pkg, rc);
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, counter, rc, &r), 200);
	kt_resp_free(&r);
	snprintf(uid, sizeof(uid), "%016llx", (unsigned long long)chip.uid);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "allow-reprovision", uid,
				"--dir", kt.kms, NULL),
			 0);
	/* A known chip claiming more than the KMS issued it is refused too. */
	chip_claims(&chip, 7, KT_SILICON_ID);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT_A, "1.1", &counter, pkg, &r), 409);
	kt_resp_free(&r);
	chip_claims(&chip, 1, KT_SILICON_ID);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT_A, "1.1", &counter, pkg, &r), 201);
	ck_assert_uint_eq(counter, 2);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(chip_silicon_claim)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN], *pl = NULL;
	uint32_t counter;
	char token[64], body[2600];
	size_t pl_len;
	EVP_PKEY *rec;
	json_t *payload;

	session(&op, "silicon", "operator", "*", "st1", token);
	kt_chip_new(&chip, false, 0);
	/* The attack: the chip's agent reports another part's silicon ID, which ended up in
	 * the KMS-signed record. The station's exam read the real one over SWD. */
	chip_claims(&chip, 0, 0xe4532300u);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT_A, "1.1", &counter, pkg, &r), 422);
	ck_assert_str_eq(kt_error(&r), "identity_mismatch");
	kt_resp_free(&r);
	/* Without the exam's reading the request is not taken at all. */
	kt_issue_body(&chip, LOT_A, "1.1", KT_SILICON_ID, body, sizeof(body));
	*strstr(body, "\"silicon_id\"") = '\0';
	strcat(body, "\"x\":0}");
	kt_http("st1", "POST", "/v1/devices/issue", token, NULL, body, strlen(body), &r);
	ck_assert_int_eq(r.status, 400);
	kt_resp_free(&r);
	/* The record carries the silicon ID the exam read. */
	chip_claims(&chip, 0, KT_SILICON_ID);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT_A, "1.1", &counter, pkg, &r), 201);
	kt_resp_free(&r);
	kt_chip_install(&chip, pkg, rc);
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, counter, rc, &r), 200);
	rec = kt_kms_key("record");
	ck_assert_int_eq(lpa_jws_verify(json_string_value(json_object_get(r.json, "record")), rec,
					NULL, &pl, &pl_len),
			 LPA_OK);
	payload = json_loadb((const char *)pl, pl_len, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(payload, "silicon_id")), "e2072100");
	json_decref(payload);
	free(pl);
	lpa_pkey_free(&rec);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

/* -------------------------------------------------------------------- audit */
START_TEST(audit_unwritable)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN];
	uint32_t counter;
	char token[64], log[700], saved[700], out[1024];
	struct db *db = NULL;
	int64_t before;

	session(&op, "audit", "operator", "*", "st1", token);
	kt_chip_new(&chip, false, 0);
	before = allocated();
	/* The attack: the audit log cannot be written, and an issue used to be committed
	 * anyway, without its line. Here the log is a directory (SQLite), or its table
	 * refuses every new row (PostgreSQL). */
	snprintf(log, sizeof(log), "%s/audit.log", kt.kms);
	snprintf(saved, sizeof(saved), "%s/audit.log.saved", kt.kms);
	if (kt.pg) {
		db = kms_db();
		ck_assert_int_eq(db_exec(db, "ALTER TABLE audit_log ADD CONSTRAINT attack"
					     " CHECK (seq < 0) NOT VALID"),
				 KMS_OK);
	} else {
		ck_assert_int_eq(rename(log, saved), 0);
		ck_assert_int_eq(mkdir(log, 0700), 0);
	}
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT_A, "1.1", &counter, pkg, &r), 500);
	ck_assert_str_eq(kt_error(&r), "internal");
	kt_resp_free(&r);
	if (kt.pg) {
		ck_assert_int_eq(db_exec(db, "ALTER TABLE audit_log DROP CONSTRAINT attack"),
				 KMS_OK);
		db_close(&db);
	} else {
		ck_assert_int_eq(rmdir(log), 0);
		ck_assert_int_eq(rename(saved, log), 0);
	}
	/* Nothing of it stayed: no DevEUI allocated, no attempt; the chip's first issue is
	 * counter 1; the chain is intact. */
	ck_assert_int_eq(allocated(), before);
	ck_assert_int_eq(
		db_int("SELECT count(*) FROM devices WHERE chip_uid = ?", "i", (int64_t)chip.uid),
		0);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT_A, "1.1", &counter, pkg, &r), 201);
	ck_assert_uint_eq(counter, 1);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "audit", "verify", "--dir", kt.kms, NULL),
			 0);
	kt_chip_free(&chip);
}
END_TEST

/* ------------------------------------------------------------- clientAuth */
/* A certificate from the station CA itself (its key read with the master key, as an
 * insider who mis-issues would), registered as station name: with the clientAuth
 * purpose (client), serverAuth only (server), or no extended key usage at all (bare). */
enum forge_kind { FORGE_CLIENT, FORGE_SERVER, FORGE_BARE };

static void forge_station(const char *name, enum forge_kind kind)
{
	struct db *db = kms_db();
	struct vault *master = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *cert = NULL;
	uint8_t *ca_der = NULL, *der = NULL, fp[32];
	size_t ca_len, der_len;
	char path[700], *pem = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/master.key", kt.kms);
	ck_assert_int_eq(vault_load_file(path, &master), KMS_OK);
	ck_assert_int_eq(keys_load(db, master, KEY_STATION_CA, &ca_key, NULL, &ca_der, &ca_len),
			 KMS_OK);
	ck_assert_int_eq(pki_cert_from_der(ca_der, ca_len, &ca), KMS_OK);
	ck_assert_int_eq(lpa_p256_generate(&key), LPA_OK);
	if (kind == FORGE_BARE) {
		X509_NAME *n;

		cert = X509_new();
		ck_assert(X509_set_version(cert, 2));
		ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(cert), 77));
		ck_assert(X509_gmtime_adj(X509_getm_notBefore(cert), -3600));
		ck_assert(X509_gmtime_adj(X509_getm_notAfter(cert), 86400));
		ck_assert(X509_set_pubkey(cert, key));
		n = X509_get_subject_name(cert);
		ck_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
						     (const unsigned char *)name, -1, -1, 0));
		ck_assert(X509_set_issuer_name(cert, X509_get_subject_name(ca)));
		ck_assert(X509_sign(cert, ca_key, EVP_sha256()));
	} else {
		ck_assert_int_eq(pki_issue(ca_key, ca, key, name, kind == FORGE_SERVER,
					   kind == FORGE_SERVER ? "DNS:localhost" : NULL, 4242,
					   &cert),
				 KMS_OK);
	}
	ck_assert_int_eq(pki_cert_der(cert, &der, &der_len), KMS_OK);
	lpa_sha256(der, der_len, fp);
	ck_assert_int_eq(db_run(db, NULL,
				"INSERT INTO stations(name, serial, fingerprint, created_at)"
				" VALUES(?, 4242, ?, 0)",
				"tb", name, fp, sizeof(fp)),
			 KMS_OK);
	snprintf(path, sizeof(path), "%s/%s.pem", kt.certs, name);
	ck_assert_int_eq(pki_cert_pem(cert, &pem), KMS_OK);
	ck_assert_int_eq(pki_write_file(path, pem, strlen(pem), 0600), KMS_OK);
	free(pem);
	snprintf(path, sizeof(path), "%s/%s.key", kt.certs, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	free(der);
	free(ca_der);
	X509_free(cert);
	X509_free(ca);
	lpa_pkey_free(&key);
	lpa_pkey_free(&ca_key);
	vault_free(&master);
	db_close(&db);
}

START_TEST(client_auth_required)
{
	struct kt_resp r;

	forge_station("forged-client", FORGE_CLIENT);
	forge_station("forged-server", FORGE_SERVER);
	forge_station("forged-bare", FORGE_BARE);
	/* The harness forges what the KMS accepts... */
	kt_http("forged-client", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	/* ...but not a certificate that is not for client authentication. */
	kt_http("forged-server", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_msg(r.status == -1 ||
			      (r.status == 403 && !strcmp(kt_error(&r), "station_unknown")),
		      "serverAuth certificate: HTTP %ld %s", r.status, r.body);
	kt_resp_free(&r);
	kt_http("forged-bare", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_msg(r.status == -1 ||
			      (r.status == 403 && !strcmp(kt_error(&r), "station_unknown")),
		      "certificate without EKU: HTTP %ld %s", r.status, r.body);
	kt_resp_free(&r);
}
END_TEST

/* ------------------------------------------------------ connection exhaustion */
/* A TCP connection to the KMS from source address src (127.0.0.N), sending nothing. */
static int idle_socket(const char *src)
{
	struct sockaddr_in a = {.sin_family = AF_INET}, b = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, src, &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
	b.sin_port = htons((uint16_t)kt.port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	return fd;
}

/* Whether the server has closed fd (EOF or reset), waiting at most seconds. */
static bool closed_within(int fd, double seconds)
{
	double end = lpa_mono_s() + seconds;
	char buf[256];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)((end - lpa_mono_s()) * 1000);

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return false;
		ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

/* An honest station, five times, while the sockets are open: every call answered. */
static void honest_station_served(void)
{
	for (int i = 0; i < 5; i++) {
		struct kt_resp r;
		double t0 = lpa_mono_s();

		kt_http("st1", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
		ck_assert_msg(r.status == 200, "honest call %d: %ld %s", i, r.status, r.body);
		ck_assert_msg(lpa_mono_s() - t0 < 5, "honest call %d took %.1f s", i,
			      lpa_mono_s() - t0);
		kt_resp_free(&r);
	}
}

START_TEST(idle_sockets_same_address)
{
	int fds[200];

	/* The attack: idle sockets from the station's own address (a NAT, a shared host)
	 * used to lock it out at 32. */
	for (int i = 0; i < 200; i++)
		fds[i] = idle_socket("127.0.0.1");
	honest_station_served();
	/* ...and none of them is kept past the handshake timeout (--handshake-timeout 2). */
	for (int i = 0; i < 200; i++) {
		ck_assert_msg(closed_within(fds[i], 6), "idle socket %d still open", i);
		close(fds[i]);
	}
}
END_TEST

START_TEST(idle_sockets_other_addresses)
{
	int fds[128];

	/* The attack: 64 idle sockets from each of two other addresses filled the server's
	 * connection table. */
	for (int i = 0; i < 128; i++)
		fds[i] = idle_socket(i % 2 ? "127.0.0.2" : "127.0.0.3");
	honest_station_served();
	for (int i = 0; i < 128; i++)
		close(fds[i]);
}
END_TEST

START_TEST(slow_station_client)
{
	char cert[700], key[700], ca[700];
	const char *req = "GET /v1/keys HTTP/1.1\r\nHost: kms\r\nX-Slow: ";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	double t0;
	int fd, sent = 0;
	bool closed = false;

	/* The attack: a station (a valid certificate) sends its request a byte at a time
	 * and holds a connection for as long as it likes. */
	snprintf(cert, sizeof(cert), "%s/st2.pem", kt.certs);
	snprintf(key, sizeof(key), "%s/st2.key", kt.certs);
	snprintf(ca, sizeof(ca), "%s/kms-ca.pem", kt.certs);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
	fd = idle_socket("127.0.0.4");
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	ck_assert_int_eq(SSL_connect(ssl), 1);
	ck_assert_int_eq(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
	t0 = lpa_mono_s();
	/* One byte every 300 ms: each one used to reset the idle timeout. */
	while (lpa_mono_s() - t0 < 15 && !closed) {
		closed = SSL_write(ssl, "a", 1) != 1 || closed_within(fd, 0.3);
		sent++;
	}
	ck_assert_msg(closed, "a trickling client kept its connection for 15 s");
	/* --request-timeout 2 */
	ck_assert_msg(lpa_mono_s() - t0 < 6, "closed only after %.1f s", lpa_mono_s() - t0);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
}
END_TEST

int main(void)
{
	const struct kt_case cases[] = {
		{"attempt_out_of_scope", attempt_out_of_scope},
		{"attempt_other_station", attempt_other_station},
		{"challenge_other_station", challenge_other_station},
		{"challenges_bounded", challenges_bounded},
		{"lockout_per_station", lockout_per_station},
		{"lockout_backoff", lockout_backoff},
		{"unknown_like_known", unknown_like_known},
		{"chip_counter_claim", chip_counter_claim},
		{"chip_silicon_claim", chip_silicon_claim},
		{"audit_unwritable", audit_unwritable},
		{"client_auth_required", client_auth_required},
		{"idle_sockets_same_address", idle_sockets_same_address},
		{"idle_sockets_other_addresses", idle_sockets_other_addresses},
		{"slow_station_client", slow_station_client},
	};

	kt.serve_args[0] = "--lockout";
	kt.serve_args[1] = "2";
	kt.serve_args[2] = "--challenges-max";
	kt.serve_args[3] = "8";
	kt.serve_args[4] = "--handshake-timeout";
	kt.serve_args[5] = "2";
	kt.serve_args[6] = "--request-timeout";
	kt.serve_args[7] = "2";
	kt.serve_args[8] = "--max-unauthenticated";
	kt.serve_args[9] = "64";
	kt.serve_args[10] = "--max-unauthenticated-per-address";
	kt.serve_args[11] = "8";
	return kt_main("kms-attacks", cases, sizeof(cases) / sizeof(cases[0]), kt_start, 60, false);
}
