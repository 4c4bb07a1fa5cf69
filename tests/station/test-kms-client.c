/*
 * test-kms-client.c — the station's KMS client (lpa/station/kms-client.c) against the
 * real reference KMS over HTTPS with mutual TLS (the tests/kms harness starts it once on
 * a free loopback port), plus its reply parsers on crafted bodies. One TCase per
 * behaviour.
 */
#include <arpa/inet.h>
#include <check.h>
#include <keyutils.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "config.h"
#include "kms-client-private.h"
#include "kmstest.h"
#include "testutil.h"

#define TK_PASSWORD "correct horse battery"
#define TK_LOT "LOT-A"
#define TK_JOIN_EUI 0x70b3d57ed0000000ull

/* ---------------------------------------------------------------- helpers */
/* snprintf that must not truncate (a truncated path would test the wrong thing). */
#define TK_FMT(buf, ...) ck_assert_int_lt(snprintf(buf, sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

static void tk_config(struct station_config *cfg, const char *station)
{
	config_defaults(cfg);
	snprintf(cfg->kms_url, sizeof(cfg->kms_url), "https://127.0.0.1:%u/", kt.port);
	TK_FMT(cfg->kms_ca, "%s/kms-ca.pem", kt.certs);
	TK_FMT(cfg->tls_cert, "%s/%s.pem", kt.certs, station);
	TK_FMT(cfg->tls_key, "%s/%s.key", kt.certs, station);
	cfg->kms_timeout_s = 10;
	cfg->kms_retries = 3;
}

static kms_client *tk_client(const char *station)
{
	struct station_config cfg;
	kms_client *c = NULL;

	tk_config(&cfg, station);
	ck_assert_int_eq(kms_client_new(&cfg, &c), LPA_OK);
	return c;
}

static lpa_secbuf *tk_secbuf(const char *s)
{
	lpa_secbuf *b = lpa_secbuf_new(strlen(s));

	ck_assert_ptr_nonnull(b);
	memcpy(lpa_secbuf_data(b), s, strlen(s));
	return b;
}

/* A fresh operator from prefix with roles, and a TOTP step with time left to log in. */
static void tk_operator(struct kt_op *op, const char *prefix, const char *roles)
{
	kt_operator(op, prefix, roles, NULL, NULL, NULL);
	kt_totp_settle();
}

/* Logs op in with the code of step offset; returns kms_login's result. */
static int tk_login(kms_client *c, const struct kt_op *op, const char *password, int offset,
		    unsigned ttl, lpa_secbuf **token, struct kms_session_info *info)
{
	lpa_secbuf *pw = tk_secbuf(password ? password : TK_PASSWORD), *code;
	char digits[9];
	int r;

	kt_totp(op, offset, digits);
	code = tk_secbuf(digits);
	r = kms_login(c, op->name, pw, code, ttl, token, info);
	lpa_secbuf_free(&pw);
	lpa_secbuf_free(&code);
	return r;
}

/* A logged-in operator (roles operator,qa) and a client from st1. */
static kms_client *tk_session(struct kt_op *op, lpa_secbuf **token)
{
	struct kms_session_info info;
	kms_client *c = tk_client("st1");

	tk_operator(op, "cl", "operator,qa");
	ck_assert_int_eq(tk_login(c, op, NULL, 0, 0, token, &info), LPA_OK);
	return c;
}

/* Confirms resp's attempt with receipt, as serial KP3-0001 by firmware 2.5.0. */
static int tk_confirm(kms_client *c, const lpa_secbuf *token, const struct kms_issue_resp *resp,
		      const uint8_t receipt[LPA_LPR1_LEN], char **record)
{
	return kms_confirm(c, token, resp->dev_eui, resp->counter, receipt, "KP3-0001", "2.5.0",
			   record);
}

/* kms_parse_issue over the whole of body. */
static int tk_parse_issue(const char *body, uint64_t uid, uint64_t join_eui, uint8_t lorawan,
			  struct kms_issue_resp *resp, struct kms_error *e)
{
	return kms_parse_issue(body, strlen(body), uid, join_eui, lorawan, resp, e);
}

/* The end of a test on the KMS: chip, token and client freed. */
static void tk_end(kms_client **c, lpa_secbuf **token, struct kt_chip *chip)
{
	kt_chip_free(chip);
	lpa_secbuf_free(token);
	kms_client_free(c);
}

static int tk_issue(kms_client *c, const lpa_secbuf *token, const struct kt_chip *chip,
		    const char *lorawan, struct kms_issue_resp *resp)
{
	struct kms_issue_req req = {.lot = TK_LOT,
				    .join_eui = TK_JOIN_EUI,
				    .lorawan = lorawan,
				    .identity = chip->lpi1,
				    .identity_len = chip->lpi1_len,
				    .silicon_id = KT_SILICON_ID};

	return kms_issue(c, token, &req, resp);
}

/* A new chip, issued a LoRaWAN 1.1 package (which must succeed) and installed: its
 * receipt in receipt. */
static void tk_installed(kms_client *c, const lpa_secbuf *token, struct kt_chip *chip,
			 struct kms_issue_resp *resp, uint8_t receipt[LPA_LPR1_LEN])
{
	kt_chip_new(chip, false, 0);
	ck_assert_int_eq(tk_issue(c, token, chip, "1.1", resp), LPA_OK);
	kt_chip_install(chip, resp->package, receipt);
}

