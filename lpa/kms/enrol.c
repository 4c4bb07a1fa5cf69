/*
 * enrol.c — the factory device-identity CA: POST /v1/devices/enrol certifies the DIK of a
 * chip that has no certified identity (docs/kms-api.md), and the lots' choice of CAs
 * that issue accepts.
 *
 * The chip's LPE1 proves that it holds the key it names (its DIK signature, checked by
 * the request parser); the station's exam vouches for the silicon ID; the operator's
 * `enrol` role and scope for the lot. A chip UID is certified once: the first DIK the
 * KMS certified for it is the only one it ever will. The same DIK again (a station
 * resuming after a crash, a lost reply) gets the very certificate stored the first
 * time; another DIK is an identity conflict, refused and audited. A UID already known
 * from a vendor certificate is not enrolled either.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "kms-auth.h"
#include "kms-device.h"
#include "kms-pki.h"

struct enrol_state {
	struct req_enrol req;
	uint8_t *cert; /* DER, issued in the first phase; used if the UID is new */
	size_t cert_len;
};

static void enrol_state_free(void *p)
{
	struct enrol_state *es = p;

	free(es->cert);
	free(es);
}

static const struct {
	const char *name;
	unsigned bit;
} enrol_ca_names[] = {{"vendor", ENROL_CA_VENDOR}, {"factory", ENROL_CA_FACTORY}};

const char *enrol_ca_name(unsigned ca)
{
	return ca == ENROL_CA_FACTORY ? "factory" : "vendor";
}

int enrol_cas_parse(const char *s, unsigned *cas)
{
	*cas = 0;
	while (s && *s) {
		size_t n = strcspn(s, ",");
		unsigned bit = 0;

		for (size_t i = 0; i < sizeof(enrol_ca_names) / sizeof(enrol_ca_names[0]); i++)
			if (strlen(enrol_ca_names[i].name) == n &&
			    strncmp(s, enrol_ca_names[i].name, n) == 0)
				bit = enrol_ca_names[i].bit;
		if (!bit)
			return KMS_ERR_INVAL;
		*cas |= bit;
		s += n;
		if (*s == ',' && *++s == '\0')
			return KMS_ERR_INVAL;
	}
	return *cas ? KMS_OK : KMS_ERR_INVAL;
}

int enrol_lot_cas(struct db *db, const char *lot, unsigned *cas)
{
	struct db_stmt *st = NULL;
	int r = db_query(db, &st, "SELECT cas FROM lot_cas WHERE lot = ?", "t", lot);

	*cas = ENROL_CA_VENDOR; /* a lot nobody configured: as before enrolment existed */
	if (r == KMS_OK)
		*cas = (unsigned)db_col_int(st, 0) & (ENROL_CA_VENDOR | ENROL_CA_FACTORY);
	db_done(&st);
	return r == KMS_ERR_NOT_FOUND ? KMS_OK : r;
}

static json_t *enrol_reply(uint64_t uid, const uint8_t *cert, size_t len)
{
	char hex[17], *b64 = malloc(lpa_b64url_len(len) + 1);
	json_t *o;

	if (!b64)
		return NULL;
	lpa_b64url_encode(cert, len, b64);
	lpa_eui_format(uid, hex);
	o = json_pack("{s:s, s:s, s:s}", "chip_uid", hex, "certificate", b64, "ca", "factory");
	free(b64);
	return o;
}

/* In the transaction: the UID's enrolment, if any, decides; else the certificate of
 * the first phase is stored. */
