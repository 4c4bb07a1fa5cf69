/*
 * kms-client.c — the KMS API calls (docs/kms-api.md) on the transport of kms-http.c and
 * the parsers of kms-reply.c: each call's body, path and expected status. The login body
 * is built by hand into a secbuf (the password and TOTP code never pass through
 * jansson's heap); the other bodies are jansson's (nothing in them is secret).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "kms-client-private.h"

/* A session reply is a few hundred bytes; its buffer is a secbuf (it holds the token). */
#define KMS_LOGIN_REPLY_MAX 4096

/* The station's [kms] settings as the client's options. */
int kms_client_new(const struct station_config *cfg, kms_client **c)
{
	const struct kms_client_opts o = {.url = cfg->kms_url,
					  .ca = cfg->kms_ca,
					  .cert = cfg->tls_cert,
					  .key = cfg->tls_key,
					  .timeout_s = cfg->kms_timeout_s,
					  .retries = cfg->kms_retries};

	return kms_client_open(&o, c);
}

/* Bytes of s JSON-escaped (without quotes); out NULL only counts. */
static size_t kms_json_escape(const uint8_t *s, size_t n, uint8_t *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = s[i];

		if (ch == '"' || ch == '\\') {
			if (out) {
				out[o] = '\\';
				out[o + 1] = ch;
			}
			o += 2;
		} else if (ch < 0x20 || ch == 0x7f) {
			if (out)
				memcpy(out + o,
				       (const char[]){'\\', 'u', '0', '0', hex[ch >> 4],
						      hex[ch & 15]},
				       6);
			o += 6;
		} else {
			if (out)
				out[o] = ch;
			o++;
		}
	}
	return o;
}

/* The login body, built by hand into a secbuf so the password and code never pass
 * through jansson's (ordinary, swappable) heap. */
static int kms_login_body(const char *operator_name, const lpa_secbuf *password,
			  const lpa_secbuf *totp, unsigned ttl_s, lpa_secbuf **out)
{
	const uint8_t *op = (const uint8_t *)operator_name;
	size_t opl = strlen(operator_name);
	size_t n, o = 0;
	char ttl[32] = "";
	uint8_t *p;

	*out = NULL;
	if (ttl_s > 0)
		snprintf(ttl, sizeof(ttl), ",\"ttl\":%u", ttl_s);
	n = strlen("{\"operator\":\"\",\"password\":\"\",\"totp\":\"\"}") +
	    kms_json_escape(op, opl, NULL) +
	    kms_json_escape(lpa_secbuf_cdata(password), lpa_secbuf_len(password), NULL) +
	    kms_json_escape(lpa_secbuf_cdata(totp), lpa_secbuf_len(totp), NULL) + strlen(ttl);
	if ((*out = lpa_secbuf_new(n)) == NULL)
		return LPA_ERR_NOMEM;
	p = lpa_secbuf_data(*out);
#define KMS_PUT(s)                                                                                 \
	do {                                                                                       \
		memcpy(p + o, s, strlen(s));                                                       \
		o += strlen(s);                                                                    \
	} while (0)
	KMS_PUT("{\"operator\":\"");
	o += kms_json_escape(op, opl, p + o);
	KMS_PUT("\",\"password\":\"");
	o += kms_json_escape(lpa_secbuf_cdata(password), lpa_secbuf_len(password), p + o);
	KMS_PUT("\",\"totp\":\"");
	o += kms_json_escape(lpa_secbuf_cdata(totp), lpa_secbuf_len(totp), p + o);
	KMS_PUT("\"");
	KMS_PUT(ttl);
	KMS_PUT("}");
#undef KMS_PUT
	return o == n ? LPA_OK : LPA_ERR_INVAL;
}

int kms_login(kms_client *c, const char *operator_name, const lpa_secbuf *password,
	      const lpa_secbuf *totp, unsigned ttl_s, lpa_secbuf **token,
	      struct kms_session_info *info)
{
	lpa_secbuf *body = NULL, *reply = NULL;
	struct kms_reply b;
	int r;

