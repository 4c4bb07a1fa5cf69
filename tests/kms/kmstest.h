/*
 * kmstest.h — the KMS test harness: a real lpa-kms (admin CLI and HTTPS server) in a
 * scratch directory, a device-identity CA and test chips made with OpenSSL here, the
 * chip side of LPK1/LPR1/LPP1 done by the core library, and HTTPS calls with libcurl.
 */
#ifndef LPA_KMSTEST_H
#define LPA_KMSTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <check.h>
#include <jansson.h>

#include "lpa/core/lpa-core.h"

#define KT_JOIN_EUI "70b3d57ed0000000"
#define KT_SILICON_ID 0xe2072100u /* of every test chip, in its LPI1 and "read by the exam" */

struct kt_env {
	char dir[512];   /* scratch root */
	char kms[600];   /* KMS state dir */
	char certs[600]; /* station credentials */
	const char *bin; /* lpa-kms */
	unsigned port;
	int server_pid;
	const char *pg; /* the PostgreSQL connection string (KT_PG_CONNINFO), or NULL: SQLite */
	bool reuse;     /* keep one connection per station (benchmarks), not one per call */
	/* Set before kt_start (0/NULL: the defaults): stations st1..stN (3), Argon2 work
	 * factors ("1", "256": fast tests), extra `serve` arguments (NULL-terminated). */
	unsigned stations;
	const char *argon2_t, *argon2_m;
	const char *serve_args[16];
	EVP_PKEY *ca_key, *rogue_ca_key;
	void *ca_cert, *rogue_ca_cert; /* X509 * */
};
extern struct kt_env kt;

/* Suite-level setup (an unchecked fixture; starts everything once) and teardown (from
 * main, after the run). kt_stop returns nonzero when the server did not exit cleanly,
 * which under the sanitizers includes a leak or an error report at shutdown. */
void kt_start(void);
int kt_stop(void);
/* Starts one more `lpa-kms serve` on the same KMS directory (PostgreSQL: another instance
 * on the same database); its log is DIR/TAG.log. Returns its pid, *port its port. */
int kt_serve(const char *tag, unsigned *port);

/* A test of a KMS program and the TCase it runs in. */
struct kt_case {
	const char *tcase;
	const TTest *test;
};
/* A case in a TCase of its own, named after its test function. */
#define KT_CASE(t)                                                                                 \
	{                                                                                          \
#t, t                                                                              \
	}
/* Runs cases in the Check suite named suite: consecutive cases with the same TCase name
 * share a TCase, each TCase has the unchecked fixture setup (kt_start, or a wrapper of it:
 * one server for the whole run, started on first use) and a timeout in seconds. nofork:
 * in this process, for tests that share what setup made once; otherwise Check's default.
 * kt_check returns the number of failed tests; kt_main then runs kt_stop and returns the
 * program's exit status. */
int kt_check(const char *suite, const struct kt_case *cases, size_t n, void (*setup)(void),
	     double timeout, bool nofork);
int kt_main(const char *suite, const struct kt_case *cases, size_t n, void (*setup)(void),
	    double timeout, bool nofork);

/* Runs `lpa-kms ARGS...` (NULL-terminated); returns its exit status. in_fd/out_fd, when
 * >= 0, are passed to the child as fds 3 and 4. stdout goes to out (may be NULL). */
int kt_run(int in_fd, int out_fd, char *out, size_t out_len, ...) __attribute__((sentinel));
/* `lpa-kms admin peer add NAME` (must succeed): kind "ns" or "as", a NetID (NULL: none,
 * as for an AS), its KEK label, the lots it serves, the JoinEUIs it owns (NULL: no
 * limit); its credentials into kt.certs. */
void kt_peer_add(const char *name, const char *kind, const char *net_id, const char *kek_label,
		 const char *lots, const char *join_euis);

/* A fresh operator with a unique name made from prefix; its TOTP secret (raw) in secret. */
struct kt_op {
	char name[64];
	uint8_t secret[64];
	size_t secret_len;
	enum lpa_totp_alg alg;
};
void kt_operator(struct kt_op *op, const char *prefix, const char *roles, const char *alg,
		 const char *extra_opt, const char *extra_val);
/* Sleeps until the current TOTP step has at least 3 s left on both sides, so a code
 * computed here is for the same step the server sees. */
void kt_totp_settle(void);
void kt_totp(const struct kt_op *op, int step_offset, char code[9]);

/* One HTTPS call. station NULL: no client certificate. status -1: transport failure. */
struct kt_resp {
	long status;
	json_t *json;
	char body[16384];
};
void kt_http(const char *station, const char *method, const char *path, const char *token,
	     const char *content_type, const char *body, size_t body_len, struct kt_resp *r);
void kt_resp_free(struct kt_resp *r);
const char *kt_error(const struct kt_resp *r); /* the "error" member or "" */

/* Logs op in from station at step offset; returns the HTTP status, token filled on 201. */
long kt_login(const struct kt_op *op, const char *station, const char *password, int offset,
	      char token[64], struct kt_resp *r);
void kt_login_ok(const struct kt_op *op, const char *station, char token[64]);

/* A test chip: DIK, a certificate from the test CA (or the rogue one), its LPI1. */
struct kt_chip {
	EVP_PKEY *dik;
	uint64_t uid;
	uint32_t last_counter;
	uint8_t lpi1[LPA_LPI1_MAX_LEN];
	size_t lpi1_len;
	lpa_secbuf *keys; /* after kt_chip_install */
	uint8_t lorawan;
	uint64_t dev_eui;
};
/* rogue: certified by a CA the KMS does not trust. cert_uid: UID written into the
 * certificate (normally == uid). */
void kt_chip_new(struct kt_chip *c, bool rogue, uint64_t cert_uid_xor);
void kt_chip_free(struct kt_chip *c);

/* Issues a package for chip in lot; fills dev_eui, counter, package. Returns status.
 * kt_issue_body builds the body it sends (silicon_id: the exam's reading). */
void kt_issue_body(const struct kt_chip *c, const char *lot, const char *lorawan,
		   uint32_t silicon_id, char *body, size_t cap);
long kt_issue(const char *station, const char *token, struct kt_chip *c, const char *lot,
	      const char *lorawan, uint32_t *counter, uint8_t pkg[LPA_LPK1_LEN], struct kt_resp *r);
/* The chip opens the package (must succeed) and writes its receipt. */
void kt_chip_install(struct kt_chip *c, const uint8_t pkg[LPA_LPK1_LEN],
		     uint8_t receipt[LPA_LPR1_LEN]);
long kt_confirm(const char *station, const char *token, uint64_t dev_eui, uint32_t counter,
		const uint8_t receipt[LPA_LPR1_LEN], struct kt_resp *r);
/* POST .../challenge: returns the status; on 201 the 16-byte nonce into nonce. */
long kt_challenge(const char *station, const char *token, uint64_t dev_eui, uint8_t nonce[16]);
/* POST .../verify with chip's LPP1 for nonce, its MAC under keys (chip->keys, or wrong
 * ones); returns the status. */
long kt_verify(const char *station, const char *token, const struct kt_chip *chip,
	       const lpa_secbuf *keys, const uint8_t nonce[16], struct kt_resp *r);

/* The package-signing and record-signing public keys as the KMS publishes them. */
EVP_PKEY *kt_kms_key(const char *purpose);

void kt_b64(const uint8_t *in, size_t len, char *out);
size_t kt_base32_decode(const char *s, uint8_t *out, size_t cap); /* stops at newline */
uint64_t kt_hex64(const char *s);

#endif