static void enrol_apply(struct kms_server *s, struct kms_call *c)
{
	struct enrol_state *es = c->state;
	const struct req_enrol *req = &es->req;
	struct db_stmt *st = NULL;
	uint8_t dik[LPA_P256_PUB_LEN];
	char hex[17];
	int r;

	(void)s;
	lpa_eui_format(req->e.chip_uid, hex);
	r = db_query(c->db, &st,
		     "SELECT dik_pub, silicon_id, cert FROM enrolments WHERE chip_uid = ?", "u",
		     req->e.chip_uid);
	if (r == KMS_OK) {
		size_t n = 0;
		const void *cert = db_col_bytes(st, 2, &n);
		bool same = db_col_blob(st, 0, dik, sizeof(dik)) &&
			    memcmp(dik, req->e.dik_pub, sizeof(dik)) == 0 &&
			    (uint32_t)db_col_int64(st, 1) == req->silicon_id;

		if (same) {
			call_note(c, "repeat", json_true());
			call_ok(c, 200, enrol_reply(req->e.chip_uid, cert, n));
		} else {
			call_note(c, "conflict", json_true());
			call_fail(c, API_IDENTITY_CONFLICT,
				  "chip UID %s is enrolled already with another DIK or silicon ID;"
				  " a chip UID is certified once",
				  hex);
		}
		db_done(&st);
		return;
	}
	db_done(&st);
	if (r != KMS_ERR_NOT_FOUND) {
		call_internal(c, r);
		return;
	}
	r = db_query(c->db, &st, "SELECT dik_pub FROM devices WHERE chip_uid = ?", "u",
		     req->e.chip_uid);
	db_done(&st);
	if (r == KMS_OK) {
		call_note(c, "conflict", json_true());
		call_fail(c, API_IDENTITY_CONFLICT,
			  "chip UID %s is known already (certified by the vendor CA)", hex);
		return;
	}
	if (r != KMS_ERR_NOT_FOUND ||
	    (r = db_run(c->db, NULL,
			"INSERT INTO enrolments(chip_uid, dik_pub, silicon_id, cert, lot,"
			" station_id, operator_id, enrolled_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
			"ubibtiii", req->e.chip_uid, req->e.dik_pub, sizeof(req->e.dik_pub),
			(int64_t)req->silicon_id, es->cert, es->cert_len, req->lot, c->station_id,
			c->operator_id, (int64_t)time(NULL))) != KMS_OK) {
		call_internal(c, r);
		return;
	}
	call_ok(c, 201, enrol_reply(req->e.chip_uid, es->cert, es->cert_len));
}

void enrol_device(struct kms_server *s, struct kms_call *c)
{
	struct enrol_state *es = calloc(1, sizeof(*es));
	struct req_enrol *req;
	enum kms_api_err api;
	EVP_PKEY *dik = NULL;
	X509 *cert = NULL;
	uint8_t hash[32];
	char hex[65];
	uint64_t serial;

	c->action = "enrol";
	if (!es) {
		call_internal(c, KMS_ERR_NOMEM);
		return;
	}
	req = &es->req;
	if (req_parse_enrol(c->body, c->body_len, req, &api, c->message, sizeof(c->message)) != 0) {
		call_fail(c, api, "%s", c->message);
		goto fail;
	}
	lpa_eui_format(req->e.chip_uid, hex);
	call_note(c, "chip_uid", json_string(hex));
	call_note(c, "lot", json_string(req->lot));
	lpa_sha256(req->e.dik_pub, sizeof(req->e.dik_pub), hash);
	lpa_hex_encode(hash, sizeof(hash), hex);
	call_note(c, "dik_sha256", json_string(hex));
	if (session_scope(c, req->lot, req->join_eui) != 0)
		goto fail;
	/* The silicon ID in the certificate is the exam's reading, which the chip's own
	 * claim must match. */
	if (req->e.silicon_id != req->silicon_id) {
		call_fail(c, API_IDENTITY_MISMATCH,
			  "the chip's enrolment request says silicon ID %08x, the exam read %08x",
			  req->e.silicon_id, req->silicon_id);
		goto fail;
	}
	if (!s->factory_ca_key) {
		call_fail(c, API_INTERNAL, "this KMS has no factory device-identity CA");
		goto fail;
	}
	if (lpa_random(&serial, sizeof(serial)) != LPA_OK ||
	    lpa_p256_from_public(req->e.dik_pub, &dik) != LPA_OK ||
	    pki_issue_dik(s->factory_ca_key, s->factory_ca, dik, req->e.chip_uid, req->silicon_id,
			  serial >> 1, &cert) != KMS_OK ||
	    pki_cert_der(cert, &es->cert, &es->cert_len) != KMS_OK) {
		call_internal(c, KMS_ERR_CRYPTO);
		goto fail;
	}
	lpa_pkey_free(&dik);
	X509_free(cert);
	call_defer(c, enrol_apply, es, enrol_state_free);
	return;
fail:
	lpa_pkey_free(&dik);
	X509_free(cert);
	enrol_state_free(es);
}
