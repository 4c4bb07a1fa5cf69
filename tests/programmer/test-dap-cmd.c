/*
 * test-dap-cmd — CMSIS-DAP transfer commands and their reply checker without a probe: the
 * layout of memory runs, and every way a response can be malformed, each with its own
 * reason.
 */
#include <endian.h>

#include "programmer/dap-cmd.h"
#include "testutil.h"

/* A DAP_Transfer: read DPIDR, write ABORT, read CTRL/STAT. */
static void two_reads(struct dap_xfer *x, uint32_t *a, uint32_t *b)
{
	dap_cmd_xfer_init(x);
	dap_cmd_xfer_add(x, REQ_READ | DP_DPIDR, 0, a);
	dap_cmd_xfer_add(x, DP_ABORT, 0x1E, NULL);
	dap_cmd_xfer_add(x, REQ_READ | DP_CTRL_STAT, 0, b);
	dap_cmd_xfer_finish(x);
}

static void respond(struct dap_cmd *c, const uint8_t *bytes, size_t n)
{
	memcpy(c->in, bytes, n);
	c->in_len = n;
}

START_TEST(transfer_layout_and_reads)
{
	struct dap_xfer x;
	struct dap_reply rep;
	enum dap_bad why;
	uint32_t a = 0, b = 0;
	static const uint8_t ok[] = {0x05, 3, 0x01, 0x77, 0x24, 0xa0, 0x6b, 0x40, 0, 0, 0xf0};
	static const uint8_t req[] = {0x05, 0, 3, 0x02, 0x00, 0x1e, 0, 0, 0, 0x06};

	two_reads(&x, &a, &b);
	ck_assert_uint_eq(x.cmd.out_len, sizeof(req));
	ck_assert_mem_eq(x.cmd.out, req, sizeof(req));
	respond(&x.cmd, ok, sizeof(ok));
	ck_assert_int_eq(dap_cmd_xfer_check(&x, &rep, &why), LPA_OK);
	ck_assert_int_eq(why, DAP_BAD_NONE);
	ck_assert_uint_eq(a, 0x6BA02477);
	ck_assert_uint_eq(b, 0xF0000040);
	/* Padding after the data (some firmware sends whole packets) is ignored. */
	uint8_t padded[64] = {0};
	memcpy(padded, ok, sizeof(ok));
	respond(&x.cmd, padded, sizeof(padded));
	ck_assert_int_eq(dap_cmd_xfer_check(&x, &rep, &why), LPA_OK);
}
END_TEST

