/*
 * test-kms.c — the reference KMS over real HTTPS with mutual TLS: authentication
 * (password, TOTP window and replay, lockout, rate limit, sessions bound to stations),
 * TLS-level refusals, the device life cycle with chips simulated by the core library,
 * signed records, QA proof of possession, the audit chain, robustness, and at-rest
 * secrecy of root keys. One TCase per behaviour.
 */
#include <check.h>
#include <ftw.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmstest.h"

#define LOT "LOT-A"

/* An operator (roles operator,qa) with a session from st1. */
static void logged_in(struct kt_op *op, char token[64])
{
	kt_operator(op, "op", "operator,qa", NULL, NULL, NULL);
	kt_login_ok(op, "st1", token);
}

/* A new chip issued a package of lot LOT from st1 (which must succeed): its counter. */
static uint32_t issued(const char *token, struct kt_chip *chip, const char *lorawan,
		       uint8_t pkg[LPA_LPK1_LEN])
{
	struct kt_resp r;
	uint32_t counter;

	kt_chip_new(chip, false, 0);
	ck_assert_int_eq(kt_issue("st1", token, chip, LOT, lorawan, &counter, pkg, &r), 201);
	kt_resp_free(&r);
	return counter;
}

/* ------------------------------------------------------------------ login */
START_TEST(login_ok)
{
	struct kt_op op;
	struct kt_resp r;
	char token[64];

	kt_operator(&op, "ok", "operator", NULL, NULL, NULL);
	kt_totp_settle();
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 0, token, &r), 201);
	ck_assert_uint_eq(strlen(token), 43); /* 32 bytes base64url */
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "station")), "st1");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r.json, "roles"), 0)),
			 "operator");
	ck_assert_int_gt(json_integer_value(json_object_get(r.json, "expires_at")), time(NULL));
	kt_resp_free(&r);
}
END_TEST

START_TEST(login_sha256)
{
	struct kt_op op;
	char token[64];

	kt_operator(&op, "sha256", "operator", "sha256", NULL, NULL);
	kt_login_ok(&op, "st1", token);
}
END_TEST

START_TEST(login_wrong_password)
{
	struct kt_op op;
	struct kt_resp r;

	kt_operator(&op, "wrongpw", "operator", NULL, NULL, NULL);
	kt_totp_settle();
	ck_assert_int_eq(kt_login(&op, "st1", "not the password", 0, NULL, &r), 401);
	ck_assert_str_eq(kt_error(&r), "login_failed");
	kt_resp_free(&r);
}
END_TEST

START_TEST(login_wrong_totp)
{
	struct kt_op op, other;
	struct kt_resp r;

	kt_operator(&op, "wrongtotp", "operator", NULL, NULL, NULL);
	kt_operator(&other, "other", "operator", NULL, NULL, NULL);
	/* A code of another operator's secret: well-formed, wrong. */
	memcpy(other.name, op.name, sizeof(op.name));
	kt_totp_settle();
	ck_assert_int_eq(kt_login(&other, "st1", NULL, 0, NULL, &r), 401);
	ck_assert_str_eq(kt_error(&r), "login_failed");
	kt_resp_free(&r);
}
END_TEST

START_TEST(login_unknown_operator)
{
	struct kt_op op;
	struct kt_resp r;

	kt_operator(&op, "ghost", "operator", NULL, NULL, NULL);
	strcat(op.name, "x");
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 0, NULL, &r), 401);
	ck_assert_str_eq(kt_error(&r), "login_failed");
	kt_resp_free(&r);
}
END_TEST

START_TEST(totp_replay)
{
	struct kt_op op;
	struct kt_resp r;
	char token[64];

	kt_operator(&op, "replay", "operator", NULL, NULL, NULL);
	kt_totp_settle();
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 0, token, &r), 201);
	kt_resp_free(&r);
	/* The same code (same step), again: refused, from any station. */
	ck_assert_int_eq(kt_login(&op, "st2", NULL, 0, NULL, &r), 401);
	kt_resp_free(&r);
	/* An older step after a newer one: refused too. */
	ck_assert_int_eq(kt_login(&op, "st1", NULL, -1, NULL, &r), 401);
	kt_resp_free(&r);
}
END_TEST

START_TEST(totp_window)
{
	struct kt_op op;
	struct kt_resp r;

	kt_operator(&op, "window", "operator", NULL, NULL, NULL);
	kt_totp_settle();
	ck_assert_int_eq(kt_login(&op, "st1", NULL, -2, NULL, &r), 401);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 2, NULL, &r), 401);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_login(&op, "st1", NULL, -1, NULL, &r), 201);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 1, NULL, &r), 201);
	kt_resp_free(&r);
}
END_TEST

