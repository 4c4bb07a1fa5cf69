/*
 * kms-enrol.c — POST /v1/devices/enrol (docs/kms-api.md) on the KMS client's internals
 * (kms-client-private.h): the chip's LPE1 out, the factory CA's certificate back.
 */
#include <stdlib.h>
#include <string.h>

#include "kms-client-private.h"

/* The agent's certificate record holds at most this much (docs/protocols.md). */
#define KMS_ENROL_CERT_MAX 984

/* As the client's other parsers word it: the member and what is wrong with it. */
static int enrol_bad(struct kms_error *e, const char *member, const char *what)
{
	kms_error_set(e, e->status, "", "reply to enrol: \"%s\" %s", member, what);
	return LPA_ERR_KMS_PROTOCOL;
}

int kms_parse_enrol(const char *body, size_t len, uint64_t chip_uid, uint8_t **cert,
		    size_t *cert_len, struct kms_error *e)
{
	json_t *o;
	const char *uid, *b64, *ca;
	uint8_t *der = NULL;
	uint64_t got;
	size_t n = 0;
	int r = LPA_ERR_KMS_PROTOCOL;

	*cert = NULL;
	*cert_len = 0;
	if ((o = kms_parse_json(KMS_CALL_ENROL, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	uid = json_string_value(json_object_get(o, "chip_uid"));
	b64 = json_string_value(json_object_get(o, "certificate"));
	ca = json_string_value(json_object_get(o, "ca"));
	if (lpa_eui_parse(uid, &got) != LPA_OK)
		r = enrol_bad(e, "chip_uid", "is not 16 hex digits");
	else if (got != chip_uid)
		r = enrol_bad(e, "chip_uid", "names another chip than the request");
	else if (ca == NULL || strcmp(ca, "factory") != 0)
		r = enrol_bad(e, "ca", "is not \"factory\"");
	else if (b64 == NULL || (der = malloc(KMS_ENROL_CERT_MAX)) == NULL ||
		 lpa_b64url_decode(b64, strlen(b64), der, KMS_ENROL_CERT_MAX, &n) != LPA_OK ||
		 n < 2 || der[0] != 0x30)
		r = enrol_bad(e, "certificate",
			      "is not base64url of a DER certificate of at most 984 bytes");
	else
		r = LPA_OK;
	json_decref(o);
	if (r != LPA_OK) {
		free(der);
		return r;
	}
	*cert = der;
	*cert_len = n;
	return LPA_OK;
}

int kms_enrol(kms_client *c, const lpa_secbuf *token, const struct kms_enrol_req *req,
	      uint8_t **cert, size_t *cert_len)
{
	struct kms_reply b = kms_client_reply(c);
	char eui[17], sid[9], b64[2 * LPA_LPE1_LEN];
	int r;

	*cert = NULL;
	*cert_len = 0;
	if (req->lot == NULL || req->lpe1 == NULL)
		return LPA_ERR_INVAL;
	lpa_b64url_encode(req->lpe1, LPA_LPE1_LEN, b64);
	lpa_eui_format(req->join_eui, eui);
	snprintf(sid, sizeof(sid), "%08x", (unsigned)req->silicon_id);
	r = kms_client_call_json(c, KMS_CALL_ENROL, "/v1/devices/enrol", token,
				 json_pack("{s:s, s:s, s:s, s:s}", "lot", req->lot, "join_eui", eui,
					   "silicon_id", sid, "request", b64),
				 &b, 201);
	/* 200: a repeat (this UID enrolled before with this DIK): the stored certificate. */
	if (r != LPA_OK && kms_client_err(c)->status == 200) {
		r = LPA_OK;
	}
	if (r == LPA_OK)
		r = kms_parse_enrol((const char *)b.data, b.len, lpa_be_get(req->lpe1 + 8, 8), cert,
				    cert_len, kms_client_err(c));
	return r;
}
