/*
 * fuzz-kms-lbi — the Join Server's LBI JSON parser (lpa/kms/lbi.c). Whatever the input,
 * lbi_parse either refuses it with an LBI_ERR_* code, a result code other than Success and
 * a message, or returns a message whose fields are inside their documented ranges; the
 * answer built from either is valid JSON naming the request's answer type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kms-lbi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum lbi_result res = LBI_RESULT_COUNT;
	struct lbi_msg m;
	char msg[200];
	json_t *a;
	int r;

	r = lbi_parse((const char *)data, size, &m, &res, msg, sizeof(msg));
	if (r != LBI_OK) {
		if (r > 0 || r < LBI_ERR_TOO_LARGE || res == LBI_SUCCESS ||
		    res >= LBI_RESULT_COUNT || msg[0] == '\0' ||
		    strcmp(lbi_strerror(r), "unknown LBI error") == 0)
			abort();
	} else {
		if (res != LBI_SUCCESS || !m.has_type || !m.has_transaction_id ||
		    (strcmp(m.protocol_version, "1.0") != 0 &&
		     strcmp(m.protocol_version, "1.1") != 0) ||
		    m.sender_id[0] == '\0' || m.receiver_id[0] == '\0' ||
		    m.sender_token_len > LBI_MAX_TOKEN)
			abort();
		if (m.type == LBI_JOIN_REQ && (m.phy[0] != 0 || m.rx_delay > 15))
			abort();
		if (m.type == LBI_APP_SKEY_REQ &&
		    (m.session_key_id_len == 0 || m.session_key_id_len > LBI_MAX_TOKEN))
			abort();
	}
	a = lbi_answer(&m, res == LBI_RESULT_COUNT ? LBI_OTHER : res, msg);
	if (!a || !json_is_object(json_object_get(a, "Result")))
		abort();
	json_decref(a);
	return 0;
}
