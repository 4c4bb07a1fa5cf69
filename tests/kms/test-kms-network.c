/*
 * test-kms-network.c — end to end through the Join Server with the network side's
 * stand-ins: chips provisioned by the real issue/confirm flow (1.0.4 and 1.1), each joins
 * through lpa-ns-standin (ChirpStack's external-JS behaviour) and the KMS, sends uplinks;
 * the NS verifies their MICs and forwards them still encrypted, lpa-as-standin opens the
 * AppSKey with its KEK and decrypts them. Then both stand-ins' memory is scanned
 * (tests/e2e/scan-mem.py): no root key in either, no AppSKey in the NS — with the keys
 * each must hold found, so the scan is shown to see them. The device is fixtures/network's
 * stand-in on lpa/core's lorawan.c (the chip agent's calls come later).
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmstest.h"
#include "network.h"

struct proc {
	pid_t pid;
	FILE *in, *out;
};

static char token[64];

static void proc_start(struct proc *p, const char *bin, const char *peer, const char *id,
		       const char *label)
{
	char url[128], cert[700], key[700], ca[700], kek[800];
	int to[2], from[2];
	char line[256];

	snprintf(url, sizeof(url), "https://127.0.0.1:%u/lbi", kt.port);
	snprintf(cert, sizeof(cert), "%s/%s.pem", kt.certs, peer);
	snprintf(key, sizeof(key), "%s/%s.key", kt.certs, peer);
	snprintf(ca, sizeof(ca), "%s/kms-ca.pem", kt.certs);
	snprintf(kek, sizeof(kek), "%s=%s/%s.kek", label, kt.certs, peer);
	ck_assert_int_eq(pipe(to), 0);
	ck_assert_int_eq(pipe(from), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		execl(bin, bin, "--url", url, "--cert", cert, "--key", key, "--ca", ca, "--id", id,
		      "--kek", kek, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	p->in = fdopen(to[1], "w");
	p->out = fdopen(from[0], "r");
	setvbuf(p->in, NULL, _IOLBF, 0);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p->out));
	ck_assert_str_eq(line, "ready\n");
}

static void proc_stop(struct proc *p)
{
	int st = 0;

	fprintf(p->in, "quit\n");
	fclose(p->in);
	fclose(p->out);
	ck_assert_int_eq(waitpid(p->pid, &st, 0), p->pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* One command, its one-line answer (without the newline). */
