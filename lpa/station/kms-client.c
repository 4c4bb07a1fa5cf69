/*
 * kms-client.c — the station's client of the KMS API (docs/kms-api.md) on libcurl.
 *
 * One easy handle per client, so every call after the first rides the same TLS
 * connection (a mutual-TLS handshake costs more than an issue). The KMS is pinned: only
 * its CA file is trusted, never the system store. Secrets (password, TOTP code, bearer
 * token) are only ever held in lpa_secbufs by this file; see kms_client_call for what
 * libcurl itself copies.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "kms-client-private.h"

/* A session reply is a few hundred bytes; its buffer is a secbuf (it holds the token). */
#define KMS_LOGIN_REPLY_MAX 4096
/* Connecting to a KMS on the factory LAN takes milliseconds; a dead one should fail the
 * connect long before the whole request's timeout. */
#define KMS_CONNECT_TIMEOUT_MAX 5L
/* The KMS closes connections idle for 30 s (serve --timeout); reusing one it is about
 * to close would race its FIN, so curl opens a fresh one after 20 s of silence. */
#define KMS_MAX_CONN_AGE 20L

struct kms_client {
	CURL *curl;
	char base[256]; /* kms_url without a trailing '/' */
	unsigned retries;
	struct kms_error err;
	uint64_t requests;
	uint64_t connects;
	uint8_t *body; /* reply buffer, KMS_REPLY_MAX + 1 bytes */
	char curl_err[CURL_ERROR_SIZE];
};

static const char *const kms_call_names[KMS_CALL_N] = {
	"login",   "logout",    "keys",   "issue",       "confirm",
	"abandon", "challenge", "verify", "lot records", "enrol",
};

/*
 * Which calls may be sent again when the reply was lost (transport failure) or the KMS
 * failed (5xx). docs/kms-api.md makes these safe:
 *   keys      read-only;
 *   issue     the DevEUI is fixed per chip UID, and a repeated issue only supersedes the
 *             attempt whose reply was lost (the chip accepts only the newer counter);
 *   confirm   the byte-identical receipt returns the stored record;
 *   abandon   abandoning an abandoned attempt is 200 and keeps the first reason;
 *   challenge a lost reply leaves an unused nonce that expires on its own (several may be
 *             open at once), so asking again costs nothing;
 *   lot records read-only.
 * Never: login (each success consumes a TOTP step: the retry would be refused as a
 * replay, or open a second session), logout (a repeat after a lost 204 is a 401 that
 * would hide the success), verify (the proof's challenge is consumed whatever the
 * outcome: a repeat would be refused as no_challenge).
 */
static const bool kms_call_retried[KMS_CALL_N] = {
	[KMS_CALL_KEYS] = true,    [KMS_CALL_ISSUE] = true,     [KMS_CALL_CONFIRM] = true,
	[KMS_CALL_ABANDON] = true, [KMS_CALL_CHALLENGE] = true, [KMS_CALL_LOT_RECORDS] = true,
	[KMS_CALL_ENROL] = true, /* the same LPE1 again gets the stored certificate */
};

/* Back-off before retry n (0-based): long enough for a KMS restart or a dropped
 * connection to clear, short enough that a dead KMS fails in under two seconds. */
static const unsigned kms_backoff_ms[] = {200, 500, 1000};

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

/* ------------------------------------------------------- jansson hygiene */
/*
 * The login reply carries the token, and jansson copies it into its own blocks (the
 * lexer's buffer and the string value). Wipe every jansson block on free, process-wide:
 * the allocator is global in jansson, and wiping blocks that held nothing secret costs
 * only the memset. Plain malloc underneath, so blocks allocated before the switch are
 * still freed correctly.
 */
static void *kms_json_malloc(size_t n)
{
	return malloc(n);
}

static void kms_json_free(void *p)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, malloc_usable_size(p));
		free(p);
	}
}

