/*
 * peer.c — the Join Server's peers: network and application servers, each known by its
 * client certificate (issued by the KMS's CA, like a station's) and holding a KEK that
 * wraps every key it is given. A peer's lots and JoinEUIs are the devices assigned to it:
 * it obtains keys for those only.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kms-auth.h"
#include "kms-keys.h"
#include "kms-lbi.h"

#define PEER_COLUMNS "id, name, kind, net_id, kek_label, kek_sealed, lots, join_euis, revoked_at"

void peer_free(struct peer *p)
{
	free(p->kek_sealed);
	free(p->lots);
	free(p->join_euis);
	memset(p, 0, sizeof(*p));
}

static int peer_from(struct db_stmt *st, struct peer *p)
{
	memset(p, 0, sizeof(*p));
	p->id = db_col_int64(st, 0);
	snprintf(p->name, sizeof(p->name), "%s", db_col_text(st, 1));
	snprintf(p->kind, sizeof(p->kind), "%s", db_col_text(st, 2));
	p->net_id = db_col_null(st, 3) ? -1 : db_col_int64(st, 3);
	snprintf(p->kek_label, sizeof(p->kek_label), "%s", db_col_text(st, 4));
	p->revoked = !db_col_null(st, 8);
	if ((p->kek_sealed = db_col_blob_dup(st, 5, &p->kek_sealed_len)) == NULL ||
	    (p->lots = db_col_text_dup(st, 6)) == NULL ||
	    (p->join_euis = db_col_text_dup(st, 7)) == NULL) {
		peer_free(p);
		return KMS_ERR_NOMEM;
	}
	return KMS_OK;
}

int peer_by_fingerprint(struct db *db, const uint8_t fp[32], struct peer *p)
{
	struct db_stmt *st = NULL;
	int r;

	if ((r = db_query(db, &st, "SELECT " PEER_COLUMNS " FROM peers WHERE fingerprint = ?", "b",
			  fp, (size_t)32)) != KMS_OK)
		return r;
	r = peer_from(st, p);
	db_done(&st);
	return r;
}

static bool peer_eui_item(const char *s, size_t n, uint64_t *v)
{
	return lpa_eui_parse_len(s, n, v) == LPA_OK;
}

/* One item of a JoinEUI list: an EUI or LO-HI; false when malformed. */
static bool peer_eui_range(const char *s, size_t n, uint64_t *lo, uint64_t *hi)
{
	if (n == 16)
		return peer_eui_item(s, 16, lo) && peer_eui_item(s, 16, hi);
	return n == 33 && s[16] == '-' && peer_eui_item(s, 16, lo) &&
	       peer_eui_item(s + 17, 16, hi) && *lo <= *hi;
}

bool peer_euis_ok(const char *list)
{
	uint64_t lo, hi;

	if (strcmp(list, "*") == 0)
		return true;
	for (const char *p = list;;) {
		size_t n = strcspn(p, ",");

		if (!peer_eui_range(p, n, &lo, &hi))
			return false;
		p += n;
		if (!*p)
			return true;
		p++;
	}
}

static bool peer_eui_in(const char *list, uint64_t eui)
{
	uint64_t lo, hi;

	if (strcmp(list, "*") == 0)
		return true;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");

		if (peer_eui_range(p, n, &lo, &hi) && eui >= lo && eui <= hi)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

bool peer_covers(const struct peer *p, const char *lot, uint64_t join_eui)
{
	return !p->revoked && p->lots && p->join_euis && operator_in_scope(p->lots, lot) &&
	       peer_eui_in(p->join_euis, join_eui);
}

int peer_owner(struct db *db, const char *kind, const char *lot, uint64_t join_eui, struct peer *p)
{
	struct db_stmt *st = NULL;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = db_query(db, &st,
			  "SELECT " PEER_COLUMNS " FROM peers WHERE kind = ? AND revoked_at IS NULL"
			  " ORDER BY id",
			  "t", kind)) != KMS_OK)
		return r;
	do {
		if ((r = peer_from(st, p)) != KMS_OK)
			break;
		if (peer_covers(p, lot, join_eui))
			break;
		peer_free(p);
	} while ((r = db_next(st)) == KMS_OK);
	db_done(&st);
	return r;
}

int peer_wrap(struct kms_server *s, const struct peer *p, const uint8_t key[16],
	      uint8_t wrapped[24])
{
	lpa_secbuf *kek = NULL;
	int r;

	if (!p->kek_label[0])
		return KMS_ERR_INVAL; /* never an envelope without a KEK */
	if ((r = vault_open(s->master, "lpa-kms peer kek", p->kek_label, strlen(p->kek_label),
			    p->kek_sealed, p->kek_sealed_len, &kek)) != KMS_OK)
		return r;
	if (lpa_secbuf_len(kek) != PEER_KEK_LEN ||
	    lpa_aes_keywrap(lpa_secbuf_cdata(kek), PEER_KEK_LEN, key, 16, wrapped) != LPA_OK)
		r = KMS_ERR_CRYPTO;
	lpa_secbuf_free(&kek);
	return r;
}
