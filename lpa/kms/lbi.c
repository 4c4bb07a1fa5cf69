/*
 * lbi.c — LoRaWAN Backend Interfaces JSON (TS002-1.0.0/1.1.0) as the Join Server reads and
 * writes it: strict parsing of JoinReq, AppSKeyReq and HomeNSReq (every member known to
 * that message type, hex byte fields of exact length, ranges), and the answers' header,
 * Result and KeyEnvelopes. Both stacks write byte fields as hex and ProtocolVersion "1.0"
 * or "1.1"; members the spec defines but the Join Server does not use (SenderNSID,
 * VSExtension, ...) are accepted when of the right type, anything else is refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lpa/core/lpa-core.h"

#include "kms-lbi.h"

static const char *const lbi_results[LBI_RESULT_COUNT] = {
	[LBI_SUCCESS] = "Success",
	[LBI_MIC_FAILED] = "MICFailed",
	[LBI_JOIN_REQ_FAILED] = "JoinReqFailed",
	[LBI_NO_ROAMING_AGREEMENT] = "NoRoamingAgreement",
	[LBI_DEV_ROAMING_DISALLOWED] = "DevRoamingDisallowed",
	[LBI_ROAMING_ACT_DISALLOWED] = "RoamingActDisallowed",
	[LBI_ACTIVATION_DISALLOWED] = "ActivationDisallowed",
	[LBI_UNKNOWN_DEV_EUI] = "UnknownDevEUI",
	[LBI_UNKNOWN_DEV_ADDR] = "UnknownDevAddr",
	[LBI_UNKNOWN_SENDER] = "UnknownSender",
	[LBI_UNKNOWN_RECEIVER] = "UnknownReceiver",
	[LBI_DEFERRED] = "Deferred",
	[LBI_XMIT_FAILED] = "XmitFailed",
	[LBI_INVALID_FCNT_UP] = "InvalidFCntUp",
	[LBI_INVALID_PROTOCOL_VERSION] = "InvalidProtocolVersion",
	[LBI_STALE_DEVICE_PROFILE] = "StaleDeviceProfile",
	[LBI_MALFORMED_REQUEST] = "MalformedRequest",
	[LBI_FRAME_SIZE_ERROR] = "FrameSizeError",
	[LBI_OTHER] = "Other",
};

const char *lbi_result_name(enum lbi_result r)
{
	return (unsigned)r < LBI_RESULT_COUNT ? lbi_results[r] : "Other";
}

int lbi_result_parse(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < LBI_RESULT_COUNT; i++)
		if (strcmp(s, lbi_results[i]) == 0)
			return i;
	/* TS002-1.0.0 spells it so; peers that follow it send this. */
	if (strcmp(s, "UnkownReceiver") == 0)
		return LBI_UNKNOWN_RECEIVER;
	return -1;
}

const char *lbi_strerror(int err)
{
	switch (err) {
	case LBI_OK:
		return "ok";
	case LBI_ERR_JSON:
		return "not a JSON object";
	case LBI_ERR_UNKNOWN:
		return "unknown member";
	case LBI_ERR_MISSING:
		return "missing member";
	case LBI_ERR_TYPE:
		return "member of the wrong type";
	case LBI_ERR_HEX:
		return "byte field is not hex of the right length";
	case LBI_ERR_RANGE:
		return "value out of range";
	case LBI_ERR_VERSION:
		return "unsupported ProtocolVersion";
	case LBI_ERR_MSGTYPE:
		return "not a request the Join Server answers";
	case LBI_ERR_FRAME:
		return "PHYPayload is not a JoinRequest";
	case LBI_ERR_MACVER:
		return "unsupported MACVersion";
	case LBI_ERR_TOO_LARGE:
		return "body too large";
	}
	return "unknown LBI error";
}

struct lbi_ctx {
	enum lbi_result *result;
	char *msg;
	size_t msg_len;
};

