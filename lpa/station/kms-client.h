/*
 * kms-client.h — the station's client of the KMS API (docs/kms-api.md): libcurl over
 * HTTPS with TLS 1.3 and the station's certificate (mutual TLS), the KMS CA pinned, one
 * connection reused for every call, bounded retries of the calls the API makes safe to
 * repeat (issue, confirm, abandon, keys), and every KMS error reported with its code.
 */
#ifndef LPA_STATION_KMS_CLIENT_H
#define LPA_STATION_KMS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lpa/core/lpa-core.h"

struct station_config;

typedef struct kms_client kms_client;

/* What the KMS said when it refused a call (status 0: it never answered). */
struct kms_error {
	long status;       /* HTTP status, 0 when the KMS was not reached */
	char code[40];     /* the API's error code ("untrusted_chip"), or "" */
	char message[256]; /* the KMS's message, or the transport's (curl) error */
};

/*
 * Error mapping (LPA_ERR_* returned by every call):
 *   LPA_ERR_KMS_UNREACHABLE  connection refused, TLS failure, timeout, after the retries
 *   LPA_ERR_KMS_AUTH         401 (unauthenticated, token_expired, wrong_station,
 *                            login_failed), 423 account_locked, 429 rate_limited
 *   LPA_ERR_KMS_UNTRUSTED    422 untrusted_chip, identity_mismatch; 409 identity_conflict
 *   LPA_ERR_KMS_RECEIPT      422 receipt_invalid, 409 attempt_closed on confirm
 *   LPA_ERR_KMS_REFUSED      any other 4xx
 *   LPA_ERR_KMS_SERVER       5xx (after the retries, for retried calls)
 *   LPA_ERR_KMS_PROTOCOL     a reply that does not parse as the API says
 */

/* Where the KMS is and how the station proves who it is (file paths, PEM). */
struct kms_client_opts {
	const char *url;    /* https://host:port */
	const char *ca;     /* the KMS's CA: the only trust anchor */
	const char *cert;   /* the station's certificate (mutual TLS) */
	const char *key;    /* its private key */
	unsigned timeout_s; /* per request, > 0 */
	unsigned retries;   /* of the calls that may be repeated */
};
int kms_client_open(const struct kms_client_opts *o, kms_client **c);
/* kms_client_open with cfg's kms_url, kms_ca, tls_cert, tls_key, kms_timeout_s,
 * kms_retries. */
int kms_client_new(const struct station_config *cfg, kms_client **c);
void kms_client_free(kms_client **c);
/* The last refusal's details (valid until the next call). */
const struct kms_error *kms_client_error(const kms_client *c);
/* Counters for benchmarks: HTTP requests sent, connections opened. */
void kms_client_counters(const kms_client *c, uint64_t *requests, uint64_t *connects);

struct kms_session_info {
	char operator_name[64];
	char roles[64]; /* comma-separated, e.g. "operator,qa" */
	char station[64];
	time_t expires_at;
};

/* POST /v1/sessions. Never retried (a TOTP step is consumed). *token: a new secbuf. */
int kms_login(kms_client *c, const char *operator_name, const lpa_secbuf *password,
	      const lpa_secbuf *totp, unsigned ttl_s, lpa_secbuf **token,
	      struct kms_session_info *info);
/* DELETE /v1/sessions/current. */
int kms_logout(kms_client *c, const lpa_secbuf *token);
/* GET /v1/keys: the JWKS as text (malloc'd). Also the reachability probe of `status`. */
int kms_keys(kms_client *c, char **jwks);

struct kms_issue_req {
	const char *lot;
	uint64_t join_eui;
	const char *lorawan;     /* "1.0.4" or "1.1" */
	const uint8_t *identity; /* LPI1 bytes as the chip gave them */
	size_t identity_len;
	uint32_t silicon_id; /* as the exam read it over SWD (the KMS compares the LPI1's) */
};
struct kms_issue_resp {
	uint64_t dev_eui;
	uint32_t counter;
	uint8_t package[LPA_LPK1_LEN];
	uint32_t key_id;
	time_t issued_at;
};
/* POST /v1/devices/issue; the package is parsed (lpa_lpk1_parse) and checked against the
 * reply's dev_eui/counter and the identity's chip UID before it is returned. */
int kms_issue(kms_client *c, const lpa_secbuf *token, const struct kms_issue_req *req,
	      struct kms_issue_resp *resp);
/* POST /v1/devices/enrol (kms-enrol.c): the factory CA's certificate of the DIK the LPE1
 * names (checked: the reply names the LPE1's chip UID and the certificate is DER X.509
 * of at most 984 bytes, what the agent stores). *cert malloc'd. */
struct kms_enrol_req {
	const char *lot;
	uint64_t join_eui;
	uint32_t silicon_id; /* as the exam read it */
	const uint8_t *lpe1; /* LPA_LPE1_LEN bytes */
};
int kms_enrol(kms_client *c, const lpa_secbuf *token, const struct kms_enrol_req *req,
	      uint8_t **cert, size_t *cert_len);
/* POST /v1/devices/{dev_eui}/confirm. *record: the JWS (malloc'd). */
int kms_confirm(kms_client *c, const lpa_secbuf *token, uint64_t dev_eui, uint32_t counter,
		const uint8_t receipt[LPA_LPR1_LEN], const char *probe_serial,
		const char *probe_firmware, char **record);
/* POST /v1/devices/{dev_eui}/abandon. */
int kms_abandon(kms_client *c, const lpa_secbuf *token, uint64_t dev_eui, uint32_t counter,
		const char *reason);
/* POST /v1/devices/{dev_eui}/challenge. */
int kms_challenge(kms_client *c, const lpa_secbuf *token, uint64_t dev_eui, uint8_t nonce[16],
		  time_t *expires_at);
/* POST /v1/devices/{dev_eui}/verify: LPA_OK and *verified = true when the KMS accepts. */
int kms_verify(kms_client *c, const lpa_secbuf *token, uint64_t dev_eui,
	       const uint8_t proof[LPA_LPP1_LEN], bool *verified, uint32_t *counter);

/* GET /v1/lots/{lot}/records (role qa): the KMS's confirmed records of a lot, in
 * confirmation order — the witness a manifest cut back to an earlier trailer cannot fool. */
struct kms_lot_record {
	uint64_t dev_eui;
	uint32_t counter;
	time_t confirmed_at;
	char *record; /* the JWS, as confirm returned it */
};
struct kms_lot_records {
	size_t n;
	struct kms_lot_record *v;
};
int kms_lot_records(kms_client *c, const lpa_secbuf *token, const char *lot,
		    struct kms_lot_records *out);
void kms_lot_records_free(struct kms_lot_records *l);

#endif