/* A loopback port: listening but never answering (listen_fd >= 0), or closed. */
static unsigned tk_port(int *listen_fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	if (listen_fd != NULL) {
		ck_assert_int_eq(listen(fd, 8), 0); /* the kernel completes the TCP handshake */
		*listen_fd = fd;
	} else {
		close(fd);
	}
	return ntohs(a.sin_port);
}

/* ------------------------------------------------------------------ login */
START_TEST(login_ok)
{
	struct kt_op op;
	struct kms_session_info info;
	lpa_secbuf *token = NULL;
	kms_client *c = tk_client("st1");
	uint64_t req, conn;

	tk_operator(&op, "ok", "operator,qa");
	ck_assert_int_eq(tk_login(c, &op, NULL, 0, 0, &token, &info), LPA_OK);
	ck_assert_ptr_nonnull(token);
	ck_assert_uint_eq(lpa_secbuf_len(token), 43);
	ck_assert_str_eq(info.operator_name, op.name);
	ck_assert_str_eq(info.roles, "operator,qa");
	ck_assert_str_eq(info.station, "st1");
	ck_assert_int_gt(info.expires_at, time(NULL) + 3600);
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req, 1);
	lpa_secbuf_free(&token);
	kms_client_free(&c);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(login_escapes_password)
{
	struct kt_op op;
	struct kms_session_info info;
	lpa_secbuf *token = NULL;
	kms_client *c = tk_client("st1");

	/* Quotes, a backslash and a control character in the password: refused as a wrong
	 * password (401), not as malformed JSON (400), so the body was well formed. */
	tk_operator(&op, "esc", "operator");
	ck_assert_int_eq(tk_login(c, &op, "a \"quoted\" \\ pass\tword", 0, 0, &token, &info),
			 LPA_ERR_KMS_AUTH);
	ck_assert_int_eq(kms_client_error(c)->status, 401);
	ck_assert_ptr_null(token);
	kms_client_free(&c);
}
END_TEST

START_TEST(login_wrong_password)
{
	struct kt_op op;
	struct kms_session_info info;
	lpa_secbuf *token = NULL;
	kms_client *c = tk_client("st1");
	uint64_t req, conn;

	tk_operator(&op, "wrongpw", "operator");
	ck_assert_int_eq(tk_login(c, &op, "not the password", 0, 0, &token, &info),
			 LPA_ERR_KMS_AUTH);
	ck_assert_ptr_null(token);
	ck_assert_int_eq(kms_client_error(c)->status, 401);
	ck_assert_str_eq(kms_client_error(c)->code, "login_failed");
	ck_assert_str_eq(info.operator_name, "");
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req, 1); /* a login is never repeated */
	kms_client_free(&c);
}
END_TEST

START_TEST(login_replayed_totp)
{
	struct kt_op op;
	struct kms_session_info info;
	lpa_secbuf *token = NULL;
	kms_client *c = tk_client("st1");

	tk_operator(&op, "replay", "operator");
	ck_assert_int_eq(tk_login(c, &op, NULL, 0, 0, &token, &info), LPA_OK);
	lpa_secbuf_free(&token);
	ck_assert_int_eq(tk_login(c, &op, NULL, 0, 0, &token, &info), LPA_ERR_KMS_AUTH);
	ck_assert_str_eq(kms_client_error(c)->code, "login_failed");
	ck_assert_ptr_null(token);
	kms_client_free(&c);
}
END_TEST

/* ------------------------------------------------------------ sessions */
START_TEST(logout_ends_session)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp resp;
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);

	ck_assert_int_eq(kms_logout(c, token), LPA_OK);
	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(tk_issue(c, token, &chip, "1.1", &resp), LPA_ERR_KMS_AUTH);
	ck_assert_str_eq(kms_client_error(c)->code, "unauthenticated");
	ck_assert_int_eq(kms_logout(c, token), LPA_ERR_KMS_AUTH);
	tk_end(&c, &token, &chip);
}
END_TEST

START_TEST(keyring_token_expired)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp resp;
	struct kms_session_info info;
	struct auth_session s = {.expires_at = 0}, got;
	lpa_secbuf *token = NULL, *back = NULL;
	kms_client *c = tk_client("st1");
	char name[64];

	tk_operator(&op, "expiry", "operator");
	ck_assert_int_eq(tk_login(c, &op, NULL, 0, 1, &token, &info), LPA_OK);
	ck_assert_int_le(info.expires_at, time(NULL) + 1);
	/* The station's keyring still holds it (a clock ahead of the KMS, or a session
	 * shortened at the KMS): the KMS is the judge. */
	snprintf(name, sizeof(name), "test-kms-client-%d", (int)getpid());
	snprintf(s.operator_name, sizeof(s.operator_name), "%s", info.operator_name);
	snprintf(s.roles, sizeof(s.roles), "%s", info.roles);
	s.expires_at = time(NULL) + 60;
	ck_assert_int_eq(auth_session_store(name, token, &s), LPA_OK);
	lpa_secbuf_free(&token);
	sleep(2);
	ck_assert_int_eq(auth_session_load(name, &back, &got), LPA_OK);
	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(tk_issue(c, back, &chip, "1.1", &resp), LPA_ERR_KMS_AUTH);
	ck_assert_int_eq(kms_client_error(c)->status, 401);
	ck_assert_str_eq(kms_client_error(c)->code, "token_expired");
	ck_assert_int_eq(auth_session_drop(name), LPA_OK);
	kt_chip_free(&chip);
	lpa_secbuf_free(&back);
	kms_client_free(&c);
}
END_TEST

