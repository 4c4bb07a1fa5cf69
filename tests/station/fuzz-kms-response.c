/*
 * Fuzz the KMS client's reply parsers (lpa/station/kms-client.c): the first byte picks
 * the call (and, for refusals, the status), the rest is the reply body as the KMS would
 * send it.
 */
#include <stdlib.h>
#include <string.h>

#include "kms-client-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DEV_EUI 0x70b3d57ed0100000ull
#define FUZZ_JOIN_EUI 0x70b3d57ed0000000ull
#define FUZZ_CHIP_UID 0x0102030405060708ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {400, 401, 403, 404, 409, 422, 423, 429, 500, 503, 302};
	struct kms_session_info info;
	struct kms_issue_resp issue;
	struct kms_error e;
	lpa_secbuf *token = NULL;
	const char *body;
	char *text = NULL;
	uint8_t nonce[16];
	uint32_t counter;
	time_t expires;
	bool verified;

	if (size < 1)
		return 0;
	body = (const char *)data + 1;
	size--;
	memset(&e, 0, sizeof(e));
	switch (data[0] % 10) {
	case 0:
		(void)kms_parse_login(body, size, &token, &info, &e);
		lpa_secbuf_free(&token);
		break;
	case 1:
		(void)kms_parse_keys(body, size, &text, &e);
		break;
	case 2:
		(void)kms_parse_issue(body, size, FUZZ_CHIP_UID, FUZZ_JOIN_EUI,
				      data[0] & 0x80 ? LPA_LORAWAN_10 : LPA_LORAWAN_11, &issue, &e);
		break;
	case 3:
		(void)kms_parse_confirm(body, size, FUZZ_DEV_EUI, 1, &text, &e);
		break;
	case 4:
		(void)kms_parse_abandon(body, size, FUZZ_DEV_EUI, 1, &e);
		break;
	case 5:
		(void)kms_parse_challenge(body, size, FUZZ_DEV_EUI, nonce, &expires, &e);
		break;
	case 6:
		(void)kms_parse_verify(body, size, FUZZ_DEV_EUI, &verified, &counter, &e);
		break;
	case 7: {
		struct kms_lot_records lr;

		if (kms_parse_lot_records(body, size, "L1", &lr, &e) == LPA_OK)
			kms_lot_records_free(&lr);
		break;
	}
	case 8: {
		uint8_t *cert = NULL;
		size_t n = 0;

		/* An accepted reply names the chip asked for and holds a DER SEQUENCE that
		 * fits the agent's certificate record. */
		if (kms_parse_enrol(body, size, FUZZ_CHIP_UID, &cert, &n, &e) == LPA_OK &&
		    (n < 2 || n > 984 || cert[0] != 0x30))
			abort();
		free(cert);
		break;
	}
	default:
		(void)kms_parse_error(
			(enum kms_call)(data[0] % KMS_CALL_N),
			statuses[(data[0] >> 4) % (sizeof(statuses) / sizeof(statuses[0]))], body,
			size, &e);
		/* What a caller prints: always terminated. */
		if (memchr(e.message, '\0', sizeof(e.message)) == NULL ||
		    memchr(e.code, '\0', sizeof(e.code)) == NULL)
			abort();
		break;
	}
	free(text);
	return 0;
}