static pthread_once_t kms_once = PTHREAD_ONCE_INIT;
static CURLcode kms_global_rc;

static void kms_global_init(void)
{
	json_set_alloc_funcs(kms_json_malloc, kms_json_free);
	kms_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
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
	const char *s = kms_get_str(o, member, 16, 16);
	uint8_t raw[8];

	if (s == NULL || lpa_hex_decode(s, 16, raw, 8) != LPA_OK)
		return -1;
	*eui = lpa_be_get(raw, 8);
	return 0;
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

int kms_parse_confirm(const char *body, size_t len, uint64_t dev_eui, uint32_t counter,
		      char **record, struct kms_error *e)
{
	const char *rec;
	uint64_t eui;
	json_int_t v;
	json_t *o;
	int r = LPA_ERR_KMS_PROTOCOL;

	*record = NULL;
	if ((o = kms_parse_json(KMS_CALL_CONFIRM, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	if (kms_get_eui(o, "dev_eui", &eui) != 0 || eui != dev_eui) {
		r = kms_bad(e, KMS_CALL_CONFIRM, "dev_eui", "is not the confirmed device's");
		goto fail;
	}
	if (kms_get_int(o, "counter", 1, UINT32_MAX, &v) != 0 || (uint32_t)v != counter) {
		r = kms_bad(e, KMS_CALL_CONFIRM, "counter", "is not the confirmed attempt's");
		goto fail;
	}
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
	uint64_t eui;
	json_int_t v;
	json_t *o;
	int r = LPA_ERR_KMS_PROTOCOL;

	if ((o = kms_parse_json(KMS_CALL_ABANDON, body, len, e)) == NULL)
		return LPA_ERR_KMS_PROTOCOL;
	if (kms_get_eui(o, "dev_eui", &eui) != 0 || eui != dev_eui)
		r = kms_bad(e, KMS_CALL_ABANDON, "dev_eui", "is not the abandoned device's");
	else if (kms_get_int(o, "counter", 1, UINT32_MAX, &v) != 0 || (uint32_t)v != counter)
		r = kms_bad(e, KMS_CALL_ABANDON, "counter", "is not the abandoned attempt's");
	else if ((state = kms_get_str(o, "state", 1, 32)) == NULL || strcmp(state, "abandoned"))
		r = kms_bad(e, KMS_CALL_ABANDON, "state", "is not \"abandoned\"");
	else
		r = LPA_OK;
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

/* ------------------------------------------------------------------ HTTP */
static size_t kms_client_write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct kms_reply *b = ud;
	size_t n = size * nmemb;

	if (n > b->cap - b->len && b->grow_to > b->cap && n <= b->grow_to - b->len) {
		size_t cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n;
		uint8_t *p;

		cap = cap < b->grow_to ? cap : b->grow_to;
		if ((p = realloc(b->data, cap + 1)) != NULL) {
			b->data = p;
			b->cap = cap;
		}
	}
	if (n > b->cap - b->len) {
		b->overflow = true;
		return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return n;
}

/* Transport failures that a second attempt cannot fix: our own configuration (files,
 * URL) or a KMS that is not the pinned one. */
static bool kms_client_transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return false;
	default:
		return true;
	}
}

/* Only the token's own alphabet may go into the header: a token with CR/LF from a
 * tampered keyring entry would otherwise inject headers. */
static int kms_client_auth_header(const lpa_secbuf *token, lpa_secbuf **hdr)
{
	static const char prefix[] = "Authorization: Bearer ";
	const uint8_t *t = lpa_secbuf_cdata(token);
	size_t n = lpa_secbuf_len(token);
	uint8_t *p;

	*hdr = NULL;
	if (n == 0 || n > 512)
		return LPA_ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || t[i] == '-' || t[i] == '_'))
			return LPA_ERR_INVAL;
	if ((*hdr = lpa_secbuf_new(sizeof(prefix) + n)) == NULL)
		return LPA_ERR_NOMEM;
	p = lpa_secbuf_data(*hdr);
	memcpy(p, prefix, sizeof(prefix) - 1);
	memcpy(p + sizeof(prefix) - 1, t, n);
	p[sizeof(prefix) - 1 + n] = '\0';
	return LPA_OK;
}

static void kms_client_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * One attempt. LPA_OK with *status when the KMS answered (whatever it said); otherwise
 * LPA_ERR_KMS_UNREACHABLE (*transient says whether another attempt may help) or
 * LPA_ERR_KMS_PROTOCOL for a reply over the cap.
 */
static int kms_client_perform(kms_client *c, enum kms_call call, const char *method,
			      const char *url, struct curl_slist *headers, const char *body,
			      size_t body_len, struct kms_reply *out, long *status, bool *transient)
{
	CURLcode cc;
	long conns = 0;

	out->len = 0;
	out->overflow = false;
	c->curl_err[0] = '\0';
	*transient = false;
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	if (body != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "GET") != 0 ? method : NULL);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, out);
	cc = curl_easy_perform(c->curl);
	/* curl keeps the pointers, not copies: drop them before the caller wipes them. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	c->requests++;
	if (curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0)
		c->connects += (uint64_t)conns;
	if (cc == CURLE_WRITE_ERROR && out->overflow) {
		kms_error_set(&c->err, 0, "", "reply to %s is larger than %d bytes",
			      kms_call_names[call], (int)out->cap);
		return LPA_ERR_KMS_PROTOCOL;
	}
	if (cc != CURLE_OK) {
		*transient = kms_client_transient(cc);
		kms_error_set(&c->err, 0, "", "%s: %s", curl_easy_strerror(cc),
			      c->curl_err[0] ? c->curl_err : "no detail");
		return LPA_ERR_KMS_UNREACHABLE;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	return LPA_OK;
}

/*
 * A call, with the retries its kind allows. LPA_OK when the KMS answered want_status
 * (the body in out); otherwise the mapped error with c->err filled.
 *
 * Secrets: the token goes into the Authorization header from a secbuf through a
 * curl_slist node we own (curl_slist_append would strdup it into the ordinary heap), and
 * the login body is a secbuf too. libcurl still copies both into its request buffer
 * (headers, and bodies under 64 KiB, are sent in one write), which it frees without
 * wiping, and OpenSSL encrypts from there; that copy is short-lived and out of our
 * reach. Nothing here logs either (CURLOPT_VERBOSE stays off).
 */
