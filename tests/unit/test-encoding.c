/* Hex and base64url: RFC 4648 vectors and strict rejection of malformed text. */
#include "testutil.h"

START_TEST(hex_round_trip)
{
	const uint8_t in[] = {0x00, 0x7f, 0x80, 0xff, 0xab};
	uint8_t out[5];
	char hex[11];

	lpa_hex_encode(in, sizeof(in), hex);
	ck_assert_str_eq(hex, "007f80ffab");
	ck_assert_int_eq(lpa_hex_decode("007F80FFAB", 10, out, 5), LPA_OK);
	ck_assert_mem_eq(in, out, 5);
}
END_TEST

START_TEST(hex_rejects_bad_input)
{
	uint8_t out[2];

	ck_assert_int_eq(lpa_hex_decode("abc", 3, out, 2), LPA_ERR_LENGTH);
	ck_assert_int_eq(lpa_hex_decode("abcg", 4, out, 2), LPA_ERR_ENCODING);
	ck_assert_int_eq(lpa_hex_decode("ab c", 4, out, 2), LPA_ERR_ENCODING);
}
END_TEST

/* RFC 4648 §10 vectors, in the URL alphabet and without padding. */
START_TEST(b64url_rfc4648)
{
	static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	char buf[16];
	uint8_t dec[16];
	size_t n;

	for (int i = 0; i < 7; i++) {
		lpa_b64url_encode((const uint8_t *)plain[i], strlen(plain[i]), buf);
		ck_assert_str_eq(buf, enc[i]);
		ck_assert_uint_eq(lpa_b64url_len(strlen(plain[i])), strlen(enc[i]));
		ck_assert_int_eq(lpa_b64url_decode(enc[i], strlen(enc[i]), dec, sizeof(dec), &n),
				 LPA_OK);
		ck_assert_uint_eq(n, strlen(plain[i]));
		ck_assert_mem_eq(dec, plain[i], n);
	}
}
END_TEST

START_TEST(b64url_url_alphabet)
{
	const uint8_t in[] = {0xfb, 0xff, 0xbf};
	char buf[8];

	lpa_b64url_encode(in, 3, buf);
	ck_assert_str_eq(buf, "-_-_");
}
END_TEST

START_TEST(b64url_rejects_bad_input)
{
	uint8_t out[8];
	size_t n;

	ck_assert_int_eq(lpa_b64url_decode("Zm9v=", 5, out, sizeof(out), &n), LPA_ERR_ENCODING);
	ck_assert_int_eq(lpa_b64url_decode("Zm+v", 4, out, sizeof(out), &n), LPA_ERR_ENCODING);
	ck_assert_int_eq(lpa_b64url_decode("Z", 1, out, sizeof(out), &n), LPA_ERR_ENCODING);
	/* "Zh" has non-zero unused bits: a second spelling of "f". */
	ck_assert_int_eq(lpa_b64url_decode("Zh", 2, out, sizeof(out), &n), LPA_ERR_ENCODING);
	ck_assert_int_eq(lpa_b64url_decode("Zm9vYmFy", 8, out, 5, &n), LPA_ERR_LENGTH);
}
END_TEST

START_TEST(strerror_covers_every_code)
{
	for (int e = 0; e > LPA_ERR_LAST; e--) {
		ck_assert_str_ne(lpa_strerror(e), "unknown error");
		ck_assert_str_ne(lpa_errname(e), "LPA_ERR_UNKNOWN");
	}
	ck_assert_str_eq(lpa_strerror(LPA_ERR_LAST), "unknown error");
	ck_assert_str_eq(lpa_strerror(5), "unknown error");
	ck_assert_str_eq(lpa_errname(LPA_ERR_SIGNATURE), "LPA_ERR_SIGNATURE");
}
END_TEST

START_TEST(agent_status_mapping)
{
	static const uint32_t codes[] = {0xF0000001u, 0xF0000002u, 0xF0000003u, 0xF0000004u,
					 0xF0000005u, 0xF0000006u, 0xF0000007u, 0xF0000008u,
					 0xF0000009u, 0xF000000Au, 0xF000000Bu};

	ck_assert_int_eq(lpa_agent_err_from_status(LPA_AGENT_OK), LPA_OK);
	ck_assert_uint_eq(lpa_agent_status_from_err(LPA_OK), LPA_AGENT_OK);
	for (size_t i = 0; i < TU_N(codes); i++) {
		int e = lpa_agent_err_from_status(codes[i]);

		ck_assert_int_lt(e, 0);
		ck_assert_uint_eq(lpa_agent_status_from_err(e), codes[i]); /* round trip */
		for (size_t j = 0; j < i; j++)
			ck_assert_int_ne(e, lpa_agent_err_from_status(codes[j])); /* distinct */
	}
	ck_assert_int_eq(lpa_agent_err_from_status(0xF0000099u), LPA_ERR_AGENT_UNKNOWN);
	ck_assert_uint_eq(lpa_agent_status_from_err(LPA_ERR_MAGIC), 0xF0000001u);
	ck_assert_uint_eq(lpa_agent_status_from_err(LPA_ERR_NWKKEY), 0xF0000005u);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(hex_round_trip),           TU_CASE(hex_rejects_bad_input),
		TU_CASE(b64url_rfc4648),           TU_CASE(b64url_url_alphabet),
		TU_CASE(b64url_rejects_bad_input), TU_CASE(strerror_covers_every_code),
		TU_CASE(agent_status_mapping),
	};

	return tu_main("encoding", cases, TU_N(cases));
}