START_TEST(malformed_token_not_sent)
{
	struct kt_chip chip;
	struct kms_issue_resp resp;
	lpa_secbuf *token = tk_secbuf("abc\r\nX-Injected: 1");
	kms_client *c = tk_client("st1");
	uint64_t req, conn;

	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(tk_issue(c, token, &chip, "1.1", &resp), LPA_ERR_INVAL);
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req, 0);
	tk_end(&c, &token, &chip);
}
END_TEST

/* ---------------------------------------------------------------- devices */
START_TEST(issue_confirm_one_connection)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp resp;
	struct lpa_lpk1_hdr hdr;
	uint8_t receipt[LPA_LPR1_LEN];
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);
	char *record = NULL, *again = NULL, *kid = NULL;
	uint8_t *payload = NULL;
	size_t payload_len;
	uint64_t req0, req, conn;
	EVP_PKEY *key;

	kt_chip_new(&chip, false, 0);
	kms_client_counters(c, &req0, &conn);
	ck_assert_int_eq(tk_issue(c, token, &chip, "1.1", &resp), LPA_OK);
	ck_assert_uint_eq(resp.counter, 1);
	ck_assert_uint_eq(resp.key_id, 1);
	ck_assert_int_eq(lpa_lpk1_parse(resp.package, LPA_LPK1_LEN, &hdr), LPA_OK);
	ck_assert_uint_eq(hdr.chip_uid, chip.uid);
	ck_assert_uint_eq(hdr.dev_eui, resp.dev_eui);
	kt_chip_install(&chip, resp.package, receipt);
	ck_assert_int_eq(tk_confirm(c, token, &resp, receipt, &record), LPA_OK);
	/* Two requests per device, and the login's connection carried them all. */
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req - req0, 2);
	ck_assert_uint_eq(conn, 1);
	key = kt_kms_key("record");
	ck_assert_int_eq(lpa_jws_verify(record, key, &kid, &payload, &payload_len), LPA_OK);
	ck_assert_str_eq(kid, "record-1");
	ck_assert_ptr_nonnull(strstr((const char *)payload, "\"serial\":\"KP3-0001\""));
	/* Confirm is idempotent: the same receipt gets the same record (why it may be
	 * retried). */
	ck_assert_int_eq(tk_confirm(c, token, &resp, receipt, &again), LPA_OK);
	ck_assert_str_eq(again, record);
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(conn, 1);
	lpa_pkey_free(&key);
	free(kid);
	free(payload);
	free(record);
	free(again);
	tk_end(&c, &token, &chip);
}
END_TEST

START_TEST(issue_again_same_dev_eui)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp r1, r2;
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);

	/* What a retry after a lost reply does: same DevEUI, next counter. */
	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(tk_issue(c, token, &chip, "1.0.4", &r1), LPA_OK);
	ck_assert_int_eq(tk_issue(c, token, &chip, "1.0.4", &r2), LPA_OK);
	ck_assert_uint_eq(r1.dev_eui, r2.dev_eui);
	ck_assert_uint_eq(r2.counter, r1.counter + 1);
	tk_end(&c, &token, &chip);
}
END_TEST

START_TEST(confirm_forged_receipt)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp resp;
	uint8_t receipt[LPA_LPR1_LEN];
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);
	char *record = NULL;

	tk_installed(c, token, &chip, &resp, receipt);
	receipt[LPA_LPR1_LEN - 1] ^= 1; /* the DIK signature */
	ck_assert_int_eq(tk_confirm(c, token, &resp, receipt, &record), LPA_ERR_KMS_RECEIPT);
	ck_assert_ptr_null(record);
	ck_assert_int_eq(kms_client_error(c)->status, 422);
	ck_assert_str_eq(kms_client_error(c)->code, "receipt_invalid");
	tk_end(&c, &token, &chip);
}
END_TEST

START_TEST(confirm_superseded)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp r1, r2;
	uint8_t receipt[LPA_LPR1_LEN];
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);
	char *record = NULL;

	kt_chip_new(&chip, false, 0);
	ck_assert_int_eq(tk_issue(c, token, &chip, "1.1", &r1), LPA_OK);
	kt_chip_install(&chip, r1.package, receipt);
	ck_assert_int_eq(tk_issue(c, token, &chip, "1.1", &r2), LPA_OK);
	ck_assert_int_eq(
		kms_confirm(c, token, r1.dev_eui, r1.counter, receipt, "KP3-0001", NULL, &record),
		LPA_ERR_KMS_RECEIPT);
	ck_assert_int_eq(kms_client_error(c)->status, 409);
	ck_assert_str_eq(kms_client_error(c)->code, "attempt_closed");
	tk_end(&c, &token, &chip);
}
END_TEST

START_TEST(untrusted_chip)
{
	struct kt_op op;
	struct kt_chip rogue, mismatch;
	struct kms_issue_resp resp;
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);
	uint64_t req0, req, conn;

	kt_chip_new(&rogue, true, 0);
	kms_client_counters(c, &req0, &conn);
	ck_assert_int_eq(tk_issue(c, token, &rogue, "1.1", &resp), LPA_ERR_KMS_UNTRUSTED);
	ck_assert_int_eq(kms_client_error(c)->status, 422);
	ck_assert_str_eq(kms_client_error(c)->code, "untrusted_chip");
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req - req0, 1); /* a refusal is an answer: not retried */
	kt_chip_new(&mismatch, false, 1);
	ck_assert_int_eq(tk_issue(c, token, &mismatch, "1.1", &resp), LPA_ERR_KMS_UNTRUSTED);
	ck_assert_str_eq(kms_client_error(c)->code, "identity_mismatch");
	kt_chip_free(&rogue);
	kt_chip_free(&mismatch);
	lpa_secbuf_free(&token);
	kms_client_free(&c);
}
END_TEST