START_TEST(lockout_and_unlock)
{
	struct kt_op op;
	struct kt_resp r;
	char out[1024];

	kt_operator(&op, "lock", "operator", NULL, NULL, NULL);
	kt_totp_settle();
	for (int i = 0; i < 3; i++) { /* the server runs with --max-failures 3 */
		ck_assert_int_eq(kt_login(&op, "st1", "wrong password!", 0, NULL, &r), 401);
		kt_resp_free(&r);
	}
	/* Now even the right credentials are refused. */
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 0, NULL, &r), 423);
	ck_assert_str_eq(kt_error(&r), "account_locked");
	kt_resp_free(&r);
	ck_assert_int_eq(
		kt_run(-1, -1, out, sizeof(out), "admin", "unlock", op.name, "--dir", kt.kms, NULL),
		0);
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 0, NULL, &r), 201);
	kt_resp_free(&r);
}
END_TEST

START_TEST(rate_limit_operator)
{
	struct kt_op op;
	struct kt_resp r;
	long last = 0;

	kt_operator(&op, "rate", "operator", NULL, NULL, NULL);
	/* --rate-operator 12: the 13th attempt within the minute is refused as such. */
	for (int i = 0; i < 13; i++) {
		kt_login(&op, "st1", "wrong password!", 0, NULL, &r);
		last = r.status;
		kt_resp_free(&r);
	}
	ck_assert_int_eq(last, 429);
}
END_TEST

/* --------------------------------------------------------------- sessions */
START_TEST(token_from_other_station)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN];
	uint32_t counter;
	char token[64];

	logged_in(&op, token);
	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(kt_issue("st2", token, &chip, LOT, "1.0.4", &counter, pkg, &r), 401);
	ck_assert_str_eq(kt_error(&r), "wrong_station");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.0.4", &counter, pkg, &r), 201);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(token_expired)
{
	struct kt_op op;
	struct kt_resp r;
	char code[9], body[512];
	const char *token;

	kt_operator(&op, "expiry", "operator,qa", NULL, NULL, NULL);
	kt_totp_settle();
	kt_totp(&op, 0, code);
	snprintf(body, sizeof(body),
		 "{\"operator\":\"%s\",\"password\":\"correct horse battery\",\"totp\":\"%s\","
		 "\"ttl\":1}",
		 op.name, code);
	kt_http("st1", "POST", "/v1/sessions", NULL, NULL, body, strlen(body), &r);
	ck_assert_int_eq(r.status, 201);
	token = json_string_value(json_object_get(r.json, "token"));
	ck_assert_ptr_nonnull(token);
	sleep(2);
	{
		struct kt_resp r2;

		kt_http("st1", "GET", "/v1/lots/" LOT "/records", token, NULL, NULL, 0, &r2);
		ck_assert_int_eq(r2.status, 401);
		ck_assert_str_eq(kt_error(&r2), "token_expired");
		kt_resp_free(&r2);
	}
	kt_resp_free(&r);
}
END_TEST

