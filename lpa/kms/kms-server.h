/*
 * kms-server.h — the HTTPS server: configuration, the state a request handler sees, one call
 * in flight and its reply and audit notes (server.c), and the TLS side (tls.c).
 */
#ifndef LPA_KMS_SERVER_H
#define LPA_KMS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "lpa/core/lpa-core.h"

#include "kms-db.h"
#include "kms-request.h"

/* ----------------------------------------------------------------- server */
struct kms_config {
	const char *dir;
	const char *master_key;
	const char *pkcs11_module;  /* overrides the database's pkcs11_module */
	int pin_fd;                 /* the token PIN from here, or ... */
	const char *pin_credential; /* ... $CREDENTIALS_DIRECTORY/this (default pkcs11-pin) */
	const char *listen;
	unsigned port;
	const char *port_file;
	unsigned session_ttl;       /* seconds */
	unsigned max_failures;      /* failed logins (per operator and station) before back-off */
	unsigned lockout;           /* seconds of the first back-off; doubles with each failure */
	unsigned lockout_max;       /* seconds: the longest back-off */
	unsigned rate_operator;     /* login attempts per minute per operator and station */
	unsigned rate_station;      /* login attempts per minute per station */
	unsigned challenge_ttl;     /* seconds */
	unsigned challenges_max;    /* open challenges per station */
	unsigned conn_timeout;      /* seconds a connection may sit idle between requests */
	unsigned handshake_timeout; /* seconds from accept to the first request line */
	unsigned request_timeout;   /* seconds from a request line to the whole request */
	unsigned max_connections;   /* all connections */
	unsigned max_unauth;        /* connections not yet shown a station certificate */
	unsigned max_unauth_per_ip; /* ... from one address */
	unsigned max_per_station;   /* connections of one station */
	unsigned workers;           /* request threads */
	unsigned login_workers;     /* of which at most this many check passwords at once */
	size_t max_body;
};

struct kms_rate;    /* rate.c */
struct vault;       /* vault.c */
struct keys_signer; /* keys.c */

/* Everything a request handler needs: read-only once the server runs, except rate (which
 * locks itself). */
struct kms_server {
	struct kms_config cfg;
	struct kms_paths paths;
	struct db *db;
	struct vault *master; /* the sealing key: a key file or a PKCS#11 token */
	struct keys_signer *package_key;
	uint32_t package_key_id;
	struct keys_signer *record_key;
	uint32_t record_key_id;
	char *device_ca_pem;
	struct x509_store_st *device_ca; /* built from it once; X509_STORE is thread-safe */
	/* The factory device-identity CA (enrol.c): its key unsealed at start, like the TLS
	 * key; NULL in a KMS whose init made none (enrol then answers 500). */
	EVP_PKEY *factory_ca_key;
	struct x509_st *factory_ca;
	struct x509_store_st *factory_ca_store;
	struct kms_rate *rate;
};

/* One request in flight: who is calling, and what the answer and the audit line say. */
struct kms_call {
	struct db *db; /* the connection this call uses */
	/* from TLS */
	int64_t station_id;
	char station[REQ_MAX_NAME + 1];
	/* from the session, when there is one */
	int64_t operator_id;
	char operator[REQ_MAX_NAME + 1];
	unsigned roles;
	char *lots, *join_euis; /* the operator's scope (malloc'd) */
	const char *token;      /* Authorization: Bearer, or NULL */
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
	unsigned retry_after; /* seconds, for 423 and 429 */
	/* audit: what the call did, never a secret */
	const char *action;
	json_t *detail;
	/*
	 * A handler runs in two phases. The first (the route's function, dispatched by
	 * call_dispatch) does everything slow or read-only with no transaction open:
	 * parsing, the checks of certificates, receipts and passwords, signing. When the
	 * call changes state it leaves the reply unset and names its second phase here;
	 * apply runs inside the write transaction that also appends the call's audit line,
	 * re-checks what may have changed since, writes, and sets the reply. It must be
	 * quick. A failure it reports as 500 undoes its writes; any other reply keeps them
	 * (a counted login failure, a consumed challenge).
	 */
	void (*apply)(struct kms_server *s, struct kms_call *c);
	void *state; /* the first phase's findings, for apply */
	void (*state_free)(void *state);
};
/* Sets an error reply (and the audit result). Returns -1 for `return call_fail(...)`. */
int call_fail(struct kms_call *c, enum kms_api_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An internal failure (a KMS_ERR_* code) as 500 internal, the message naming it. */
int call_internal(struct kms_call *c, int err);
void call_ok(struct kms_call *c, unsigned status, json_t *reply);
/* Adds a non-secret fact to the audit line. */
void call_note(struct kms_call *c, const char *key, json_t *value);

/*
 * The worker pool (pool.c). The thread that accepts connections and speaks TLS and
 * HTTP only hands complete requests over: workers (each with its own database
 * connection) run the first phase, at most login_workers of them a slow one (Argon2);
 * the second phase of whatever calls have gathered runs in one transaction on one of
 * them, which then hands each back through done.
 */
struct kms_job {
	struct kms_call call;
	bool slow; /* a login: Argon2 */
	/* The first phase, on a worker (call.db is the worker's connection). */
	void (*prepare)(struct kms_server *s, struct kms_job *job);
	/* After the commit, on the worker that committed: the reply is final. */
	void (*done)(struct kms_job *job);
	struct kms_job *next;
};
struct kms_pool;
int pool_start(struct kms_server *s, struct kms_pool **pool);
void pool_submit(struct kms_pool *pool, struct kms_job *job);
/* Finishes every job submitted, then stops the threads. */
void pool_stop(struct kms_pool **pool);

/* A call is pending (its apply still to run) until a reply is set. */
static inline bool call_pending(const struct kms_call *c)
{
	return c->status == 0;
}
/* Hands c->state to apply (freed with free_fn after the call). */
void call_defer(struct kms_call *c, void (*apply)(struct kms_server *, struct kms_call *),
		void *state, void (*free_fn)(void *));

int server_run(const struct kms_config *cfg);
/* The first phase of one complete request (station already identified). */
void call_dispatch(struct kms_server *s, struct kms_call *c);
/*
 * The second phase of n calls on the writer's connection db: one transaction in which
 * each pending call's apply runs and each call's audit line is appended, committed
 * together; a call whose apply answers 500 has its writes undone (the batch runs again
 * without it). If the audit log cannot be written or the commit
 * fails, nothing of it stays and every call's reply becomes 500. begun: KMS_OK when the
 * caller began the transaction already (db_begin), anything else to begin it here.
 * A deadlock or serialization failure runs the whole transaction again (db_retry).
 */
void call_commit(struct kms_server *s, struct db *db, struct kms_call **calls, size_t n, int begun);
/* Releases what the call holds (not the call itself). */
void call_free(struct kms_call *c);

/* TLS side of a connection: the station certificate's SHA-256 fingerprint, after
 * checking its chain and its clientAuth purpose (once per connection: server.c keeps it). */
struct MHD_Connection;
int tls_peer_fingerprint(struct MHD_Connection *conn, uint8_t fp[32]);
void tls_require_client_cert(struct MHD_Connection *conn);
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"

#endif /* LPA_KMS_SERVER_H */
