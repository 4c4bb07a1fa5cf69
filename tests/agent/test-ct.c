/*
 * test-agent-ct — constant time, checked mechanically (the ctgrind technique): under
 * valgrind memcheck, the secret inputs of each operation are marked undefined
 * (VALGRIND_MAKE_MEM_UNDEFINED). Memcheck then reports every conditional jump and every
 * memory address that depends on them; the run must report nothing
 * (valgrind --error-exitcode). Outputs are marked defined again only after the call,
 * to compare them with the same call made on defined inputs. The deliberate
 * declassifications of the library (CT_PUBLIC) are the only exceptions.
 *
 *   valgrind --error-exitcode=99 test-agent-ct            every case
 *   valgrind --error-exitcode=99 test-agent-ct NAME       one case
 *   valgrind --error-exitcode=99 test-agent-ct --leak-branch | --leak-index
 *        a branch on a secret / a secret index: must be reported (exit 99), which
 *        shows the harness sees what it is meant to
 *
 * Without valgrind the marks are no-ops and the comparisons still run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "crypto.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int failures;

static void expect(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "test-agent-ct: %s\n", what);
		failures++;
	}
}

/* A deterministic fill, different for each seed. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
	uint32_t x = 0x9e3779b9u * (seed + 1);

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void case_p256_ecdh(void)
{
	uint8_t d[32], peer_d[32], peer[P256_PUB_LEN], x[32], want[32];
	int r;

	fill(peer_d, 32, 1);
	peer_d[0] &= 0x7f;
	expect(p256_public_from_private(peer_d, peer) == CRYPTO_OK, "ecdh: peer key");
	fill(d, 32, 2);
	d[0] &= 0x7f;
	expect(p256_ecdh(d, peer, sizeof(peer), want) == CRYPTO_OK, "ecdh: reference");
	SECRET(d, sizeof(d));
	r = p256_ecdh(d, peer, sizeof(peer), x);
	PUBLIC(x, sizeof(x));
	expect(r == CRYPTO_OK && memcmp(x, want, 32) == 0, "ecdh: result");
}

static void case_p256_sign(void)
{
	uint8_t d[32], h[32], extra[32], sig[64], want[64], pub[P256_PUB_LEN];
	int r;

	fill(d, 32, 3);
	d[0] &= 0x7f;
	fill(h, 32, 4);
	fill(extra, 32, 5);
	expect(p256_public_from_private(d, pub) == CRYPTO_OK, "sign: key");
	for (int hedged = 0; hedged < 2; hedged++) {
		expect(p256_sign(d, h, extra, hedged ? 32 : 0, want) == CRYPTO_OK,
		       "sign: reference");
		SECRET(d, sizeof(d));
		SECRET(extra, sizeof(extra));
		r = p256_sign(d, h, extra, hedged ? 32 : 0, sig);
		PUBLIC(d, sizeof(d));
		PUBLIC(extra, sizeof(extra));
		PUBLIC(sig, sizeof(sig));
		expect(r == CRYPTO_OK && memcmp(sig, want, 64) == 0, "sign: result");
		expect(p256_verify(pub, sizeof(pub), h, sig, 64) == CRYPTO_OK, "sign: verifies");
	}
}

static void case_p256_keys(void)
{
	uint8_t rnd[96], d[32], pub[P256_PUB_LEN], want[P256_PUB_LEN];
	int r;

	/* the first candidate is out of range (all-ones), the second is taken */
	memset(rnd, 0xff, 32);
	fill(rnd + 32, 64, 6);
	expect(p256_public_from_private(rnd + 32, want) == CRYPTO_OK, "keys: reference");
	SECRET(rnd, sizeof(rnd));
	r = p256_keygen(rnd, sizeof(rnd), d, pub);
	PUBLIC(d, sizeof(d));
	PUBLIC(pub, sizeof(pub));
	PUBLIC(rnd, sizeof(rnd));
	expect(r == CRYPTO_OK && memcmp(d, rnd + 32, 32) == 0 && memcmp(pub, want, 65) == 0,
	       "keygen: result");
	SECRET(d, sizeof(d));
	r = p256_public_from_private(d, pub);
	PUBLIC(pub, sizeof(pub));
	expect(r == CRYPTO_OK && memcmp(pub, want, 65) == 0, "public_from_private: result");
}