START_TEST(logout)
{
	struct kt_op op;
	struct kt_resp r;
	char token[64];

	logged_in(&op, token);
	kt_http("st1", "GET", "/v1/lots/" LOT "/records", token, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	kt_http("st1", "DELETE", "/v1/sessions/current", token, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 204);
	kt_resp_free(&r);
	kt_http("st1", "GET", "/v1/lots/" LOT "/records", token, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(kt_error(&r), "unauthenticated");
	kt_resp_free(&r);
}
END_TEST

START_TEST(no_token)
{
	struct kt_resp r;

	kt_http("st1", "POST", "/v1/devices/issue", NULL, NULL, "{}", 2, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(kt_error(&r), "unauthenticated");
	kt_resp_free(&r);
	kt_http("st1", "POST", "/v1/devices/issue", "bm90LWEtdG9rZW4", NULL, "{}", 2, &r);
	ck_assert_int_eq(r.status, 401);
	kt_resp_free(&r);
}
END_TEST

START_TEST(role_required)
{
	struct kt_op op;
	struct kt_resp r;
	char token[64];

	kt_operator(&op, "onlyop", "operator", NULL, NULL, NULL);
	kt_login_ok(&op, "st1", token);
	kt_http("st1", "GET", "/v1/lots/" LOT "/records", token, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_str_eq(kt_error(&r), "forbidden");
	kt_resp_free(&r);
}
END_TEST

START_TEST(reset_totp)
{
	struct kt_op op, old;
	struct kt_resp r;
	char token[64], b32[128] = {0}, out[1024];
	int p[2];
	ssize_t k;

	logged_in(&op, token);
	old = op;
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(kt_run(-1, p[1], out, sizeof(out), "admin", "reset-totp", op.name, "--dir",
				kt.kms, "--totp-alg", "sha256", "--totp-secret-fd", "4", NULL),
			 0);
	close(p[1]);
	k = read(p[0], b32, sizeof(b32) - 1);
	close(p[0]);
	ck_assert_int_gt(k, 16);
	/* The old factor's session ended with it. */
	kt_http("st1", "GET", "/v1/lots/" LOT "/records", token, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 401);
	kt_resp_free(&r);
	op.alg = LPA_TOTP_SHA256;
	op.secret_len = kt_base32_decode(b32, op.secret, sizeof(op.secret));
	ck_assert_uint_eq(op.secret_len, 32);
	kt_totp_settle();
	ck_assert_int_eq(kt_login(&old, "st1", NULL, 1, NULL, &r), 401);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 0, NULL, &r), 201);
	kt_resp_free(&r);
}
END_TEST

/* -------------------------------------------------------------------- TLS */
START_TEST(no_client_cert)
{
	struct kt_resp r;

	kt_http(NULL, "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, -1); /* the handshake itself fails */
	kt_resp_free(&r);
	kt_http("rogue", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, -1);
	kt_resp_free(&r);
	kt_http("st1", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
}
END_TEST

START_TEST(revoked_station)
{
	struct kt_resp r;
	char out[1024];

	kt_http("st3", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "revoke-station", "st3", "--dir",
				kt.kms, NULL),
			 0);
	kt_http("st3", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_str_eq(kt_error(&r), "station_revoked");
	kt_resp_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- devices */
START_TEST(untrusted_chip)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN];
	uint32_t counter;
	char token[64];

	logged_in(&op, token);
	kt_chip_new(&chip, true, 0);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.0.4", &counter, pkg, &r), 422);
	ck_assert_str_eq(kt_error(&r), "untrusted_chip");
	kt_resp_free(&r);
	kt_chip_free(&chip);
	/* Trusted CA, but the certificate names another UID. */
	kt_chip_new(&chip, false, 1);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.0.4", &counter, pkg, &r), 422);
	ck_assert_str_eq(kt_error(&r), "identity_mismatch");
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(out_of_scope)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN];
	uint32_t counter;
	char token[64];

	kt_operator(&op, "scoped", "operator", NULL, "--lots", "LOT-B");
	kt_login_ok(&op, "st1", token);
	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.0.4", &counter, pkg, &r), 403);
	ck_assert_str_eq(kt_error(&r), "out_of_scope");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_issue("st1", token, &chip, "LOT-B", "1.0.4", &counter, pkg, &r), 201);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(same_chip_twice)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip, other;
	uint8_t pkg[LPA_LPK1_LEN];
	uint32_t c1, c2, c3;
	uint64_t eui1;
	char token[64];

	logged_in(&op, token);
	kt_chip_new(&chip, false, 0);
	kt_chip_new(&other, false, 0);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.1", &c1, pkg, &r), 201);
	kt_resp_free(&r);
	eui1 = chip.dev_eui;
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.1", &c2, pkg, &r), 201);
	kt_resp_free(&r);
	ck_assert_uint_eq(chip.dev_eui, eui1);
	ck_assert_uint_gt(c2, c1);
	ck_assert_int_eq(kt_issue("st1", token, &other, LOT, "1.1", &c3, pkg, &r), 201);
	kt_resp_free(&r);
	ck_assert_uint_ne(other.dev_eui, eui1);
	kt_chip_free(&chip);
	kt_chip_free(&other);
}
END_TEST

START_TEST(confirm_bad_receipts)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip, impostor;
	uint8_t pkg1[LPA_LPK1_LEN], pkg2[LPA_LPK1_LEN], rc1[LPA_LPR1_LEN], rc2[LPA_LPR1_LEN];
	uint8_t forged[LPA_LPR1_LEN];
	uint32_t c1, c2;
	char token[64];

	logged_in(&op, token);
	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.1", &c1, pkg1, &r), 201);
	kt_resp_free(&r);
	kt_chip_install(&chip, pkg1, rc1);
	/* Forged: the right content signed by a key that is not the chip's DIK. */
	kt_chip_new(&impostor, false, 0);
	{
		struct lpa_lpr1 rr;

		ck_assert_int_eq(lpa_lpr1_parse(rc1, sizeof(rc1), &rr), LPA_OK);
		ck_assert_int_eq(
			lpa_lpr1_build(&rr, LPA_LORAWAN_11, chip.keys, impostor.dik, forged),
			LPA_OK);
	}
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, c1, forged, &r), 422);
	ck_assert_str_eq(kt_error(&r), "receipt_invalid");
	kt_resp_free(&r);
	/* Tampered key check. */
	memcpy(forged, rc1, sizeof(forged));
	forged[45] ^= 1;
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, c1, forged, &r), 422);
	kt_resp_free(&r);
	/* Mismatched: a receipt for package 1 confirmed as package 2. */
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.1", &c2, pkg2, &r), 201);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, c2, rc1, &r), 422);
	ck_assert_str_eq(kt_error(&r), "receipt_invalid");
	kt_resp_free(&r);
	/* Package 1 was superseded by package 2: even its good receipt is too late. */
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, c1, rc1, &r), 409);
	ck_assert_str_eq(kt_error(&r), "attempt_closed");
	kt_resp_free(&r);
	/* Not a receipt at all. */
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, 99, rc1, &r), 404);
	kt_resp_free(&r);
	kt_chip_install(&chip, pkg2, rc2);
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, c2, rc2, &r), 200);
	kt_resp_free(&r);
	kt_chip_free(&chip);
	kt_chip_free(&impostor);
}
END_TEST

