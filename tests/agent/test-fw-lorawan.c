/*
 * test-agent-fw-lorawan docs/protocols.md | --generate FILE — the LoRaWAN runtime calls
 * (lpa/agent/lorawan-calls.c, the sources that ship) on the RAM-backed HAL:
 *   - the worked vectors of docs/protocols.md ("LoRaWAN runtime calls"): a chip with The
 *     Things Stack's test key as its root keys and its vector DevNonce 0x7369 in the
 *     nonce record joins (1.1 and 1.0.x) and makes an uplink and takes a downlink; every
 *     output must be the document's byte for byte, and the session keys the network side
 *     derives from the document's inputs (lpa/core) must be TTS's (the agent's MICs
 *     verify under them). --generate writes the block from the same fixed inputs;
 *   - power cuts at every byte boundary of the nonce row's write, and SROM errors: no
 *     DevNonce is ever released twice; a failed JoinNonce write starts no session;
 *   - the DevNonce's end (0xFFFF is the last), new keys end the session and the pending
 *     JoinRequest, a nonce record that fails its check is not used.
 */
#include <setjmp.h>
#include <stdlib.h>

#include "agent-test.h"
#include "agent.h"
#include "hal-host.h"
#include "host-call.h"
#include "lpa/core/keystore.h"
#include "lw-net.h"
#include "vecset.h"

#define CHIP_UID 0x0f2a1b3c4d5e6f70ull
#define TTS_KEY "BEC499C69E9C939E413B663961636C61"
#define DEV_EUI 0x0042004213424341ull
#define JOIN_EUI 0x0000001223224242ull
#define DEV_NONCE 0x7369
#define JOIN_NONCE 0xAE3B1C
#define NET_ID 0x020101
#define DEV_ADDR 0x26012345u

static struct agent A;
static EVP_PKEY *kms, *dik, *dik_pub;
static uint8_t root[16];
static uint32_t pkg_counter;

static uint32_t call(uint8_t op, const void *in, uint32_t in_len, void *out, uint32_t *out_len)
{
	return host_call(&A, op, in, in_len, out, out_len);
}

/* Installs AppKey || NwkKey = app || nwk by INSTALL_PACKAGE (a fresh counter). */
static void install(uint8_t lorawan, const uint8_t app[16], const uint8_t nwk[16])
{
	lpa_secbuf *keys = lpa_secbuf_new(32);
	uint8_t pkg[LPA_LPK1_LEN], out[AGENT_DATA_MAX];
	struct lpa_lpk1_hdr h = {.lorawan = lorawan,
				 .dev_eui = DEV_EUI,
				 .join_eui = JOIN_EUI,
				 .chip_uid = CHIP_UID,
				 .counter = ++pkg_counter,
				 .key_id = 1,
				 .issued_at = 1767225600};
	uint32_t n = 0;

	memcpy(lpa_secbuf_data(keys), app, 16);
	memcpy(lpa_secbuf_data(keys) + 16, nwk, 16);
	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dik_pub, kms, NULL, NULL, pkg), LPA_OK);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, sizeof(pkg), out, &n), AGENT_OK);
	lpa_secbuf_free(&keys);
}

/* The nonce record in row `row` as the documented layout has it. */
static void place_nonces(int row, uint32_t seq, uint32_t dev_nonce, uint32_t join_nonce_min)
{
	struct lw_nonces n = {.seq = seq, .dev_nonce = dev_nonce, .join_nonce_min = join_nonce_min};
	uint8_t rec[KS_LW_LEN];

	lorawan_calls_nonces_encode(&n, rec);
	memset(host.work + (KS_LW_ADDR(row) - HOST_WORK_BASE), 0, HAL_ROW_SIZE);
	memcpy(host.work + (KS_LW_ADDR(row) - HOST_WORK_BASE), rec, sizeof(rec));
}

