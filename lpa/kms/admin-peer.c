/*
 * admin-peer.c — `lpa-kms admin peer add|rotate|revoke|list`: the Join Server's peers
 * (network servers with their NetID, application servers), each with a client
 * certificate from the KMS's CA and a KEK (16 random bytes, sealed under the master key
 * with its label as context; handed to the peer once as NAME.kek, 0600), and the devices
 * assigned to it (lots, JoinEUIs or JoinEUI ranges). And `export-devices`: a lot's root
 * keys wrapped under a peer's KEK for a customer's own Join Server (The Things Stack or
 * ChirpStack), never in clear.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "kms-auth.h"
#include "kms-keys.h"
#include "kms-lbi.h"
#include "kms-request.h"

#include "admin-private.h"

/* A KEK label: 1..64 of A-Z a-z 0-9 . _ - : (TTS writes ns:<NetID>:<host>). */
static bool admin_peer_label_ok(const char *s)
{
	return lpa_name_valid_extra(s, PEER_MAX_LABEL, ":");
}

/* A fresh KEK: sealed for the database, and written (hex) to OUT/NAME.kek for the peer. */
static int admin_peer_kek(struct admin_ctx *a, const char *name, const char *label, const char *out,
			  uint8_t **sealed, size_t *sealed_len)
{
	uint8_t kek[PEER_KEK_LEN];
	char hex[2 * PEER_KEK_LEN + 2], path[4096];
	int r;

	if ((r = vault_random(a->master, kek, sizeof(kek))) != KMS_OK)
		goto fail;
	if ((r = vault_seal(a->master, "lpa-kms peer kek", label, strlen(label), kek, sizeof(kek),
			    sealed, sealed_len)) != KMS_OK)
		goto fail;
	lpa_hex_encode(kek, sizeof(kek), hex);
	strcat(hex, "\n");
	snprintf(path, sizeof(path), "%s/%s.kek", out, name);
	unlink(path); /* a rotation replaces it */
	r = pki_write_file(path, hex, strlen(hex), 0600);
	if (r == KMS_OK)
		printf("%s: KEK %s in %s (0600): give it to the peer, then delete it\n", name,
		       label, path);
fail:
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(hex, sizeof(hex));
	return r;
}

int admin_peer_add(const struct admin_opts *o)
{
	const char *join_euis = o->join_euis ? o->join_euis : "*";
	struct admin_ctx a;
	uint8_t fp[32], *sealed = NULL, nid[3];
	size_t sealed_len = 0;
	int64_t serial, net_id = -1;
	bool ns = o->kind && strcmp(o->kind, "ns") == 0;
	int r;

	if (!req_name_ok(o->arg) || !o->out || !o->kind || (!ns && strcmp(o->kind, "as") != 0) ||
	    !admin_peer_label_ok(o->kek_label) || !o->lots || !operator_scope_ok(o->lots, false) ||
	    !peer_euis_ok(join_euis) || (ns != (o->net_id != NULL)) ||
	    (ns && (strlen(o->net_id) != 6 || lpa_hex_decode(o->net_id, 6, nid, 3) != LPA_OK))) {
		fprintf(stderr, "lpa-kms: peer add NAME --kind ns|as [--net-id HEX6 (ns only, "
				"required)] --kek-label LABEL --lots L,.. [--join-euis E|LO-HI,..] "
				"--out DIR\n");
		return KMS_ERR_INVAL;
	}
	if (ns)
		net_id = (int64_t)lpa_be_get(nid, 3);
	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK) {
		if ((r = admin_cert_issue(&a, o->arg, o->out, &serial, fp)) == KMS_OK &&
		    (r = admin_peer_kek(&a, o->arg, o->kek_label, o->out, &sealed, &sealed_len)) ==
			    KMS_OK &&
		    (r = db_run(
			     a.db, NULL,
			     "INSERT INTO peers(name, kind, net_id, serial, fingerprint, kek_label,"
			     " kek_sealed, kek_gen, lots, join_euis, created_at)"
			     " VALUES(?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
			     "ttiibtbtti", o->arg, o->kind, net_id, serial, fp, sizeof(fp),
			     o->kek_label, sealed, sealed_len, o->lots, join_euis,
			     (int64_t)time(NULL))) == KMS_ERR_EXISTS)
			fprintf(stderr, "lpa-kms: a peer %s or a KEK labelled %s exists already\n",
				o->arg, o->kek_label);
		r = admin_end(&a, "peer-add", o->arg, r);
	}
	free(sealed);
	admin_close(&a);
	return r;
}