START_TEST(confirm_signed_record)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN];
	uint32_t counter;
	char token[64], out[8192], *rec = NULL, uid[17];
	json_t *jwks, *k, *payload;
	EVP_PKEY *key = NULL;
	uint8_t *pl = NULL;
	size_t pl_len, i;

	logged_in(&op, token);
	counter = issued(token, &chip, "1.0.4", pkg);
	kt_chip_install(&chip, pkg, rc);
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, counter, rc, &r), 200);
	rec = strdup(json_string_value(json_object_get(r.json, "record")));
	kt_resp_free(&r);
	/* The record-signing key as an admin exports it for QA to pin. */
	ck_assert_int_eq(
		kt_run(-1, -1, out, sizeof(out), "admin", "export-keys", "--dir", kt.kms, NULL), 0);
	jwks = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(jwks);
	json_array_foreach(json_object_get(jwks, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "purpose")), "record") == 0) {
			char *s = json_dumps(k, 0);

			ck_assert_int_eq(lpa_jwk_to_p256(s, &key), LPA_OK);
			free(s);
		}
	}
	json_decref(jwks);
	ck_assert_ptr_nonnull(key);
	ck_assert_int_eq(lpa_jws_verify(rec, key, NULL, &pl, &pl_len), LPA_OK);
	payload = json_loadb((const char *)pl, pl_len, 0, NULL);
	ck_assert_ptr_nonnull(payload);
	snprintf(uid, sizeof(uid), "%016llx", (unsigned long long)chip.uid);
	ck_assert_int_eq(json_integer_value(json_object_get(payload, "v")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(payload, "chip_uid")), uid);
	ck_assert_uint_eq(kt_hex64(json_string_value(json_object_get(payload, "dev_eui"))),
			  chip.dev_eui);
	ck_assert_str_eq(json_string_value(json_object_get(payload, "join_eui")), KT_JOIN_EUI);
	ck_assert_str_eq(json_string_value(json_object_get(payload, "lorawan")), "1.0.4");
	ck_assert_int_eq(json_integer_value(json_object_get(payload, "counter")), counter);
	ck_assert_str_eq(json_string_value(json_object_get(payload, "lot")), LOT);
	ck_assert_str_eq(json_string_value(json_object_get(payload, "station")), "st1");
	ck_assert_str_eq(json_string_value(json_object_get(payload, "operator")), op.name);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(payload, "probe"), "serial")),
		"KP3-TEST");
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(payload, "package_sha256"))),
			  64);
	ck_assert_ptr_nonnull(json_object_get(payload, "confirmed_at"));
	/* Confirm is idempotent: the same receipt gets the same record. */
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, counter, rc, &r), 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "record")), rec);
	kt_resp_free(&r);
	/* A provisioned chip is not issued again without an admin's authorisation. */
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.0.4", &counter, pkg, &r), 409);
	ck_assert_str_eq(kt_error(&r), "already_provisioned");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "allow-reprovision", uid,
				"--dir", kt.kms, NULL),
			 0);
	ck_assert_int_eq(kt_issue("st1", token, &chip, LOT, "1.0.4", &counter, pkg, &r), 201);
	kt_resp_free(&r);
	/* The lot's records as QA sees them. */
	kt_http("st1", "GET", "/v1/lots/" LOT "/records", token, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_ge(json_integer_value(json_object_get(r.json, "count")), 1);
	ck_assert(strstr(r.body, rec) != NULL);
	kt_resp_free(&r);
	json_decref(payload);
	free(pl);
	free(rec);
	lpa_pkey_free(&key);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(abandon)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN];
	uint32_t counter;
	char token[64], path[128], body[128];

	logged_in(&op, token);
	counter = issued(token, &chip, "1.1", pkg);
	kt_chip_install(&chip, pkg, rc);
	snprintf(path, sizeof(path), "/v1/devices/%016llx/abandon",
		 (unsigned long long)chip.dev_eui);
	snprintf(body, sizeof(body), "{\"counter\":%u,\"reason\":\"install failed\"}", counter);
	kt_http("st1", "POST", path, token, NULL, body, strlen(body), &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	kt_http("st1", "POST", path, token, NULL, body, strlen(body), &r);
	ck_assert_int_eq(r.status, 200); /* idempotent */
	kt_resp_free(&r);
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, counter, rc, &r), 409);
	ck_assert_str_eq(kt_error(&r), "attempt_closed");
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(challenge_verify)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN], nonce[16];
	lpa_secbuf *wrong = lpa_secbuf_new(32);
	uint32_t counter;
	char token[64];

	logged_in(&op, token);
	counter = issued(token, &chip, "1.1", pkg);
	ck_assert_int_eq(kt_challenge("st1", token, chip.dev_eui, nonce),
			 409); /* not provisioned yet */
	kt_chip_install(&chip, pkg, rc);
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, counter, rc, &r), 200);
	kt_resp_free(&r);

	ck_assert_int_eq(kt_challenge("st1", token, chip.dev_eui, nonce), 201);
	ck_assert_int_eq(kt_verify("st1", token, &chip, chip.keys, nonce, &r), 200);
	ck_assert(json_is_true(json_object_get(r.json, "verified")));
	kt_resp_free(&r);
	/* Single use. */
	ck_assert_int_eq(kt_verify("st1", token, &chip, chip.keys, nonce, &r), 409);
	ck_assert_str_eq(kt_error(&r), "no_challenge");
	kt_resp_free(&r);
	/* A chip with other keys fails the proof. */
	ck_assert_int_eq(kt_challenge("st1", token, chip.dev_eui, nonce), 201);
	ck_assert_int_eq(kt_verify("st1", token, &chip, wrong, nonce, &r), 422);
	ck_assert_str_eq(kt_error(&r), "proof_invalid");
	kt_resp_free(&r);
	/* Challenges expire (--challenge-ttl 4). */
	ck_assert_int_eq(kt_challenge("st1", token, chip.dev_eui, nonce), 201);
	sleep(5);
	ck_assert_int_eq(kt_verify("st1", token, &chip, chip.keys, nonce, &r), 410);
	ck_assert_str_eq(kt_error(&r), "challenge_expired");
	kt_resp_free(&r);
	lpa_secbuf_free(&wrong);
	kt_chip_free(&chip);
}
END_TEST