/* The worked vectors' chip (UID, DIK, KMS key), with keys of the given version. */
static void chip(uint8_t lorawan)
{
	static const uint8_t die[11] = {0x70, 0x6f, 0x5e, 0x4d, 0x3c, 0x1b, 0x2a, 1, 15, 6, 7};
	uint8_t pub[65], rec[LPA_KS_ID_MAX], zero[16] = {0};
	lpa_secbuf *d = NULL;
	size_t n = 0;

	host_reset(0x5eed);
	pkg_counter = 0;
	kms = at_key_from_label("lpa vector kms");
	dik = at_key_from_label("lpa vector dik");
	memcpy(host.sflash + 0x600, die, sizeof(die));
	ck_assert_int_eq(lpa_p256_public_bytes(kms, pub), LPA_OK);
	memcpy(host.sflash + 0x5A00, "LPKP\0\0\0\1", 8);
	memcpy(host.sflash + 0x5A08, pub, 65);
	ck_assert_int_eq(lpa_p256_private_bytes(dik, &d), LPA_OK);
	ck_assert_int_eq(lpa_p256_public_bytes(dik, pub), LPA_OK);
	ck_assert_int_eq(lpa_keystore_identity_encode(LPA_KS_ORIGIN_FACTORY, lpa_secbuf_cdata(d),
						      pub, pub, 8, rec, sizeof(rec), &n),
			 LPA_OK);
	memcpy(host.work + (KS_ID_ADDR - HOST_WORK_BASE), rec, n);
	lpa_secbuf_free(&d);
	ck_assert_int_eq(lpa_p256_from_public(pub, &dik_pub), LPA_OK);
	agent_boot(&A);
	ck_assert(A.ready);
	ck_assert_int_eq(lpa_hex_decode(TTS_KEY, 32, root, 16), LPA_OK);
	install(lorawan, root, lorawan == 0x11 ? root : zero);
}

static void chip_free(void)
{
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&dik_pub);
}

/* JOIN_REQUEST; its DevNonce (the output checked for length only). */
static int join_request(uint8_t *out)
{
	uint8_t b[64];
	uint32_t n = 0, st = call(AGENT_OP_LW_JOIN_REQUEST, NULL, 0, out ? out : b, &n);

	if (st != AGENT_OK)
		return -(int)(st & 0xFF);
	ck_assert_uint_eq(n, 23);
	out = out ? out : b;
	return out[17] | out[18] << 8;
}

/* ------------------------------------------------------------ worked vectors */

struct lw_vec {
	char name[32];
	uint8_t val[64];
	size_t len;
};
static struct lw_vec computed[40];
static size_t ncomputed;

static void put(const char *name, const void *v, size_t len)
{
	ck_assert_uint_lt(ncomputed, TU_N(computed));
	ck_assert_uint_le(len, sizeof(computed[0].val));
	snprintf(computed[ncomputed].name, sizeof(computed[0].name), "%s", name);
	memcpy(computed[ncomputed].val, v, len);
	computed[ncomputed++].len = len;
}

static void put_be(const char *name, uint64_t v, size_t len)
{
	uint8_t b[8];

	lpa_be_put(b, v, len);
	put(name, b, len);
}

/* One version's join, uplink and downlink from the fixed inputs; the network side
 * checks what the agent made as it goes. */