int admin_peer_rotate(const struct admin_opts *o)
{
	struct admin_ctx a;
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	int r, changed = 0;

	if (!admin_peer_label_ok(o->kek_label) || !o->out) {
		fprintf(stderr, "lpa-kms: peer rotate NAME --kek-label LABEL --out DIR\n");
		return KMS_ERR_INVAL;
	}
	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK) {
		if ((r = admin_peer_kek(&a, o->arg, o->kek_label, o->out, &sealed, &sealed_len)) ==
			    KMS_OK &&
		    (r = db_run(
			     a.db, &changed,
			     "UPDATE peers SET kek_label = ?, kek_sealed = ?, kek_gen = kek_gen + 1"
			     " WHERE name = ? AND revoked_at IS NULL",
			     "tbt", o->kek_label, sealed, sealed_len, o->arg)) == KMS_OK &&
		    changed != 1)
			r = KMS_ERR_NOT_FOUND;
		r = admin_end(&a, "peer-rotate", o->arg, r);
	}
	if (r == KMS_ERR_NOT_FOUND)
		fprintf(stderr, "lpa-kms: no unrevoked peer %s\n", o->arg);
	else if (r == KMS_ERR_EXISTS)
		fprintf(stderr, "lpa-kms: a KEK labelled %s exists already\n", o->kek_label);
	free(sealed);
	admin_close(&a);
	return r;
}

int admin_peer_revoke(const struct admin_opts *o)
{
	struct admin_ctx a;
	int r, changed = 0;

	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK) {
		r = db_run(a.db, &changed,
			   "UPDATE peers SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
			   "it", (int64_t)time(NULL), o->arg);
		if (r == KMS_OK && changed != 1)
			r = KMS_ERR_NOT_FOUND;
		r = admin_end(&a, "peer-revoke", o->arg, r);
	}
	if (r == KMS_OK)
		printf("revoked peer %s\n", o->arg);
	else if (r == KMS_ERR_NOT_FOUND)
		fprintf(stderr, "lpa-kms: no unrevoked peer %s\n", o->arg);
	admin_close(&a);
	return r;
}

int admin_peer_list(const struct admin_opts *o)
{
	struct db_stmt *st = NULL;
	struct admin_ctx a;
	json_t *arr = json_array();
	int r;

	if (!arr)
		return KMS_ERR_NOMEM;
	if ((r = admin_open(o, &a)) != KMS_OK) {
		json_decref(arr);
		return r;
	}
	r = db_query(a.db, &st,
		     "SELECT name, kind, net_id, kek_label, kek_gen, lots, join_euis, created_at,"
		     " revoked_at FROM peers ORDER BY id",
		     NULL);
	for (; r == KMS_OK; r = db_next(st)) {
		char nid[8] = "";
		json_t *p;

		if (!db_col_null(st, 2))
			snprintf(nid, sizeof(nid), "%06llx",
				 (unsigned long long)db_col_int64(st, 2));
		p = json_pack("{s:s, s:s, s:s*, s:s, s:I, s:s, s:s, s:I, s:b}", "name",
			      db_col_text(st, 0), "kind", db_col_text(st, 1), "net_id",
			      nid[0] ? nid : NULL, "kek_label", db_col_text(st, 3), "kek_gen",
			      (json_int_t)db_col_int64(st, 4), "lots", db_col_text(st, 5),
			      "join_euis", db_col_text(st, 6), "created_at",
			      (json_int_t)db_col_int64(st, 7), "revoked", !db_col_null(st, 8));
		if (!o->json && p)
			printf("%-16s %s %-6s kek %-24s lots %s join-euis %s%s\n",
			       db_col_text(st, 0), db_col_text(st, 1), nid[0] ? nid : "-",
			       db_col_text(st, 3), db_col_text(st, 5), db_col_text(st, 6),
			       db_col_null(st, 8) ? "" : " (revoked)");
		json_array_append_new(arr, p);
	}
	db_done(&st);
	if (r == KMS_ERR_NOT_FOUND)
		r = KMS_OK;
	if (r == KMS_OK && o->json) {
		char *text = json_dumps(arr, JSON_INDENT(2));

		if (text)
			printf("%s\n", text);
		free(text);
	}
	json_decref(arr);
	admin_close(&a);
	return r;
}