static void proc_ask(struct proc *p, char *answer, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void proc_ask(struct proc *p, char *answer, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(p->in, fmt, ap);
	va_end(ap);
	fputc('\n', p->in);
	fflush(p->in);
	ck_assert_ptr_nonnull(fgets(answer, (int)cap, p->out));
	answer[strcspn(answer, "\n")] = '\0';
}

/* scan-mem.py's verdict on pid for these keys: 0 none found, 1 found. */
static int scan(pid_t pid, const uint8_t (*keys)[16], size_t n)
{
	char cmd[4096];
	size_t o;
	int st;

	o = (size_t)snprintf(cmd, sizeof(cmd), "python3 '%s' %d", getenv("SCAN_MEM"), (int)pid);
	for (size_t i = 0; i < n; i++) {
		cmd[o++] = ' ';
		lpa_hex_encode(keys[i], 16, cmd + o);
		o += 32;
	}
	snprintf(cmd + o, sizeof(cmd) - o, " >/dev/null");
	st = system(cmd);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void setup_once(void)
{
	static bool done;
	struct kt_op op;

	kt_start();
	if (done)
		return;
	done = true;
	kt_peer_add("ns1", "ns", "000013", "ns:000013:ns1", "NET-*", NULL);
	kt_peer_add("as1", "as", NULL, "as:as1", "NET-A", NULL);
	kt_operator(&op, "netop", "operator", NULL, NULL, NULL);
	kt_login_ok(&op, "st1", token);
}

static void provision(struct kt_chip *chip, const char *lorawan, struct lw_device *d)
{
	uint8_t pkg[LPA_LPK1_LEN], receipt[LPA_LPR1_LEN];
	struct kt_resp r;
	uint32_t counter;

	kt_chip_new(chip, false, 0);
	ck_assert_int_eq(kt_issue("st1", token, chip, "NET-A", lorawan, &counter, pkg, &r), 201);
	kt_resp_free(&r);
	kt_chip_install(chip, pkg, receipt);
	ck_assert_int_eq(kt_confirm("st1", token, chip->dev_eui, counter, receipt, &r), 200);
	kt_resp_free(&r);
	memset(d, 0, sizeof(*d));
	d->dev_eui = chip->dev_eui;
	d->join_eui = kt_hex64(KT_JOIN_EUI);
	d->lorawan = chip->lorawan;
	memcpy(d->app_key, lpa_secbuf_cdata(chip->keys), 16);
	memcpy(d->nwk_key, lpa_secbuf_cdata(chip->keys) + 16, 16);
	d->dev_nonce = 1;
}

/* The device joins through the NS: "ok DEVADDR ACCEPT" opened by the device. */
static void join(struct proc *ns, struct lw_device *d, const char *mac)
{
	uint8_t phy[23], acc[33];
	char hex[47], ans[512], addr[9], acc_hex[67];
	size_t n;

	ck_assert_int_eq(lw_device_join_request(d, phy), LPA_OK);
	lpa_hex_encode(phy, 23, hex);
	proc_ask(ns, ans, sizeof(ans), "join %016llx %s %s %s", (unsigned long long)d->dev_eui,
		 KT_JOIN_EUI, mac, hex);
	ck_assert_msg(sscanf(ans, "ok %8s %66s", addr, acc_hex) == 2, "%s", ans);
	n = strlen(acc_hex) / 2;
	ck_assert_int_eq(lpa_hex_decode(acc_hex, 2 * n, acc, n), LPA_OK);
	ck_assert_int_eq(lw_device_join_accept(d, acc, n), LPA_OK);
	ck_assert_uint_eq(d->dev_addr, strtoul(addr, NULL, 16));
}

START_TEST(join_uplink_decrypt)
{
	static const char *const macs[] = {"1.0.3", "1.1.0"};
	struct kt_chip chips[2];
	struct lw_device devs[2];
	struct proc ns, as;
	uint8_t root[3][16], nwk[4][16], app[2][16];
	char ans[1024];

	setup_once();
	provision(&chips[0], "1.0.4", &devs[0]);
	provision(&chips[1], "1.1", &devs[1]);
	proc_start(&ns, getenv("NS_STANDIN"), "ns1", "000013", "ns:000013:ns1");
	proc_start(&as, getenv("AS_STANDIN"), "as1", "as1", "as:as1");
	for (int i = 0; i < 2; i++) {
		struct lw_device *d = &devs[i];

		join(&ns, d, macs[i]);
		ck_assert(d->opt_neg == (i == 1));
		for (uint32_t k = 0; k < 3; k++) {
			uint8_t payload[16], up[64], frm[16];
			char hex[129], eui[17], frm_hex[64], skid[65], label[65], aes[49],
				plain[40];
			unsigned fcnt, fport;
			size_t n;

			snprintf((char *)payload, sizeof(payload), "uplink %u/%d", k, i);
			ck_assert_int_eq(lw_device_uplink(d, 2, payload, 12, up, &n), LPA_OK);
			lpa_hex_encode(up, n, hex);
			proc_ask(&ns, ans, sizeof(ans), "uplink %s", hex);
			ck_assert_msg(sscanf(ans, "up %16s %u %u %63s %64s %64s %48s", eui, &fcnt,
					     &fport, frm_hex, skid, label, aes) == 7,
				      "%s", ans);
			ck_assert_uint_eq(fcnt, k);
			ck_assert_uint_eq(fport, 2);
			ck_assert_str_eq(label, "as:as1");
			/* what the NS passes on is still ciphertext */
			ck_assert_int_eq(lpa_hex_decode(frm_hex, 24, frm, 12), LPA_OK);
			ck_assert_mem_ne(frm, payload, 12);
			proc_ask(&as, ans, sizeof(ans), "context %s %s %s %s", eui, skid, label,
				 aes);
			ck_assert_str_eq(ans, "ok");
			if (k == 2) {
				/* or the AS asks the Join Server itself */
				proc_ask(&as, ans, sizeof(ans), "fetch %s %s %s", eui, KT_JOIN_EUI,
					 skid);
				ck_assert_str_eq(ans, "ok");
			}
			proc_ask(&as, ans, sizeof(ans), "decrypt %s %08x %u %s", eui, d->dev_addr,
				 fcnt, frm_hex);
			lpa_hex_encode(payload, 12, plain);
			ck_assert_str_eq(ans + 6, plain);
		}
		/* a frame with a broken MIC stops at the NS */
		{
			uint8_t up[64];
			char hex[129];
			size_t n;

			ck_assert_int_eq(lw_device_uplink(d, 2, (const uint8_t *)"x", 1, up, &n),
					 LPA_OK);
			up[n - 1] ^= 0x80;
			lpa_hex_encode(up, n, hex);
			proc_ask(&ns, ans, sizeof(ans), "uplink %s", hex);
			ck_assert_str_eq(ans, "mic-failed");
		}
	}
	memcpy(root[2], devs[1].nwk_key, 16); /* a 1.0.x device has no NwkKey (zeros) */
	/* The scans: the root keys and the AppSKeys are nowhere in the NS; no root key and
	 * no network key in the AS; and each holds what it must (the scan sees keys). */
	for (int i = 0; i < 2; i++) {
		memcpy(root[i], devs[i].app_key, 16);
		memcpy(nwk[2 * i], devs[i].nwk_s_key, 16);
		memcpy(nwk[2 * i + 1],
		       devs[i].opt_neg ? devs[i].s_nwk_s_int_key : devs[i].nwk_s_key, 16);
		memcpy(app[i], devs[i].app_s_key, 16);
	}
	ck_assert_int_eq(scan(ns.pid, root, 3), 0);
	ck_assert_int_eq(scan(ns.pid, app, 2), 0);
	ck_assert_int_eq(scan(as.pid, root, 3), 0);
	ck_assert_int_eq(scan(as.pid, nwk, 4), 0);
	ck_assert_int_eq(scan(ns.pid, nwk, 1), 1);
	ck_assert_int_eq(scan(as.pid, app, 1), 1);
	proc_stop(&ns);
	proc_stop(&as);
	for (int i = 0; i < 2; i++) {
		lw_device_wipe(&devs[i]);
		kt_chip_free(&chips[i]);
	}
}
END_TEST

/* An NS configured with another label for its KEK refuses the keys (as ChirpStack does),
 * and an AS whose KEK label the envelope does not name cannot open it. */
START_TEST(unknown_kek_label)
{
	struct kt_chip chip;
	struct lw_device d;
	struct proc ns, as;
	uint8_t phy[23];
	char hex[47], ans[512];

	setup_once();
	provision(&chip, "1.0.4", &d);
	proc_start(&ns, getenv("NS_STANDIN"), "ns1", "000013", "ns:000013:other");
	ck_assert_int_eq(lw_device_join_request(&d, phy), LPA_OK);
	lpa_hex_encode(phy, 23, hex);
	proc_ask(&ns, ans, sizeof(ans), "join %016llx %s 1.0.3 %s", (unsigned long long)d.dev_eui,
		 KT_JOIN_EUI, hex);
	ck_assert_str_eq(ans, "error NwkSKey: unknown KEK label");
	proc_stop(&ns);
	proc_start(&as, getenv("AS_STANDIN"), "as1", "as1", "as:other");
	proc_ask(&as, ans, sizeof(ans),
		 "context %016llx 00 as:as1 000000000000000000000000000000000000000000000000",
		 (unsigned long long)d.dev_eui);
	ck_assert_str_eq(ans, "error AppSKey: unknown KEK label");
	proc_stop(&as);
	lw_device_wipe(&d);
	kt_chip_free(&chip);
}
END_TEST

int main(void)
{
	const struct kt_case cases[] = {
		{"join_uplink_decrypt", join_uplink_decrypt},
		{"unknown_kek_label", unknown_kek_label},
	};

	signal(SIGPIPE, SIG_IGN);
	return kt_main("kms-network", cases, sizeof(cases) / sizeof(cases[0]), kt_start, 120, true);
}
