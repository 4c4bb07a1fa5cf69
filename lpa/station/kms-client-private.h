/*
 * kms-client-private.h — inside the KMS client: the reply parsers (kms-reply.c),
 * separate from the HTTP layer (kms-http.c) so the unit tests and the fuzz target
 * (tests/station/fuzz-kms-response.c) reach them without a server, and what the API
 * calls (kms-client.c) use of the transport. Not for other station code: use
 * kms-client.h.
 */
#ifndef LPA_STATION_KMS_CLIENT_PRIVATE_H
#define LPA_STATION_KMS_CLIENT_PRIVATE_H

#include <jansson.h>

#include "kms-client.h"

/* Which call a reply answers: decides retries and how some refusals map. */
enum kms_call {
	KMS_CALL_LOGIN,
	KMS_CALL_LOGOUT,
	KMS_CALL_KEYS,
	KMS_CALL_ISSUE,
	KMS_CALL_CONFIRM,
	KMS_CALL_ABANDON,
	KMS_CALL_CHALLENGE,
	KMS_CALL_VERIFY,
	KMS_CALL_LOT_RECORDS,
	KMS_CALL_ENROL,
	KMS_CALL_N
};

/* Names of the calls, for messages ("reply to issue is not JSON"). */
extern const char *const kms_call_names[KMS_CALL_N];
void kms_error_set(struct kms_error *e, long status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A reply's buffer. */
struct kms_reply {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool overflow;
	size_t grow_to; /* > cap: data is malloc'd and may grow to this (lot records) */
};

/* The client's own reply buffer (KMS_REPLY_MAX), for the calls whose reply is not secret. */
struct kms_reply kms_client_reply(kms_client *c);
/* The client's last error, for the parsers to fill. */
struct kms_error *kms_client_err(kms_client *c);
/*
 * A call, with the retries its kind allows: LPA_OK when the KMS answered want_status (the
 * body in out); otherwise the mapped error with the client's error filled.
 */
int kms_client_call(kms_client *c, enum kms_call call, const char *method, const char *path,
		    const lpa_secbuf *token, const char *body, size_t body_len,
		    struct kms_reply *out, long want_status);

/* The largest reply the client accepts (a JWKS or a record is a few KiB). */
#define KMS_REPLY_MAX (64 * 1024)
/* GET /v1/lots/{lot}/records: about 1.3 KiB per record, so 256 MiB is some 200,000. */
#define KMS_LOT_REPLY_MAX (256u * 1024 * 1024)

/*
 * A refusal (any status but the call's success status): fills e from the body's
 * {"error", "message"} when it has them (a proxy's HTML page does not; the status still
 * maps) and returns the LPA_ERR_KMS_* of kms-client.h's table.
 */
int kms_parse_error(enum kms_call call, long status, const char *body, size_t len,
		    struct kms_error *e);

/* Success replies. Each returns LPA_OK or LPA_ERR_KMS_PROTOCOL with e->message naming
 * the member that is missing, ill-typed, out of range or inconsistent. */
int kms_parse_login(const char *body, size_t len, lpa_secbuf **token, struct kms_session_info *info,
		    struct kms_error *e);
int kms_parse_keys(const char *body, size_t len, char **jwks, struct kms_error *e);
/* chip_uid, join_eui, lorawan: what was asked, which the package must name. */
int kms_parse_issue(const char *body, size_t len, uint64_t chip_uid, uint64_t join_eui,
		    uint8_t lorawan, struct kms_issue_resp *resp, struct kms_error *e);
int kms_parse_confirm(const char *body, size_t len, uint64_t dev_eui, uint32_t counter,
		      char **record, struct kms_error *e);
int kms_parse_abandon(const char *body, size_t len, uint64_t dev_eui, uint32_t counter,
		      struct kms_error *e);
int kms_parse_challenge(const char *body, size_t len, uint64_t dev_eui, uint8_t nonce[16],
			time_t *expires_at, struct kms_error *e);
/* lot: the lot asked for, which the reply must name. */
int kms_parse_lot_records(const char *body, size_t len, const char *lot,
			  struct kms_lot_records *out, struct kms_error *e);
int kms_parse_verify(const char *body, size_t len, uint64_t dev_eui, bool *verified,
		     uint32_t *counter, struct kms_error *e);

/* enrol (kms-enrol.c): chip_uid, the LPE1's; *cert malloc'd DER. */
int kms_parse_enrol(const char *body, size_t len, uint64_t chip_uid, uint8_t **cert,
		    size_t *cert_len, struct kms_error *e);

/* What the calls outside kms-client.c (kms-enrol.c) use besides the above. */
/* POST path with body (consumed); LPA_OK when the status is want. */
int kms_client_call_json(kms_client *c, enum kms_call call, const char *path,
			 const lpa_secbuf *token, json_t *body, struct kms_reply *b, long want);
json_t *kms_parse_json(enum kms_call call, const char *body, size_t len, struct kms_error *e);

#endif
