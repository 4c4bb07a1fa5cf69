/* The LBI JSON parser and answers (lpa/kms/lbi.c): ChirpStack v4's and The Things
 * Stack's JoinReq, the spec's result code names and its misspelling, the answer header. */
#include <check.h>
#include <string.h>

#include "kms-lbi.h"
#include "testutil.h"

static const char chirpstack_join[] =
	"{\"ProtocolVersion\":\"1.0\",\"SenderID\":\"000013\",\"ReceiverID\":\"70B3D57ED0000000\","
	"\"TransactionID\":4294967295,\"MessageType\":\"JoinReq\",\"SenderToken\":\"0a0b\","
	"\"MACVersion\":\"1.0.3\",\"PHYPayload\":"
	"\"00000000d07ed5b370000010d07ed5b3700201aabbccdd\",\"DevEUI\":\"70b3d57ed0100000\","
	"\"DevAddr\":\"26011234\",\"DLSettings\":\"03\",\"RxDelay\":15,\"CFList\":null}";

START_TEST(chirpstack_join_req)
{
	enum lbi_result res;
	struct lbi_msg m;
	char msg[200];

	ck_assert_int_eq(
		lbi_parse(chirpstack_join, strlen(chirpstack_join), &m, &res, msg, sizeof(msg)),
		LBI_OK);
	ck_assert_int_eq(m.type, LBI_JOIN_REQ);
	ck_assert_uint_eq(m.transaction_id, 4294967295u);
	ck_assert_str_eq(m.sender_id, "000013");
	ck_assert(!m.mac_11);
	ck_assert_uint_eq(m.dev_eui, 0x70b3d57ed0100000ull);
	ck_assert_uint_eq(m.dev_addr, 0x26011234u);
	ck_assert_int_eq(m.dl_settings, 3);
	ck_assert_int_eq(m.rx_delay, 15);
	ck_assert(!m.has_cflist);
	ck_assert_uint_eq(m.sender_token_len, 2);
	ck_assert_int_eq(m.phy[17], 0x02);
}
END_TEST

/* TTS writes ProtocolVersion 1.1, SenderNSID and 1.1 MACVersions. */
START_TEST(tts_join_req)
{
	static const char body[] =
		"{\"ProtocolVersion\":\"1.1\",\"SenderID\":\"000013\",\"SenderNSID\":"
		"\"70b3d57ed0000001\",\"ReceiverID\":\"70b3d57ed0000000\",\"TransactionID\":1,"
		"\"MessageType\":\"JoinReq\",\"MACVersion\":\"1.1\",\"PHYPayload\":"
		"\"00000000d07ed5b370000010d07ed5b3700201aabbccdd\",\"DevEUI\":"
		"\"70b3d57ed0100000\","
		"\"DevAddr\":\"26011234\",\"DLSettings\":\"80\",\"RxDelay\":1,"
		"\"CFList\":\"184f84e85684b85e84886684586e8400\"}";
	enum lbi_result res;
	struct lbi_msg m;
	char msg[200];

	ck_assert_int_eq(lbi_parse(body, strlen(body), &m, &res, msg, sizeof(msg)), LBI_OK);
	ck_assert(m.mac_11);
	ck_assert(m.has_cflist);
	ck_assert_int_eq(m.cflist[0], 0x18);
}
END_TEST

START_TEST(result_codes)
{
	ck_assert_str_eq(lbi_result_name(LBI_MIC_FAILED), "MICFailed");
	ck_assert_str_eq(lbi_result_name(LBI_UNKNOWN_DEV_EUI), "UnknownDevEUI");
	ck_assert_int_eq(lbi_result_parse("UnknownReceiver"), LBI_UNKNOWN_RECEIVER);
	ck_assert_int_eq(lbi_result_parse("UnkownReceiver"), LBI_UNKNOWN_RECEIVER);
	ck_assert_int_eq(lbi_result_parse("Success"), LBI_SUCCESS);
	ck_assert_int_eq(lbi_result_parse("success"), -1);
	for (int i = 0; i < LBI_RESULT_COUNT; i++)
		ck_assert_int_eq(lbi_result_parse(lbi_result_name(i)), i);
}
END_TEST

