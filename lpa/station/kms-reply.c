/*
 * kms-reply.c — the KMS client's reply parsers (kms-client-private.h): every success
 * reply checked member by member against docs/kms-api.md and against what was asked,
 * every refusal mapped to its LPA_ERR_KMS_*. No HTTP here (kms-http.c), so the unit
 * tests and the fuzz target (tests/station/fuzz-kms-response.c) reach them without a
 * server.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "kms-client-private.h"

const char *const kms_call_names[KMS_CALL_N] = {
	"login",   "logout",    "keys",   "issue",       "confirm",
	"abandon", "challenge", "verify", "lot records", "enrol",
};

/* ------------------------------------------------------------------ errors */
void kms_error_set(struct kms_error *e, long status, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	snprintf(e->code, sizeof(e->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

/* The KMS's text goes to a terminal: no control characters, nothing but ASCII. */
static void kms_error_copy_text(char *out, size_t cap, const char *in)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < cap; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

static bool kms_is_code(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(((struct kms_error *)0)->code))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((s[i] < 'a' || s[i] > 'z') && s[i] != '_')
			return false;
	return true;
}

/* ---------------------------------------------------------------- parsing */
json_t *kms_parse_json(enum kms_call call, const char *body, size_t len, struct kms_error *e)
{
	json_error_t jerr;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

	if (o == NULL) {
		kms_error_set(e, e->status, "", "reply to %s is not JSON: %s", kms_call_names[call],
			      jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		kms_error_set(e, e->status, "", "reply to %s is not a JSON object",
			      kms_call_names[call]);
		return NULL;
	}
	return o;
}

static int kms_bad(struct kms_error *e, enum kms_call call, const char *member, const char *what)
{
	kms_error_set(e, e->status, "", "reply to %s: \"%s\" %s", kms_call_names[call], member,
		      what);
	return LPA_ERR_KMS_PROTOCOL;
}

/* An integer member in [lo, hi]. */
static int kms_get_int(json_t *o, const char *member, json_int_t lo, json_int_t hi, json_int_t *v)
{
	json_t *j = json_object_get(o, member);

	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	return *v >= lo && *v <= hi ? 0 : -1;
}

/* A string member of min..max bytes (jansson refuses embedded NULs by default). */
static const char *kms_get_str(json_t *o, const char *member, size_t min, size_t max)
{
	json_t *j = json_object_get(o, member);
	size_t n;

	if (!json_is_string(j))
		return NULL;
	n = json_string_length(j);
	return n >= min && n <= max ? json_string_value(j) : NULL;
}

/* An EUI as the API writes it: exactly 16 hex digits. */
static int kms_get_eui(json_t *o, const char *member, uint64_t *eui)
{
	return lpa_eui_parse(kms_get_str(o, member, 16, 16), eui) == LPA_OK ? 0 : -1;
}

/* base64url of exactly n bytes. */
static int kms_get_b64(json_t *o, const char *member, uint8_t *out, size_t n)
{
	const char *s = kms_get_str(o, member, lpa_b64url_len(n), lpa_b64url_len(n));
	size_t got;

	if (s == NULL || lpa_b64url_decode(s, strlen(s), out, n, &got) != LPA_OK || got != n)
		return -1;
	return 0;
}

/* Names the KMS gives (operator, station, role): what the API allows, nothing a
 * terminal would interpret. */
static bool kms_is_name(const char *s)
{
	return lpa_name_valid(s, LPA_NAME_MAX);
}

int kms_parse_error(enum kms_call call, long status, const char *body, size_t len,
		    struct kms_error *e)
{
	json_t *o = len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *code = json_string_value(json_object_get(o, "error"));
	const char *msg = json_string_value(json_object_get(o, "message"));
	int r;

	e->status = status;
	e->code[0] = '\0';
	snprintf(e->message, sizeof(e->message), "HTTP %ld from the KMS without an API error",
		 status);
	if (code != NULL && kms_is_code(code))
		strcpy(e->code, code);
	if (msg != NULL)
		kms_error_copy_text(e->message, sizeof(e->message), msg);
	json_decref(o);

	if (status >= 500 && status <= 599)
		r = LPA_ERR_KMS_SERVER;
	else if (status == 401 || status == 423 || status == 429)
		r = LPA_ERR_KMS_AUTH;
	else if ((status == 422 &&
		  (!strcmp(e->code, "untrusted_chip") || !strcmp(e->code, "identity_mismatch") ||
		   !strcmp(e->code, "enrolment_invalid"))) ||
		 (status == 409 && !strcmp(e->code, "identity_conflict")))
		r = LPA_ERR_KMS_UNTRUSTED;
	else if ((status == 422 && !strcmp(e->code, "receipt_invalid")) ||
		 (status == 409 && call == KMS_CALL_CONFIRM && !strcmp(e->code, "attempt_closed")))
		r = LPA_ERR_KMS_RECEIPT;
	else if (status >= 400 && status <= 499)
		r = LPA_ERR_KMS_REFUSED;
	else
		r = LPA_ERR_KMS_PROTOCOL; /* 1xx, 3xx (no redirects), an unexpected 2xx */
	if (r == LPA_ERR_KMS_PROTOCOL && e->code[0] == '\0')
		snprintf(e->message, sizeof(e->message), "unexpected HTTP %ld in reply to %s",
			 status, kms_call_names[call]);
	return r;
}

int kms_parse_login(const char *body, size_t len, lpa_secbuf **token, struct kms_session_info *info,
		    struct kms_error *e)
{
	json_t *o, *roles, *role;
	const char *tok, *s;
	uint8_t raw[32];
	json_int_t exp;
	size_t i, n = 0, got;
	int r = LPA_ERR_KMS_PROTOCOL;

	*token = NULL;
	memset(info, 0, sizeof(*info));
	if ((o = kms_parse_json(KMS_CALL_LOGIN, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	/* 32 random bytes, base64url: anything else is not a token this API issues, and
	 * will go into an HTTP header, so its alphabet matters. */
	tok = kms_get_str(o, "token", 43, 43);
	if (tok == NULL || lpa_b64url_decode(tok, 43, raw, sizeof(raw), &got) != LPA_OK ||
	    got != 32) {
		r = kms_bad(e, KMS_CALL_LOGIN, "token", "is not base64url of 32 bytes");
		goto fail;
	}
	if (kms_get_int(o, "expires_at", 1, INT64_MAX, &exp) != 0) {
		r = kms_bad(e, KMS_CALL_LOGIN, "expires_at", "is not a positive integer");
		goto fail;
	}
	info->expires_at = (time_t)exp;
	if ((s = kms_get_str(o, "operator", 1, sizeof(info->operator_name) - 1)) == NULL ||
	    !kms_is_name(s)) {
		r = kms_bad(e, KMS_CALL_LOGIN, "operator", "is not an operator name");
		goto fail;
	}
	strcpy(info->operator_name, s);
	if ((s = kms_get_str(o, "station", 1, sizeof(info->station) - 1)) == NULL ||
	    !kms_is_name(s)) {
		r = kms_bad(e, KMS_CALL_LOGIN, "station", "is not a station name");
		goto fail;
	}
	strcpy(info->station, s);
	roles = json_object_get(o, "roles");
	if (!json_is_array(roles) || json_array_size(roles) == 0) {
		r = kms_bad(e, KMS_CALL_LOGIN, "roles", "is not a non-empty array");
		goto fail;
	}
	json_array_foreach(roles, i, role)
	{
		size_t rl = json_string_length(role);

		s = json_string_value(role);
		if (s == NULL || rl == 0 || !kms_is_name(s) ||
		    n + (n ? 1 : 0) + rl >= sizeof(info->roles)) {
			r = kms_bad(e, KMS_CALL_LOGIN, "roles",
				    "holds a bad or too long role name");
			goto fail;
		}
		n += (size_t)snprintf(info->roles + n, sizeof(info->roles) - n, "%s%s",
				      n ? "," : "", s);
	}
	if ((*token = lpa_secbuf_new(43)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	memcpy(lpa_secbuf_data(*token), tok, 43);
	r = LPA_OK;
fail:
	OPENSSL_cleanse(raw, sizeof(raw));
	json_decref(o); /* the wiping allocator clears the token's copies */
	if (r != LPA_OK)
		memset(info, 0, sizeof(*info));
	return r;
}

int kms_parse_keys(const char *body, size_t len, char **jwks, struct kms_error *e)
{
	json_t *o, *keys, *k;
	bool package = false;
	uint8_t coord[32];
	json_int_t id;
	size_t i;
	int r = LPA_ERR_KMS_PROTOCOL;

	*jwks = NULL;
	if ((o = kms_parse_json(KMS_CALL_KEYS, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	keys = json_object_get(o, "keys");
	if (!json_is_array(keys) || json_array_size(keys) == 0) {
		r = kms_bad(e, KMS_CALL_KEYS, "keys", "is not a non-empty array");
		goto fail;
	}
	json_array_foreach(keys, i, k)
	{
		const char *kty = kms_get_str(k, "kty", 2, 2), *crv = kms_get_str(k, "crv", 5, 5);
		const char *purpose = kms_get_str(k, "purpose", 1, 32);

		if (!json_is_object(k) || kty == NULL || strcmp(kty, "EC") != 0 || crv == NULL ||
		    strcmp(crv, "P-256") != 0 || kms_get_b64(k, "x", coord, 32) != 0 ||
		    kms_get_b64(k, "y", coord, 32) != 0 || purpose == NULL ||
		    kms_get_int(k, "key_id", 0, UINT32_MAX, &id) != 0) {
			r = kms_bad(e, KMS_CALL_KEYS, "keys",
				    "holds a key that is not a P-256 JWK with purpose and key_id");
			goto fail;
		}
		package = package || strcmp(purpose, "package") == 0;
	}
	if (!package) {
		r = kms_bad(e, KMS_CALL_KEYS, "keys", "has no package-signing key");
		goto fail;
	}
	if ((*jwks = malloc(len + 1)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	memcpy(*jwks, body, len);
	(*jwks)[len] = '\0';
	r = LPA_OK;
fail:
	json_decref(o);
	return r;
}

int kms_parse_issue(const char *body, size_t len, uint64_t chip_uid, uint64_t join_eui,
		    uint8_t lorawan, struct kms_issue_resp *resp, struct kms_error *e)
{
	struct lpa_lpk1_hdr hdr;
	json_int_t v;
	json_t *o;
	int r = LPA_ERR_KMS_PROTOCOL, pr;

	memset(resp, 0, sizeof(*resp));
	if ((o = kms_parse_json(KMS_CALL_ISSUE, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	if (kms_get_eui(o, "dev_eui", &resp->dev_eui) != 0) {
		r = kms_bad(e, KMS_CALL_ISSUE, "dev_eui", "is not 16 hex digits");
		goto fail;
	}
	if (kms_get_int(o, "counter", 1, UINT32_MAX, &v) != 0) {
		r = kms_bad(e, KMS_CALL_ISSUE, "counter", "is not in 1..2^32-1");
		goto fail;
	}
	resp->counter = (uint32_t)v;
	if (kms_get_int(o, "key_id", 0, UINT32_MAX, &v) != 0) {
		r = kms_bad(e, KMS_CALL_ISSUE, "key_id", "is not in 0..2^32-1");
		goto fail;
	}
	resp->key_id = (uint32_t)v;
	if (kms_get_int(o, "issued_at", 0, INT64_MAX, &v) != 0) {
		r = kms_bad(e, KMS_CALL_ISSUE, "issued_at", "is not a time");
		goto fail;
	}
	resp->issued_at = (time_t)v;
	if (kms_get_b64(o, "package", resp->package, LPA_LPK1_LEN) != 0) {
		r = kms_bad(e, KMS_CALL_ISSUE, "package", "is not base64url of 237 bytes");
		goto fail;
	}
	if ((pr = lpa_lpk1_parse(resp->package, LPA_LPK1_LEN, &hdr)) != LPA_OK) {
		kms_error_set(e, e->status, "", "reply to issue: the package does not parse (%s)",
			      lpa_errname(pr));
		goto fail;
	}
	/* The station cannot open the package, but it can refuse to install one that names
	 * another chip, device or attempt than the reply and the request say. */
	if (hdr.dev_eui != resp->dev_eui || hdr.counter != resp->counter ||
	    hdr.key_id != resp->key_id || hdr.chip_uid != chip_uid || hdr.join_eui != join_eui ||
	    hdr.lorawan != lorawan) {
		kms_error_set(e, e->status, "",
			      "reply to issue: the package's header does not match the reply "
			      "and request (DevEUI, counter, key id, chip UID, JoinEUI, LoRaWAN)");
		goto fail;
	}
	r = LPA_OK;
fail:
	json_decref(o);
	if (r != LPA_OK)
		memset(resp, 0, sizeof(*resp));
	return r;
}

/* A JWS compact serialisation's shape: three base64url parts, an ES256 signature. */
static int kms_check_jws(const char *s)
{
	const char *d1 = strchr(s, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	size_t parts[3][2], n, cap = 0;
	uint8_t *buf = NULL;
	int r = -1;

	if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '.') != NULL)
		return -1;
	parts[0][0] = 0;
	parts[0][1] = (size_t)(d1 - s);
	parts[1][0] = (size_t)(d1 + 1 - s);
	parts[1][1] = (size_t)(d2 - d1 - 1);
	parts[2][0] = (size_t)(d2 + 1 - s);
	parts[2][1] = strlen(d2 + 1);
	for (int i = 0; i < 3; i++)
		cap = parts[i][1] > cap ? parts[i][1] : cap;
	if ((buf = malloc(cap + 1)) == NULL)
		return -1;
	for (int i = 0; i < 3; i++)
		if (parts[i][1] == 0 ||
		    lpa_b64url_decode(s + parts[i][0], parts[i][1], buf, cap, &n) != LPA_OK)
			goto fail;
	r = n == LPA_P256_SIG_LEN ? 0 : -1; /* n: the last part's, the signature */
fail:
	free(buf);
	return r;
}

/* A reply about one attempt must name the device and the attempt the request was about:
 * confirm and abandon check both alike, in this order; device_what and counter_what are
 * the messages, which say whose ("is not the confirmed device's"). */
static int kms_same_attempt(json_t *o, enum kms_call call, uint64_t dev_eui,
			    const char *device_what, uint32_t counter, const char *counter_what,
			    struct kms_error *e)
{
	uint64_t eui;
	json_int_t v;

	if (kms_get_eui(o, "dev_eui", &eui) != 0 || eui != dev_eui)
		return kms_bad(e, call, "dev_eui", device_what);
	if (kms_get_int(o, "counter", 1, UINT32_MAX, &v) != 0 || (uint32_t)v != counter)
		return kms_bad(e, call, "counter", counter_what);
	return LPA_OK;
}

int kms_parse_confirm(const char *body, size_t len, uint64_t dev_eui, uint32_t counter,
		      char **record, struct kms_error *e)
{
	const char *rec;
	json_t *o;
	int r;

	*record = NULL;
	if ((o = kms_parse_json(KMS_CALL_CONFIRM, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	if ((r = kms_same_attempt(o, KMS_CALL_CONFIRM, dev_eui, "is not the confirmed device's",
				  counter, "is not the confirmed attempt's", e)) != LPA_OK)
		goto fail;
	if ((rec = kms_get_str(o, "record", 1, KMS_REPLY_MAX)) == NULL || kms_check_jws(rec) != 0) {
		r = kms_bad(e, KMS_CALL_CONFIRM, "record", "is not an ES256 JWS");
		goto fail;
	}
	if ((*record = strdup(rec)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	r = LPA_OK;
fail:
	json_decref(o);
	return r;
}

int kms_parse_abandon(const char *body, size_t len, uint64_t dev_eui, uint32_t counter,
		      struct kms_error *e)
{
	const char *state;
	json_t *o;
	int r;

	if ((o = kms_parse_json(KMS_CALL_ABANDON, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	r = kms_same_attempt(o, KMS_CALL_ABANDON, dev_eui, "is not the abandoned device's", counter,
			     "is not the abandoned attempt's", e);
	if (r == LPA_OK &&
	    ((state = kms_get_str(o, "state", 1, 32)) == NULL || strcmp(state, "abandoned")))
		r = kms_bad(e, KMS_CALL_ABANDON, "state", "is not \"abandoned\"");
	json_decref(o);
	return r;
}

int kms_parse_challenge(const char *body, size_t len, uint64_t dev_eui, uint8_t nonce[16],
			time_t *expires_at, struct kms_error *e)
{
	uint64_t eui;
	json_int_t v;
	json_t *o;
	int r = LPA_ERR_KMS_PROTOCOL;

	if ((o = kms_parse_json(KMS_CALL_CHALLENGE, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	if (kms_get_eui(o, "dev_eui", &eui) != 0 || eui != dev_eui)
		r = kms_bad(e, KMS_CALL_CHALLENGE, "dev_eui", "is not the challenged device's");
	else if (kms_get_b64(o, "nonce", nonce, 16) != 0)
		r = kms_bad(e, KMS_CALL_CHALLENGE, "nonce", "is not base64url of 16 bytes");
	else if (kms_get_int(o, "expires_at", 1, INT64_MAX, &v) != 0)
		r = kms_bad(e, KMS_CALL_CHALLENGE, "expires_at", "is not a positive integer");
	else
		r = LPA_OK;
	if (r == LPA_OK)
		*expires_at = (time_t)v;
	else
		memset(nonce, 0, 16);
	json_decref(o);
	return r;
}

int kms_parse_verify(const char *body, size_t len, uint64_t dev_eui, bool *verified,
		     uint32_t *counter, struct kms_error *e)
{
	json_t *o, *ok;
	uint64_t eui;
	json_int_t v;
	int r = LPA_ERR_KMS_PROTOCOL;

	*verified = false;
	if ((o = kms_parse_json(KMS_CALL_VERIFY, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	ok = json_object_get(o, "verified");
	if (kms_get_eui(o, "dev_eui", &eui) != 0 || eui != dev_eui)
		r = kms_bad(e, KMS_CALL_VERIFY, "dev_eui", "is not the verified device's");
	else if (!json_is_true(ok))
		/* 200 means verified; a 200 saying otherwise contradicts the API. */
		r = kms_bad(e, KMS_CALL_VERIFY, "verified", "is not true in a 200 reply");
	else if (kms_get_int(o, "counter", 1, UINT32_MAX, &v) != 0)
		r = kms_bad(e, KMS_CALL_VERIFY, "counter", "is not in 1..2^32-1");
	else
		r = LPA_OK;
	if (r == LPA_OK) {
		*verified = true;
		*counter = (uint32_t)v;
	}
	json_decref(o);
	return r;
}

void kms_lot_records_free(struct kms_lot_records *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].record);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int kms_parse_lot_records(const char *body, size_t len, const char *lot,
			  struct kms_lot_records *out, struct kms_error *e)
{
	const char *name;
	json_t *o, *arr, *it;
	json_int_t count, v;
	size_t i;
	int r = LPA_ERR_KMS_PROTOCOL;

	memset(out, 0, sizeof(*out));
	if ((o = kms_parse_json(KMS_CALL_LOT_RECORDS, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	arr = json_object_get(o, "records");
	if ((name = kms_get_str(o, "lot", 1, LPA_NAME_MAX)) == NULL || strcmp(name, lot) != 0) {
		r = kms_bad(e, KMS_CALL_LOT_RECORDS, "lot", "is not the lot asked for");
		goto fail;
	}
	if (!json_is_array(arr)) {
		r = kms_bad(e, KMS_CALL_LOT_RECORDS, "records", "is not an array");
		goto fail;
	}
	if (kms_get_int(o, "count", 0, INT64_MAX, &count) != 0 ||
	    (size_t)count != json_array_size(arr)) {
		r = kms_bad(e, KMS_CALL_LOT_RECORDS, "count", "is not the number of records");
		goto fail;
	}
	if (count > 0 && (out->v = calloc((size_t)count, sizeof(*out->v))) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	json_array_foreach(arr, i, it)
	{
		struct kms_lot_record *rec = &out->v[i];
		const char *jws;

		if (!json_is_object(it) || kms_get_eui(it, "dev_eui", &rec->dev_eui) != 0) {
			r = kms_bad(e, KMS_CALL_LOT_RECORDS, "records[].dev_eui",
				    "is not 16 hex digits");
			goto fail;
		}
		if (kms_get_int(it, "counter", 1, UINT32_MAX, &v) != 0) {
			r = kms_bad(e, KMS_CALL_LOT_RECORDS, "records[].counter",
				    "is not in 1..2^32-1");
			goto fail;
		}
		rec->counter = (uint32_t)v;
		if (kms_get_int(it, "confirmed_at", 0, INT64_MAX, &v) != 0) {
			r = kms_bad(e, KMS_CALL_LOT_RECORDS, "records[].confirmed_at",
				    "is not a time");
			goto fail;
		}
		rec->confirmed_at = (time_t)v;
		if ((jws = kms_get_str(it, "record", 1, KMS_REPLY_MAX)) == NULL ||
		    kms_check_jws(jws) != 0) {
			r = kms_bad(e, KMS_CALL_LOT_RECORDS, "records[].record",
				    "is not an ES256 JWS");
			goto fail;
		}
		if ((rec->record = strdup(jws)) == NULL) {
			r = LPA_ERR_NOMEM;
			goto fail;
		}
		out->n++;
	}
	r = LPA_OK;
fail:
	json_decref(o);
	if (r != LPA_OK)
		kms_lot_records_free(out);
	return r;
}