static void compute_version(uint8_t lorawan)
{
	const char *p = lorawan == 0x11 ? "lw11_" : "lw10_";
	uint8_t jr[23], acc[33], out[64], mic[4], js_int[16], js_enc[16];
	uint8_t up[4 + 14] = {5, 2, 0, 0, 0x40, 0, 0, 0, 0, 0x00, 0, 0, 1, 'h', 'e', 'l', 'l', 'o'};
	uint8_t down[64];
	struct lw_net_session s;
	char name[32];
	uint32_t n = 0;
	size_t len;

	chip(lorawan);
	place_nonces(0, 1, DEV_NONCE, 0);
	agent_boot(&A);
	ck_assert_int_eq(join_request(jr), DEV_NONCE);
	ck_assert_int_eq(lpa_lorawan_join_request_mic(root, 0, JOIN_EUI, DEV_EUI, DEV_NONCE, mic),
			 LPA_OK);
	ck_assert_mem_eq(jr + 19, mic, 4);
	if (lorawan == 0x11) {
		ck_assert_int_eq(lpa_lorawan11_js_keys(root, DEV_EUI, js_int, js_enc), LPA_OK);
		len = lw_net_join_accept(root, js_int, 1, JOIN_EUI, DEV_NONCE, JOIN_NONCE, NET_ID,
					 DEV_ADDR, 0x80, 1, NULL, acc);
	} else {
		len = lw_net_join_accept(root, root, 0, JOIN_EUI, DEV_NONCE, JOIN_NONCE, NET_ID,
					 DEV_ADDR, 0x00, 1, NULL, acc);
	}
	ck_assert_uint_eq(call(AGENT_OP_LW_JOIN_ACCEPT, acc, (uint32_t)len, out, &n), AGENT_OK);
	ck_assert_uint_eq(n, 13);
	snprintf(name, sizeof(name), "%sjoin_request", p);
	put(name, jr, sizeof(jr));
	snprintf(name, sizeof(name), "%sjoin_accept", p);
	put(name, acc, len);
	snprintf(name, sizeof(name), "%sjoin_accept_out", p);
	put(name, out, n);

	lw_net_session(lorawan, 1, root, root, JOIN_NONCE, NET_ID, JOIN_EUI, DEV_NONCE, DEV_ADDR,
		       &s);
	if (lorawan == 0x11) {
		/* The Things Stack's 1.1 vectors (key_derivation_test.go). */
		tu_assert_hex(s.f_nwk, 16, "379084E7CE22FF191BFF4B77536F2AA3");
		tu_assert_hex(s.s_nwk, 16, "63C59309D53485BC5164DBF71627AEB9");
		tu_assert_hex(s.nwk_enc, 16, "CE07A009A3970AC0519A099ED53E550B");
		tu_assert_hex(s.app_s, 16, "B035CCE24E4A040EB5CECBF21724412D");
	} else {
		tu_assert_hex(s.f_nwk, 16, "0DB924EE6AF90698E05FC7CE48303C01");
		tu_assert_hex(s.app_s, 16, "8C1E0543A229088DE6F84E74BB46BD62");
	}
	agent_le32(up + 5, DEV_ADDR);
	ck_assert_uint_eq(call(AGENT_OP_LW_UPLINK, up, sizeof(up), out, &n), AGENT_OK);
	ck_assert_uint_eq(n, sizeof(up) + 4);
	lw_net_frame_mic(&s, 0, 0, 5, 2, 0, out + 4, 14, mic);
	ck_assert_mem_eq(out + 18, mic, 4);
	snprintf(name, sizeof(name), "%suplink_in", p);
	put(name, up, sizeof(up));
	snprintf(name, sizeof(name), "%suplink_out", p);
	put(name, out, n);

	len = lw_net_downlink(&s, 0x60, 0x00, 0, 1, (const uint8_t *)"world", 5, 0, down);
	ck_assert_uint_eq(call(AGENT_OP_LW_DOWNLINK, down, (uint32_t)len, out, &n), AGENT_OK);
	ck_assert_mem_eq(out + 4 + 9, "world", 5);
	snprintf(name, sizeof(name), "%sdownlink_in", p);
	put(name, down, len);
	snprintf(name, sizeof(name), "%sdownlink_out", p);
	put(name, out, n);
	chip_free();
}