START_TEST(issue_bad_identity_not_sent)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp resp;
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);
	uint64_t req0, req, conn;

	kt_chip_new(&chip, false, 0);
	chip.lpi1[0] ^= 0xff; /* magic */
	kms_client_counters(c, &req0, &conn);
	ck_assert_int_eq(tk_issue(c, token, &chip, "1.1", &resp), LPA_ERR_MAGIC);
	ck_assert_int_eq(tk_issue(c, token, &chip, "2.0", &resp), LPA_ERR_INVAL);
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req, req0);
	tk_end(&c, &token, &chip);
}
END_TEST

START_TEST(abandon_idempotent)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp resp;
	uint8_t receipt[LPA_LPR1_LEN];
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);
	char *record = NULL;

	tk_installed(c, token, &chip, &resp, receipt);
	ck_assert_int_eq(kms_abandon(c, token, resp.dev_eui, resp.counter, "install failed"),
			 LPA_OK);
	ck_assert_int_eq(kms_abandon(c, token, resp.dev_eui, resp.counter, "again"), LPA_OK);
	ck_assert_int_eq(tk_confirm(c, token, &resp, receipt, &record), LPA_ERR_KMS_RECEIPT);
	ck_assert_str_eq(kms_client_error(c)->code, "attempt_closed");
	ck_assert_int_eq(kms_abandon(c, token, resp.dev_eui, resp.counter + 7, "unknown"),
			 LPA_ERR_KMS_REFUSED);
	ck_assert_int_eq(kms_client_error(c)->status, 404);
	tk_end(&c, &token, &chip);
}
END_TEST

START_TEST(challenge_verify)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp resp;
	struct lpa_lpp1 p;
	uint8_t receipt[LPA_LPR1_LEN], nonce[16], proof[LPA_LPP1_LEN];
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);
	char *record = NULL;
	bool verified = true;
	uint32_t counter = 0;
	time_t exp = 0;

	tk_installed(c, token, &chip, &resp, receipt);
	ck_assert_int_eq(tk_confirm(c, token, &resp, receipt, &record), LPA_OK);
	/* A wrong proof: the KMS answers "no", which is QA's result, not a failed call. */
	ck_assert_int_eq(kms_challenge(c, token, resp.dev_eui, nonce, &exp), LPA_OK);
	ck_assert_int_gt(exp, time(NULL));
	memset(&p, 0, sizeof(p));
	p.dev_eui = resp.dev_eui;
	p.chip_uid = chip.uid;
	memcpy(p.nonce, nonce, 16);
	ck_assert_int_eq(lpa_lpp1_build(&p, chip.lorawan, chip.keys, chip.dik, proof), LPA_OK);
	proof[LPA_LPP1_LEN - 1] ^= 1;
	ck_assert_int_eq(kms_verify(c, token, resp.dev_eui, proof, &verified, &counter), LPA_OK);
	ck_assert(!verified);
	ck_assert_str_eq(kms_client_error(c)->code, "proof_invalid");
	/* The right proof for a fresh challenge. */
	ck_assert_int_eq(kms_challenge(c, token, resp.dev_eui, nonce, &exp), LPA_OK);
	memcpy(p.nonce, nonce, 16);
	ck_assert_int_eq(lpa_lpp1_build(&p, chip.lorawan, chip.keys, chip.dik, proof), LPA_OK);
	ck_assert_int_eq(kms_verify(c, token, resp.dev_eui, proof, &verified, &counter), LPA_OK);
	ck_assert(verified);
	ck_assert_uint_eq(counter, resp.counter);
	/* Single use: the same proof again is refused (and verify is never retried). */
	ck_assert_int_eq(kms_verify(c, token, resp.dev_eui, proof, &verified, &counter),
			 LPA_ERR_KMS_REFUSED);
	ck_assert_str_eq(kms_client_error(c)->code, "no_challenge");
	free(record);
	tk_end(&c, &token, &chip);
}
END_TEST

/* ---------------------------------------------------------------- transport */
START_TEST(keys_reuse_connection)
{
	kms_client *c = tk_client("st1");
	char *jwks = NULL;
	uint64_t req, conn;

	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(kms_keys(c, &jwks), LPA_OK);
		ck_assert_ptr_nonnull(strstr(jwks, "\"purpose\""));
		free(jwks);
	}
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req, 5);
	ck_assert_uint_eq(conn, 1);
	kms_client_free(&c);
}
END_TEST