START_TEST(answer_header)
{
	enum lbi_result res;
	struct lbi_msg m;
	char msg[200];
	json_t *a;

	ck_assert_int_eq(
		lbi_parse(chirpstack_join, strlen(chirpstack_join), &m, &res, msg, sizeof(msg)),
		LBI_OK);
	a = lbi_answer(&m, LBI_MIC_FAILED, "the MIC does not verify");
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(json_string_value(json_object_get(a, "MessageType")), "JoinAns");
	ck_assert_str_eq(json_string_value(json_object_get(a, "SenderID")), "70B3D57ED0000000");
	ck_assert_str_eq(json_string_value(json_object_get(a, "ReceiverID")), "000013");
	ck_assert_str_eq(json_string_value(json_object_get(a, "ReceiverToken")), "0a0b");
	ck_assert_str_eq(json_string_value(json_object_get(a, "ProtocolVersion")), "1.0");
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(a, "Result"), "ResultCode")),
		"MICFailed");
	json_decref(a);
	/* never an envelope without a label */
	ck_assert_ptr_null(lbi_key_envelope("", (const uint8_t[24]){0}));
	ck_assert_ptr_null(lbi_key_envelope(NULL, (const uint8_t[24]){0}));
}
END_TEST

/* Each way to be malformed has its own code. */
START_TEST(distinct_codes)
{
	static const struct {
		const char *body;
		int err;
		enum lbi_result res;
	} cases[] = {
		{"nope", LBI_ERR_JSON, LBI_MALFORMED_REQUEST},
		{"{\"MessageType\":1}", LBI_ERR_TYPE, LBI_MALFORMED_REQUEST},
		{"{}", LBI_ERR_MISSING, LBI_MALFORMED_REQUEST},
		{"{\"MessageType\":\"PRStartReq\"}", LBI_ERR_MSGTYPE, LBI_MALFORMED_REQUEST},
		{"{\"MessageType\":\"HomeNSReq\",\"ProtocolVersion\":\"1.2\"}", LBI_ERR_VERSION,
		 LBI_INVALID_PROTOCOL_VERSION},
		{"{\"MessageType\":\"HomeNSReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":\"a\","
		 "\"ReceiverID\":\"b\",\"TransactionID\":1,\"DevEUI\":\"00\"}",
		 LBI_ERR_HEX, LBI_MALFORMED_REQUEST},
		{"{\"MessageType\":\"HomeNSReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":\"a\","
		 "\"ReceiverID\":\"b\",\"TransactionID\":1,\"DevEUI\":\"0000000000000000\","
		 "\"DevAddr\":\"00000000\"}",
		 LBI_ERR_UNKNOWN, LBI_MALFORMED_REQUEST},
		{"{\"MessageType\":\"HomeNSReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":\"\","
		 "\"ReceiverID\":\"b\",\"TransactionID\":1}",
		 LBI_ERR_RANGE, LBI_MALFORMED_REQUEST},
		{"{\"MessageType\":\"JoinReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":\"a\","
		 "\"ReceiverID\":\"b\",\"TransactionID\":1,\"MACVersion\":\"1.2\"}",
		 LBI_ERR_MACVER, LBI_MALFORMED_REQUEST},
		{"{\"MessageType\":\"JoinReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":\"a\","
		 "\"ReceiverID\":\"b\",\"TransactionID\":1,\"MACVersion\":\"1.0.2\","
		 "\"PHYPayload\":\"00\"}",
		 LBI_ERR_FRAME, LBI_FRAME_SIZE_ERROR},
	};
	enum lbi_result res;
	struct lbi_msg m;
	char msg[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = lbi_parse(cases[i].body, strlen(cases[i].body), &m, &res, msg, sizeof(msg));

		ck_assert_msg(r == cases[i].err, "case %zu: %d (%s)", i, r, msg);
		ck_assert_int_eq(res, cases[i].res);
		ck_assert(msg[0] != '\0');
	}
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(chirpstack_join_req), TU_CASE(tts_join_req),   TU_CASE(result_codes),
		TU_CASE(answer_header),       TU_CASE(distinct_codes),
	};

	return tu_main("kms-lbi", cases, TU_N(cases));
}
