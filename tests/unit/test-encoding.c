/* Hex, EUIs and base64url: RFC 4648 vectors and strict rejection of malformed text;
 * names. */
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

START_TEST(eui_format_cases)
{
	char s[17];

	lpa_eui_format(0x70b3d57ed0001234ull, s);
	ck_assert_str_eq(s, "70b3d57ed0001234");
	lpa_eui_format_upper(0x70b3d57ed0001234ull, s);
	ck_assert_str_eq(s, "70B3D57ED0001234");
	/* Always 16 digits: leading zeros kept, the whole range. */
	lpa_eui_format(0x1ull, s);
	ck_assert_str_eq(s, "0000000000000001");
	lpa_eui_format(0, s);
	ck_assert_str_eq(s, "0000000000000000");
	lpa_eui_format(UINT64_MAX, s);
	ck_assert_str_eq(s, "ffffffffffffffff");
	lpa_eui_format_upper(0x0123456789abcdefull, s);
	ck_assert_str_eq(s, "0123456789ABCDEF");
}
END_TEST

START_TEST(eui_parse_good)
{
	static const uint64_t vals[] = {0, 1, 0x70b3d57ed0001234ull, 0x8000000000000000ull,
					UINT64_MAX};
	uint64_t v;
	char s[17];

	ck_assert_int_eq(lpa_eui_parse("70b3d57ed0001234", &v), LPA_OK);
	ck_assert_uint_eq(v, 0x70b3d57ed0001234ull);
	/* Either case, mixed too: the same value. */
	ck_assert_int_eq(lpa_eui_parse("70B3d57Ed0001234", &v), LPA_OK);
	ck_assert_uint_eq(v, 0x70b3d57ed0001234ull);
	ck_assert_int_eq(lpa_eui_parse_len("0123456789abcdefXYZ", 16, &v), LPA_OK);
	ck_assert_uint_eq(v, 0x0123456789abcdefull);
	for (size_t i = 0; i < TU_N(vals); i++) {
		lpa_eui_format(vals[i], s);
		ck_assert_int_eq(lpa_eui_parse(s, &v), LPA_OK);
		ck_assert_uint_eq(v, vals[i]);
		lpa_eui_format_upper(vals[i], s);
		ck_assert_int_eq(lpa_eui_parse(s, &v), LPA_OK);
		ck_assert_uint_eq(v, vals[i]);
	}
}
END_TEST

/* What strtoull(s, NULL, 16) would take (sign, space, 0x, fewer digits, trailing text)
 * is refused, and *out is left alone. */
START_TEST(eui_parse_rejects)
{
	static const char *const wrong_len[] = {"",
						"1",
						"70b3d57ed000123",
						"70b3d57ed00012345",
						"0x70b3d57ed0001234",
						"70b3d57ed0001234\n"};
	static const char *const not_hex[] = {
		"70b3d57ed000123g",      "+70b3d57ed000123",
		"-70b3d57ed000123",      " 70b3d57ed000123",
		"70b3d57ed000123 ",      "0x70b3d57ed00012",
		"0X70b3d57ed00012",      "70b3d57ed\t001234",
		"70b3d57ed00012\xc3\xa9" /* a UTF-8 letter in the last two bytes */};
	uint64_t v = 42;

	for (size_t i = 0; i < TU_N(wrong_len); i++)
		ck_assert_msg(lpa_eui_parse(wrong_len[i], &v) == LPA_ERR_LENGTH, "\"%s\"",
			      wrong_len[i]);
	for (size_t i = 0; i < TU_N(not_hex); i++) {
		ck_assert_uint_eq(strlen(not_hex[i]), 16);
		ck_assert_msg(lpa_eui_parse(not_hex[i], &v) == LPA_ERR_ENCODING, "\"%s\"",
			      not_hex[i]);
	}
	/* A NUL inside counted text (a JSON string "...\u0000...") is not a digit; one
	 * after 16 digits makes the text too long. */
	ck_assert_int_eq(lpa_eui_parse_len("70b3d57e\0d001234", 16, &v), LPA_ERR_ENCODING);
	ck_assert_int_eq(lpa_eui_parse_len("70b3d57ed0001234\0", 17, &v), LPA_ERR_LENGTH);
	ck_assert_int_eq(lpa_eui_parse(NULL, &v), LPA_ERR_INVAL);
	ck_assert_int_eq(lpa_eui_parse_len(NULL, 16, &v), LPA_ERR_INVAL);
	ck_assert_uint_eq(v, 42);
}
END_TEST

START_TEST(name_valid_cases)
{
	char longest[LPA_NAME_MAX + 2];

	ck_assert(lpa_name_valid("LOT-2026_a.1", LPA_NAME_MAX));
	ck_assert(!lpa_name_valid(NULL, LPA_NAME_MAX));
	ck_assert(!lpa_name_valid("", LPA_NAME_MAX));
	ck_assert(!lpa_name_valid("a/b", LPA_NAME_MAX));
	ck_assert(!lpa_name_valid("a b", LPA_NAME_MAX));
	ck_assert(!lpa_name_valid("é", LPA_NAME_MAX));
	memset(longest, 'x', LPA_NAME_MAX);
	longest[LPA_NAME_MAX] = '\0';
	ck_assert(lpa_name_valid(longest, LPA_NAME_MAX));
	ck_assert(!lpa_name_valid(longest, LPA_NAME_MAX - 1)); /* each caller's own limit */
	longest[LPA_NAME_MAX] = 'x';
	longest[LPA_NAME_MAX + 1] = '\0';
	ck_assert(!lpa_name_valid(longest, LPA_NAME_MAX));
	/* Extra characters widen the alphabet for that caller only. */
	ck_assert(!lpa_name_valid("ns:000013:host", LPA_NAME_MAX));
	ck_assert(lpa_name_valid_extra("ns:000013:host", LPA_NAME_MAX, ":"));
	ck_assert(!lpa_name_valid_extra("ns:a/b", LPA_NAME_MAX, ":"));
	ck_assert(!lpa_name_valid_extra(":", 0, ":"));
	ck_assert(!lpa_name_valid_extra("", LPA_NAME_MAX, ":"));
	ck_assert(lpa_name_valid_extra("a.b", LPA_NAME_MAX, NULL));
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
		TU_CASE(agent_status_mapping),     TU_CASE(eui_format_cases),
		TU_CASE(eui_parse_good),           TU_CASE(eui_parse_rejects),
		TU_CASE(name_valid_cases),
	};

	return tu_main("encoding", cases, TU_N(cases));
}