START_TEST(kms_down_bounded_retries)
{
	struct station_config cfg;
	struct kt_op op;
	struct kms_session_info info;
	lpa_secbuf *token = NULL;
	kms_client *c = NULL;
	char *jwks = NULL;
	uint64_t req, conn;
	double t0, dt;

	tk_config(&cfg, "st1");
	snprintf(cfg.kms_url, sizeof(cfg.kms_url), "https://127.0.0.1:%u", tk_port(NULL));
	ck_assert_int_eq(kms_client_new(&cfg, &c), LPA_OK);
	t0 = lpa_mono_s();
	ck_assert_int_eq(kms_keys(c, &jwks), LPA_ERR_KMS_UNREACHABLE);
	dt = lpa_mono_s() - t0;
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req, 4); /* 1 + kms_retries */
	ck_assert_msg(dt >= 1.6 && dt < 5.0, "3 retries took %.2f s, want 0.2+0.5+1 s", dt);
	ck_assert_int_eq(kms_client_error(c)->status, 0);
	ck_assert_ptr_nonnull(strstr(kms_client_error(c)->message, "KMS unreachable"));
	/* Login is never retried. */
	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "nobody");
	op.secret_len = 20;
	ck_assert_int_eq(tk_login(c, &op, NULL, 0, 0, &token, &info), LPA_ERR_KMS_UNREACHABLE);
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req, 5);
	kms_client_free(&c);
}
END_TEST

START_TEST(kms_silent_times_out)
{
	struct station_config cfg;
	kms_client *c = NULL;
	char *jwks = NULL;
	uint64_t req, conn;
	double t0, dt;
	int fd;

	/* Accepts TCP but never speaks TLS: only the timeout ends the wait. */
	tk_config(&cfg, "st1");
	snprintf(cfg.kms_url, sizeof(cfg.kms_url), "https://127.0.0.1:%u", tk_port(&fd));
	cfg.kms_timeout_s = 1;
	cfg.kms_retries = 1;
	ck_assert_int_eq(kms_client_new(&cfg, &c), LPA_OK);
	t0 = lpa_mono_s();
	ck_assert_int_eq(kms_keys(c, &jwks), LPA_ERR_KMS_UNREACHABLE);
	dt = lpa_mono_s() - t0;
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req, 2);
	ck_assert_msg(dt >= 2.0 && dt < 4.5, "two 1 s timeouts took %.2f s", dt);
	close(fd);
	kms_client_free(&c);
}
END_TEST

START_TEST(wrong_pinned_ca)
{
	struct station_config cfg;
	kms_client *c = NULL;
	char *jwks = NULL;
	uint64_t req, conn;

	/* A CA that did not issue the KMS's certificate: the pin holds, and a second attempt
	 * cannot change that, so there is none. */
	tk_config(&cfg, "st1");
	TK_FMT(cfg.kms_ca, "%s/device-ca.pem", kt.dir);
	ck_assert_int_eq(kms_client_new(&cfg, &c), LPA_OK);
	ck_assert_int_eq(kms_keys(c, &jwks), LPA_ERR_KMS_UNREACHABLE);
	ck_assert_ptr_null(jwks);
	kms_client_counters(c, &req, &conn);
	ck_assert_uint_eq(req, 1);
	ck_assert_ptr_nonnull(strstr(kms_client_error(c)->message, "certificate"));
	kms_client_free(&c);
}
END_TEST

START_TEST(proxy_environment_ignored)
{
	kms_client *c;
	char *jwks = NULL;

	/* A proxy that does not exist: used, it would fail the call. */
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
	c = tk_client("st1");
	ck_assert_int_eq(kms_keys(c, &jwks), LPA_OK);
	free(jwks);
	kms_client_free(&c);
}
END_TEST

START_TEST(revoked_station_refused)
{
	kms_client *c = tk_client("st3");
	char *jwks = NULL, out[1024];

	ck_assert_int_eq(kms_keys(c, &jwks), LPA_OK);
	free(jwks);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "revoke-station", "st3", "--dir",
				kt.kms, NULL),
			 0);
	/* On the open connection too. */
	ck_assert_int_eq(kms_keys(c, &jwks), LPA_ERR_KMS_REFUSED);
	ck_assert_int_eq(kms_client_error(c)->status, 403);
	ck_assert_str_eq(kms_client_error(c)->code, "station_revoked");
	kms_client_free(&c);
}
END_TEST

START_TEST(only_https)
{
	struct station_config cfg;
	kms_client *c = NULL;

	config_defaults(&cfg);
	snprintf(cfg.kms_url, sizeof(cfg.kms_url), "http://127.0.0.1:8443");
	ck_assert_int_eq(kms_client_new(&cfg, &c), LPA_ERR_INVAL);
	ck_assert_ptr_null(c);
}
END_TEST

/* The client from its own options, without a station configuration: the same KMS, the
 * same checks (https only, a timeout, the station's certificate). */
START_TEST(client_from_its_own_options)
{
	char url[64], ca[512], cert[512], key[512], *jwks = NULL;
	struct kms_client_opts o = {
		.url = url, .ca = ca, .cert = cert, .key = key, .timeout_s = 10};
	kms_client *c = NULL;

	TK_FMT(url, "https://127.0.0.1:%u", kt.port);
	TK_FMT(ca, "%s/kms-ca.pem", kt.certs);
	TK_FMT(cert, "%s/st1.pem", kt.certs);
	TK_FMT(key, "%s/st1.key", kt.certs);
	ck_assert_int_eq(kms_client_open(&o, &c), LPA_OK);
	ck_assert_int_eq(kms_keys(c, &jwks), LPA_OK);
	ck_assert_ptr_nonnull(strstr(jwks, "\"purpose\""));
	free(jwks);
	kms_client_free(&c);
	o.timeout_s = 0;
	ck_assert_int_eq(kms_client_open(&o, &c), LPA_ERR_INVAL);
	o.timeout_s = 10;
	TK_FMT(url, "http://127.0.0.1:%u", kt.port);
	ck_assert_int_eq(kms_client_open(&o, &c), LPA_ERR_INVAL);
	ck_assert_ptr_null(c);
}
END_TEST