static void compute_all(void)
{
	uint8_t key[16];

	ncomputed = 0;
	ck_assert_int_eq(lpa_hex_decode(TTS_KEY, 32, key, 16), LPA_OK);
	put("lw_root_key", key, 16);
	put_be("lw_dev_eui", DEV_EUI, 8);
	put_be("lw_join_eui", JOIN_EUI, 8);
	put_be("lw_dev_nonce", DEV_NONCE, 2);
	put_be("lw_join_nonce", JOIN_NONCE, 3);
	put_be("lw_net_id", NET_ID, 3);
	put_be("lw_dev_addr", DEV_ADDR, 4);
	compute_version(0x11);
	compute_version(0x10);
}

static const char *doc_path, *gen_path;

static struct vecset doc;

/* The document's value of want (at most cap bytes of it): false if it has none. */
static bool doc_find(const char *want, uint8_t *val, size_t cap, size_t *len)
{
	const struct vec *v;

	if (doc.n == 0)
		vec_load(doc_path, &doc);
	if ((v = vec_find(&doc, want)) == NULL)
		return false;
	*len = v->len < cap ? v->len : cap;
	memcpy(val, v->val, *len);
	return true;
}

START_TEST(lw_vectors_match_docs)
{
	compute_all();
	for (size_t i = 0; i < ncomputed; i++) {
		uint8_t v[64];
		size_t n = 0;

		ck_assert_msg(doc_find(computed[i].name, v, sizeof(v), &n), "docs lack %s",
			      computed[i].name);
		ck_assert_msg(n == computed[i].len && memcmp(v, computed[i].val, n) == 0,
			      "docs value %s differs from the agent's", computed[i].name);
	}
	ck_assert_uint_ge(ncomputed, 20);
}
END_TEST

START_TEST(lw_generate)
{
	FILE *f = fopen(gen_path, "w");

	ck_assert_ptr_nonnull(f);
	compute_all();
	for (size_t i = 0; i < ncomputed; i++) {
		char hex[2 * 32 + 1];

		for (size_t off = 0; off < computed[i].len; off += 32) {
			size_t n = computed[i].len - off < 32 ? computed[i].len - off : 32;

			lpa_hex_encode(computed[i].val + off, n, hex);
			if (off == 0)
				fprintf(f, "%-21s= %s\n", computed[i].name, hex);
			else
				fprintf(f, "%-23s%s\n", "", hex);
		}
	}
	ck_assert_int_eq(fclose(f), 0);
}
END_TEST

/* ------------------------------------------------------------- persistence */

/*
 * A power cut inside JOIN_REQUEST's row write at every byte boundary of the record
 * (the row is erased, then its first bytes programmed): after the reboot the next
 * JoinRequest's DevNonce is one never released, and above every one released.
 */
START_TEST(lw_power_cut_in_the_dev_nonce_write)
{
	static const unsigned cuts[] = {0, 1, 4, 8, 12, 16, 20, 32, 48, 63, 64, 95, 96, 97, 512};
	volatile int last = -1; /* live across the longjmp */

	chip(0x11);
	for (size_t i = 0; i < TU_N(cuts); i++) {
		for (volatile int pass = 0; pass < 2; pass++) { /* the cut lands in row 6, then 7 */
			jmp_buf env;
			int dn;

			host.flash_ops = 0;
			host.cut_at = 0;
			host.cut_bytes = cuts[i];
			host.cut_env = &env;
			if (setjmp(env) == 0) {
				(void)join_request(NULL);
				ck_abort_msg("the cut did not happen");
			}
			host.cut_at = -1;
			agent_boot(&A);
			dn = join_request(NULL);
			ck_assert_int_gt(dn, last); /* nothing released could come again */
			/* A cut before the record is complete wastes nothing; a whole row
			 * (512) wastes the DevNonce the lost answer would have carried. */
			ck_assert_int_eq(dn, last + (cuts[i] >= KS_LW_LEN ? 2 : 1));
			last = dn;
		}
	}
	chip_free();
}
END_TEST

/* SROM errors on the DevNonce write: FLASH, nothing released, nothing reused; on the
 * JoinNonce write: FLASH, no session, the JoinRequest still pending. */
