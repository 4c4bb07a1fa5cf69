/*
 * admin-keys.c — `lpa-kms admin rotate-record-key` (a new record-signing key, the old one
 * kept published so that its records still verify) and `show-keys` (where each of the
 * KMS's keys lives and, for token objects, what the token says of their protection).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms-keys.h"
#include "kms-p11.h"

#include "admin-private.h"

int admin_keys_rotate_record(const struct admin_opts *o)
{
	struct admin_ctx a;
	uint32_t old_id = 0, new_id = 0;
	char target[32], label[64];
	int r, made;

	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) != KMS_OK)
		goto fail;
	made = (r = keys_rotate_record(a.db, a.master, &old_id, &new_id)) == KMS_OK;
	keys_kid(KEY_RECORD, new_id, target);
	r = admin_end(&a, "rotate-record-key", target, r);
	/* A token key whose row did not commit would block the next rotation's label. */
	if (r != KMS_OK && made && vault_token(a.master)) {
		keys_token_label(KEY_RECORD, new_id, label);
		p11_destroy(vault_token(a.master), label);
	}
	if (r == KMS_OK)
		printf("record-signing key record-%u replaces record-%u, which stays published;"
		       " restart 'lpa-kms serve' to sign with it and give QA the new"
		       " 'export-keys'\n",
		       new_id, old_id);
fail:
	admin_close(&a);
	return r;
}

static const char *admin_yes(bool b)
{
	return b ? "yes" : "no";
}

/* One key: where it is, and for a token object its flags and the refused value read. */
static int admin_key_entry(struct admin_ctx *a, const char *kid, bool retired, const char *label,
			   bool secret, json_t *arr, bool print)
{
	const char *state = retired ? "(retired) " : "";
	struct p11 *t = vault_token(a->master);
	struct p11_key_info info;
	p11_handle h;
	json_t *e;
	int r;

	if (!label) {
		if (print)
			printf("%-16s %ssealed in the database under %s\n", kid, state,
			       t ? "the token's sealing key" : "the master key file");
		e = json_pack("{s:s, s:b, s:s}", "kid", kid, "retired", retired, "where", "sealed");
		return e && json_array_append_new(arr, e) == 0 ? KMS_OK : KMS_ERR_NOMEM;
	}
	if (!t) {
		fprintf(stderr, "lpa-kms: %s names token object \"%s\", but the KMS has no token\n",
			kid, label);
		return KMS_ERR_INVAL;
	}
	if ((r = secret ? p11_find_secret(t, label, &h) : p11_find_private(t, label, &h)) !=
		    KMS_OK ||
	    (r = p11_key_info(t, h, &info)) != KMS_OK) {
		if (r == KMS_ERR_NOT_FOUND)
			fprintf(stderr, "lpa-kms: the token holds no \"%s\"\n", label);
		return r;
	}
	if (print)
		printf("%-16s %stoken object \"%s\": sensitive %s, extractable %s, always sensitive"
		       " %s, never extractable %s, CKA_VALUE %s (CK_RV 0x%lx)\n",
		       kid, state, label, admin_yes(info.sensitive), admin_yes(info.extractable),
		       admin_yes(info.always_sensitive), admin_yes(info.never_extractable),
		       info.value_refused ? "refused" : "READABLE", info.value_rv);
	e = json_pack("{s:s, s:b, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:I}", "kid", kid, "retired",
		      retired, "where", "token", "label", label, "sensitive", info.sensitive,
		      "extractable", info.extractable, "always_sensitive", info.always_sensitive,
		      "never_extractable", info.never_extractable, "value_refused",
		      info.value_refused, "value_rv", (json_int_t)info.value_rv);
	return e && json_array_append_new(arr, e) == 0 ? KMS_OK : KMS_ERR_NOMEM;
}

int admin_keys_show(const struct admin_opts *o)
{
	struct admin_ctx a;
	struct db_stmt *st = NULL;
	json_t *arr = json_array();
	char kid[32], label[P11_LABEL_MAX + 1], *text;
	int r;

	if (!arr)
		return KMS_ERR_NOMEM;
	if ((r = admin_open(o, &a)) != KMS_OK) {
		json_decref(arr);
		return r;
	}
	if (vault_token(a.master)) {
		if ((r = admin_key_entry(&a, "sealing", false, P11_LABEL_SEALING, true, arr,
					 !o->json)) != KMS_OK)
			goto fail;
	} else if (!o->json) {
		printf("%-16s the key file %s\n", "sealing", a.paths.master_key);
	}
	for (r = db_query(a.db, &st, "SELECT purpose, key_id, sealed FROM keys ORDER BY purpose",
			  NULL);
	     r == KMS_OK; r = db_next(st)) {
		const char *purpose = db_col_text(st, 0);
		const uint8_t *sealed = db_col_bytes(st, 2, NULL);
		size_t n = (size_t)db_col_len(st, 2), ref = strlen(KEYS_TOKEN_REF);
		bool in_token = n > ref && n - ref <= P11_LABEL_MAX &&
				memcmp(sealed, KEYS_TOKEN_REF, ref) == 0;
		/* "record/N" rows are record keys too, replaced ones: their kid is record-N. */
		bool retired =
			strncmp(purpose, KEY_RECORD_RETIRED, strlen(KEY_RECORD_RETIRED)) == 0;

		keys_kid(retired ? KEY_RECORD : purpose, (uint32_t)db_col_int64(st, 1), kid);
		if (in_token) {
			memcpy(label, sealed + ref, n - ref);
			label[n - ref] = '\0';
		}
		if ((r = admin_key_entry(&a, kid, retired, in_token ? label : NULL, false, arr,
					 !o->json)) != KMS_OK)
			break;
	}
	db_done(&st);
	if (r != KMS_ERR_NOT_FOUND)
		goto fail;
	r = KMS_OK;
	if (o->json) {
		if ((text = json_dumps(arr, JSON_COMPACT)) == NULL) {
			r = KMS_ERR_NOMEM;
			goto fail;
		}
		printf("{\"keystore\":\"%s\",\"keys\":%s}\n",
		       vault_token(a.master) ? "pkcs11" : "file", text);
		free(text);
	}
fail:
	json_decref(arr);
	admin_close(&a);
	return r;
}