/* ---------------------------------------------------------------- parsers */
START_TEST(parse_error_mapping)
{
	static const struct {
		enum kms_call call;
		long status;
		const char *code;
		int want;
	} cases[] = {
		{KMS_CALL_ISSUE, 401, "token_expired", LPA_ERR_KMS_AUTH},
		{KMS_CALL_LOGIN, 423, "account_locked", LPA_ERR_KMS_AUTH},
		{KMS_CALL_LOGIN, 429, "rate_limited", LPA_ERR_KMS_AUTH},
		{KMS_CALL_ISSUE, 422, "untrusted_chip", LPA_ERR_KMS_UNTRUSTED},
		{KMS_CALL_ISSUE, 422, "identity_mismatch", LPA_ERR_KMS_UNTRUSTED},
		{KMS_CALL_ISSUE, 409, "identity_conflict", LPA_ERR_KMS_UNTRUSTED},
		{KMS_CALL_ISSUE, 409, "already_provisioned", LPA_ERR_KMS_REFUSED},
		{KMS_CALL_CONFIRM, 422, "receipt_invalid", LPA_ERR_KMS_RECEIPT},
		{KMS_CALL_CONFIRM, 409, "attempt_closed", LPA_ERR_KMS_RECEIPT},
		{KMS_CALL_ABANDON, 409, "attempt_closed", LPA_ERR_KMS_REFUSED},
		{KMS_CALL_ISSUE, 403, "out_of_scope", LPA_ERR_KMS_REFUSED},
		{KMS_CALL_ISSUE, 500, "internal", LPA_ERR_KMS_SERVER},
		{KMS_CALL_ISSUE, 503, "dev_eui_exhausted", LPA_ERR_KMS_SERVER},
		{KMS_CALL_ISSUE, 302, "", LPA_ERR_KMS_PROTOCOL},
		{KMS_CALL_ISSUE, 200, "", LPA_ERR_KMS_PROTOCOL},
	};
	struct kms_error e;
	char body[256];

	for (size_t i = 0; i < TU_N(cases); i++) {
		snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"m\"}", cases[i].code);
		ck_assert_msg(kms_parse_error(cases[i].call, cases[i].status, body, strlen(body),
					      &e) == cases[i].want,
			      "case %zu: %ld %s", i, cases[i].status, cases[i].code);
		ck_assert_int_eq(e.status, cases[i].status);
	}
	/* A proxy's HTML page still maps by status. */
	ck_assert_int_eq(kms_parse_error(KMS_CALL_KEYS, 502, "<html>", 6, &e), LPA_ERR_KMS_SERVER);
	ck_assert_str_eq(e.code, "");
}
END_TEST

START_TEST(parse_error_message_sanitised)
{
	struct kms_error e;
	const char *body = "{\"error\":\"Bad\\u001b[2J\",\"message\":\"a\\u001b[31mb\\nc\"}";

	ck_assert_int_eq(kms_parse_error(KMS_CALL_ISSUE, 400, body, strlen(body), &e),
			 LPA_ERR_KMS_REFUSED);
	ck_assert_str_eq(e.code, ""); /* not a code of the API's alphabet */
	ck_assert_str_eq(e.message, "a?[31mb?c");
}
END_TEST

/* An issue reply around a real LPK1 for chip_uid 0x0102030405060708. */
static void tk_issue_body(char *body, size_t cap, const char *dev_eui, uint32_t counter,
			  const char *extra)
{
	struct lpa_lpk1_hdr hdr = {.lorawan = LPA_LORAWAN_11,
				   .dev_eui = 0x70b3d57ed0100000ull,
				   .join_eui = TK_JOIN_EUI,
				   .chip_uid = 0x0102030405060708ull,
				   .counter = 1,
				   .key_id = 1,
				   .issued_at = 1795331595};
	EVP_PKEY *dik = NULL, *kms = NULL;
	lpa_secbuf *keys = lpa_secbuf_new(LPA_ROOT_KEYS_LEN);
	uint8_t pkg[LPA_LPK1_LEN];
	char b64[400];

	ck_assert_int_eq(lpa_p256_generate(&dik), LPA_OK);
	ck_assert_int_eq(lpa_p256_generate(&kms), LPA_OK);
	ck_assert_int_eq(lpa_lpk1_build(&hdr, keys, dik, kms, NULL, NULL, pkg), LPA_OK);
	lpa_b64url_encode(pkg, sizeof(pkg), b64);
	snprintf(body, cap,
		 "{\"dev_eui\":\"%s\",\"counter\":%u,\"package\":\"%s\",\"key_id\":1,"
		 "\"issued_at\":1795331595%s}",
		 dev_eui, counter, b64, extra);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&kms);
	lpa_secbuf_free(&keys);
}

