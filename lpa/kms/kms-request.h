/*
 * kms-request.h — what the KMS reads from the network before trusting it: routes and strict
 * JSON bodies (request.c; no database, no server, so the fuzz target drives it alone).
 */
#ifndef LPA_KMS_REQUEST_H
#define LPA_KMS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lpa/core/lpa-core.h"

#include "kms-err.h"

/* --------------------------------------------------------------- requests */
/* Limits the parser enforces; docs/kms-api.md lists them. */
#define REQ_MAX_BODY 8192
#define REQ_MAX_NAME 64
#define REQ_MAX_PASSWORD 1024
#define REQ_MAX_REASON 256

enum req_route {
	ROUTE_NONE = 0,
	ROUTE_SESSIONS,        /* POST /v1/sessions */
	ROUTE_SESSION_CURRENT, /* DELETE /v1/sessions/current */
	ROUTE_KEYS,            /* GET /v1/keys */
	ROUTE_ISSUE,           /* POST /v1/devices/issue */
	ROUTE_ENROL,           /* POST /v1/devices/enrol */
	ROUTE_CONFIRM,         /* POST /v1/devices/{dev_eui}/confirm */
	ROUTE_ABANDON,         /* POST /v1/devices/{dev_eui}/abandon */
	ROUTE_CHALLENGE,       /* POST /v1/devices/{dev_eui}/challenge */
	ROUTE_VERIFY,          /* POST /v1/devices/{dev_eui}/verify */
	ROUTE_RECORDS,         /* GET /v1/lots/{lot}/records */
};
struct req_target {
	enum req_route route;
	uint64_t dev_eui;
	char lot[REQ_MAX_NAME + 1];
};
/* Maps method and path to a route; API_NOT_FOUND or API_METHOD_NOT_ALLOWED otherwise. */
int req_route(const char *method, const char *url, struct req_target *t, enum kms_api_err *api,
	      char *msg, size_t msg_len);

struct req_login {
	char operator[REQ_MAX_NAME + 1];
	lpa_secbuf *password; /* NUL-terminated */
	char totp[9];
	unsigned ttl; /* 0: the server's default */
};
struct req_issue {
	char lot[REQ_MAX_NAME + 1];
	uint64_t join_eui;
	uint8_t lorawan;     /* LPA_LORAWAN_10 / _11 */
	uint32_t silicon_id; /* from the station's exam */
	struct lpa_lpi1 id;
	uint8_t *identity; /* the raw LPI1 */
	size_t identity_len;
};
struct req_enrol {
	char lot[REQ_MAX_NAME + 1];
	uint64_t join_eui;
	uint32_t silicon_id; /* from the station's exam */
	struct lpa_lpe1 e;   /* verified: the sender holds the DIK */
};
struct req_confirm {
	uint32_t counter;
	uint8_t receipt[LPA_LPR1_LEN];
	char probe_serial[REQ_MAX_NAME + 1];
	char probe_firmware[REQ_MAX_NAME + 1];
};
struct req_abandon {
	uint32_t counter;
	char reason[REQ_MAX_REASON + 1];
};
struct req_verify {
	uint8_t proof[LPA_LPP1_LEN];
};
/* Each returns 0, or -1 with *api and a message naming what is wrong. */
int req_parse_login(const char *body, size_t len, struct req_login *r, enum kms_api_err *api,
		    char *msg, size_t msg_len);
void req_login_clear(struct req_login *r);
int req_parse_issue(const char *body, size_t len, struct req_issue *r, enum kms_api_err *api,
		    char *msg, size_t msg_len);
void req_issue_clear(struct req_issue *r);
/* Also checks the LPE1's signature: API_ENROLMENT_INVALID when it does not verify. */
int req_parse_enrol(const char *body, size_t len, struct req_enrol *r, enum kms_api_err *api,
		    char *msg, size_t msg_len);
int req_parse_confirm(const char *body, size_t len, struct req_confirm *r, enum kms_api_err *api,
		      char *msg, size_t msg_len);
int req_parse_abandon(const char *body, size_t len, struct req_abandon *r, enum kms_api_err *api,
		      char *msg, size_t msg_len);
int req_parse_verify(const char *body, size_t len, struct req_verify *r, enum kms_api_err *api,
		     char *msg, size_t msg_len);
/* An empty body or {} (challenge, logout). */
int req_parse_empty(const char *body, size_t len, enum kms_api_err *api, char *msg, size_t msg_len);
/* Names: 1..REQ_MAX_NAME of [A-Za-z0-9._-] (lpa_name_valid); used for operators,
 * stations and lots. */
bool req_name_ok(const char *s);
/* jansson allocates through these so request bodies (passwords) are wiped when freed. */
void req_json_wipe_allocator(void);

#endif /* LPA_KMS_REQUEST_H */