/* ------------------------------------------------------------- robustness */
START_TEST(malformed_requests)
{
	struct kt_op op;
	struct kt_resp r;
	char token[64], *big;

	logged_in(&op, token);
	kt_http("st1", "POST", "/v1/devices/issue", token, NULL, "{\"lot\":", 7, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(kt_error(&r), "bad_request");
	ck_assert(strstr(json_string_value(json_object_get(r.json, "message")), "malformed JSON"));
	kt_resp_free(&r);
	kt_http("st1", "POST", "/v1/devices/issue", token, NULL, "{\"lot\":\"A\",\"x\":1}", 17, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert(strstr(json_string_value(json_object_get(r.json, "message")), "unknown member"));
	kt_resp_free(&r);
	{
		const char *b = "{\"lot\":\"A\",\"join_eui\":\"70b3d57ed0000000\",\"lorawan\":"
				"\"1.1\",\"silicon_id\":\"e2072100\",\"identity\":\"AAAA\"}";

		kt_http("st1", "POST", "/v1/devices/issue", token, NULL, b, strlen(b), &r);
	}
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(kt_error(&r), "bad_identity");
	kt_resp_free(&r);
	kt_http("st1", "POST", "/v1/devices/issue", token, "text/plain", "{}", 2, &r);
	ck_assert_int_eq(r.status, 415);
	kt_resp_free(&r);
	big = malloc(100000);
	memset(big, 'a', 100000);
	kt_http("st1", "POST", "/v1/devices/issue", token, NULL, big, 100000, &r);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq(kt_error(&r), "payload_too_large");
	kt_resp_free(&r);
	free(big);
	kt_http("st1", "GET", "/v1/nothing", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	kt_resp_free(&r);
	kt_http("st1", "GET", "/v1/devices/issue", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 405);
	kt_resp_free(&r);
	/* And the server is still there. */
	kt_http("st1", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
}
END_TEST

/* ------------------------------------------------------------------ audit */
START_TEST(audit_chain)
{
	char out[4096], log[700], copy[700], cmd[1600];
	FILE *f;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	int rc;

	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "audit", "verify", "--dir", kt.kms, NULL),
			 0);
	ck_assert(strstr(out, "chain intact") != NULL);
	/* The log as JSON Lines (on SQLite the file itself, on PostgreSQL the database's
	 * rows) verifies as a file against the database's head ... */
	snprintf(log, sizeof(log), "%s/audit-export.log", kt.dir);
	snprintf(cmd, sizeof(cmd), "'%s' audit export --dir '%s' > '%s'", kt.bin, kt.kms, log);
	ck_assert_int_eq(system(cmd), 0);
	if (!kt.pg) {
		snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s/audit.log'", log, kt.kms);
		ck_assert_int_eq(system(cmd), 0);
	}
	/* ... and a copy with one line changed (the result of line 2) does not. */
	snprintf(copy, sizeof(copy), "%s/audit-copy.log", kt.dir);
	f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	{
		FILE *o = fopen(copy, "w");

		ck_assert_ptr_nonnull(o);
		while ((len = getline(&buf, &cap, f)) > 0) {
			if (++n == 2) {
				char *p = strstr(buf, "\"result\":\"ok\"");

				ck_assert_ptr_nonnull(p);
				memcpy(p + 10, "OK", 2);
			}
			fwrite(buf, 1, (size_t)len, o);
		}
		fclose(o);
	}
	fclose(f);
	free(buf);
	ck_assert_uint_ge(n, 3);
	rc = kt_run(-1, -1, out, sizeof(out), "audit", "verify", "--dir", kt.kms, "--log", copy,
		    NULL);
	ck_assert_int_eq(rc, 4);
	/* The log never holds a secret: no password, no token, no TOTP secret. */
	snprintf(cmd, sizeof(cmd), "grep -q 'correct horse' '%s'", log);
	ck_assert_int_ne(system(cmd), 0);
}
END_TEST

/* ---------------------------------------------------------------- at rest */
static bool file_contains(const char *path, const uint8_t *needle, size_t n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t len;
	struct stat st;
	bool found = false;

	if (!f)
		return false;
	/* As large as the file (meson's MALLOC_PERTURB_ fills whatever is allocated). */
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	found = memmem(buf, len, needle, n) != NULL;
	free(buf);
	return found;
}

/* Whether any file of the database holds needle: kms.db and its WAL, or every file of
 * the PostgreSQL server's data directory (tables, indexes, the WAL). */
static const uint8_t *db_needle;
static size_t db_needle_len;
static bool db_found;

static int db_file_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F && file_contains(path, db_needle, db_needle_len))
		db_found = true;
	return db_found;
}

