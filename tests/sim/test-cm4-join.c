/*
 * test-cm4-join LPA_CM4 — run by lpa-sim (one probe, one chip): lpa-cm4 plays the chip's
 * CM4 and makes the secure agent's calls over IPC through the CM4's access port, this
 * test plays the factory (an LPK1 from the fixture KMS key) and the network (lw-net.c:
 * lpa/core's Join Server formulas, OpenSSL): the agent's JoinRequest verifies, its
 * join-accept opens, the host's session keys verify the agent's uplink and the agent
 * decrypts the host's downlink; refusals come back as the agent's status words.
 * Environment: PKI_DIR (the fixture PKI: kms-package.key).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "../agent/lw-net.h"
#include "testutil.h"

#define DEV_EUI 0x70b3d57ed0004321ull
#define JOIN_EUI 0x70b3d57ed0000000ull
#define DEV_ADDR 0x26015678u

static const char *cm4_path;

struct cm4 {
	pid_t pid;
	FILE *to, *from;
};

static void cm4_start(struct cm4 *c)
{
	int in[2], out[2];
	char line[64];

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(cm4_path, cm4_path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to = fdopen(in[1], "w");
	c->from = fdopen(out[0], "r");
	ck_assert_ptr_nonnull(c->to);
	ck_assert_ptr_nonnull(c->from);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), c->from));
	ck_assert_str_eq(line, "ready\n");
}

static int cm4_stop(struct cm4 *c)
{
	int status = 0;

	fclose(c->to);
	fclose(c->from);
	ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Sends one command, returns its answer line (without the newline). */
static const char *cm4_ask(struct cm4 *c, const char *fmt, ...)
{
	static char line[4200];
	va_list ap;

	va_start(ap, fmt);
	vfprintf(c->to, fmt, ap);
	va_end(ap);
	fputc('\n', c->to);
	fflush(c->to);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), c->from));
	line[strcspn(line, "\n")] = '\0';
	return line;
}

static char *hex(const uint8_t *p, size_t n)
{
	static char h[2][4200];
	static int k;

	k ^= 1;
	lpa_hex_encode(p, n, h[k]);
	return h[k];
}

/* "ok HEX": the bytes. */
static size_t ok_bytes(const char *ans, uint8_t *out, size_t cap)
{
	size_t n;

	ck_assert_msg(strncmp(ans, "ok ", 3) == 0, "answer: %s", ans);
	n = strlen(ans + 3) / 2;
	ck_assert_uint_le(n, cap);
	ck_assert_int_eq(lpa_hex_decode(ans + 3, 2 * n, out, n), LPA_OK);
	return n;
}

