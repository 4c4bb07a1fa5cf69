/*
 * test-tcl-rpc — the OpenOCD Tcl RPC client without an OpenOCD: the reply parsers, the
 * command wrapper, and the 0x1a framing over a socketpair that plays the server.
 */
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "programmer/tcl-rpc.h"
#include "testutil.h"

/* ---- "<rc> <text>" ---- */
START_TEST(reply_success_and_text)
{
	const char *r = "0 0x6ba02477\n", *text = NULL;
	size_t len = 0;
	int rc = -1;

	ck_assert_int_eq(tcl_rpc_parse_reply(r, strlen(r), &rc, &text, &len), LPA_OK);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_eq(text, r + 2);
	ck_assert_uint_eq(len, strlen(r) - 2);
}
END_TEST

START_TEST(reply_negative_openocd_code)
{
	const char *text;
	size_t len;
	int rc = 0;

	ck_assert_int_eq(tcl_rpc_parse_reply("-5 ", 3, &rc, &text, &len), LPA_OK);
	ck_assert_int_eq(rc, -5);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(tcl_rpc_parse_reply("-2147483648 x", 13, &rc, &text, &len), LPA_OK);
	ck_assert_int_eq(rc, INT32_MIN);
}
END_TEST

START_TEST(reply_malformed_rejected)
{
	static const char *bad[] = {
		"",     "0",   " 0 x",         "00 x",          "-0 x",          "+1 x", "1x y",
		"0\tx", "- x", "2147483648 x", "-2147483649 x", "12345678901 x", "a b"};
	const char *text;
	size_t len;
	int rc;

	for (size_t i = 0; i < TU_N(bad); i++)
		ck_assert_msg(tcl_rpc_parse_reply(bad[i], strlen(bad[i]), &rc, &text, &len) ==
				      LPA_ERR_PROTOCOL,
			      "accepted \"%s\"", bad[i]);
	/* An embedded NUL or terminator cannot be part of an answer. */
	ck_assert_int_eq(tcl_rpc_parse_reply("0 a\0b", 5, &rc, &text, &len), LPA_ERR_PROTOCOL);
	ck_assert_int_eq(tcl_rpc_parse_reply("0 a\x1a", 4, &rc, &text, &len), LPA_ERR_PROTOCOL);
}
END_TEST

/* ---- number lists ---- */
START_TEST(values_hex_and_decimal)
{
	const char *t = "0x17627f11 0x10408d5\n 4294967295 0XaB";
	uint32_t v[4];

	ck_assert_int_eq(tcl_rpc_parse_u32s(t, strlen(t), UINT32_MAX, v, 4), LPA_OK);
	ck_assert_uint_eq(v[0], 0x17627f11);
	ck_assert_uint_eq(v[1], 0x010408d5);
	ck_assert_uint_eq(v[2], 0xFFFFFFFFu);
	ck_assert_uint_eq(v[3], 0xAB);
}
END_TEST

START_TEST(values_exact_count)
{
	uint32_t v[3];

	ck_assert_int_eq(tcl_rpc_parse_u32s("1 2", 3, UINT32_MAX, v, 3), LPA_ERR_PROTOCOL);
	ck_assert_int_eq(tcl_rpc_parse_u32s("1 2 3 4", 7, UINT32_MAX, v, 3), LPA_ERR_PROTOCOL);
	ck_assert_int_eq(tcl_rpc_parse_u32s("", 0, UINT32_MAX, v, 0), LPA_OK);
	ck_assert_int_eq(tcl_rpc_parse_u32s(" \n", 2, UINT32_MAX, v, 0), LPA_OK);
}
END_TEST

