/*
 * call.c — one request in flight as the handlers see it (struct kms_call): its reply
 * and audit notes, the dispatch of its first phase by route, and the second phase of a
 * batch of calls — their writes and audit lines in one transaction (group commit: one
 * fdatasync of the log and one of the database for every call in the batch).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms-audit.h"
#include "kms-auth.h"
#include "kms-device.h"
#include "kms-keys.h"
#include "kms-server.h"

/* -------------------------------------------------------------- call helpers */
int call_fail(struct kms_call *c, enum kms_api_err e, const char *fmt, ...)
{
	char msg[sizeof(c->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(c->message, msg, sizeof(msg));
	c->error = e;
	c->status = kms_api_status(e);
	json_decref(c->reply);
	c->reply = NULL;
	return -1;
}

int call_internal(struct kms_call *c, int err)
{
	return call_fail(c, API_INTERNAL, "%s", kms_strerror(err));
}

void call_ok(struct kms_call *c, unsigned status, json_t *reply)
{
	if (status != 204 && !reply) {
		call_fail(c, API_INTERNAL, "out of memory");
		return;
	}
	c->status = status;
	json_decref(c->reply);
	c->reply = reply;
}

void call_note(struct kms_call *c, const char *key, json_t *value)
{
	if (!value)
		return;
	if (!c->detail && (c->detail = json_object()) == NULL) {
		json_decref(value);
		return;
	}
	json_object_set_new(c->detail, key, value);
}

static void call_keys(struct kms_server *s, struct kms_call *c)
{
	json_t *jwks;

	(void)s;
	c->action = "keys";
	if (keys_jwks(c->db, &jwks) != KMS_OK)
		call_fail(c, API_INTERNAL, "cannot read the keys");
	else
		call_ok(c, 200, jwks);
}

void call_dispatch(struct kms_server *s, struct kms_call *c)
{
	enum kms_api_err api;

	if (req_route(c->method, c->url, &c->target, &api, c->message, sizeof(c->message)) != 0) {
		c->action = "route";
		call_fail(c, api, "%s", c->message);
		return;
	}
	switch (c->target.route) {
	case ROUTE_SESSIONS:
		operator_login(s, c);
		break;
	case ROUTE_SESSION_CURRENT:
		session_logout(s, c);
		break;
	case ROUTE_KEYS:
		call_keys(s, c);
		break;
	case ROUTE_ISSUE:
		if (session_authenticate(s, c, ROLE_OPERATOR) == 0)
			device_issue(s, c);
		break;
	case ROUTE_ENROL:
		if (session_authenticate(s, c, ROLE_ENROL) == 0)
			enrol_device(s, c);
		break;
	case ROUTE_CONFIRM:
		if (session_authenticate(s, c, ROLE_OPERATOR) == 0)
			device_confirm(s, c);
		break;
	case ROUTE_ABANDON:
		if (session_authenticate(s, c, ROLE_OPERATOR) == 0)
			device_abandon(s, c);
		break;
	case ROUTE_CHALLENGE:
		if (session_authenticate(s, c, ROLE_QA) == 0)
			device_challenge(s, c);
		break;
	case ROUTE_VERIFY:
		if (session_authenticate(s, c, ROLE_QA) == 0)
			device_verify(s, c);
		break;
	case ROUTE_RECORDS:
		if (session_authenticate(s, c, ROLE_QA) == 0)
			records_lot(s, c);
		break;
	case ROUTE_NONE:
		call_fail(c, API_NOT_FOUND, "no such endpoint");
		break;
	}
}

void call_defer(struct kms_call *c, void (*apply)(struct kms_server *, struct kms_call *),
		void *state, void (*free_fn)(void *))
{
	c->apply = apply;
	c->state = state;
	c->state_free = free_fn;
}

void call_free(struct kms_call *c)
{
	if (c->state_free && c->state)
		c->state_free(c->state);
	c->state = NULL;
	free(c->lots);
	free(c->join_euis);
	c->lots = c->join_euis = NULL;
	json_decref(c->reply);
	json_decref(c->detail);
	c->reply = NULL;
	c->detail = NULL;
}

/* The call's audit line: who, what, and how it ended; never a secret. */
static json_t *call_audit_entry(const struct kms_call *c)
{
	json_t *e = json_pack("{s:s*, s:s*, s:s, s:s, s:s, s:i}", "station",
			      c->station[0] ? c->station : NULL, "operator",
			      c->operator[0] ? c->operator : NULL, "method", c->method, "path", c->url,
			      "action", c->action ? c->action : "none", "status", (int)c->status);

	if (!e)
		return NULL;
	if (c->status >= 400) {
		json_object_set_new(e, "error", json_string(kms_api_code(c->error)));
		json_object_set_new(e, "message", json_string(c->message));
	}
	if (c->detail)
		json_object_set(e, "detail", c->detail);
	return e;
}

/* A call's second phase answered 500: what it wrote must go, and only that. */
#define CALL_UNDO 1

/* Runs one call's second phase in the batch's transaction. A 500 undoes what it wrote:
 * the caller rolls the transaction back and runs the batch again without it (rare),
 * instead of a savepoint around every call (two round trips each on PostgreSQL, inside
 * the writers' lock). */
static int call_apply(struct kms_server *s, struct db *db, struct kms_call *c)
{
	struct db *own = c->db;

	if (!c->apply || !call_pending(c))
		return KMS_OK;
	c->db = db; /* apply sees the transaction, and what the calls before it wrote */
	c->apply(s, c);
	c->db = own;
	if (call_pending(c))
		call_fail(c, API_INTERNAL, "the request was not answered");
	return c->status >= 500 ? CALL_UNDO : KMS_OK;
}

/* One try of a batch's second phase: its transaction (begun already when begun is
 * KMS_OK, otherwise here), committed (KMS_OK) or rolled back; CALL_UNDO with *failed the
 * call that answered 500. */
static int call_commit_try(struct kms_server *s, struct db *db, struct kms_call **calls, size_t n,
			   int begun, size_t *failed)
{
	struct audit_batch *b = NULL;
	bool committed = false;
	int r = begun;

	if (r != KMS_OK && (r = db_begin(db)) != KMS_OK)
		goto fail;
	if ((r = audit_batch_open(db, s->paths.audit, &b)) != KMS_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		json_t *e;

		if ((r = call_apply(s, db, calls[i])) != KMS_OK) {
			*failed = i;
			break;
		}
		if ((e = call_audit_entry(calls[i])) == NULL) {
			r = KMS_ERR_NOMEM;
			goto fail;
		}
		r = audit_batch_add(b, e);
		json_decref(e);
		if (r != KMS_OK)
			goto fail;
	}
	/* A deadlock or serialization failure, whether a call answered it with a 500 or
	 * not, is the whole transaction's to run again. */
	if (db_must_retry(db))
		r = KMS_ERR_BUSY;
	if (r != KMS_OK)
		goto fail;
	if ((r = audit_batch_write(b, db)) != KMS_OK || (r = db_commit(db)) != KMS_OK)
		goto fail;
	committed = true;
fail:
	if (!committed)
		db_rollback(db);
	audit_batch_close(&b, committed);
	return r;
}

/* Before another try: each deferred call as its first phase left it. */
static void call_reset(struct kms_call *c, json_t *detail)
{
	c->status = 0;
	c->error = 0;
	c->message[0] = '\0';
	c->retry_after = 0;
	json_decref(c->reply);
	c->reply = NULL;
	json_decref(c->detail);
	c->detail = detail ? json_deep_copy(detail) : NULL;
}

void call_commit(struct kms_server *s, struct db *db, struct kms_call **calls, size_t n, int begun)
{
	json_t **details = calloc(n, sizeof(*details));
	bool *deferred = calloc(n, sizeof(*deferred));
	unsigned tries = 0;
	int r;

	if (!details || !deferred) {
		if (begun == KMS_OK)
			db_rollback(db);
		r = KMS_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		deferred[i] = calls[i]->apply && call_pending(calls[i]);
		if (deferred[i] && calls[i]->detail &&
		    (details[i] = json_deep_copy(calls[i]->detail)) == NULL) {
			if (begun == KMS_OK)
				db_rollback(db);
			r = KMS_ERR_NOMEM;
			goto fail;
		}
	}
	for (;;) {
		size_t failed = 0;

		r = call_commit_try(s, db, calls, n, begun, &failed);
		if (r == KMS_OK)
			break;
		if (r == CALL_UNDO)
			deferred[failed] = false; /* keeps its 500: at most n such rounds */
		else if (!db_retry(r, &tries))
			break;
		begun = KMS_ERR_BUSY; /* the next try begins its own */
		for (size_t i = 0; i < n; i++)
			if (deferred[i])
				call_reset(calls[i], details[i]);
	}
fail:
	for (size_t i = 0; details && i < n; i++)
		json_decref(details[i]);
	free(details);
	free(deferred);
	if (r == KMS_OK)
		return;
	/* An unrecorded decision is not acceptable: nothing of it stays, and the replies
	 * say so. */
	fprintf(stderr, "lpa-kms: %zu request(s) failed: cannot record them (%s)\n", n,
		kms_strerror(r));
	for (size_t i = 0; i < n; i++) {
		calls[i]->apply = NULL;
		call_fail(calls[i], API_INTERNAL, "%s",
			  r == KMS_ERR_IO ? "the audit log cannot be written"
					  : "the request could not be recorded");
	}
}