static void case_hash(void)
{
	uint8_t key[100], msg[150], ikm[32], salt[16], out[80], want[80], mac[32], wmac[32];
	int r;

	fill(key, sizeof(key), 7);
	fill(msg, sizeof(msg), 8);
	fill(ikm, sizeof(ikm), 9);
	fill(salt, sizeof(salt), 10);
	sha256(msg, sizeof(msg), wmac);
	SECRET(msg, sizeof(msg));
	sha256(msg, sizeof(msg), mac);
	PUBLIC(mac, sizeof(mac));
	PUBLIC(msg, sizeof(msg));
	expect(memcmp(mac, wmac, 32) == 0, "sha256: result");
	for (size_t kl = 32; kl <= sizeof(key); kl += 68) { /* 32 and 100 (hashed) */
		hmac_sha256(key, kl, msg, sizeof(msg), wmac);
		SECRET(key, sizeof(key));
		hmac_sha256(key, kl, msg, sizeof(msg), mac);
		PUBLIC(mac, sizeof(mac));
		PUBLIC(key, sizeof(key));
		expect(memcmp(mac, wmac, 32) == 0, "hmac: result");
	}
	expect(hkdf_sha256(ikm, 32, salt, 16, msg, 20, want, sizeof(want)) == CRYPTO_OK,
	       "hkdf: reference");
	SECRET(ikm, sizeof(ikm));
	r = hkdf_sha256(ikm, 32, salt, 16, msg, 20, out, sizeof(out));
	PUBLIC(out, sizeof(out));
	expect(r == CRYPTO_OK && memcmp(out, want, sizeof(out)) == 0, "hkdf: result");
}

static void case_gcm_open(void)
{
	uint8_t key[32], iv[12], aad[113], pt[32], ct[32], tag[16], out[32];
	int r;

	fill(key, 32, 11);
	fill(iv, 12, 12);
	fill(aad, sizeof(aad), 13);
	fill(pt, sizeof(pt), 14);
	expect(gcm_seal(key, 32, iv, aad, sizeof(aad), pt, sizeof(pt), ct, tag) == CRYPTO_OK,
	       "gcm: seal");
	for (int bad = 0; bad < 2; bad++) {
		tag[5] ^= (uint8_t)bad;
		SECRET(key, sizeof(key));
		r = gcm_open(key, 32, iv, aad, sizeof(aad), ct, sizeof(ct), tag, out);
		PUBLIC(out, sizeof(out));
		PUBLIC(key, sizeof(key));
		if (bad)
			expect(r == CRYPTO_ERR_TAG, "gcm: a bad tag is refused");
		else
			expect(r == CRYPTO_OK && memcmp(out, pt, sizeof(pt)) == 0, "gcm: opens");
		tag[5] ^= (uint8_t)bad;
	}
}

static void case_cmac_verify(void)
{
	uint8_t key[16], msg[45], mac[16];
	int r;

	fill(key, 16, 15);
	fill(msg, sizeof(msg), 16);
	cmac_aes128(key, msg, sizeof(msg), mac);
	for (int bad = 0; bad < 2; bad++) {
		mac[3] ^= (uint8_t)bad;
		SECRET(key, sizeof(key));
		r = cmac_aes128_verify(key, msg, sizeof(msg), mac, 4);
		PUBLIC(key, sizeof(key));
		expect(r == (bad ? CRYPTO_ERR_TAG : CRYPTO_OK), "cmac: verdict");
		mac[3] ^= (uint8_t)bad;
	}
}

/* The two leaks the harness must see. */
static void leak_branch(void)
{
	uint8_t s[1];
	volatile int x = 0;

	fill(s, 1, 17);
	SECRET(s, 1);
	if (s[0] & 1)
		x = 1;
	(void)x;
}

static void leak_index(void)
{
	static const uint8_t table[256] = {1};
	uint8_t s[1];
	volatile uint8_t x;

	fill(s, 1, 18);
	SECRET(s, 1);
	x = table[s[0]];
	(void)x;
}

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
	{"p256_ecdh", case_p256_ecdh}, {"p256_sign", case_p256_sign},
	{"p256_keys", case_p256_keys}, {"hash", case_hash},
	{"gcm_open", case_gcm_open},   {"cmac_verify", case_cmac_verify},
};

int main(int argc, char **argv)
{
	int ran = 0;

	if (argc == 2 && strcmp(argv[1], "--leak-branch") == 0) {
		leak_branch();
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--leak-index") == 0) {
		leak_index();
		return 0;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (argc == 2 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		cases[i].run();
		printf("test-agent-ct: %s ran with its secrets undefined\n", cases[i].name);
		ran++;
	}
	if (!RUNNING_ON_VALGRIND)
		printf("test-agent-ct: not under valgrind: results compared, timing unchecked\n");
	if (ran == 0) {
		fprintf(stderr, "test-agent-ct: no case named %s\n", argc == 2 ? argv[1] : "");
		return 2;
	}
	return failures != 0;
}
