/*
 * kms-auth.h — who is calling: operators, roles, scope and login (operator.c), sessions
 * (session.c), login rate limits (rate.c).
 */
#ifndef LPA_KMS_AUTH_H
#define LPA_KMS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "kms-db.h"
#include "lpa/core/lpa-core.h"

#include "kms-server.h"

/* --------------------------------------------------------------- operators */
#define ROLE_OPERATOR 1u
#define ROLE_QA 2u
#define ROLE_ADMIN 4u
#define ROLE_ENROL 8u /* certify DIKs with the factory CA (POST /v1/devices/enrol) */
int operator_roles_parse(const char *s, unsigned *roles);
void operator_roles_format(unsigned roles, char *out, size_t len);
json_t *operator_roles_json(unsigned roles);
struct operator_new {
	const char *name;
	unsigned roles;
	const char *lots;      /* comma list or "*" */
	const char *join_euis; /* comma list of 16-hex EUIs or "*" */
	enum lpa_totp_alg alg;
};
struct vault;
/* Creates the operator; *totp_secret receives the new TOTP secret (20 or 32 bytes). */
int operator_add(struct db *db, const struct vault *master, const struct operator_new *n,
		 const char *password, lpa_secbuf **totp_secret);
int operator_reset_totp(struct db *db, const struct vault *master, const char *name,
			enum lpa_totp_alg alg, lpa_secbuf **totp_secret);
int operator_unlock(struct db *db, const char *name);
/* Lifecycle (admin): each ends the operator's sessions where that follows. */
int operator_set_password(struct db *db, const char *name, const char *password);
int operator_set_disabled(struct db *db, const char *name, bool disabled);
int operator_remove(struct db *db, const char *name);
/* NULL keeps a list; a malformed one is KMS_ERR_INVAL. */
int operator_set_scope(struct db *db, const char *name, const char *lots, const char *join_euis);
/* The otpauth:// URI for a secret. */
int operator_otpauth_uri(const char *name, enum lpa_totp_alg alg, const lpa_secbuf *secret,
			 char **uri);
void operator_base32(const uint8_t *in, size_t len, char *out, size_t out_len);
/* "*" or a comma list of items; an item may be a glob with * and ? (lots only: an EUI
 * item is 16 hex digits). Case-insensitive. */
bool operator_in_scope(const char *list, const char *item);
/* Whether a scope list is well-formed: "*", or items of [A-Za-z0-9._-*?] (lots) or 16 hex
 * digits (eui). */
bool operator_scope_ok(const char *list, bool eui);
/* The session's operator may act on this lot and JoinEUI; a 403 out_of_scope reply
 * otherwise. */
int session_scope(struct kms_call *c, const char *lot, uint64_t join_eui);
/* POST /v1/sessions */
void operator_login(struct kms_server *s, struct kms_call *c);

/* ---------------------------------------------------------------- sessions */
#define SESSION_TOKEN_BYTES 32
int session_create(struct db *db, int64_t operator_id, int64_t station_id, unsigned ttl,
		   char token[64], int64_t *expires_at);
/* Fills c->operator*, c->roles from c->token; sets an error reply and returns -1 if not valid. */
int session_authenticate(struct kms_server *s, struct kms_call *c, unsigned need_roles);
void session_logout(struct kms_server *s, struct kms_call *c);

/* ------------------------------------------------------------------ rates */
int rate_new(struct kms_rate **r);
void rate_free(struct kms_rate **r);
/* Takes one token from key's bucket (per_minute tokens, refilled at per_minute per 60 s)
 * at now_ms (a monotonic clock); false, with the seconds until the next token in
 * *retry_after (may be NULL), when it is empty. Thread-safe. */
bool rate_allow(struct kms_rate *r, const char *key, unsigned per_minute, uint64_t now_ms,
		unsigned *retry_after);

#endif /* LPA_KMS_AUTH_H */