START_TEST(cm4_joins_and_talks)
{
	uint8_t buf[2048], app[16], nwk[16], pkg[LPA_LPK1_LEN], js_int[16], js_enc[16], mic[4];
	uint8_t frame[32], msg[64];
	char path[1024], ans_fcnt[16];
	lpa_secbuf *keys = lpa_secbuf_new(32);
	struct lpa_lpk1_hdr h = {.lorawan = LPA_LORAWAN_11,
				 .dev_eui = DEV_EUI,
				 .join_eui = JOIN_EUI,
				 .key_id = 1,
				 .issued_at = 1790000000};
	struct lw_net_session s;
	struct lpa_lpi1 id;
	EVP_PKEY *kms = NULL, *dik = NULL;
	const char *ans;
	struct cm4 c;
	size_t n, len;
	uint16_t dn;
	FILE *f;

	snprintf(path, sizeof(path), "%s/kms-package.key", getenv("PKI_DIR"));
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(kms = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	cm4_start(&c);
	/* Nothing to join with yet. */
	ck_assert_str_eq(cm4_ask(&c, "join-request"), "refused 0xF0000007");
	/* A frame too short for the agent; a command too short for lpa-cm4. */
	ck_assert_str_eq(cm4_ask(&c, "uplink 0 0 00"), "refused 0xF0000001");
	ck_assert_msg(strncmp(cm4_ask(&c, "uplink 0"), "error usage:", 12) == 0, "no usage");
	/* The factory: the chip's identity, then its package. */
	n = ok_bytes(cm4_ask(&c, "call 0x70"), buf, sizeof(buf));
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &id), LPA_OK);
	for (int i = 0; i < 32; i++)
		lpa_secbuf_data(keys)[i] = (uint8_t)(0x90 + i);
	memcpy(app, lpa_secbuf_cdata(keys), 16);
	memcpy(nwk, lpa_secbuf_cdata(keys) + 16, 16);
	h.chip_uid = id.chip_uid;
	h.counter = id.last_counter + 1;
	ck_assert_int_eq(lpa_p256_from_public(id.dik_pub, &dik), LPA_OK);
	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dik, kms, NULL, NULL, pkg), LPA_OK);
	ck_assert_uint_eq(
		ok_bytes(cm4_ask(&c, "call 0x71 %s", hex(pkg, sizeof(pkg))), buf, sizeof(buf)),
		LPA_LPR1_LEN);

	/* The join, checked by the host's Join Server formulas. */
	ck_assert_uint_eq(ok_bytes(cm4_ask(&c, "join-request"), buf, sizeof(buf)), 23);
	dn = (uint16_t)(buf[17] | buf[18] << 8);
	ck_assert_int_eq(lpa_lorawan_join_request_mic(nwk, 0, JOIN_EUI, DEV_EUI, dn, mic), LPA_OK);
	ck_assert_mem_eq(buf + 19, mic, 4);
	ck_assert_int_eq(lpa_lorawan11_js_keys(nwk, DEV_EUI, js_int, js_enc), LPA_OK);
	len = lw_net_join_accept(nwk, js_int, 1, JOIN_EUI, dn, 1, 0x13, DEV_ADDR, 0x80, 1, NULL,
				 msg);
	msg[5] ^= 1;
	ck_assert_str_eq(cm4_ask(&c, "join-accept %s", hex(msg, len)), "refused 0xF0000010");
	msg[5] ^= 1;
	ck_assert_uint_eq(ok_bytes(cm4_ask(&c, "join-accept %s", hex(msg, len)), buf, sizeof(buf)),
			  13);
	ck_assert_uint_eq(buf[0], 0x11);
	ck_assert_uint_eq(buf[7] | buf[8] << 8 | buf[9] << 16 | (uint32_t)buf[10] << 24, DEV_ADDR);
	ck_assert_str_eq(cm4_ask(&c, "join-accept %s", hex(msg, len)), "refused 0xF0000011");
	lw_net_session(0x11, 1, app, nwk, 1, 0x13, JOIN_EUI, dn, DEV_ADDR, &s);

	/* An uplink: the host's keys verify and decrypt what the agent made. */
	frame[0] = 0x40;
	frame[1] = (uint8_t)DEV_ADDR;
	frame[2] = (uint8_t)(DEV_ADDR >> 8);
	frame[3] = (uint8_t)(DEV_ADDR >> 16);
	frame[4] = (uint8_t)(DEV_ADDR >> 24);
	frame[5] = frame[6] = frame[7] = 0;
	frame[8] = 1;
	memcpy(frame + 9, "temperature 21", 14);
	ans = cm4_ask(&c, "uplink 3 1 %s", hex(frame, 23));
	ck_assert_msg(sscanf(ans, "ok %15s", ans_fcnt) == 1, "answer: %s", ans);
	ck_assert_str_eq(ans_fcnt, "0");
	ck_assert_int_eq(lpa_hex_decode(ans + 5, 2 * 27, msg, 27), LPA_OK);
	ck_assert_uint_eq(strlen(ans + 5), 54);
	lw_net_frame_mic(&s, 0, 0, 3, 1, 0, msg, 23, mic);
	ck_assert_mem_eq(msg + 23, mic, 4);
	lw_net_frm_crypt(s.app_s, 0, DEV_ADDR, 0, msg + 9, 14);
	ck_assert_mem_eq(msg + 9, "temperature 21", 14);

	/* A downlink: the agent verifies and decrypts what the host made. */
	len = lw_net_downlink(&s, 0x60, 0, 0, 7, (const uint8_t *)"setpoint", 8, 0, msg);
	ans = cm4_ask(&c, "downlink %s", hex(msg, len));
	ck_assert_msg(strncmp(ans, "ok 0 ", 5) == 0, "answer: %s", ans);
	ck_assert_int_eq(lpa_hex_decode(ans + 5, 2 * 17, buf, 17), LPA_OK);
	ck_assert_mem_eq(buf + 9, "setpoint", 8);
	ck_assert_str_eq(cm4_ask(&c, "downlink %s", hex(msg, len)), "refused 0xF0000014");
	ck_assert_int_eq(cm4_stop(&c), 0);
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
}
END_TEST

int main(int argc, char **argv)
{
	const struct tu_case cases[] = {
		TU_CASE_SLOW(cm4_joins_and_talks, 120),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s LPA_CM4\n", argv[0]);
		return 2;
	}
	cm4_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return tu_main("sim-cm4-join", cases, TU_N(cases));
}