START_TEST(parse_issue_strict)
{
	struct kms_issue_resp resp;
	struct kms_error e;
	char body[1024];
	const uint64_t uid = 0x0102030405060708ull;

	memset(&e, 0, sizeof(e));
	tk_issue_body(body, sizeof(body), "70b3d57ed0100000", 1, "");
	ck_assert_int_eq(tk_parse_issue(body, uid, TK_JOIN_EUI, LPA_LORAWAN_11, &resp, &e), LPA_OK);
	ck_assert_uint_eq(resp.dev_eui, 0x70b3d57ed0100000ull);
	/* A package for another chip, JoinEUI or LoRaWAN version than asked. */
	ck_assert_int_eq(tk_parse_issue(body, uid + 1, TK_JOIN_EUI, LPA_LORAWAN_11, &resp, &e),
			 LPA_ERR_KMS_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(e.message, "does not match"));
	ck_assert_int_eq(tk_parse_issue(body, uid, TK_JOIN_EUI + 1, LPA_LORAWAN_11, &resp, &e),
			 LPA_ERR_KMS_PROTOCOL);
	ck_assert_int_eq(tk_parse_issue(body, uid, TK_JOIN_EUI, LPA_LORAWAN_10, &resp, &e),
			 LPA_ERR_KMS_PROTOCOL);
	/* A reply whose DevEUI or counter is not the package's. */
	tk_issue_body(body, sizeof(body), "70b3d57ed0100001", 1, "");
	ck_assert_int_eq(tk_parse_issue(body, uid, TK_JOIN_EUI, LPA_LORAWAN_11, &resp, &e),
			 LPA_ERR_KMS_PROTOCOL);
	tk_issue_body(body, sizeof(body), "70b3d57ed0100000", 2, "");
	ck_assert_int_eq(tk_parse_issue(body, uid, TK_JOIN_EUI, LPA_LORAWAN_11, &resp, &e),
			 LPA_ERR_KMS_PROTOCOL);
	/* Ill-formed members. */
	tk_issue_body(body, sizeof(body), "70b3d57ed010000", 1, "");
	ck_assert_int_eq(tk_parse_issue(body, uid, TK_JOIN_EUI, LPA_LORAWAN_11, &resp, &e),
			 LPA_ERR_KMS_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(e.message, "dev_eui"));
	tk_issue_body(body, sizeof(body), "70b3d57ed0100000", 1, ",\"counter\":1");
	ck_assert_int_eq(tk_parse_issue(body, uid, TK_JOIN_EUI, LPA_LORAWAN_11, &resp, &e),
			 LPA_ERR_KMS_PROTOCOL); /* duplicate key */
	tk_issue_body(body, sizeof(body), "70b3d57ed0100000", 1, "");
	strcat(body, " x");
	ck_assert_int_eq(tk_parse_issue(body, uid, TK_JOIN_EUI, LPA_LORAWAN_11, &resp, &e),
			 LPA_ERR_KMS_PROTOCOL); /* trailing garbage */
	snprintf(body, sizeof(body),
		 "{\"dev_eui\":\"70b3d57ed0100000\",\"counter\":1,"
		 "\"package\":\"AAAA\",\"key_id\":1,\"issued_at\":1}");
	ck_assert_int_eq(tk_parse_issue(body, uid, TK_JOIN_EUI, LPA_LORAWAN_11, &resp, &e),
			 LPA_ERR_KMS_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(e.message, "package"));
}
END_TEST

START_TEST(parse_login_strict)
{
	struct kms_session_info info;
	struct kms_error e;
	lpa_secbuf *token = NULL;
	const char *ok =
		"{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"expires_at\":"
		"1795360395,\"operator\":\"alice\",\"roles\":[\"operator\",\"qa\"],"
		"\"station\":\"st1\"}";
	const char *bad[] = {
		/* 42 characters */
		"{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"expires_at\":1,"
		"\"operator\":\"a\",\"roles\":[\"qa\"],\"station\":\"s\"}",
		/* not base64url */
		"{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+\",\"expires_at\":1,"
		"\"operator\":\"a\",\"roles\":[\"qa\"],\"station\":\"s\"}",
		/* expires_at a string */
		"{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"expires_at\":\"1\","
		"\"operator\":\"a\",\"roles\":[\"qa\"],\"station\":\"s\"}",
		/* a role with an escape sequence */
		"{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"expires_at\":1,"
		"\"operator\":\"a\",\"roles\":[\"q\\u001b\"],\"station\":\"s\"}",
		/* no roles */
		"{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"expires_at\":1,"
		"\"operator\":\"a\",\"roles\":[],\"station\":\"s\"}",
		"[]",
		"",
	};

	ck_assert_int_eq(kms_parse_login(ok, strlen(ok), &token, &info, &e), LPA_OK);
	ck_assert_uint_eq(lpa_secbuf_len(token), 43);
	ck_assert_str_eq(info.roles, "operator,qa");
	lpa_secbuf_free(&token);
	for (size_t i = 0; i < TU_N(bad); i++) {
		ck_assert_msg(kms_parse_login(bad[i], strlen(bad[i]), &token, &info, &e) ==
				      LPA_ERR_KMS_PROTOCOL,
			      "case %zu", i);
		ck_assert_ptr_null(token);
	}
}
END_TEST

START_TEST(parse_confirm_strict)
{
	struct kms_error e;
	char *rec = NULL, sig[100], body[400];
	uint8_t raw[64] = {0};

	lpa_b64url_encode(raw, sizeof(raw), sig);
	snprintf(body, sizeof(body),
		 "{\"dev_eui\":\"70b3d57ed0100000\",\"counter\":3,\"record\":\"eyJ9.e30.%s\"}",
		 sig);
	ck_assert_int_eq(kms_parse_confirm(body, strlen(body), 0x70b3d57ed0100000ull, 3, &rec, &e),
			 LPA_OK);
	ck_assert_ptr_nonnull(rec);
	free(rec);
	/* Another attempt's reply. */
	ck_assert_int_eq(kms_parse_confirm(body, strlen(body), 0x70b3d57ed0100000ull, 2, &rec, &e),
			 LPA_ERR_KMS_PROTOCOL);
	ck_assert_ptr_null(rec);
	snprintf(body, sizeof(body),
		 "{\"dev_eui\":\"70b3d57ed0100000\",\"counter\":3,\"record\":\"eyJ9.e30\"}");
	ck_assert_int_eq(kms_parse_confirm(body, strlen(body), 0x70b3d57ed0100000ull, 3, &rec, &e),
			 LPA_ERR_KMS_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(e.message, "record"));
}
END_TEST