static int lbi_fail(struct lbi_ctx *x, int err, enum lbi_result res, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int lbi_fail(struct lbi_ctx *x, int err, enum lbi_result res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->msg, x->msg_len, fmt, ap);
	va_end(ap);
	/* The message quotes the input (jansson's error text, member names): it goes back
	 * in the answer as JSON text, so only printable ASCII stays. */
	for (char *p = x->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	*x->result = res;
	return err;
}

static bool lbi_printable(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

/* A string member (required or not): LBI_OK with *out, or why not. */
static int lbi_string(struct lbi_ctx *x, json_t *o, const char *name, bool required,
		      const char **out)
{
	json_t *v = json_object_get(o, name);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return LBI_OK;
		return lbi_fail(x, LBI_ERR_MISSING, LBI_MALFORMED_REQUEST, "%s is missing", name);
	}
	if (!json_is_string(v))
		return lbi_fail(x, LBI_ERR_TYPE, LBI_MALFORMED_REQUEST, "%s must be a string",
				name);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return lbi_fail(x, LBI_ERR_RANGE, LBI_MALFORMED_REQUEST, "%s contains NUL", name);
	*out = json_string_value(v);
	return LBI_OK;
}

/* Exactly n bytes of hex (min..max bytes when min != max). */
static int lbi_bytes(struct lbi_ctx *x, json_t *o, const char *name, bool required, size_t min,
		     size_t max, uint8_t *out, size_t *out_len, bool *present)
{
	const char *s;
	size_t n;
	int r;

	if (present)
		*present = false;
	if ((r = lbi_string(x, o, name, required, &s)) != LBI_OK || !s)
		return r;
	n = strlen(s);
	if (n % 2 || n / 2 < min || n / 2 > max || lpa_hex_decode(s, n, out, n / 2) != LPA_OK) {
		if (min == max)
			return lbi_fail(x, LBI_ERR_HEX, LBI_MALFORMED_REQUEST,
					"%s must be %zu hex digits", name, 2 * min);
		return lbi_fail(x, LBI_ERR_HEX, LBI_MALFORMED_REQUEST,
				"%s must be %zu..%zu hex digits", name, 2 * min, 2 * max);
	}
	if (out_len)
		*out_len = n / 2;
	if (present)
		*present = n > 0;
	return LBI_OK;
}

static int lbi_eui(struct lbi_ctx *x, json_t *o, const char *name, uint64_t *eui)
{
	uint8_t b[8];
	int r;

	if ((r = lbi_bytes(x, o, name, true, 8, 8, b, NULL, NULL)) != LBI_OK)
		return r;
	*eui = lpa_be_get(b, 8);
	return LBI_OK;
}

static int lbi_id(struct lbi_ctx *x, json_t *o, const char *name, char out[LBI_MAX_ID + 1])
{
	const char *s;
	int r;

	if ((r = lbi_string(x, o, name, true, &s)) != LBI_OK)
		return r;
	if (!lbi_printable(s, LBI_MAX_ID))
		return lbi_fail(x, LBI_ERR_RANGE, LBI_MALFORMED_REQUEST,
				"%s must be 1..%d printable characters", name, LBI_MAX_ID);
	snprintf(out, LBI_MAX_ID + 1, "%s", s);
	return LBI_OK;
}

/* Members every message has; those of the request type follow. */
static const char *const lbi_header_members[] = {"ProtocolVersion", "SenderID",    "ReceiverID",
						 "TransactionID",   "MessageType", "SenderToken",
						 "ReceiverToken",   "SenderNSID",  "ReceiverNSID",
						 "VSExtension",     NULL};
static const char *const lbi_join_members[] = {"MACVersion", "PHYPayload", "DevEUI", "DevAddr",
					       "DLSettings", "RxDelay",    "CFList", NULL};
static const char *const lbi_appskey_members[] = {"DevEUI", "SessionKeyID", NULL};
static const char *const lbi_homens_members[] = {"DevEUI", NULL};

static bool lbi_in(const char *const *list, const char *k)
{
	for (; *list; list++)
		if (strcmp(*list, k) == 0)
			return true;
	return false;
}

static int lbi_header(struct lbi_ctx *x, json_t *o, struct lbi_msg *m)
{
	static const struct {
		const char *name;
		enum lbi_type type;
	} types[] = {{"JoinReq", LBI_JOIN_REQ},
		     {"AppSKeyReq", LBI_APP_SKEY_REQ},
		     {"HomeNSReq", LBI_HOME_NS_REQ}};
	json_t *tid = json_object_get(o, "TransactionID");
	const char *pv, *mt;
	int r;

	/* TransactionID first: every answer, even to a malformed request, echoes it. */
	if (tid && json_is_integer(tid) && json_integer_value(tid) >= 0 &&
	    json_integer_value(tid) <= 0xffffffffll) {
		m->transaction_id = (uint32_t)json_integer_value(tid);
		m->has_transaction_id = true;
	}
	if ((r = lbi_string(x, o, "MessageType", true, &mt)) != LBI_OK)
		return r;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(mt, types[i].name) == 0) {
			m->type = types[i].type;
			m->has_type = true;
		}
	if (!m->has_type)
		return lbi_fail(x, LBI_ERR_MSGTYPE, LBI_MALFORMED_REQUEST,
				"MessageType %.32s is not JoinReq, AppSKeyReq or HomeNSReq", mt);
	if ((r = lbi_string(x, o, "ProtocolVersion", true, &pv)) != LBI_OK)
		return r;
	if (strcmp(pv, "1.0") != 0 && strcmp(pv, "1.1") != 0)
		return lbi_fail(x, LBI_ERR_VERSION, LBI_INVALID_PROTOCOL_VERSION,
				"ProtocolVersion %.16s is not 1.0 or 1.1", pv);
	snprintf(m->protocol_version, sizeof(m->protocol_version), "%s", pv);
	if ((r = lbi_id(x, o, "SenderID", m->sender_id)) != LBI_OK ||
	    (r = lbi_id(x, o, "ReceiverID", m->receiver_id)) != LBI_OK)
		return r;
	if (!tid)
		return lbi_fail(x, LBI_ERR_MISSING, LBI_MALFORMED_REQUEST,
				"TransactionID is missing");
	if (!json_is_integer(tid))
		return lbi_fail(x, LBI_ERR_TYPE, LBI_MALFORMED_REQUEST,
				"TransactionID must be an integer");
	if (!m->has_transaction_id)
		return lbi_fail(x, LBI_ERR_RANGE, LBI_MALFORMED_REQUEST,
				"TransactionID must be 0..4294967295");
	if ((r = lbi_bytes(x, o, "SenderToken", false, 0, LBI_MAX_TOKEN, m->sender_token,
			   &m->sender_token_len, NULL)) != LBI_OK ||
	    (r = lbi_bytes(x, o, "ReceiverToken", false, 0, LBI_MAX_TOKEN,
			   (uint8_t[LBI_MAX_TOKEN]){0}, NULL, NULL)) != LBI_OK)
		return r;
	{
		const char *ns;

		if ((r = lbi_string(x, o, "SenderNSID", false, &ns)) != LBI_OK ||
		    (r = lbi_string(x, o, "ReceiverNSID", false, &ns)) != LBI_OK)
			return r;
	}
	{
		json_t *vs = json_object_get(o, "VSExtension");

		if (vs && !json_is_object(vs) && !json_is_null(vs))
			return lbi_fail(x, LBI_ERR_TYPE, LBI_MALFORMED_REQUEST,
					"VSExtension must be an object");
	}
	return LBI_OK;
}