START_TEST(lw_flash_errors)
{
	static const enum host_flash_fail modes[] = {HOST_FAIL_ERROR, HOST_FAIL_LANDED,
						     HOST_FAIL_CORRUPT};
	uint8_t out[64], acc[33], js_int[16], js_enc[16];
	uint8_t up[12] = {0, 0, 0, 0, 0x40, 0x45, 0x23, 0x01, 0x26, 0, 0, 0};
	uint32_t n = 0;
	int last = -1, dn;
	size_t len;

	chip(0x11);
	for (size_t i = 0; i < TU_N(modes); i++) {
		host.flash_ops = 0;
		host.fail_at = 0;
		host.fail = modes[i];
		ck_assert_uint_eq(call(AGENT_OP_LW_JOIN_REQUEST, NULL, 0, out, &n),
				  AGENT_ERR_FLASH);
		host.fail_at = -1;
		dn = join_request(NULL);
		ck_assert_int_gt(dn, last);
		last = dn;
		agent_boot(&A); /* and after a reboot too */
		dn = join_request(NULL);
		ck_assert_int_gt(dn, last);
		last = dn;
	}
	ck_assert_int_eq(lpa_lorawan11_js_keys(root, DEV_EUI, js_int, js_enc), LPA_OK);
	len = lw_net_join_accept(root, js_int, 1, JOIN_EUI, (uint16_t)last, 5, NET_ID, DEV_ADDR,
				 0x80, 1, NULL, acc);
	host.flash_ops = 0;
	host.fail_at = 0;
	host.fail = HOST_FAIL_ERROR;
	ck_assert_uint_eq(call(AGENT_OP_LW_JOIN_ACCEPT, acc, (uint32_t)len, out, &n),
			  AGENT_ERR_FLASH);
	host.fail_at = -1;
	ck_assert_uint_eq(call(AGENT_OP_LW_UPLINK, up, sizeof(up), out, &n),
			  AGENT_ERR_LW_NO_SESSION);
	ck_assert_uint_eq(call(AGENT_OP_LW_JOIN_ACCEPT, acc, (uint32_t)len, out, &n), AGENT_OK);
	ck_assert_uint_eq(call(AGENT_OP_LW_UPLINK, up, sizeof(up), out, &n), AGENT_OK);
	chip_free();
}
END_TEST

/* 0xFFFF is the last DevNonce; then every JoinRequest is refused, across reboots. */
START_TEST(lw_dev_nonce_runs_out)
{
	chip(0x10);
	place_nonces(1, 9, 0xFFFE, 0);
	agent_boot(&A);
	ck_assert_int_eq(join_request(NULL), 0xFFFE);
	ck_assert_int_eq(join_request(NULL), 0xFFFF);
	ck_assert_int_eq(join_request(NULL), -(int)(AGENT_ERR_LW_DEV_NONCE & 0xFF));
	agent_boot(&A);
	ck_assert_int_eq(join_request(NULL), -(int)(AGENT_ERR_LW_DEV_NONCE & 0xFF));
	chip_free();
}
END_TEST

/* The record with the higher sequence counts; one that fails its check (placed over
 * the older row, as a torn write would leave it) does not. */
