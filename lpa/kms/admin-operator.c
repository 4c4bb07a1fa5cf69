/*
 * admin-operator.c — `lpa-kms admin` for the people at the stations: add one, change
 * its password, scope or TOTP secret, lift its back-off, disable, enable or remove it.
 * Each change and its audit line commit together (admin_end).
 */
#include <stdio.h>
#include <string.h>

#include "kms-auth.h"
#include "kms-request.h"

#include "admin-private.h"

static int admin_operator_name(const char *name)
{
	if (req_name_ok(name))
		return KMS_OK;
	fprintf(stderr, "lpa-kms: a name is 1..64 characters of A-Z a-z 0-9 . _ -\n");
	return KMS_ERR_INVAL;
}

/* Lots: "*" or items of A-Z a-z 0-9 . _ - with the globs * and ?; JoinEUIs: "*" or
 * items of 16 hex digits. Anything else is refused rather than half-matched. */
static int admin_operator_scope_ok(const struct admin_opts *o)
{
	if (o->lots && !operator_scope_ok(o->lots, false)) {
		fprintf(stderr,
			"lpa-kms: --lots is * or a comma list of lot names, which may use the"
			" globs * and ? (not '%s')\n",
			o->lots);
		return KMS_ERR_INVAL;
	}
	if (o->join_euis && !operator_scope_ok(o->join_euis, true)) {
		fprintf(stderr, "lpa-kms: --join-euis is * or a comma list of 16-hex-digit EUIs\n");
		return KMS_ERR_INVAL;
	}
	return KMS_OK;
}

int admin_operator_add(const struct admin_opts *o)
{
	struct admin_ctx a;
	struct operator_new n = {0};
	lpa_secbuf *pw = NULL, *secret = NULL;
	int r;

	memset(&a, 0, sizeof(a));
	n.name = o->arg;
	n.lots = o->lots;
	n.join_euis = o->join_euis;
	if ((r = admin_operator_name(o->arg)) != KMS_OK ||
	    (r = admin_operator_scope_ok(o)) != KMS_OK)
		return r;
	if (!o->role || operator_roles_parse(o->role, &n.roles) != KMS_OK) {
		fprintf(stderr, "lpa-kms: --role needs operator, qa and/or admin (comma list)\n");
		return KMS_ERR_INVAL;
	}
	if (admin_alg(o->alg, &n.alg) != KMS_OK) {
		fprintf(stderr, "lpa-kms: --totp-alg is sha1 or sha256\n");
		return KMS_ERR_INVAL;
	}
	if ((r = admin_open(o, &a)) != KMS_OK || (r = admin_password(o, o->arg, &pw)) != KMS_OK ||
	    (r = admin_begin(&a)) != KMS_OK)
		goto fail;
	r = operator_add(a.db, a.master, &n, (const char *)lpa_secbuf_cdata(pw), &secret);
	if ((r = admin_end(&a, "add-operator", o->arg, r)) != KMS_OK) {
		fprintf(stderr, "lpa-kms: cannot add operator %s: %s\n", o->arg, kms_strerror(r));
		goto fail;
	}
	r = admin_show_totp(o, o->arg, n.alg, secret);
fail:
	lpa_secbuf_free(&pw);
	lpa_secbuf_free(&secret);
	admin_close(&a);
	return r;
}

int admin_operator_reset_totp(const struct admin_opts *o)
{
	struct admin_ctx a;
	lpa_secbuf *secret = NULL;
	enum lpa_totp_alg alg;
	int r;

	if (admin_alg(o->alg, &alg) != KMS_OK)
		return KMS_ERR_INVAL;
	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK) {
		r = operator_reset_totp(a.db, a.master, o->arg, alg, &secret);
		r = admin_end(&a, "reset-totp", o->arg, r);
	}
	if (r == KMS_OK)
		r = admin_show_totp(o, o->arg, alg, secret);
	lpa_secbuf_free(&secret);
	admin_close(&a);
	return r;
}

int admin_operator_password(const struct admin_opts *o)
{
	struct admin_ctx a;
	lpa_secbuf *pw = NULL;
	int r;

	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_password(o, o->arg, &pw)) == KMS_OK && (r = admin_begin(&a)) == KMS_OK) {
		r = operator_set_password(a.db, o->arg, (const char *)lpa_secbuf_cdata(pw));
		r = admin_end(&a, "set-password", o->arg, r);
	}
	if (r == KMS_OK)
		printf("new password for %s; its sessions ended\n", o->arg);
	lpa_secbuf_free(&pw);
	admin_close(&a);
	return r;
}

/* A change that needs nothing but the name, and what to say when it is done. */
static int admin_operator_change(const struct admin_opts *o, const char *action,
				 int (*fn)(struct db *db, const struct admin_opts *o),
				 const char *done)
{
	struct admin_ctx a;
	int r;

	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK)
		r = admin_end(&a, action, o->arg, fn(a.db, o));
	if (r == KMS_OK)
		printf("%s %s\n", done, o->arg);
	else if (r == KMS_ERR_NOT_FOUND)
		fprintf(stderr, "lpa-kms: no operator %s\n", o->arg);
	admin_close(&a);
	return r;
}

static int admin_operator_do_unlock(struct db *db, const struct admin_opts *o)
{
	return operator_unlock(db, o->arg);
}

static int admin_operator_do_disable(struct db *db, const struct admin_opts *o)
{
	return operator_set_disabled(db, o->arg, true);
}

static int admin_operator_do_enable(struct db *db, const struct admin_opts *o)
{
	return operator_set_disabled(db, o->arg, false);
}

static int admin_operator_do_remove(struct db *db, const struct admin_opts *o)
{
	return operator_remove(db, o->arg);
}

static int admin_operator_do_scope(struct db *db, const struct admin_opts *o)
{
	return operator_set_scope(db, o->arg, o->lots, o->join_euis);
}

int admin_operator_unlock(const struct admin_opts *o)
{
	return admin_operator_change(o, "unlock", admin_operator_do_unlock, "unlocked");
}

int admin_operator_disable(const struct admin_opts *o)
{
	return admin_operator_change(o, "disable-operator", admin_operator_do_disable,
				     "disabled (sessions ended):");
}

int admin_operator_enable(const struct admin_opts *o)
{
	return admin_operator_change(o, "enable-operator", admin_operator_do_enable, "enabled");
}

int admin_operator_remove(const struct admin_opts *o)
{
	return admin_operator_change(o, "remove-operator", admin_operator_do_remove, "removed");
}

int admin_operator_scope(const struct admin_opts *o)
{
	int r;

	if ((r = admin_operator_scope_ok(o)) != KMS_OK)
		return r;
	if (!o->lots && !o->join_euis) {
		fprintf(stderr, "lpa-kms: set-scope needs --lots and/or --join-euis\n");
		return KMS_ERR_INVAL;
	}
	return admin_operator_change(o, "set-scope", admin_operator_do_scope, "new scope for");
}