static int lbi_mac_version(struct lbi_ctx *x, json_t *o, struct lbi_msg *m)
{
	const char *v;
	int r;

	if ((r = lbi_string(x, o, "MACVersion", true, &v)) != LBI_OK)
		return r;
	/* "1.0", "1.0.0".."1.0.4", "1.1", "1.1.0": what both stacks write. */
	if (strcmp(v, "1.0") == 0 ||
	    (strncmp(v, "1.0.", 4) == 0 && v[4] >= '0' && v[4] <= '4' && v[5] == '\0'))
		m->mac_11 = false;
	else if (strcmp(v, "1.1") == 0 || strcmp(v, "1.1.0") == 0)
		m->mac_11 = true;
	else
		return lbi_fail(x, LBI_ERR_MACVER, LBI_MALFORMED_REQUEST,
				"MACVersion %.16s is not 1.0.x or 1.1", v);
	snprintf(m->mac_version, sizeof(m->mac_version), "%s", v);
	return LBI_OK;
}

static int lbi_join_req(struct lbi_ctx *x, json_t *o, struct lbi_msg *m)
{
	uint8_t b[4];
	size_t n = 0;
	json_t *rx;
	int r;

	if ((r = lbi_mac_version(x, o, m)) != LBI_OK)
		return r;
	{
		const char *s;

		if ((r = lbi_string(x, o, "PHYPayload", true, &s)) != LBI_OK)
			return r;
		if (strlen(s) != 2 * LBI_JOIN_REQUEST_LEN)
			return lbi_fail(x, LBI_ERR_FRAME, LBI_FRAME_SIZE_ERROR,
					"PHYPayload must be a 23-byte JoinRequest (46 hex digits)");
	}
	if ((r = lbi_bytes(x, o, "PHYPayload", true, LBI_JOIN_REQUEST_LEN, LBI_JOIN_REQUEST_LEN,
			   m->phy, &n, NULL)) != LBI_OK)
		return r;
	if (m->phy[0] != LPA_LORAWAN_MHDR_JOIN_REQUEST)
		return lbi_fail(x, LBI_ERR_FRAME, LBI_MALFORMED_REQUEST,
				"PHYPayload's MHDR is 0x%02x, not a JoinRequest (0x00)", m->phy[0]);
	if ((r = lbi_eui(x, o, "DevEUI", &m->dev_eui)) != LBI_OK ||
	    (r = lbi_bytes(x, o, "DevAddr", true, 4, 4, b, NULL, NULL)) != LBI_OK)
		return r;
	m->dev_addr = (uint32_t)lpa_be_get(b, 4);
	if ((r = lbi_bytes(x, o, "DLSettings", true, 1, 1, &m->dl_settings, NULL, NULL)) != LBI_OK)
		return r;
	rx = json_object_get(o, "RxDelay");
	if (!rx)
		return lbi_fail(x, LBI_ERR_MISSING, LBI_MALFORMED_REQUEST, "RxDelay is missing");
	if (!json_is_integer(rx))
		return lbi_fail(x, LBI_ERR_TYPE, LBI_MALFORMED_REQUEST,
				"RxDelay must be an integer");
	if (json_integer_value(rx) < 0 || json_integer_value(rx) > 15)
		return lbi_fail(x, LBI_ERR_RANGE, LBI_MALFORMED_REQUEST, "RxDelay must be 0..15");
	m->rx_delay = (uint8_t)json_integer_value(rx);
	/* CFList: absent, null or "" for none, else 16 bytes. */
	{
		const char *s;

		if ((r = lbi_string(x, o, "CFList", false, &s)) != LBI_OK)
			return r;
		if (s && *s &&
		    (r = lbi_bytes(x, o, "CFList", true, 16, 16, m->cflist, NULL,
				   &m->has_cflist)) != LBI_OK)
			return r;
	}
	return LBI_OK;
}

