/*
 * selftest.c — `lpa-station selftest`: known-answer tests of every primitive the station
 * relies on, run against the linked OpenSSL and liboath before a shift starts. A station
 * whose crypto gives wrong answers must not provision a single device.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "lpa/core/lpa-core.h"
#include "cli.h"
#include "station.h"

struct selftest_case {
	const char *name;
	int (*run)(void);
};

static int selftest_unhex(const char *hex, uint8_t *out, size_t n)
{
	return lpa_hex_decode(hex, strlen(hex), out, n);
}

/* Compares out with the expected hex; LPA_ERR_MISMATCH on a wrong answer. */
static int selftest_expect(const uint8_t *out, size_t n, const char *want_hex)
{
	uint8_t want[64];

	if (n > sizeof(want) || selftest_unhex(want_hex, want, n) != LPA_OK)
		return LPA_ERR_INVAL;
	return memcmp(out, want, n) == 0 ? LPA_OK : LPA_ERR_MISMATCH;
}

static int selftest_cmac(void)
{
	uint8_t key[16], msg[16], mac[16];
	int r;

	/* RFC 4493 §4, example 2. */
	if ((r = selftest_unhex("2b7e151628aed2a6abf7158809cf4f3c", key, 16)) != LPA_OK ||
	    (r = selftest_unhex("6bc1bee22e409f96e93d7e117393172a", msg, 16)) != LPA_OK ||
	    (r = lpa_aes_cmac(key, msg, 16, mac)) != LPA_OK)
		return r;
	return selftest_expect(mac, 16, "070a16b46b4d4144f79bdd9dd04a287c");
}

static int selftest_keywrap(void)
{
	uint8_t kek[16], data[16], out[24];
	int r;

	/* RFC 3394 §4.1. */
	if ((r = selftest_unhex("000102030405060708090a0b0c0d0e0f", kek, 16)) != LPA_OK ||
	    (r = selftest_unhex("00112233445566778899aabbccddeeff", data, 16)) != LPA_OK ||
	    (r = lpa_aes_keywrap(kek, 16, data, 16, out)) != LPA_OK)
		return r;
	return selftest_expect(out, 24, "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
}

static int selftest_lorawan(void)
{
	struct lpa_lorawan10_skeys k;
	uint8_t key[16];
	int r;

	/* The Things Stack key-derivation vector (LoRaWAN 1.0.x AppSKey). */
	if ((r = selftest_unhex("bec499c69e9c939e413b663961636c61", key, 16)) != LPA_OK ||
	    (r = lpa_lorawan10_derive(key, 0xae3b1c, 0x020101, 0x7369, &k)) != LPA_OK)
		return r;
	return selftest_expect(k.app_s_key, 16, "8c1e0543a229088de6f84e74bb46bd62");
}

static int selftest_totp(void)
{
	struct lpa_totp_params p;
	char code[9];
	int r;

	/* RFC 6238 Appendix B, SHA-1, T = 59. */
	lpa_totp_params_default(&p);
	p.digits = 8;
	if ((r = lpa_totp_generate(&p, (const uint8_t *)"12345678901234567890", 20, 59, code)) !=
	    LPA_OK)
		return r;
	return strcmp(code, "94287082") == 0 ? LPA_OK : LPA_ERR_MISMATCH;
}

/* A package built, opened by the "chip", and its receipt verified: the whole format path. */
static int selftest_lpk1(void)
{
	EVP_PKEY *kms = NULL, *dik = NULL;
	lpa_secbuf *keys = lpa_secbuf_new(LPA_ROOT_KEYS_LEN), *opened = NULL;
	struct lpa_lpk1_hdr h = {.lorawan = LPA_LORAWAN_11, .chip_uid = 1, .counter = 1};
	struct lpa_lpr1 rc = {0};
	uint8_t pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN], hash[32];
	int r = LPA_ERR_NOMEM;

	if (keys == NULL)
		goto fail;
	if ((r = lpa_random(lpa_secbuf_data(keys), LPA_ROOT_KEYS_LEN)) != LPA_OK ||
	    (r = lpa_p256_generate(&kms)) != LPA_OK || (r = lpa_p256_generate(&dik)) != LPA_OK ||
	    (r = lpa_lpk1_build(&h, keys, dik, kms, NULL, NULL, pkg)) != LPA_OK ||
	    (r = lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, 1, 0, &h, &opened)) != LPA_OK)
		goto fail;
	if (lpa_ct_memcmp(lpa_secbuf_cdata(opened), lpa_secbuf_cdata(keys), LPA_ROOT_KEYS_LEN)) {
		r = LPA_ERR_MISMATCH;
		goto fail;
	}
	rc.chip_uid = 1;
	rc.counter = 1;
	if ((r = lpa_sha256(pkg, sizeof(pkg), hash)) != LPA_OK)
		goto fail;
	memcpy(rc.pkg_hash, hash, 16);
	if ((r = lpa_lpr1_build(&rc, LPA_LORAWAN_11, opened, dik, rcpt)) != LPA_OK ||
	    (r = lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, keys, &rc)) != LPA_OK)
		goto fail;
	/* And a tampered package must be refused. */
	pkg[130] ^= 1;
	lpa_secbuf_free(&opened);
	if (lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, 1, 0, &h, &opened) != LPA_ERR_SIGNATURE)
		r = LPA_ERR_MISMATCH;
fail:
	lpa_secbuf_free(&opened);
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	return r;
}

static const struct selftest_case selftest_cases[] = {
	{"AES-CMAC (RFC 4493)", selftest_cmac},
	{"AES key wrap (RFC 3394)", selftest_keywrap},
	{"LoRaWAN 1.0.x session keys", selftest_lorawan},
	{"TOTP (RFC 6238)", selftest_totp},
	{"LPK1 package, unwrap and LPR1 receipt", selftest_lpk1},
};

int selftest_main(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int json = 0, failed = 0, c;
	size_t n = sizeof(selftest_cases) / sizeof(selftest_cases[0]);

	while ((c = station_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			printf("usage: lpa-station selftest [--json]\n"
			       "Runs known-answer tests of the station's cryptography.\n");
			return STATION_EXIT_OK;
		default:
			return STATION_EXIT_USAGE;
		}
	}
	if (json)
		printf("{\"selftest\":[");
	for (size_t i = 0; i < n; i++) {
		int r = selftest_cases[i].run();

		if (r != LPA_OK)
			failed++;
		if (json)
			printf("%s{\"name\":\"%s\",\"ok\":%s,\"error\":\"%s\"}", i ? "," : "",
			       selftest_cases[i].name, r == LPA_OK ? "true" : "false",
			       r == LPA_OK ? "" : lpa_errname(r));
		else
			printf("  %-40s %s%s%s\n", selftest_cases[i].name,
			       r == LPA_OK ? "ok" : "FAIL", r == LPA_OK ? "" : ": ",
			       r == LPA_OK ? "" : lpa_strerror(r));
	}
	if (json)
		printf("],\"passed\":%zu,\"failed\":%d}\n", n - (size_t)failed, failed);
	else
		printf("selftest: %zu passed, %d failed\n", n - (size_t)failed, failed);
	return failed ? STATION_EXIT_SELFTEST : STATION_EXIT_OK;
}