START_TEST(lw_nonce_record_rules)
{
	chip(0x10);
	place_nonces(0, 5, 100, 0);
	place_nonces(1, 4, 200, 0);
	agent_boot(&A);
	ck_assert_int_eq(join_request(NULL), 100); /* into row 1, sequence 6 */
	ck_assert_int_eq(join_request(NULL), 101); /* into row 0, sequence 7 */
	place_nonces(1, 9, 300, 0);
	host.work[KS_LW_ADDR(1) - HOST_WORK_BASE + 12] ^= 1; /* DevNonce, under the hash */
	agent_boot(&A);
	ck_assert_int_eq(join_request(NULL), 102); /* row 0's record; into row 1 */
	place_nonces(0, 20, 0x10001, 0);           /* a DevNonce past the end */
	agent_boot(&A);
	ck_assert_int_eq(join_request(NULL), 103);
	place_nonces(1, 30, 5, 0);
	host.work[KS_LW_ADDR(1) - HOST_WORK_BASE + 5] = 1; /* a reserved byte (hash redone) */
	{
		struct lw_nonces nn;
		uint8_t *r = host.work + (KS_LW_ADDR(1) - HOST_WORK_BASE);

		sha256(r, KS_LW_BODY, r + KS_LW_BODY);
		ck_assert(!lorawan_calls_nonces_decode(r, &nn));
	}
	agent_boot(&A);
	ck_assert_int_eq(join_request(NULL), 104);
	chip_free();
}
END_TEST

/* New keys (INSTALL_PACKAGE) end the session and the pending JoinRequest; the DevNonce
 * goes on, and the JoinNonce floor belongs to the old keys only. */
START_TEST(lw_new_keys_end_the_session)
{
	uint8_t out[64], acc[33], other[16];
	uint8_t up[12] = {0, 0, 0, 0, 0x40, 0x45, 0x23, 0x01, 0x26, 0, 0, 0};
	uint32_t n = 0;
	size_t len;
	int dn;

	chip(0x10);
	dn = join_request(NULL);
	len = lw_net_join_accept(root, root, 0, JOIN_EUI, (uint16_t)dn, 9, NET_ID, DEV_ADDR, 0, 1,
				 NULL, acc);
	ck_assert_uint_eq(call(AGENT_OP_LW_JOIN_ACCEPT, acc, (uint32_t)len, out, &n), AGENT_OK);
	ck_assert_uint_eq(call(AGENT_OP_LW_UPLINK, up, sizeof(up), out, &n), AGENT_OK);
	dn = join_request(NULL);
	memset(other, 0x77, sizeof(other));
	install(0x10, other, (const uint8_t[16]){0});
	ck_assert_uint_eq(call(AGENT_OP_LW_UPLINK, up, sizeof(up), out, &n),
			  AGENT_ERR_LW_NO_SESSION);
	len = lw_net_join_accept(root, root, 0, JOIN_EUI, (uint16_t)dn, 10, NET_ID, DEV_ADDR, 0, 1,
				 NULL, acc);
	ck_assert_uint_eq(call(AGENT_OP_LW_JOIN_ACCEPT, acc, (uint32_t)len, out, &n),
			  AGENT_ERR_LW_NO_JOIN);
	ck_assert_int_eq(join_request(NULL), dn + 1);
	/* JoinNonce 1 is below the old keys' floor (10) but fine for the new ones. */
	len = lw_net_join_accept(other, other, 0, JOIN_EUI, (uint16_t)(dn + 1), 1, NET_ID, DEV_ADDR,
				 0, 1, NULL, acc);
	ck_assert_uint_eq(call(AGENT_OP_LW_JOIN_ACCEPT, acc, (uint32_t)len, out, &n), AGENT_OK);
	chip_free();
}
END_TEST

int main(int argc, char **argv)
{
	const struct tu_case cases[] = {
		TU_CASE(lw_vectors_match_docs), TU_CASE(lw_power_cut_in_the_dev_nonce_write),
		TU_CASE(lw_flash_errors),       TU_CASE(lw_dev_nonce_runs_out),
		TU_CASE(lw_nonce_record_rules), TU_CASE(lw_new_keys_end_the_session),
	};
	const struct tu_case gen[] = {TU_CASE(lw_generate)};

	if (argc == 3 && strcmp(argv[1], "--generate") == 0) {
		gen_path = argv[2];
		return tu_main("agent-fw-lorawan-generate", gen, 1);
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s docs/protocols.md | --generate FILE\n", argv[0]);
		return 2;
	}
	doc_path = argv[1];
	return tu_main("agent-fw-lorawan", cases, TU_N(cases));
}