int lbi_parse(const char *body, size_t len, struct lbi_msg *m, enum lbi_result *result, char *msg,
	      size_t msg_len)
{
	struct lbi_ctx x = {result, msg, msg_len};
	const char *const *members = NULL;
	json_error_t jerr;
	const char *k;
	json_t *o, *v;
	int r;

	memset(m, 0, sizeof(*m));
	*result = LBI_SUCCESS;
	if (msg_len)
		msg[0] = '\0';
	if (len > LBI_MAX_BODY)
		return lbi_fail(&x, LBI_ERR_TOO_LARGE, LBI_MALFORMED_REQUEST,
				"the body exceeds %d bytes", LBI_MAX_BODY);
	if ((o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return lbi_fail(&x, LBI_ERR_JSON, LBI_MALFORMED_REQUEST, "not JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		r = lbi_fail(&x, LBI_ERR_JSON, LBI_MALFORMED_REQUEST,
			     "the body must be a JSON object");
		goto done;
	}
	if ((r = lbi_header(&x, o, m)) != LBI_OK)
		goto done;
	switch (m->type) {
	case LBI_JOIN_REQ:
		members = lbi_join_members;
		break;
	case LBI_APP_SKEY_REQ:
		members = lbi_appskey_members;
		break;
	case LBI_HOME_NS_REQ:
		members = lbi_homens_members;
		break;
	}
	json_object_foreach(o, k, v)
	{
		if (!lbi_in(lbi_header_members, k) && !lbi_in(members, k)) {
			r = lbi_fail(&x, LBI_ERR_UNKNOWN, LBI_MALFORMED_REQUEST,
				     "unknown member %.32s", k);
			goto done;
		}
	}
	switch (m->type) {
	case LBI_JOIN_REQ:
		r = lbi_join_req(&x, o, m);
		break;
	case LBI_APP_SKEY_REQ:
		if ((r = lbi_eui(&x, o, "DevEUI", &m->dev_eui)) == LBI_OK)
			r = lbi_bytes(&x, o, "SessionKeyID", true, 1, LBI_MAX_TOKEN,
				      m->session_key_id, &m->session_key_id_len, NULL);
		break;
	case LBI_HOME_NS_REQ:
		r = lbi_eui(&x, o, "DevEUI", &m->dev_eui);
		break;
	}
done:
	json_decref(o);
	return r;
}

json_t *lbi_hex(const uint8_t *b, size_t n)
{
	char hex[2 * 64 + 1];

	if (n > 64)
		return NULL;
	lpa_hex_encode(b, n, hex);
	return json_string(hex);
}

json_t *lbi_answer(const struct lbi_msg *m, enum lbi_result r, const char *description)
{
	static const char *const answers[] = {
		[LBI_JOIN_REQ] = "JoinAns",
		[LBI_APP_SKEY_REQ] = "AppSKeyAns",
		[LBI_HOME_NS_REQ] = "HomeNSAns",
	};
	json_t *a = json_object(), *res = json_object();

	if (!a || !res)
		goto fail;
	if (json_object_set_new(
		    a, "ProtocolVersion",
		    json_string(m->protocol_version[0] ? m->protocol_version : "1.1")) != 0 ||
	    json_object_set_new(a, "SenderID", json_string(m->receiver_id)) != 0 ||
	    json_object_set_new(a, "ReceiverID", json_string(m->sender_id)) != 0 ||
	    json_object_set_new(a, "TransactionID", json_integer(m->transaction_id)) != 0 ||
	    json_object_set_new(
		    a, "MessageType",
		    json_string(m->has_type ? answers[m->type] : "ErrorNotification")) != 0)
		goto fail;
	if (m->sender_token_len &&
	    json_object_set_new(a, "ReceiverToken",
				lbi_hex(m->sender_token, m->sender_token_len)) != 0)
		goto fail;
	if (json_object_set_new(res, "ResultCode", json_string(lbi_result_name(r))) != 0 ||
	    (description && *description &&
	     json_object_set_new(res, "Description", json_string(description)) != 0))
		goto fail;
	if (json_object_set_new(a, "Result", res) != 0) {
		res = NULL;
		goto fail;
	}
	return a;
fail:
	json_decref(res);
	json_decref(a);
	return NULL;
}

json_t *lbi_key_envelope(const char *kek_label, const uint8_t wrapped[24])
{
	if (!kek_label || !*kek_label)
		return NULL; /* a plaintext key is never sent */
	return json_pack("{s:s, s:o}", "KEKLabel", kek_label, "AESKey", lbi_hex(wrapped, 24));
}