static bool db_contains(const uint8_t *needle, size_t n)
{
	char path[700];

	db_needle = needle;
	db_needle_len = n;
	db_found = false;
	if (kt.pg) {
		ck_assert_ptr_nonnull(getenv("KT_PG_DIR"));
		snprintf(path, sizeof(path), "%s/data", getenv("KT_PG_DIR"));
		ck_assert_int_ge(nftw(path, db_file_visit, 16, FTW_PHYS), 0);
		return db_found;
	}
	snprintf(path, sizeof(path), "%s/kms.db", kt.kms);
	if (file_contains(path, needle, n))
		return true;
	snprintf(path, sizeof(path), "%s/kms.db-wal", kt.kms);
	return file_contains(path, needle, n);
}

START_TEST(db_has_no_plaintext_keys)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN];
	uint32_t counter;
	char token[64];

	logged_in(&op, token);
	counter = issued(token, &chip, "1.1", pkg);
	kt_chip_install(&chip, pkg, rc);
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, counter, rc, &r), 200);
	kt_resp_free(&r);
	/* Sanity: the search does find what is stored in clear (the package). */
	ck_assert(db_contains(pkg, 64));
	for (int k = 0; k < 2; k++)
		ck_assert(!db_contains(lpa_secbuf_cdata(chip.keys) + 16 * k, 16));
	ck_assert(!db_contains(op.secret, op.secret_len));
	kt_chip_free(&chip);
}
END_TEST