static int kms_client_call(kms_client *c, enum kms_call call, const char *method, const char *path,
			   const lpa_secbuf *token, const char *body, size_t body_len,
			   struct kms_reply *out, long want_status)
{
	char url[512], ct[] = "Content-Type: application/json",
		       accept[] = "Accept: application/json", expect[] = "Expect:";
	struct curl_slist nodes[4];
	lpa_secbuf *auth = NULL;
	unsigned attempts, n = 0;
	long status = 0;
	bool transient;
	int r;

	memset(&c->err, 0, sizeof(c->err));
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url))
		return LPA_ERR_INVAL;
	if (token != NULL && (r = kms_client_auth_header(token, &auth)) != LPA_OK) {
		kms_error_set(&c->err, 0, "", "the session token is malformed");
		return r;
	}
	if (auth != NULL)
		nodes[n++].data = (char *)lpa_secbuf_data(auth);
	if (body != NULL)
		nodes[n++].data = ct;
	nodes[n++].data = accept;
	nodes[n++].data = expect; /* no 100-continue round trip */
	for (unsigned i = 0; i < n; i++)
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;

	attempts = 1 + (kms_call_retried[call] ? c->retries : 0);
	for (unsigned a = 0;; a++) {
		r = kms_client_perform(c, call, method, url, nodes, body, body_len, out, &status,
				       &transient);
		if (r == LPA_OK && status >= 500 && status <= 599)
			transient = true;
		else if (r == LPA_OK)
			break;
		if (!transient || a + 1 >= attempts)
			break;
		kms_client_sleep_ms(kms_backoff_ms[a < 3 ? a : 2]);
	}
	lpa_secbuf_free(&auth);
	if (r == LPA_ERR_KMS_UNREACHABLE) {
		char detail[sizeof(c->err.message)];

		memcpy(detail, c->err.message, sizeof(detail));
		kms_error_set(&c->err, 0, "", "KMS unreachable (%s): %.180s", c->base, detail);
		return r;
	}
	if (r != LPA_OK)
		return r;
	c->err.status = status;
	if (status != want_status)
		return kms_parse_error(call, status, (const char *)out->data, out->len, &c->err);
	return LPA_OK;
}