/* Each malformed response has its own reason. */
START_TEST(malformed_responses_have_distinct_reasons)
{
	static const struct {
		uint8_t in[12];
		size_t len;
		enum dap_bad why;
	} bad[] = {
		{{0}, 0, DAP_BAD_EMPTY},
		{{0x06, 3, 1}, 3, DAP_BAD_ECHO},
		{{0x05, 3}, 2, DAP_BAD_HEADER},
		{{0x05, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 11, DAP_BAD_COUNT_OVER},
		{{0x05, 3, 0x09, 0, 0, 0, 0, 0, 0, 0, 0}, 11, DAP_BAD_PARITY},
		{{0x05, 3, 0x03, 0, 0, 0, 0, 0, 0, 0, 0}, 11, DAP_BAD_ACK},
		{{0x05, 3, 0x00}, 3, DAP_BAD_ACK},
		{{0x05, 2, 0x11, 0, 0, 0, 0}, 7, DAP_BAD_MATCH},
		{{0x05, 2, 0x01, 0, 0, 0, 0}, 7, DAP_BAD_COUNT_SHORT},
		{{0x05, 3, 0x01, 0, 0, 0, 0, 0}, 8, DAP_BAD_DATA},
	};
	bool seen[DAP_BAD_LAST] = {false};

	for (size_t i = 0; i < TU_N(bad); i++) {
		struct dap_xfer x;
		struct dap_reply rep;
		enum dap_bad why;
		uint32_t a = 0xdead, b = 0xbeef;

		two_reads(&x, &a, &b);
		respond(&x.cmd, bad[i].in, bad[i].len);
		ck_assert_int_eq(dap_cmd_xfer_check(&x, &rep, &why), LPA_ERR_PROTOCOL);
		ck_assert_msg(why == bad[i].why, "case %zu: %s, not %s", i, dap_cmd_bad_str(why),
			      dap_cmd_bad_str(bad[i].why));
		/* Nothing of a malformed response is delivered. */
		ck_assert_uint_eq(a, 0xdead);
		ck_assert_uint_eq(b, 0xbeef);
		seen[why] = true;
	}
	/* The names differ too. */
	for (int i = 1; i < DAP_BAD_LAST; i++)
		for (int j = i + 1; j < DAP_BAD_LAST; j++)
			ck_assert_str_ne(dap_cmd_bad_str(i), dap_cmd_bad_str(j));
	ck_assert(seen[DAP_BAD_ECHO] && seen[DAP_BAD_MATCH] && seen[DAP_BAD_DATA]);
	/* A request we never build is refused before anything is trusted. */
	{
		struct dap_cmd c = {.out = {0x05, 0, 2, 0x02}, .out_len = 4};
		struct dap_reply rep;
		enum dap_bad why;

		respond(&c, (const uint8_t[]){0x05, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 11);
		ck_assert_int_eq(dap_cmd_check(&c, &rep, &why), LPA_ERR_PROTOCOL);
		ck_assert_int_eq(why, DAP_BAD_REQUEST);
	}
}
END_TEST

START_TEST(target_answers_are_not_malformed)
{
	static const struct {
		uint8_t resp;
		int r;
	} acks[] = {{0x02, LPA_ERR_WAIT}, {0x04, LPA_ERR_FAULT}, {0x07, LPA_ERR_NO_TARGET}};

	for (size_t i = 0; i < TU_N(acks); i++) {
		struct dap_xfer x;
		struct dap_reply rep;
		enum dap_bad why;
		uint32_t a = 0, b = 0xbeef;
		/* The DPIDR read and the ABORT write done, then the third transfer failed. */
		uint8_t in[] = {0x05, 2, acks[i].resp, 0x77, 0x24, 0xa0, 0x6b};

		two_reads(&x, &a, &b);
		respond(&x.cmd, in, sizeof(in));
		ck_assert_int_eq(dap_cmd_xfer_check(&x, &rep, &why), acks[i].r);
		ck_assert_int_eq(why, DAP_BAD_NONE);
		ck_assert_uint_eq(rep.done, 2);
		ck_assert_uint_eq(a, 0x6BA02477); /* what was read before it counts */
		ck_assert_uint_eq(b, 0xbeef);
	}
}
END_TEST

START_TEST(value_match_gave_up)
{
	struct dap_xfer x;
	struct dap_reply rep;
	enum dap_bad why;
	uint32_t dpidr = 0;
	uint8_t in[] = {0x05, 4, 0x11, 0x77, 0x24, 0xa0, 0x6b};

	dap_cmd_xfer_init(&x);
	dap_cmd_xfer_add(&x, REQ_READ | DP_DPIDR, 0, &dpidr);
	dap_cmd_xfer_add(&x, DP_CTRL_STAT, 0x50000000, NULL);
	dap_cmd_xfer_add(&x, REQ_MATCH_MASK, 0xA0000000, NULL);
	dap_cmd_xfer_add(&x, REQ_READ | REQ_MATCH_VALUE | DP_CTRL_STAT, 0xA0000000, NULL);
	dap_cmd_xfer_finish(&x);
	/* 1 + 1 + 5 + 5 + 5: the value-match read carries its value, no result. */
	ck_assert_uint_eq(x.cmd.out_len, 3 + 1 + 5 + 5 + 5);
	ck_assert_uint_eq(x.nreads, 1);
	/* Three done, the fourth (the poll) gave up: MISMATCH, and DPIDR is there. */
	in[1] = 3;
	respond(&x.cmd, in, sizeof(in));
	ck_assert_int_eq(dap_cmd_xfer_check(&x, &rep, &why), LPA_ERR_MISMATCH);
	ck_assert_uint_eq(dpidr, 0x6BA02477);
	/* MISMATCH pointing at a request that is not a value-match read is malformed. */
	in[1] = 2;
	respond(&x.cmd, in, sizeof(in));
	ck_assert_int_eq(dap_cmd_xfer_check(&x, &rep, &why), LPA_ERR_PROTOCOL);
	ck_assert_int_eq(why, DAP_BAD_MATCH);
}
END_TEST

/* The well-formed response to command c of a run; data words from seed. */
static void answer(const struct dap_run *run, size_t i, unsigned done, uint8_t ack,
		   unsigned data_words)
{
	struct dap_cmd *c = &run->cmds[i];
	size_t n = 0;

	c->in[n++] = c->out[0];
	c->in[n++] = (uint8_t)done;
	if (c->out[0] == DAP_TRANSFER_BLOCK)
		c->in[n++] = (uint8_t)(done >> 8);
	c->in[n++] = ack;
	for (unsigned k = 0; k < data_words; k++) {
		uint32_t le = htole32(run->first_addr[i] + 4 * k);

		memcpy(c->in + n, &le, 4);
		n += 4;
	}
	c->in_len = n;
}

START_TEST(run_layout_across_a_page)
{
	struct dap_adi adi = {0};
	struct dap_run run;
	uint8_t buf[2048] = {0};

	/* 2 KiB at 0x08000200: pages end at 0x08000400 and 0x08000800. */
	ck_assert_int_eq(dap_cmd_run_build(&run, &adi, 64, false, 0, 0x08000200, 4, buf,
					   sizeof(buf), 0x23000002),
			 LPA_OK);
	/* Per page a header (SELECT and CSW only in the first) and blocks of 15 words. */
	ck_assert_uint_eq(run.cmds[0].out[0], DAP_TRANSFER);
	ck_assert_uint_eq(run.cmds[0].out[2], 3); /* SELECT, CSW, TAR */
	ck_assert_uint_eq(run.nwords[0], 0);
	ck_assert_uint_eq(run.cmds[1].out[0], DAP_TRANSFER_BLOCK);
	ck_assert_uint_eq(run.nwords[1], 15);
	ck_assert(adi.select_valid && adi.csw_valid[0] && adi.csw[0] == 0x23000002);
	size_t words = 0, headers = 0;
	for (size_t i = 0; i < run.n; i++) {
		ck_assert_uint_le(run.cmds[i].out_len, 64);
		if (run.cmds[i].out[0] == DAP_TRANSFER) {
			headers++;
			ck_assert_uint_eq(run.first_addr[i] % TAR_PAGE == 0 || i == 0, 1);
		}
		words += run.nwords[i];
	}
	ck_assert_uint_eq(headers, 3);
	ck_assert_uint_eq(words, 512);
	dap_cmd_run_free(&run);
	/* A short run rides in its header: one command, TAR and four DRW reads. */
	ck_assert_int_eq(
		dap_cmd_run_build(&run, &adi, 64, false, 0, 0x40230000, 4, buf, 16, 0x23000002),
		LPA_OK);
	ck_assert_uint_eq(run.n, 1);
	ck_assert_uint_eq(run.cmds[0].out[2], 5); /* cache: no SELECT, no CSW */
	dap_cmd_run_free(&run);
}
END_TEST

START_TEST(run_build_refuses_impossible_runs)
{
	struct dap_adi adi = {0};
	struct dap_run run;
	uint8_t buf[16] = {0};

	ck_assert_int_eq(dap_cmd_run_build(&run, &adi, 64, false, 0, 0, 1, buf, 9, 0),
			 LPA_ERR_INVAL);
	ck_assert_int_eq(dap_cmd_run_build(&run, &adi, 64, false, 0, 2, 4, buf, 4, 0),
			 LPA_ERR_INVAL);
	ck_assert_int_eq(dap_cmd_run_build(&run, &adi, 64, false, 0, 0, 4, buf, 6, 0),
			 LPA_ERR_INVAL);
	ck_assert_int_eq(dap_cmd_run_build(&run, &adi, 32, false, 0, 0, 4, buf, 4, 0),
			 LPA_ERR_INVAL);
	ck_assert_int_eq(dap_cmd_run_build(&run, &adi, 64, false, 0, 0xFFFFFFFC, 4, buf, 8, 0),
			 LPA_ERR_INVAL);
	/* The last word of the address space is fine. */
	ck_assert_int_eq(dap_cmd_run_build(&run, &adi, 64, false, 0, 0xFFFFFFFC, 4, buf, 4, 0),
			 LPA_OK);
	dap_cmd_run_free(&run);
}
END_TEST

START_TEST(run_check_names_the_failing_word)
{
	struct dap_adi adi = {0};
	struct dap_run run;
	uint8_t buf[256] = {0};
	uint32_t fault = 0, first;
	size_t failed;
	enum dap_bad why;

	ck_assert_int_eq(
		dap_cmd_run_build(&run, &adi, 64, false, 0, 0x08010000, 4, buf, 256, 0x23000002),
		LPA_OK);
	ck_assert_uint_ge(run.n, 3);
	answer(&run, 0, run.cmds[0].out[2], 1, 0);
	answer(&run, 1, 15, 1, 15);
	/* The second block: 6 words, then FAULT. */
	answer(&run, 2, 6, 4, 6);
	first = run.first_addr[2];
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(dap_cmd_run_check(&run, buf, &fault, &failed, &why), LPA_ERR_FAULT);
	ck_assert_uint_eq(failed, 2);
	ck_assert_uint_eq(fault, first + 6 * 4);
	/* The words before it are in buf: the first block's and six of the second's. */
	uint32_t w;
	memcpy(&w, buf + 4 * 20, 4);
	ck_assert_uint_eq(le32toh(w), first + 4 * 5);
	/* A posted read counted before its data came: only delivered words are done. */
	answer(&run, 2, 6, 2, 5);
	ck_assert_int_eq(dap_cmd_run_check(&run, buf, &fault, &failed, &why), LPA_ERR_WAIT);
	ck_assert_uint_eq(fault, first + 5 * 4);
	/* A block acknowledged OK with words missing is malformed, and nothing is done. */
	answer(&run, 2, 15, 1, 14);
	ck_assert_int_eq(dap_cmd_run_check(&run, buf, &fault, &failed, &why), LPA_ERR_PROTOCOL);
	ck_assert_int_eq(why, DAP_BAD_DATA);
	ck_assert_uint_eq(fault, first);
	dap_cmd_run_free(&run);
}
END_TEST

/* Found by fuzz-dap-reply: a write run ending at 4 GiB whose every word was acknowledged
 * but whose transfer still failed named address 0, outside the run. A posted access
 * reports its fault on the access after it: the last word is the one at fault. */
START_TEST(run_check_fault_after_last_word_stays_in_run)
{
	struct dap_adi adi = {0};
	struct dap_run run;
	uint8_t buf[16] = {0};
	uint32_t fault = 0;
	size_t failed;
	enum dap_bad why;

	ck_assert_int_eq(
		dap_cmd_run_build(&run, &adi, 64, true, 0, 0xFFFFFFF0, 4, buf, 16, 0x23000002),
		LPA_OK);
	ck_assert_uint_eq(run.n, 1);
	answer(&run, 0, run.cmds[0].out[2], 4, 0); /* all done, then FAULT */
	ck_assert_int_eq(dap_cmd_run_check(&run, buf, &fault, &failed, &why), LPA_ERR_FAULT);
	ck_assert_uint_eq(failed, 0);
	ck_assert_uint_eq(fault, 0xFFFFFFFC);
	dap_cmd_run_free(&run);
}
END_TEST

START_TEST(byte_run_uses_lanes)
{
	struct dap_adi adi = {0};
	struct dap_run run;
	uint8_t buf[3] = {0}, in[3 + 12];
	uint32_t fault;
	size_t failed;
	enum dap_bad why;

	/* Bytes at 0x...01..03: lanes 1, 2, 3. */
	ck_assert_int_eq(
		dap_cmd_run_build(&run, &adi, 64, false, 0, 0x08000001, 1, buf, 3, 0x23000000),
		LPA_OK);
	ck_assert_uint_eq(run.n, 1);
	in[0] = 0x05;
	in[1] = run.cmds[0].out[2];
	in[2] = 1;
	for (int k = 0; k < 3; k++) {
		uint32_t le = htole32((uint32_t)(0xA0 + k) << (8 * (k + 1)));

		memcpy(in + 3 + 4 * k, &le, 4);
	}
	respond(&run.cmds[0], in, sizeof(in));
	ck_assert_int_eq(dap_cmd_run_check(&run, buf, &fault, &failed, &why), LPA_OK);
	ck_assert_uint_eq(buf[0], 0xA0);
	ck_assert_uint_eq(buf[1], 0xA1);
	ck_assert_uint_eq(buf[2], 0xA2);
	dap_cmd_run_free(&run);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(transfer_layout_and_reads),
		TU_CASE(malformed_responses_have_distinct_reasons),
		TU_CASE(target_answers_are_not_malformed),
		TU_CASE(value_match_gave_up),
		TU_CASE(run_layout_across_a_page),
		TU_CASE(run_build_refuses_impossible_runs),
		TU_CASE(run_check_names_the_failing_word),
		TU_CASE(run_check_fault_after_last_word_stays_in_run),
		TU_CASE(byte_run_uses_lanes),
	};

	return tu_main("dap-cmd", cases, TU_N(cases));
}