/* ------------------------------------------------------- operator lifecycle */
/* `lpa-kms admin CMD NAME [more...]` with a password on fd 3; its exit status. */
static int admin_pw(const char *cmd, const char *name, const char *password)
{
	char out[1024];
	int p[2], rc;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], password, strlen(password)), (ssize_t)strlen(password));
	ck_assert_int_eq(write(p[1], "\n", 1), 1);
	close(p[1]);
	rc = kt_run(p[0], -1, out, sizeof(out), "admin", cmd, name, "--dir", kt.kms,
		    "--password-fd", "3", NULL);
	close(p[0]);
	return rc;
}

static int admin_cmd(const char *cmd, const char *name)
{
	char out[4096];

	return kt_run(-1, -1, out, sizeof(out), "admin", cmd, name, "--dir", kt.kms, NULL);
}

static long records(const char *token)
{
	struct kt_resp r;
	long st;

	kt_http("st1", "GET", "/v1/lots/" LOT "/records", token, NULL, NULL, 0, &r);
	st = r.status;
	kt_resp_free(&r);
	return st;
}

START_TEST(operator_password)
{
	struct kt_op op;
	struct kt_resp r;
	char token[64];

	logged_in(&op, token);
	ck_assert_int_eq(admin_pw("set-password", op.name, "a new password"), 0);
	ck_assert_int_eq(records(token), 401); /* the old password's session ended */
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 1, NULL, &r), 401);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_login(&op, "st1", "a new password", 1, NULL, &r), 201);
	kt_resp_free(&r);
	ck_assert_int_ne(admin_pw("set-password", op.name, "short"), 0);
}
END_TEST

START_TEST(operator_disable_remove)
{
	struct kt_op op, gone;
	struct kt_resp r;
	char token[64], t2[64], out[16384];

	logged_in(&op, token);
	ck_assert_int_eq(admin_cmd("disable-operator", op.name), 0);
	ck_assert_int_eq(records(token), 401);
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 1, NULL, &r), 401);
	ck_assert_str_eq(kt_error(&r), "login_failed");
	kt_resp_free(&r);
	ck_assert_int_eq(admin_cmd("enable-operator", op.name), 0);
	ck_assert_int_eq(kt_login(&op, "st1", NULL, 1, NULL, &r), 201);
	kt_resp_free(&r);
	/* Removed: its session ends, its name logs in no more, list forgets it. */
	logged_in(&gone, t2);
	ck_assert_int_eq(admin_cmd("remove-operator", gone.name), 0);
	ck_assert_int_eq(records(t2), 401);
	ck_assert_int_eq(kt_login(&gone, "st1", NULL, 1, NULL, &r), 401);
	kt_resp_free(&r);
	ck_assert_int_eq(admin_cmd("remove-operator", gone.name), 3); /* not found */
	ck_assert_int_eq(
		kt_run(-1, -1, out, sizeof(out), "admin", "list", "--json", "--dir", kt.kms, NULL),
		0);
	ck_assert_ptr_null(strstr(out, gone.name));
	ck_assert_ptr_nonnull(strstr(out, op.name));
}
END_TEST

START_TEST(list_json_and_show_device)
{
	struct kt_op op;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN];
	uint32_t counter;
	char token[64], out[16384], eui[17], uid[17];
	json_t *j, *a;

	logged_in(&op, token);
	counter = issued(token, &chip, "1.1", pkg);
	kt_chip_install(&chip, pkg, rc);
	ck_assert_int_eq(kt_confirm("st1", token, chip.dev_eui, counter, rc, &r), 200);
	kt_resp_free(&r);
	ck_assert_int_eq(
		kt_run(-1, -1, out, sizeof(out), "admin", "list", "--json", "--dir", kt.kms, NULL),
		0);
	j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_ge(
		json_integer_value(json_object_get(json_object_get(j, "dev_euis"), "allocated")),
		1);
	ck_assert_int_ge(
		json_integer_value(json_object_get(json_object_get(j, "attempts"), "confirmed")),
		1);
	ck_assert_int_ge(json_array_size(json_object_get(j, "stations")), 3);
	json_decref(j);
	/* By DevEUI and by chip UID: the same device, its attempt confirmed at st1. */
	snprintf(eui, sizeof(eui), "%016llx", (unsigned long long)chip.dev_eui);
	snprintf(uid, sizeof(uid), "%016llx", (unsigned long long)chip.uid);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "show-device",
					i ? uid : eui, "--dir", kt.kms, NULL),
				 0);
		j = json_loads(out, 0, NULL);
		ck_assert_ptr_nonnull(j);
		ck_assert_str_eq(json_string_value(json_object_get(j, "dev_eui")), eui);
		ck_assert_str_eq(json_string_value(json_object_get(j, "chip_uid")), uid);
		a = json_array_get(json_object_get(j, "attempts"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(a, "state")), "confirmed");
		ck_assert_str_eq(json_string_value(json_object_get(a, "station")), "st1");
		ck_assert_str_eq(json_string_value(json_object_get(a, "operator")), op.name);
		json_decref(j);
	}
	ck_assert_int_eq(admin_cmd("show-device", "0123456789abcdef"), 3);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(renew_station)
{
	struct kt_op op;
	struct kt_resp r;
	char token[64], out[2048], cmd[4096];

	/* The old credentials, kept aside as a thief would. */
	snprintf(cmd, sizeof(cmd),
		 "cp '%s/st2.pem' '%s/st2-old.pem' && cp '%s/st2.key' '%s/st2-old.key'", kt.certs,
		 kt.certs, kt.certs, kt.certs);
	ck_assert_int_eq(system(cmd), 0);
	kt_operator(&op, "renew", "operator,qa", NULL, NULL, NULL);
	kt_login_ok(&op, "st2", token);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "renew-station", "st2", "--dir",
				kt.kms, "--out", kt.certs, NULL),
			 0);
	kt_http("st2-old", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_str_eq(kt_error(&r), "station_unknown");
	kt_resp_free(&r);
	/* The new certificate is st2, with st2's session. */
	kt_http("st2", "GET", "/v1/lots/" LOT "/records", token, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "renew-station", "nosuch",
				"--dir", kt.kms, "--out", kt.certs, NULL),
			 3);
}
END_TEST