START_TEST(values_malformed_rejected)
{
	static const char *bad[] = {"0x",   "0x123456789", "12345678901", "4294967296",
				    "0x1g", "12ab",        "{1}",         "-1",
				    "1,2",  "0x1\r",       "1\x1a",       "0b1"};
	uint32_t v[1];

	for (size_t i = 0; i < TU_N(bad); i++)
		ck_assert_msg(tcl_rpc_parse_u32s(bad[i], strlen(bad[i]), UINT32_MAX, v, 1) ==
				      LPA_ERR_PROTOCOL,
			      "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(values_width_bound)
{
	uint32_t v[2];

	ck_assert_int_eq(tcl_rpc_parse_u32s("0xff 255", 8, 0xFF, v, 2), LPA_OK);
	ck_assert_int_eq(tcl_rpc_parse_u32s("0x100", 5, 0xFF, v, 1), LPA_ERR_PROTOCOL);
	ck_assert_int_eq(tcl_rpc_parse_u32s("256", 3, 0xFF, v, 1), LPA_ERR_PROTOCOL);
}
END_TEST

/* ---- wrapping and quoting ---- */
START_TEST(wrap_catches_and_reports_code)
{
	char out[128];

	ck_assert_int_eq(tcl_rpc_wrap("lpa.dap dpreg 0x0", out, sizeof(out)), LPA_OK);
	ck_assert_str_eq(out, "set lpa_rc [catch {lpa.dap dpreg 0x0} lpa_res]; "
			      "set lpa_out \"$lpa_rc $lpa_res\"");
	ck_assert_int_eq(tcl_rpc_wrap("lpa.dap dpreg 0x0", out, 20), LPA_ERR_LENGTH);
}
END_TEST

START_TEST(quote_escapes_and_truncates)
{
	char out[16];

	tcl_rpc_quote("a\x1a\nb", 4, out, sizeof(out));
	ck_assert_str_eq(out, "a\\x1a\\x0ab");
	tcl_rpc_quote("0123456789abcdefghij", 20, out, sizeof(out));
	ck_assert_str_eq(out, "0123456789ab...");
}
END_TEST

/* ---- framing over a socketpair ---- */
struct fake_server {
	int fd;
	const char *chunks[4]; /* written one after the other, each after reading a request */
	bool close_after;
	char got[256];
};

static void *fake_server_run(void *arg)
{
	struct fake_server *s = arg;
	size_t n = 0;

	/* Read up to and including the request's terminator. */
	while (n < sizeof(s->got) - 1) {
		ssize_t k = read(s->fd, s->got + n, 1);

		if (k <= 0 || s->got[n] == TCL_RPC_EOM)
			break;
		n++;
	}
	s->got[n] = '\0';
	for (int i = 0; i < 4 && s->chunks[i] != NULL; i++) {
		ck_assert_int_eq(write(s->fd, s->chunks[i], strlen(s->chunks[i])),
				 (ssize_t)strlen(s->chunks[i]));
		usleep(10000);
	}
	if (s->close_after)
		shutdown(s->fd, SHUT_RDWR);
	return NULL;
}

static int framing_call(struct fake_server *s, struct tcl_rpc *t, const char *script,
			unsigned timeout_ms)
{
	int sv[2];
	pthread_t th;
	int r;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	tcl_rpc_init(t);
	t->fd = sv[0];
	s->fd = sv[1];
	ck_assert_int_eq(pthread_create(&th, NULL, fake_server_run, s), 0);
	r = tcl_rpc_call(t, script, timeout_ms);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	close(sv[1]);
	return r;
}

START_TEST(framing_reply_in_pieces)
{
	struct fake_server s = {.chunks = {"0 0x6b", "a02477", "\x1a"}};
	struct tcl_rpc t;

	ck_assert_int_eq(framing_call(&s, &t, "lpa.dap dpreg 0", 2000), LPA_OK);
	ck_assert_str_eq(s.got, "lpa.dap dpreg 0");
	ck_assert_str_eq(t.reply, "0 0x6ba02477");
	ck_assert_uint_eq(t.reply_len, 12);
	ck_assert_uint_eq(t.requests, 1);
	ck_assert_uint_eq(t.answers, 1);
	ck_assert_uint_eq(t.bytes_out, strlen("lpa.dap dpreg 0") + 1);
	ck_assert_uint_eq(t.bytes_in, 13);
	tcl_rpc_close(&t);
	free(t.reply);
}
END_TEST

START_TEST(framing_data_after_terminator)
{
	struct fake_server s = {.chunks = {"0 1\x1a"
					   "0 2\x1a"}};
	struct tcl_rpc t;

	ck_assert_int_eq(framing_call(&s, &t, "x", 2000), LPA_ERR_PROTOCOL);
	tcl_rpc_close(&t);
	free(t.reply);
}
END_TEST

START_TEST(framing_server_closes)
{
	struct fake_server s = {.chunks = {"0 partial"}, .close_after = true};
	struct tcl_rpc t;

	ck_assert_int_eq(framing_call(&s, &t, "x", 2000), LPA_ERR_PROBE_GONE);
	ck_assert_uint_eq(t.answers, 0);
	tcl_rpc_close(&t);
	free(t.reply);
}
END_TEST

START_TEST(framing_times_out)
{
	struct fake_server s = {.chunks = {"0 never terminated"}};
	struct tcl_rpc t;

	ck_assert_int_eq(framing_call(&s, &t, "x", 200), LPA_ERR_TIMEOUT);
	tcl_rpc_close(&t);
	free(t.reply);
}
END_TEST

START_TEST(framing_refuses_terminator_in_script)
{
	struct tcl_rpc t;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	tcl_rpc_init(&t);
	t.fd = sv[0];
	ck_assert_int_eq(tcl_rpc_call(&t,
				      "a\x1a"
				      "b",
				      100),
			 LPA_ERR_INVAL);
	ck_assert_uint_eq(t.bytes_out, 0);
	tcl_rpc_close(&t);
	close(sv[1]);
	free(t.reply);
}
END_TEST

START_TEST(framing_not_connected)
{
	struct tcl_rpc t;

	tcl_rpc_init(&t);
	ck_assert_int_eq(tcl_rpc_call(&t, "x", 100), LPA_ERR_PROBE_GONE);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(reply_success_and_text),
		TU_CASE(reply_negative_openocd_code),
		TU_CASE(reply_malformed_rejected),
		TU_CASE(values_hex_and_decimal),
		TU_CASE(values_exact_count),
		TU_CASE(values_malformed_rejected),
		TU_CASE(values_width_bound),
		TU_CASE(wrap_catches_and_reports_code),
		TU_CASE(quote_escapes_and_truncates),
		TU_CASE(framing_reply_in_pieces),
		TU_CASE(framing_data_after_terminator),
		TU_CASE(framing_server_closes),
		TU_CASE(framing_times_out),
		TU_CASE(framing_refuses_terminator_in_script),
		TU_CASE(framing_not_connected),
	};

	return tu_main("tcl-rpc", cases, TU_N(cases));
}