/* --------------------------------------------------------------- the API */
int kms_client_new(const struct station_config *cfg, kms_client **out)
{
	kms_client *c;
	size_t n;
	long timeout, connect;
	int r = LPA_ERR_NOMEM;

	*out = NULL;
	if (strncmp(cfg->kms_url, "https://", 8) != 0 || cfg->kms_url[8] == '\0' ||
	    cfg->kms_timeout_s == 0)
		return LPA_ERR_INVAL;
	pthread_once(&kms_once, kms_global_init);
	if (kms_global_rc != CURLE_OK)
		return LPA_ERR_SYSTEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return LPA_ERR_NOMEM;
	n = strlen(cfg->kms_url);
	if (n >= sizeof(c->base)) {
		r = LPA_ERR_INVAL;
		goto fail;
	}
	memcpy(c->base, cfg->kms_url, n + 1);
	while (n > 8 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->retries = cfg->kms_retries;
	if ((c->body = malloc(KMS_REPLY_MAX + 1)) == NULL || (c->curl = curl_easy_init()) == NULL)
		goto fail;
	timeout = (long)cfg->kms_timeout_s;
	connect = timeout < KMS_CONNECT_TIMEOUT_MAX ? timeout : KMS_CONNECT_TIMEOUT_MAX;
	r = LPA_ERR_INVAL;
	if (curl_easy_setopt(c->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSLCERT, cfg->tls_cert) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSLCERTTYPE, "PEM") ||
	    curl_easy_setopt(c->curl, CURLOPT_SSLKEY, cfg->tls_key) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSLKEYTYPE, "PEM") ||
	    curl_easy_setopt(c->curl, CURLOPT_CAINFO, cfg->kms_ca) ||
	    /* Pinned: without this, a CA path compiled into libcurl (Debian's
	     * /etc/ssl/certs) would be trusted as well. */
	    curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L) ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https") ||
	    curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https") ||
#else
	    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS) ||
	    curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS) ||
#endif
	    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L) ||
	    /* The KMS is reached directly: an https_proxy in the operator's environment
	     * must not route station traffic elsewhere. */
	    curl_easy_setopt(c->curl, CURLOPT_PROXY, "") ||
	    curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*") ||
	    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, connect) ||
	    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, timeout) ||
	    /* Worker threads: no SIGALRM-based DNS timeouts. */
	    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) ||
	    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(c->curl, CURLOPT_MAXAGE_CONN, KMS_MAX_CONN_AGE) ||
	    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "lpa-station") ||
	    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err) ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, kms_client_write_cb))
		goto fail;
	*out = c;
	return LPA_OK;
fail:
	kms_client_free(&c);
	return r;
}

void kms_client_free(kms_client **cp)
{
	kms_client *c = *cp;

	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	if (c->body != NULL) {
		OPENSSL_cleanse(c->body, KMS_REPLY_MAX + 1);
		free(c->body);
	}
	free(c);
	*cp = NULL;
}

struct kms_error *kms_client_err(kms_client *c)
{
	return &c->err;
}

const struct kms_error *kms_client_error(const kms_client *c)
{
	return &c->err;
}