	*token = NULL;
	memset(info, 0, sizeof(*info));
	if (operator_name == NULL || operator_name[0] == '\0' || strlen(operator_name) > 64)
		return LPA_ERR_INVAL;
	if ((r = kms_login_body(operator_name, password, totp, ttl_s, &body)) != LPA_OK)
		goto fail;
	if ((reply = lpa_secbuf_new(KMS_LOGIN_REPLY_MAX)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	b.data = lpa_secbuf_data(reply);
	b.cap = KMS_LOGIN_REPLY_MAX;
	b.len = 0;
	b.overflow = false;
	r = kms_client_call(c, KMS_CALL_LOGIN, "POST", "/v1/sessions", NULL,
			    (const char *)lpa_secbuf_cdata(body), lpa_secbuf_len(body), &b, 201);
	if (r == LPA_OK)
		r = kms_parse_login((const char *)b.data, b.len, token, info, kms_client_err(c));
fail:
	lpa_secbuf_free(&body);
	lpa_secbuf_free(&reply);
	return r;
}

int kms_logout(kms_client *c, const lpa_secbuf *token)
{
	struct kms_reply b = kms_client_reply(c);

	return kms_client_call(c, KMS_CALL_LOGOUT, "DELETE", "/v1/sessions/current", token, NULL, 0,
			       &b, 204);
}

int kms_keys(kms_client *c, char **jwks)
{
	struct kms_reply b = kms_client_reply(c);
	int r;

	*jwks = NULL;
	r = kms_client_call(c, KMS_CALL_KEYS, "GET", "/v1/keys", NULL, NULL, 0, &b, 200);
	if (r == LPA_OK)
		r = kms_parse_keys((const char *)b.data, b.len, jwks, kms_client_err(c));
	return r;
}

/* A body built with jansson: nothing in these is secret. */
int kms_client_call_json(kms_client *c, enum kms_call call, const char *path,
			 const lpa_secbuf *token, json_t *body, struct kms_reply *b, long want)
{
	char *text;
	int r;

	if (body == NULL)
		return LPA_ERR_NOMEM;
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return LPA_ERR_NOMEM;
	r = kms_client_call(c, call, "POST", path, token, text, strlen(text), b, want);
	free(text);
	return r;
}

int kms_issue(kms_client *c, const lpa_secbuf *token, const struct kms_issue_req *req,
	      struct kms_issue_resp *resp)
{
	struct kms_reply b = kms_client_reply(c);
	struct lpa_lpi1 id;
	char eui[17], sid[9], *b64 = NULL;
	uint8_t lorawan;
	int r;

	memset(resp, 0, sizeof(*resp));
	if (req->lot == NULL || req->lorawan == NULL || req->identity == NULL ||
	    req->identity_len > LPA_LPI1_MAX_LEN)
		return LPA_ERR_INVAL;
	if (strcmp(req->lorawan, "1.1") == 0)
		lorawan = LPA_LORAWAN_11;
	else if (strcmp(req->lorawan, "1.0.4") == 0)
		lorawan = LPA_LORAWAN_10;
	else
		return LPA_ERR_INVAL;
	/* The chip UID, to hold the package to; an identity that does not parse would be
	 * refused by the KMS too, so say so without asking it. */
	if ((r = lpa_lpi1_parse(req->identity, req->identity_len, &id)) != LPA_OK) {
		kms_error_set(kms_client_err(c), 0, "",
			      "the chip's identity record does not parse (%s)", lpa_errname(r));
		return r;
	}
	if ((b64 = malloc(lpa_b64url_len(req->identity_len) + 1)) == NULL)
		return LPA_ERR_NOMEM;
	lpa_b64url_encode(req->identity, req->identity_len, b64);
	lpa_eui_format(req->join_eui, eui);
	snprintf(sid, sizeof(sid), "%08x", (unsigned)req->silicon_id);
	r = kms_client_call_json(c, KMS_CALL_ISSUE, "/v1/devices/issue", token,
				 json_pack("{s:s, s:s, s:s, s:s, s:s}", "lot", req->lot, "join_eui",
					   eui, "lorawan", req->lorawan, "identity", b64,
					   "silicon_id", sid),
				 &b, 201);
	free(b64);
	if (r == LPA_OK)
		r = kms_parse_issue((const char *)b.data, b.len, id.chip_uid, req->join_eui,
				    lorawan, resp, kms_client_err(c));
	return r;
}

int kms_confirm(kms_client *c, const lpa_secbuf *token, uint64_t dev_eui, uint32_t counter,
		const uint8_t receipt[LPA_LPR1_LEN], const char *probe_serial,
		const char *probe_firmware, char **record)
{
	struct kms_reply b = kms_client_reply(c);
	char eui[17], path[64], b64[LPA_LPR1_LEN * 2];
	int r;

	*record = NULL;
	if (probe_serial == NULL || counter == 0)
		return LPA_ERR_INVAL;
	lpa_eui_format(dev_eui, eui);
	snprintf(path, sizeof(path), "/v1/devices/%s/confirm", eui);
	lpa_b64url_encode(receipt, LPA_LPR1_LEN, b64);
	r = kms_client_call_json(c, KMS_CALL_CONFIRM, path, token,
				 json_pack("{s:I, s:s, s:{s:s, s:s}}", "counter",
					   (json_int_t)counter, "receipt", b64, "probe", "serial",
					   probe_serial, "firmware",
					   probe_firmware ? probe_firmware : ""),
				 &b, 200);
	if (r == LPA_OK)
		r = kms_parse_confirm((const char *)b.data, b.len, dev_eui, counter, record,
				      kms_client_err(c));
	return r;
}

int kms_abandon(kms_client *c, const lpa_secbuf *token, uint64_t dev_eui, uint32_t counter,
		const char *reason)
{
	struct kms_reply b = kms_client_reply(c);
	char eui[17], path[64];
	int r;

	if (reason == NULL || reason[0] == '\0' || counter == 0)
		return LPA_ERR_INVAL;
	lpa_eui_format(dev_eui, eui);
	snprintf(path, sizeof(path), "/v1/devices/%s/abandon", eui);
	r = kms_client_call_json(
		c, KMS_CALL_ABANDON, path, token,
		json_pack("{s:I, s:s}", "counter", (json_int_t)counter, "reason", reason), &b, 200);
	if (r == LPA_OK)
		r = kms_parse_abandon((const char *)b.data, b.len, dev_eui, counter,
				      kms_client_err(c));
	return r;
}

int kms_challenge(kms_client *c, const lpa_secbuf *token, uint64_t dev_eui, uint8_t nonce[16],
		  time_t *expires_at)
{
	struct kms_reply b = kms_client_reply(c);
	char eui[17], path[64];
	int r;

	memset(nonce, 0, 16);
	lpa_eui_format(dev_eui, eui);
	snprintf(path, sizeof(path), "/v1/devices/%s/challenge", eui);
	r = kms_client_call(c, KMS_CALL_CHALLENGE, "POST", path, token, "{}", 2, &b, 201);
	if (r == LPA_OK)
		r = kms_parse_challenge((const char *)b.data, b.len, dev_eui, nonce, expires_at,
					kms_client_err(c));
	return r;
}

int kms_lot_records(kms_client *c, const lpa_secbuf *token, const char *lot,
		    struct kms_lot_records *out)
{
	struct kms_reply b = {.cap = KMS_REPLY_MAX, .grow_to = KMS_LOT_REPLY_MAX};
	char path[128];
	int r;

	memset(out, 0, sizeof(*out));
	if (!lpa_name_valid(lot, LPA_NAME_MAX))
		return LPA_ERR_INVAL;
	if ((b.data = malloc(b.cap + 1)) == NULL)
		return LPA_ERR_NOMEM;
	/* A name needs no percent-encoding: its alphabet is unreserved in a URL path. */
	snprintf(path, sizeof(path), "/v1/lots/%s/records", lot);
	r = kms_client_call(c, KMS_CALL_LOT_RECORDS, "GET", path, token, NULL, 0, &b, 200);
	if (r == LPA_OK)
		r = kms_parse_lot_records((const char *)b.data, b.len, lot, out, kms_client_err(c));
	free(b.data);
	return r;
}

int kms_verify(kms_client *c, const lpa_secbuf *token, uint64_t dev_eui,
	       const uint8_t proof[LPA_LPP1_LEN], bool *verified, uint32_t *counter)
{
	struct kms_reply b = kms_client_reply(c);
	char eui[17], path[64], b64[LPA_LPP1_LEN * 2];
	int r;

	*verified = false;
	lpa_eui_format(dev_eui, eui);
	snprintf(path, sizeof(path), "/v1/devices/%s/verify", eui);
	lpa_b64url_encode(proof, LPA_LPP1_LEN, b64);
	r = kms_client_call_json(c, KMS_CALL_VERIFY, path, token, json_pack("{s:s}", "proof", b64),
				 &b, 200);
	if (r == LPA_OK)
		return kms_parse_verify((const char *)b.data, b.len, dev_eui, verified, counter,
					kms_client_err(c));
	/* The KMS answered the question: this chip does not hold the keys. That is QA's
	 * result, not a failure of the call; the details stay in kms_client_error(). */
	if (r == LPA_ERR_KMS_REFUSED && kms_client_err(c)->status == 422 &&
	    strcmp(kms_client_err(c)->code, "proof_invalid") == 0)
		return LPA_OK;
	return r;
}
