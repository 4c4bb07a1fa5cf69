/*
 * kms-server.h — the HTTPS server: configuration, the state a request handler sees, one call
 * in flight and its reply and audit notes (server.c), and the TLS side (tls.c).
 */
#ifndef LPA_KMS_SERVER_H
#define LPA_KMS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "lpa/core/lpa-core.h"

#include "kms-db.h"
#include "kms-request.h"

/* ----------------------------------------------------------------- server */
struct kms_config {
	const char *dir;
	const char *master_key;
	const char *listen;
	unsigned port;
	const char *port_file;
	unsigned session_ttl;   /* seconds */
	unsigned max_failures;  /* failed logins before lockout */
	unsigned rate_operator; /* login attempts per minute per operator */
	unsigned rate_station;  /* login attempts per minute per station */
	unsigned challenge_ttl; /* seconds */
	unsigned conn_timeout;  /* seconds of idle connection */
	size_t max_body;
};

struct kms_rate; /* rate.c */

/* Everything a request handler needs; owned by the server thread. */
struct kms_server {
	struct kms_config cfg;
	struct kms_paths paths;
	sqlite3 *db;
	lpa_secbuf *master;
	EVP_PKEY *package_key;
	uint32_t package_key_id;
	EVP_PKEY *record_key;
	uint32_t record_key_id;
	char *device_ca_pem;
	struct kms_rate *rate;
};

/* One request in flight: who is calling, and what the answer and the audit line say. */
struct kms_call {
	sqlite3 *db; /* the connection this call uses */
	/* from TLS */
	int64_t station_id;
	char station[REQ_MAX_NAME + 1];
	/* from the session, when there is one */
	int64_t operator_id;
	char operator[REQ_MAX_NAME + 1];
	unsigned roles;
	const char *token; /* Authorization: Bearer, or NULL */
	/* request */
	const char *method;
	const char *url;
	const char *body;
	size_t body_len;
	struct req_target target;
	/* reply */
	unsigned status;
	json_t *reply;          /* success body, or NULL */
	enum kms_api_err error; /* valid when status >= 400 */
	char message[256];
	/* audit: what the call did, never a secret */
	const char *action;
	json_t *detail;
};
/* Sets an error reply (and the audit result). Returns -1 for `return call_fail(...)`. */
int call_fail(struct kms_call *c, enum kms_api_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An internal failure (a KMS_ERR_* code) as 500 internal, the message naming it. */
int call_internal(struct kms_call *c, int err);
void call_ok(struct kms_call *c, unsigned status, json_t *reply);
/* Adds a non-secret fact to the audit line. */
void call_note(struct kms_call *c, const char *key, json_t *value);

int server_run(const struct kms_config *cfg);
/* Dispatches one complete request (station already identified). */
void server_dispatch(struct kms_server *s, struct kms_call *c);

/* TLS side of a connection: the station certificate's SHA-256 fingerprint. */
struct MHD_Connection;
int tls_peer_fingerprint(struct MHD_Connection *conn, uint8_t fp[32]);
void tls_require_client_cert(struct MHD_Connection *conn);
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"

#endif /* LPA_KMS_SERVER_H */
