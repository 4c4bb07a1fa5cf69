/*
 * fuzz-kms-request — the KMS's request parsing (lpa/kms/request.c): routing and
 * every JSON body parser. Byte 0 picks the parser, the rest is its input. Whatever the
 * input, a parser either refuses it with an API error and a message, or returns values
 * inside their documented ranges.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kms-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_refusal(int r, enum kms_api_err api, const char *msg)
{
	if (r != 0 && (api >= API_ERR_COUNT || msg[0] == '\0'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "POST", "DELETE", "PUT"};
	enum kms_api_err api = API_ERR_COUNT;
	char msg[256] = "";
	const char *body;
	size_t len;
	int r;

	if (size < 1)
		return 0;
	body = (const char *)data + 1;
	len = size - 1;
	switch (data[0] % 8) {
	case 0: {
		struct req_target t;
		char url[512];

		if (len < 1 || len >= sizeof(url))
			return 0;
		memcpy(url, body + 1, len - 1);
		url[len - 1] = '\0';
		r = req_route(methods[(uint8_t)body[0] % 4], url, &t, &api, msg, sizeof(msg));
		fuzz_check_refusal(r, api, msg);
		if (r == 0 &&
		    (t.route == ROUTE_NONE || (t.route == ROUTE_RECORDS && !req_name_ok(t.lot))))
			abort();
		break;
	}
	case 1: {
		struct req_login l;

		r = req_parse_login(body, len, &l, &api, msg, sizeof(msg));
		fuzz_check_refusal(r, api, msg);
		if (r == 0) {
			size_t n = strlen(l.totp);

			if (!req_name_ok(l.operator) || (n != 6 && n != 8) || !l.password)
				abort();
			req_login_clear(&l);
		}
		break;
	}
	case 2: {
		static struct req_issue is;

		r = req_parse_issue(body, len, &is, &api, msg, sizeof(msg));
		fuzz_check_refusal(r, api, msg);
		if (r == 0) {
			if (!req_name_ok(is.lot) ||
			    (is.lorawan != LPA_LORAWAN_10 && is.lorawan != LPA_LORAWAN_11) ||
			    is.identity_len != (size_t)LPA_LPI1_HDR_LEN + is.id.cert_len)
				abort();
			req_issue_clear(&is);
		}
		break;
	}
	case 3: {
		struct req_confirm c;

		r = req_parse_confirm(body, len, &c, &api, msg, sizeof(msg));
		fuzz_check_refusal(r, api, msg);
		if (r == 0 && (c.counter == 0 || memcmp(c.receipt, "LPR1", 4) != 0 ||
			       c.probe_serial[0] == '\0'))
			abort();
		break;
	}
	case 4: {
		struct req_abandon a;

		r = req_parse_abandon(body, len, &a, &api, msg, sizeof(msg));
		fuzz_check_refusal(r, api, msg);
		if (r == 0 && (a.counter == 0 || a.reason[0] == '\0'))
			abort();
		break;
	}
	case 5: {
		struct req_verify v;

		r = req_parse_verify(body, len, &v, &api, msg, sizeof(msg));
		fuzz_check_refusal(r, api, msg);
		if (r == 0 && memcmp(v.proof, "LPP1", 4) != 0)
			abort();
		break;
	}
	case 7: {
		struct req_enrol e;

		/* An accepted request's LPE1 is one whose DIK signature verified (its fields
		 * were filled only then), for a lot with a valid name. */
		r = req_parse_enrol(body, len, &e, &api, msg, sizeof(msg));
		fuzz_check_refusal(r, api, msg);
		if (r == 0 && (!req_name_ok(e.lot) || e.e.dik_pub[0] != 0x04))
			abort();
		break;
	}
	default:
		r = req_parse_empty(body, len, &api, msg, sizeof(msg));
		fuzz_check_refusal(r, api, msg);
		break;
	}
	return 0;
}