void kms_client_counters(const kms_client *c, uint64_t *requests, uint64_t *connects)
{
	*requests = c->requests;
	*connects = c->connects;
}

struct kms_reply kms_client_reply(kms_client *c)
{
	struct kms_reply b = {.data = c->body, .cap = KMS_REPLY_MAX};

	return b;
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
		r = kms_parse_login((const char *)b.data, b.len, token, info, &c->err);
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
		r = kms_parse_keys((const char *)b.data, b.len, jwks, &c->err);
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

void kms_eui_hex(uint64_t eui, char out[17])
{
	uint8_t raw[8];

	lpa_be_put(raw, eui, 8);
	lpa_hex_encode(raw, 8, out);
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
		kms_error_set(&c->err, 0, "", "the chip's identity record does not parse (%s)",
			      lpa_errname(r));
		return r;
	}
	if ((b64 = malloc(lpa_b64url_len(req->identity_len) + 1)) == NULL)
		return LPA_ERR_NOMEM;
	lpa_b64url_encode(req->identity, req->identity_len, b64);
	kms_eui_hex(req->join_eui, eui);
	snprintf(sid, sizeof(sid), "%08x", (unsigned)req->silicon_id);
	r = kms_client_call_json(c, KMS_CALL_ISSUE, "/v1/devices/issue", token,
				 json_pack("{s:s, s:s, s:s, s:s, s:s}", "lot", req->lot, "join_eui",
					   eui, "lorawan", req->lorawan, "identity", b64,
					   "silicon_id", sid),
				 &b, 201);
	free(b64);
	if (r == LPA_OK)
		r = kms_parse_issue((const char *)b.data, b.len, id.chip_uid, req->join_eui,
				    lorawan, resp, &c->err);
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
	kms_eui_hex(dev_eui, eui);
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
				      &c->err);
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
	kms_eui_hex(dev_eui, eui);
	snprintf(path, sizeof(path), "/v1/devices/%s/abandon", eui);
	r = kms_client_call_json(
		c, KMS_CALL_ABANDON, path, token,
		json_pack("{s:I, s:s}", "counter", (json_int_t)counter, "reason", reason), &b, 200);
	if (r == LPA_OK)
		r = kms_parse_abandon((const char *)b.data, b.len, dev_eui, counter, &c->err);
	return r;
}

int kms_challenge(kms_client *c, const lpa_secbuf *token, uint64_t dev_eui, uint8_t nonce[16],
		  time_t *expires_at)
{
	struct kms_reply b = kms_client_reply(c);
	char eui[17], path[64];
	int r;

	memset(nonce, 0, 16);
	kms_eui_hex(dev_eui, eui);
	snprintf(path, sizeof(path), "/v1/devices/%s/challenge", eui);
	r = kms_client_call(c, KMS_CALL_CHALLENGE, "POST", path, token, "{}", 2, &b, 201);
	if (r == LPA_OK)
		r = kms_parse_challenge((const char *)b.data, b.len, dev_eui, nonce, expires_at,
					&c->err);
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
		r = kms_parse_lot_records((const char *)b.data, b.len, lot, out, &c->err);
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
	kms_eui_hex(dev_eui, eui);
	snprintf(path, sizeof(path), "/v1/devices/%s/verify", eui);
	lpa_b64url_encode(proof, LPA_LPP1_LEN, b64);
	r = kms_client_call_json(c, KMS_CALL_VERIFY, path, token, json_pack("{s:s}", "proof", b64),
				 &b, 200);
	if (r == LPA_OK)
		return kms_parse_verify((const char *)b.data, b.len, dev_eui, verified, counter,
					&c->err);
	/* The KMS answered the question: this chip does not hold the keys. That is QA's
	 * result, not a failure of the call; the details stay in kms_client_error(). */
	if (r == LPA_ERR_KMS_REFUSED && c->err.status == 422 &&
	    strcmp(c->err.code, "proof_invalid") == 0)
		return LPA_OK;
	return r;
}