/* GET /v1/lots/{lot}/records against the real KMS: the confirmed record comes back
 * byte for byte (what manifest verify --kms compares), in a reply larger than the
 * 64 KiB cap of the other calls once a lot is large. */
START_TEST(lot_records_round_trip)
{
	struct kt_op op;
	struct kt_chip chip;
	struct kms_issue_resp resp;
	struct kms_lot_records lr;
	uint8_t receipt[LPA_LPR1_LEN];
	lpa_secbuf *token = NULL;
	kms_client *c = tk_session(&op, &token);
	char *record = NULL;
	bool found = false;

	tk_installed(c, token, &chip, &resp, receipt);
	ck_assert_int_eq(tk_confirm(c, token, &resp, receipt, &record), LPA_OK);
	ck_assert_int_eq(kms_lot_records(c, token, TK_LOT, &lr), LPA_OK);
	ck_assert_uint_ge(lr.n, 1);
	for (size_t i = 0; i < lr.n; i++)
		found |= lr.v[i].dev_eui == resp.dev_eui && lr.v[i].counter == resp.counter &&
			 strcmp(lr.v[i].record, record) == 0;
	ck_assert(found);
	kms_lot_records_free(&lr);
	/* A lot that is no name is refused before anything is sent. */
	ck_assert_int_eq(kms_lot_records(c, token, "../keys", &lr), LPA_ERR_INVAL);
	free(record);
	tk_end(&c, &token, &chip);
}
END_TEST

START_TEST(parse_lot_records_strict)
{
	struct kms_lot_records lr;
	struct kms_error e;
	char sig[100], body[600];
	uint8_t raw[64] = {0};

	memset(&e, 0, sizeof(e));
	lpa_b64url_encode(raw, sizeof(raw), sig);
	snprintf(body, sizeof(body),
		 "{\"lot\":\"L1\",\"count\":1,\"records\":[{\"dev_eui\":\"70b3d57ed0100000\","
		 "\"counter\":3,\"confirmed_at\":1795331597,\"record\":\"eyJ9.e30.%s\"}]}",
		 sig);
	ck_assert_int_eq(kms_parse_lot_records(body, strlen(body), "L1", &lr, &e), LPA_OK);
	ck_assert_uint_eq(lr.n, 1);
	ck_assert_uint_eq(lr.v[0].counter, 3);
	kms_lot_records_free(&lr);
	/* Another lot's reply. */
	ck_assert_int_eq(kms_parse_lot_records(body, strlen(body), "L2", &lr, &e),
			 LPA_ERR_KMS_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(e.message, "lot"));
	/* A count that is not the array's length. */
	snprintf(body, sizeof(body), "{\"lot\":\"L1\",\"count\":2,\"records\":[]}");
	ck_assert_int_eq(kms_parse_lot_records(body, strlen(body), "L1", &lr, &e),
			 LPA_ERR_KMS_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(e.message, "count"));
	ck_assert_ptr_null(lr.v);
}
END_TEST

int main(void)
{
	const struct kt_case cases[] = {
		KT_CASE(login_ok),
		KT_CASE(login_escapes_password),
		KT_CASE(login_wrong_password),
		KT_CASE(login_replayed_totp),
		KT_CASE(logout_ends_session),
		KT_CASE(keyring_token_expired),
		KT_CASE(malformed_token_not_sent),
		KT_CASE(issue_confirm_one_connection),
		KT_CASE(issue_again_same_dev_eui),
		KT_CASE(confirm_forged_receipt),
		KT_CASE(confirm_superseded),
		KT_CASE(untrusted_chip),
		KT_CASE(issue_bad_identity_not_sent),
		KT_CASE(abandon_idempotent),
		KT_CASE(challenge_verify),
		KT_CASE(keys_reuse_connection),
		KT_CASE(kms_down_bounded_retries),
		KT_CASE(kms_silent_times_out),
		KT_CASE(wrong_pinned_ca),
		KT_CASE(proxy_environment_ignored),
		KT_CASE(revoked_station_refused),
		KT_CASE(only_https),
		KT_CASE(client_from_its_own_options),
		KT_CASE(parse_error_mapping),
		KT_CASE(parse_error_message_sanitised),
		KT_CASE(parse_issue_strict),
		KT_CASE(parse_login_strict),
		KT_CASE(parse_confirm_strict),
		KT_CASE(lot_records_round_trip),
		KT_CASE(parse_lot_records_strict),
	};

	/* A session keyring of our own: the keyring test neither sees nor leaves keys in
	 * the caller's. */
	if (keyctl_join_session_keyring(NULL) < 0)
		perror("test-kms-client: keyctl_join_session_keyring");
	if (lpa_secure_init(64 * 1024) != LPA_OK)
		fprintf(stderr, "test-kms-client: no secure heap; secbufs use locked pages\n");
	/* One server for the run, started by the first TCase that runs. */
	return kt_main("kms-client", cases, TU_N(cases), kt_start, 30, false);
}