START_TEST(scope_globs)
{
	struct kt_op op, bad;
	struct kt_resp r;
	struct kt_chip chip;
	uint8_t pkg[LPA_LPK1_LEN];
	uint32_t counter;
	char token[64], out[1024];
	int p[2], rc;

	kt_operator(&op, "glob", "operator", NULL, "--lots", "LOT-2026-*,SPARE-?");
	kt_login_ok(&op, "st1", token);
	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(kt_issue("st1", token, &chip, "LOT-2027-01", "1.1", &counter, pkg, &r),
			 403);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_issue("st1", token, &chip, "SPARE-12", "1.1", &counter, pkg, &r), 403);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_issue("st1", token, &chip, "lot-2026-07", "1.1", &counter, pkg, &r),
			 201);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_issue("st1", token, &chip, "SPARE-1", "1.1", &counter, pkg, &r), 201);
	kt_resp_free(&r);
	/* A pattern the KMS does not match is refused, not taken literally. */
	(void)bad;
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "correct horse battery\n", 22), 22);
	close(p[1]);
	rc = kt_run(p[0], -1, out, sizeof(out), "admin", "add-operator", "brackets", "--dir",
		    kt.kms, "--role", "operator", "--lots", "LOT-[12]", "--password-fd", "3", NULL);
	close(p[0]);
	ck_assert_int_eq(rc, 2);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "set-scope", op.name, "--dir",
				kt.kms, "--lots", "OTHER", NULL),
			 0);
	ck_assert_int_eq(kt_issue("st1", token, &chip, "lot-2026-07", "1.1", &counter, pkg, &r),
			 403);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

int main(void)
{
	const struct kt_case cases[] = {
		{"login_ok", login_ok},
		{"login_sha256", login_sha256},
		{"login_wrong_password", login_wrong_password},
		{"login_wrong_totp", login_wrong_totp},
		{"login_unknown_operator", login_unknown_operator},
		{"totp_replay", totp_replay},
		{"totp_window", totp_window},
		{"lockout_and_unlock", lockout_and_unlock},
		{"rate_limit_operator", rate_limit_operator},
		{"token_from_other_station", token_from_other_station},
		{"token_expired", token_expired},
		{"logout", logout},
		{"no_token", no_token},
		{"role_required", role_required},
		{"reset_totp", reset_totp},
		{"no_client_cert", no_client_cert},
		{"revoked_station", revoked_station},
		{"untrusted_chip", untrusted_chip},
		{"out_of_scope", out_of_scope},
		{"same_chip_twice", same_chip_twice},
		{"confirm_bad_receipts", confirm_bad_receipts},
		{"confirm_signed_record", confirm_signed_record},
		{"abandon", abandon},
		{"challenge_verify", challenge_verify},
		{"malformed_requests", malformed_requests},
		{"db_has_no_plaintext_keys", db_has_no_plaintext_keys},
		{"audit_chain", audit_chain},
		{"operator_password", operator_password},
		{"operator_disable_remove", operator_disable_remove},
		{"list_json_and_show_device", list_json_and_show_device},
		{"renew_station", renew_station},
		{"scope_globs", scope_globs},
	};

	return kt_main("kms", cases, sizeof(cases) / sizeof(cases[0]), kt_start, 60, false);
}
