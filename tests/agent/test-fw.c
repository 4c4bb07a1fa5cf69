/*
 * test-agent-fw — the secure agent's portable core (lpa/agent: mailbox, calls, package,
 * key store, identity), the very sources the firmware ships, on the RAM-backed HAL
 * (hal-host.c), held to lpa/core (OpenSSL) on every output:
 *  - every call and every status code, in the documented order of checks;
 *  - every single-bit flip of an LPK1 refused with the status lpa_lpk1_open gives;
 *  - a power cut at every byte boundary that matters of every flash write an install
 *    or the first boot makes leaves the old keys or the new ones, never a mixture;
 *    SROM errors leave the old state, also after a reboot;
 *  - the counter's anti-rollback, across reboots;
 *  - the key store as lpa_keystore_parse (lpa/core) reads it from the flash.
 */
#include <openssl/evp.h>

#include "agent-test.h"
#include "agent.h"
#include "hal-host.h"
#include "host-call.h"
#include "lpa/core/keystore.h"

#define BLOCK HOST_CALL_BLOCK
#define CHIP_UID 0x0f2a1b3c4d5e6f70ull
#define DEV_EUI 0x70b3d57ed0001234ull
#define JOIN_EUI 0x70b3d57ed0000000ull
#define KMS_KEY_ID 7u
#define SILICON_ID 0xE2072100u /* 0xE207 << 16 | revision 0x21 << 8 | family 0x100 & 0xFF */

static struct agent A;
static EVP_PKEY *kms;     /* the KMS package-signing key */
static EVP_PKEY *dik;     /* the chip's DIK (private), from the factory record */
static EVP_PKEY *dik_pub; /* what the KMS knows of it */
static const uint8_t cert[] = {0x30, 0x82, 0x01, 0x00, 'l', 'p', 'a', '-', 'c', 'e', 'r', 't', 1};

/* SFlash as memory_sflash_init lays it out: IDs, die fields, the KMS key. */
static void place_facts(void)
{
	static const uint8_t die[11] = {0x70, 0x6f, 0x5e, 0x4d, 0x3c, 0x1b, 0x2a, 1, 15, 6, 7};
	uint8_t pub[65];

	host.sflash[0x01] = 0x21;
	host.sflash[0x02] = 0x07;
	host.sflash[0x03] = 0xE2;
	host.sflash[0x0C] = 0x00;
	host.sflash[0x0D] = 0x01;
	memcpy(host.sflash + 0x600, die, sizeof(die));
	ck_assert_int_eq(lpa_p256_public_bytes(kms, pub), LPA_OK);
	memcpy(host.sflash + 0x5A00, "LPKP", 4);
	lpa_be_put(host.sflash + 0x5A04, KMS_KEY_ID, 4);
	memcpy(host.sflash + 0x5A08, pub, 65);
}

/* The chip manufacture's identity record: the DIK the CA certified, its certificate. */
static void place_factory_identity(void)
{
	lpa_secbuf *d = NULL;
	uint8_t pub[65], rec[LPA_KS_ID_MAX];
	size_t n = 0;

	ck_assert_int_eq(lpa_p256_private_bytes(dik, &d), LPA_OK);
	ck_assert_int_eq(lpa_p256_public_bytes(dik, pub), LPA_OK);
	ck_assert_int_eq(lpa_keystore_identity_encode(LPA_KS_ORIGIN_FACTORY, lpa_secbuf_cdata(d),
						      pub, cert, sizeof(cert), rec, sizeof(rec),
						      &n),
			 LPA_OK);
	memcpy(host.work + (KS_ID_ADDR - HOST_WORK_BASE), rec, n);
	lpa_secbuf_free(&d);
}

static void setup(void)
{
	host_reset(0x5eed);
	kms = at_key_from_label("lpa vector kms");
	dik = at_key_from_label("lpa vector dik");
	dik_pub = NULL;
	place_facts();
	place_factory_identity();
	agent_boot(&A);
	ck_assert(A.ready);
	ck_assert_int_eq(lpa_p256_from_public(A.dik_pub, &dik_pub), LPA_OK);
}

static void teardown(void)
{
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&dik_pub);
}

static void reboot(void)
{
	agent_boot(&A);
}

static uint32_t call_at(uint32_t block, uint32_t req, const void *in, uint32_t in_len, void *out,
			uint32_t *out_len)
{
	return host_call_at(&A, block, req, in, in_len, out, out_len);
}

static uint32_t call(uint8_t op, const void *in, uint32_t in_len, void *out, uint32_t *out_len)
{
	return call_at(BLOCK, (uint32_t)op << 24, in, in_len, out, out_len);
}

static lpa_secbuf *test_keys(uint8_t lorawan, uint8_t fill)
{
	lpa_secbuf *k = lpa_secbuf_new(32);

	ck_assert_ptr_nonnull(k);
	for (int i = 0; i < 32; i++)
		lpa_secbuf_data(k)[i] = (uint8_t)(fill + i);
	if (lorawan == LPA_LORAWAN_10)
		memset(lpa_secbuf_data(k) + 16, 0, 16);
	return k;
}

static void make_pkg_for(EVP_PKEY *to, uint64_t uid, uint8_t lorawan, uint32_t counter,
			 const lpa_secbuf *keys, uint8_t out[LPA_LPK1_LEN])
{
	struct lpa_lpk1_hdr h = {
		.lorawan = lorawan,
		.dev_eui = DEV_EUI,
		.join_eui = JOIN_EUI,
		.chip_uid = uid,
		.counter = counter,
		.key_id = KMS_KEY_ID,
		.issued_at = 1767225600,
	};

	ck_assert_int_eq(lpa_lpk1_build(&h, keys, to, kms, NULL, NULL, out), LPA_OK);
}

static void make_pkg(uint8_t lorawan, uint32_t counter, const lpa_secbuf *keys,
		     uint8_t out[LPA_LPK1_LEN])
{
	make_pkg_for(dik_pub, CHIP_UID, lorawan, counter, keys, out);
}

/* Installs and checks the receipt with the KMS's own verifier. */
static void install_ok(uint8_t lorawan, uint32_t counter, uint8_t fill)
{
	lpa_secbuf *keys = test_keys(lorawan, fill);
	uint8_t pkg[LPA_LPK1_LEN], out[AGENT_DATA_MAX];
	struct lpa_lpr1 rc;
	uint32_t n = 0;

	make_pkg(lorawan, counter, keys, pkg);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, sizeof(pkg), out, &n), AGENT_OK);
	ck_assert_uint_eq(n, LPA_LPR1_LEN);
	ck_assert_int_eq(lpa_lpr1_verify(out, n, dik_pub, pkg, keys, &rc), LPA_OK);
	ck_assert_uint_eq(rc.counter, counter);
	lpa_secbuf_free(&keys);
}

static void status(struct lpa_agent_status *st)
{
	uint8_t out[64];
	uint32_t n = 0;

	ck_assert_uint_eq(call(AGENT_OP_GET_STATUS, NULL, 0, out, &n), AGENT_OK);
	ck_assert_int_eq(lpa_status_parse(out, n, st), LPA_OK);
	ck_assert_uint_eq(st->agent_version, 0x0100);
}

static void dump(struct lpa_keystore *ks)
{
	ck_assert_int_eq(lpa_keystore_parse(host.work + (KS_BASE - HOST_WORK_BASE), KS_SIZE, ks),
			 LPA_OK);
}

/* ------------------------------------------------------------------ identity */

START_TEST(fw_boot_reads_the_facts)
{
	ck_assert_uint_eq(host.protect_calls, 0); /* startup.c's job, before the core runs */
	ck_assert_uint_eq(A.silicon_id, SILICON_ID);
	ck_assert(A.kms_ok);
	ck_assert_int_eq(A.origin, KS_ID_ORIGIN_FACTORY);
	ck_assert_uint_eq(lpa_be_get(A.uid, 8), CHIP_UID);
}
END_TEST

START_TEST(fw_get_identity_factory)
{
	uint8_t out[AGENT_DATA_MAX], pub[65];
	struct lpa_lpi1 id;
	uint32_t n = 0;

	ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n), AGENT_OK);
	ck_assert_uint_eq(n, LPA_LPI1_HDR_LEN + sizeof(cert));
	ck_assert_int_eq(lpa_lpi1_parse(out, n, &id), LPA_OK);
	ck_assert_uint_eq(id.agent_version, 0x0100);
	ck_assert_uint_eq(id.protection, 2);
	ck_assert_uint_eq(id.provisioned, 0);
	ck_assert_uint_eq(id.chip_uid, CHIP_UID);
	ck_assert_uint_eq(id.silicon_id, SILICON_ID);
	ck_assert_uint_eq(id.last_counter, 0);
	ck_assert_int_eq(lpa_p256_public_bytes(dik, pub), LPA_OK);
	ck_assert_mem_eq(id.dik_pub, pub, 65);
	ck_assert_mem_eq(id.cert, cert, sizeof(cert));
	/* Protection state outside 1..4 is refused as lpa_lpi1_parse would refuse it. */
	host.prot_state = 0;
	ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n), AGENT_ERR_REQUEST);
	host.prot_state = 3;
	ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n), AGENT_OK);
	ck_assert_int_eq(lpa_lpi1_parse(out, n, &id), LPA_OK);
	ck_assert_uint_eq(id.protection, 3);
	/* Input to a call that takes none. */
	ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, "x", 1, out, &n), AGENT_ERR_REQUEST);
}
END_TEST

START_TEST(fw_first_boot_generates_dik)
{
	struct lpa_keystore ks;
	EVP_PKEY *k = NULL;
	uint8_t pub[65], out[AGENT_DATA_MAX];
	uint32_t n = 0;

	memset(host.work, 0, sizeof(host.work)); /* a chip without a factory identity */
	reboot();
	ck_assert(A.ready);
	ck_assert_int_eq(A.origin, KS_ID_ORIGIN_CHIP);
	ck_assert_uint_ge(host.trng_bytes, 96);
	dump(&ks);
	ck_assert_int_eq(ks.id.status, LPA_OK);
	ck_assert_int_eq(ks.id.origin, LPA_KS_ORIGIN_CHIP);
	ck_assert_uint_eq(ks.id.cert_len, 0);
	/* The stored private key is the one whose public key the agent reports. */
	ck_assert_int_eq(lpa_p256_from_private(ks.id.dik, &k), LPA_OK);
	ck_assert_int_eq(lpa_p256_public_bytes(k, pub), LPA_OK);
	ck_assert_mem_eq(pub, A.dik_pub, 65);
	lpa_pkey_free(&k);
	/* No certificate yet: GET_IDENTITY says so (the chip is to be enrolled)... */
	ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n), AGENT_ERR_NOT_CERTIFIED);
	/* ... and the next boot keeps the key instead of making another. */
	memcpy(pub, A.dik_pub, 65);
	host.trng_bytes = 0;
	reboot();
	ck_assert_mem_eq(A.dik_pub, pub, 65);
	ck_assert_uint_eq(host.trng_bytes, 0);
	lpa_keystore_wipe(&ks);
}
END_TEST

START_TEST(fw_busy_until_the_trng_delivers)
{
	struct lpa_agent_status st;
	uint8_t out[64];
	uint32_t n = 0;

	memset(host.work, 0, sizeof(host.work));
	host.trng_fail = true;
	reboot();
	ck_assert(!A.ready);
	ck_assert_uint_eq(call(AGENT_OP_GET_STATUS, NULL, 0, out, &n), AGENT_ERR_BUSY);
	/* BUSY comes before every other check. */
	ck_assert_uint_eq(call_at(BLOCK, 0x73000001u, NULL, 0, out, &n), AGENT_ERR_BUSY);
	host.trng_fail = false;
	status(&st);
	ck_assert(A.ready);
	ck_assert_uint_eq(st.provisioned, 0);
}
END_TEST

START_TEST(fw_torn_identity_is_regenerated)
{
	/* The first boot's identity write cut at several points: the next boot generates
	 * a key again, and ends ready with a valid record. */
	static const unsigned cuts[] = {0, 1, 8, 40, 105, 107, 108, 139};

	for (volatile size_t i = 0; i < TU_N(cuts); i++) {
		struct lpa_keystore ks;
		jmp_buf env;

		memset(host.work, 0, sizeof(host.work));
		host.flash_ops = 0;
		host.cut_at = 0;
		host.cut_bytes = cuts[i];
		host.cut_env = &env;
		if (setjmp(env) == 0) {
			reboot();
			ck_abort_msg("the cut did not happen");
		}
		host.cut_at = -1;
		dump(&ks);
		ck_assert_int_ne(ks.id.status, LPA_OK);
		reboot();
		ck_assert(A.ready);
		dump(&ks);
		ck_assert_int_eq(ks.id.status, LPA_OK);
		ck_assert_mem_eq(ks.id.dik_pub, A.dik_pub, 65);
		lpa_keystore_wipe(&ks);
	}
}
END_TEST

/* ------------------------------------------------------------------ install */

START_TEST(fw_install_11_and_10)
{
	struct lpa_agent_status st;
	struct lpa_keystore ks;
	lpa_secbuf *k11 = test_keys(LPA_LORAWAN_11, 0x40), *k10 = test_keys(LPA_LORAWAN_10, 0x90);

	install_ok(LPA_LORAWAN_11, 1, 0x40);
	status(&st);
	ck_assert_uint_eq(st.provisioned, 1);
	ck_assert_uint_eq(st.dev_eui, DEV_EUI);
	ck_assert_uint_eq(st.counter, 1);
	dump(&ks);
	ck_assert_int_eq(ks.active, 0);
	ck_assert_uint_eq(ks.slot[0].seq, 1);
	ck_assert_uint_eq(ks.slot[0].dev_eui, DEV_EUI);
	ck_assert_uint_eq(ks.slot[0].join_eui, JOIN_EUI);
	ck_assert_mem_eq(ks.slot[0].keys, lpa_secbuf_cdata(k11), 32);
	ck_assert_int_eq(ks.slot[1].status, LPA_ERR_MAGIC); /* erased */
	/* A second install goes to the other slot, and the keys are the new ones. */
	install_ok(LPA_LORAWAN_10, 2, 0x90);
	dump(&ks);
	ck_assert_int_eq(ks.active, 1);
	ck_assert_uint_eq(ks.slot[1].seq, 2);
	ck_assert_uint_eq(ks.slot[1].lorawan, LPA_LORAWAN_10);
	ck_assert_mem_eq(ks.slot[1].keys, lpa_secbuf_cdata(k10), 32);
	ck_assert_int_eq(ks.slot[0].status, LPA_OK); /* the old one, superseded */
	/* The firmware's slot encoding is lpa/core's, byte for byte. */
	{
		uint8_t enc[LPA_KS_SLOT_LEN];

		ck_assert_int_eq(lpa_keystore_slot_encode(&ks.slot[1], enc), LPA_OK);
		ck_assert_mem_eq(enc, host.work + (KS_SLOT_ADDR(1) - HOST_WORK_BASE), sizeof(enc));
	}
	reboot();
	status(&st);
	ck_assert_uint_eq(st.counter, 2);
	ck_assert_int_eq(A.active, 1);
	lpa_keystore_wipe(&ks);
	lpa_secbuf_free(&k11);
	lpa_secbuf_free(&k10);
}
END_TEST

/* Re-signs a package whose signed bytes a test changed, as a KMS would have. */
static void resign(uint8_t pkg[LPA_LPK1_LEN])
{
	ck_assert_int_eq(lpa_p256_sign(kms, pkg, 173, pkg + 173), LPA_OK);
}

START_TEST(fw_install_refusals_in_order)
{
	lpa_secbuf *keys = test_keys(LPA_LORAWAN_11, 1);
	uint8_t pkg[LPA_LPK1_LEN], bad[LPA_LPK1_LEN + 4], out[AGENT_DATA_MAX];
	EVP_PKEY *other = at_key_from_label("another chip");
	uint32_t n = 0;

	make_pkg(LPA_LORAWAN_11, 5, keys, pkg);
	/* 1 length */
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, 236, out, &n), AGENT_ERR_REQUEST);
	memcpy(bad, pkg, sizeof(pkg));
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, bad, 238, out, &n), AGENT_ERR_REQUEST);
	/* 2-5 magic, version, LoRaWAN version, reserved (each re-signed: still refused as
	 * requests, before the signature) */
	for (int f = 0; f < 4; f++) {
		static const int off[] = {0, 4, 5, 6};
		static const uint8_t val[] = {'X', 2, 0x12, 1};

		memcpy(bad, pkg, sizeof(pkg));
		bad[off[f]] = val[f];
		resign(bad);
		ck_assert_uint_eq(call(AGENT_OP_INSTALL, bad, 237, out, &n), AGENT_ERR_REQUEST);
	}
	/* 6 signature */
	memcpy(bad, pkg, sizeof(pkg));
	bad[200] ^= 1;
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, bad, 237, out, &n), AGENT_ERR_SIGNATURE);
	/* 7 chip UID */
	make_pkg_for(dik_pub, CHIP_UID ^ 1, LPA_LORAWAN_11, 5, keys, bad);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, bad, 237, out, &n), AGENT_ERR_WRONG_CHIP);
	/* 8 counter: 0 is never above "none" */
	make_pkg(LPA_LORAWAN_11, 0, keys, bad);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, bad, 237, out, &n), AGENT_ERR_STALE);
	/* 9 unwrap: a package sealed to another chip's DIK but naming this chip */
	make_pkg_for(other, CHIP_UID, LPA_LORAWAN_11, 5, keys, bad);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, bad, 237, out, &n), AGENT_ERR_UNWRAP);
	/* 9 unwrap: an ephemeral key that is not a curve point, signed all the same */
	memcpy(bad, pkg, sizeof(pkg));
	bad[60] ^= 0x10;
	resign(bad);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, bad, 237, out, &n), AGENT_ERR_UNWRAP);
	/* Nothing was stored by any of these. */
	ck_assert_int_eq(A.active, -1);
	/* The good one still goes in; the same package again is stale. */
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, 237, out, &n), AGENT_OK);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, 237, out, &n), AGENT_ERR_STALE);
	lpa_pkey_free(&other);
	lpa_secbuf_free(&keys);
}
END_TEST

/* A 1.0.x package whose NwkKey field is not zero, sealed correctly (check 10 alone). */
START_TEST(fw_install_10_with_nwkkey_is_unwrap)
{
	lpa_secbuf *keys = test_keys(LPA_LORAWAN_11, 3);
	uint8_t pkg[LPA_LPK1_LEN], out[AGENT_DATA_MAX], x[32], k[32];
	EVP_PKEY *eph = at_key_from_label("an ephemeral key");
	lpa_secbuf *eph_d = NULL;
	struct lpa_lpk1_hdr h = {.lorawan = LPA_LORAWAN_11,
				 .dev_eui = DEV_EUI,
				 .join_eui = JOIN_EUI,
				 .chip_uid = CHIP_UID,
				 .counter = 9,
				 .key_id = KMS_KEY_ID};
	uint32_t n = 0;

	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dik_pub, kms, eph, NULL, pkg), LPA_OK);
	pkg[5] = LPA_LORAWAN_10;
	ck_assert_int_eq(lpa_p256_private_bytes(eph, &eph_d), LPA_OK);
	ck_assert_int_eq(p256_ecdh(lpa_secbuf_cdata(eph_d), A.dik_pub, 65, x), CRYPTO_OK);
	ck_assert_int_eq(lpa_lpk1_kek(x, A.dik_pub, pkg, k), LPA_OK);
	ck_assert_int_eq(gcm_seal(k, 32, pkg + 113, pkg, 113, lpa_secbuf_cdata(keys), 32, pkg + 125,
				  pkg + 157),
			 CRYPTO_OK);
	resign(pkg);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, 237, out, &n), AGENT_ERR_UNWRAP);
	ck_assert_int_eq(A.active, -1);
	lpa_secbuf_free(&eph_d);
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&eph);
}
END_TEST

START_TEST(fw_install_without_kms_key)
{
	lpa_secbuf *keys = test_keys(LPA_LORAWAN_11, 1);
	uint8_t pkg[LPA_LPK1_LEN], out[AGENT_DATA_MAX];
	uint32_t n = 0;

	make_pkg(LPA_LORAWAN_11, 1, keys, pkg);
	/* An off-curve key in the public-key region: no trusted key. */
	host.sflash[0x5A08 + 64] ^= 1;
	reboot();
	ck_assert(!A.kms_ok);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, 237, out, &n), AGENT_ERR_SIGNATURE);
	/* With no key a malformed package is a signature failure too (checked first). */
	pkg[0] = 'X';
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, 237, out, &n), AGENT_ERR_SIGNATURE);
	memset(host.sflash + 0x5A00, 0, 4);
	reboot();
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, 237, out, &n), AGENT_ERR_SIGNATURE);
	lpa_secbuf_free(&keys);
}
END_TEST

START_TEST(fw_every_bit_flip_refused)
{
	lpa_secbuf *keys = test_keys(LPA_LORAWAN_11, 7), *got = NULL;
	uint8_t pkg[LPA_LPK1_LEN], bad[LPA_LPK1_LEN], out[AGENT_DATA_MAX];
	struct lpa_lpk1_hdr h;
	unsigned by_status[9] = {0};
	uint32_t n = 0;

	make_pkg(LPA_LORAWAN_11, 3, keys, pkg);
	for (unsigned bit = 0; bit < LPA_LPK1_LEN * 8; bit++) {
		uint32_t st, want;
		int r;

		memcpy(bad, pkg, sizeof(pkg));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		r = lpa_lpk1_open(bad, sizeof(bad), kms, dik, CHIP_UID, 0, &h, &got);
		lpa_secbuf_free(&got);
		want = lpa_agent_status_from_err(r);
		ck_assert_uint_ne(want, AGENT_OK);
		st = call(AGENT_OP_INSTALL, bad, sizeof(bad), out, &n);
		ck_assert_msg(st == want, "bit %u: agent 0x%08X, lpa_lpk1_open 0x%08X", bit, st,
			      want);
		by_status[st & 0xF]++;
	}
	ck_assert_int_eq(A.active, -1);
	/* Header bits are requests, the rest signatures (the 0x11 -> 0x10 flip too). */
	ck_assert_uint_eq(by_status[1], 8 * 8 - 1);
	ck_assert_uint_eq(by_status[2], LPA_LPK1_LEN * 8 - (8 * 8 - 1));
	lpa_secbuf_free(&keys);
}
END_TEST

/* ------------------------------------------------------------ power and flash */

/* Installs counter c with a power cut at flash operation op after `bytes`; then boots
 * and checks the state is exactly the old one or exactly the new one. */
static void cut_install(uint32_t c, unsigned op, unsigned bytes, uint8_t old_fill,
			uint32_t old_counter)
{
	lpa_secbuf *keys = test_keys(LPA_LORAWAN_11, (uint8_t)(0x10 + c)),
		   *old = test_keys(LPA_LORAWAN_11, old_fill);
	uint8_t pkg[LPA_LPK1_LEN], b[AGENT_DATA_MAX];
	struct lpa_agent_status st;
	struct lpa_keystore ks;
	jmp_buf env;
	uint32_t n;

	make_pkg(LPA_LORAWAN_11, c, keys, pkg);
	host.flash_ops = 0;
	host.cut_at = op;
	host.cut_bytes = bytes;
	host.cut_env = &env;
	if (setjmp(env) == 0) {
		(void)call(AGENT_OP_INSTALL, pkg, sizeof(pkg), b, &n);
		ck_abort_msg("the cut did not happen");
	}
	host.cut_at = -1;
	reboot();
	status(&st);
	dump(&ks);
	if (st.counter == c) {
		ck_assert_int_ge(ks.active, 0);
		ck_assert_mem_eq(ks.slot[ks.active].keys, lpa_secbuf_cdata(keys), 32);
	} else {
		ck_assert_uint_eq(st.counter, old_counter);
		ck_assert_uint_eq(st.provisioned, old_counter > 0);
		if (old_counter > 0)
			ck_assert_mem_eq(ks.slot[ks.active].keys, lpa_secbuf_cdata(old), 32);
		else
			ck_assert_int_eq(ks.active, -1);
	}
	/* Either way the agent still works and still refuses what it must. */
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, sizeof(pkg), b, &n),
			  st.counter == c ? AGENT_ERR_STALE : AGENT_OK);
	lpa_keystore_wipe(&ks);
	lpa_secbuf_free(&keys);
	lpa_secbuf_free(&old);
}

START_TEST(fw_power_cut_at_every_write_step)
{
	/* The slot record's byte boundaries: magic, fields, keys, hash, end. */
	static const unsigned cuts[] = {0, 1, 4, 12, 32, 48, 64, 95, 96, 97, 127, 128, 512};
	uint32_t c = 1, last = 0;
	uint8_t last_fill = 0;

	for (size_t i = 0; i < TU_N(cuts); i++) {
		/* Alternate: from the empty key store, and over an installed state (both
		 * slots in turn: the cut lands in slot 0 or 1). */
		for (int pass = 0; pass < 2; pass++) {
			struct lpa_agent_status st;

			cut_install(c, 0, cuts[i], last_fill, last);
			status(&st);
			ck_assert_uint_eq(st.counter, c); /* the retry above committed it */
			last = c;
			last_fill = (uint8_t)(0x10 + c);
			c++;
			(void)pass;
		}
	}
	/* The cut at 512 bytes is the whole row: committed before the power went. */
}
END_TEST

START_TEST(fw_flash_errors_keep_the_old_state)
{
	static const enum host_flash_fail modes[] = {HOST_FAIL_ERROR, HOST_FAIL_LANDED,
						     HOST_FAIL_CORRUPT};
	uint8_t pkg[LPA_LPK1_LEN], b[AGENT_DATA_MAX];
	struct lpa_agent_status st;
	uint32_t n;

	install_ok(LPA_LORAWAN_11, 1, 0x30);
	for (size_t i = 0; i < TU_N(modes); i++) {
		lpa_secbuf *keys = test_keys(LPA_LORAWAN_11, 0x70);

		make_pkg(LPA_LORAWAN_11, 2, keys, pkg);
		host.flash_ops = 0;
		host.fail_at = 0;
		host.fail = modes[i];
		ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, sizeof(pkg), b, &n), AGENT_ERR_FLASH);
		host.fail_at = -1;
		status(&st);
		ck_assert_uint_eq(st.counter, 1);
		/* Also after a reboot: the row that failed was erased again. */
		reboot();
		status(&st);
		ck_assert_uint_eq(st.counter, 1);
		ck_assert_int_eq(A.active, 0);
		lpa_secbuf_free(&keys);
	}
	install_ok(LPA_LORAWAN_11, 2, 0x70);
}
END_TEST

START_TEST(fw_counter_anti_rollback)
{
	lpa_secbuf *keys = test_keys(LPA_LORAWAN_11, 5);
	uint8_t pkg[LPA_LPK1_LEN], b[AGENT_DATA_MAX];
	struct lpa_agent_status st;
	struct lpa_ks_slot s;
	uint32_t n;

	install_ok(LPA_LORAWAN_11, 5, 5);
	for (uint32_t c = 0; c <= 5; c++) {
		make_pkg(LPA_LORAWAN_11, c, keys, pkg);
		ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, sizeof(pkg), b, &n), AGENT_ERR_STALE);
	}
	install_ok(LPA_LORAWAN_11, 9, 5);
	reboot();
	make_pkg(LPA_LORAWAN_11, 6, keys, pkg);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, sizeof(pkg), b, &n), AGENT_ERR_STALE);
	/* A slot with a higher sequence but a lower counter (not something the agent
	 * writes): the counter floor stays the highest counter of any valid slot. */
	memset(&s, 0, sizeof(s));
	s.seq = 100;
	s.counter = 2;
	s.lorawan = LPA_LORAWAN_11;
	s.dev_eui = DEV_EUI;
	ck_assert_int_eq(
		lpa_keystore_slot_encode(&s, host.work + (KS_SLOT_ADDR(0) - HOST_WORK_BASE)),
		LPA_OK);
	reboot();
	ck_assert_int_eq(A.active, 0);
	status(&st);
	ck_assert_uint_eq(st.counter, 9);
	ck_assert_uint_eq(call(AGENT_OP_INSTALL, pkg, sizeof(pkg), b, &n), AGENT_ERR_STALE);
	lpa_secbuf_free(&keys);
}
END_TEST

/* -------------------------------------------------------------------- prove */

START_TEST(fw_prove)
{
	lpa_secbuf *keys = test_keys(LPA_LORAWAN_11, 0x21);
	/* One byte more than a PROVE request, for the over-long one (found by ASan). */
	uint8_t in[25] = {0}, out[AGENT_DATA_MAX];
	struct lpa_lpp1 p;
	uint32_t n = 0;

	lpa_be_put(in, DEV_EUI, 8);
	for (int i = 0; i < 16; i++)
		in[8 + i] = (uint8_t)(0xC0 + i);
	ck_assert_uint_eq(call(AGENT_OP_PROVE, in, 24, out, &n), AGENT_ERR_NOT_PROVISIONED);
	install_ok(LPA_LORAWAN_11, 1, 0x21);
	ck_assert_uint_eq(call(AGENT_OP_PROVE, in, 23, out, &n), AGENT_ERR_REQUEST);
	ck_assert_uint_eq(call(AGENT_OP_PROVE, in, 25, out, &n), AGENT_ERR_REQUEST);
	ck_assert_uint_eq(call(AGENT_OP_PROVE, in, 24, out, &n), AGENT_OK);
	ck_assert_uint_eq(n, LPA_LPP1_LEN);
	ck_assert_int_eq(lpa_lpp1_verify(out, n, dik_pub, DEV_EUI, CHIP_UID, in + 8, LPA_LORAWAN_11,
					 keys, &p),
			 LPA_OK);
	in[7] ^= 1;
	ck_assert_uint_eq(call(AGENT_OP_PROVE, in, 24, out, &n), AGENT_ERR_WRONG_CHIP);
	lpa_secbuf_free(&keys);
}
END_TEST

/* ------------------------------------------------------------------ mailbox */

START_TEST(fw_mailbox_blocks_without_an_answer)
{
	/* Misaligned, in the agent's RAM, in the SROM's reserve, past SRAM, outside it:
	 * nothing written, the structure released. */
	static const uint32_t blocks[] = {0x08046002u, 0x08000000u, 0x080017F0u,
					  0x08047800u, 0x08047FF8u, 0x08047FF4u,
					  0x10000000u, 0x00000000u, 0xFFFFFFF0u};

	for (size_t i = 0; i < TU_N(blocks); i++) {
		unsigned releases = host.releases;

		host_notify(blocks[i]);
		ck_assert(agent_poll(&A));
		ck_assert_uint_eq(host.releases, releases + 1);
	}
	/* The last block whose header fits below the SROM's reserve is answered. */
	{
		uint32_t blk = 0x08047800u - 16, st;
		uint8_t *b = host_sram(blk);

		memset(b, 0, 16);
		b[3] = AGENT_OP_GET_STATUS;
		host_notify(blk);
		ck_assert(agent_poll(&A));
		st = agent_get_le32(b + 4);
		ck_assert_uint_eq(st, AGENT_ERR_REQUEST); /* but its output would not fit */
	}
	ck_assert(!agent_poll(&A)); /* nothing pending: nothing done */
}
END_TEST

START_TEST(fw_mailbox_request_checks)
{
	uint8_t out[AGENT_DATA_MAX];
	uint32_t n = 0;

	for (uint32_t low = 1; low; low <<= 1) {
		if (low > 0x00800000u)
			break;
		ck_assert_uint_eq(call_at(BLOCK, 0x73000000u | low, NULL, 0, out, &n),
				  AGENT_ERR_REQUEST);
	}
	ck_assert_uint_eq(call(AGENT_OP_GET_STATUS, NULL, 0, out, &n), AGENT_OK);
	ck_assert_uint_eq(n, 16);
	ck_assert_uint_eq(call(AGENT_OP_GET_STATUS, out, 1, out, &n), AGENT_ERR_REQUEST);
	ck_assert_uint_eq(call(0x7F, NULL, 0, out, &n), AGENT_ERR_REQUEST);
	ck_assert_uint_eq(call(0x00, NULL, 0, out, &n), AGENT_ERR_REQUEST);
	ck_assert_uint_eq(call(0xFF, NULL, 0, out, &n), AGENT_ERR_REQUEST);
	/* Input lengths: over the block, and past the usable SRAM. */
	{
		uint8_t *b = host_sram(BLOCK);

		memset(b, 0, 16);
		b[3] = AGENT_OP_INSTALL;
		agent_le32(b + 8, AGENT_DATA_MAX + 1);
		host_notify(BLOCK);
		ck_assert(agent_poll(&A));
		ck_assert_uint_eq(agent_get_le32(b + 4), AGENT_ERR_REQUEST);
		agent_le32(b + 8, 0xFFFFFFFFu);
		host_notify(BLOCK);
		ck_assert(agent_poll(&A));
		ck_assert_uint_eq(agent_get_le32(b + 4), AGENT_ERR_REQUEST);
		b = host_sram(0x08047700u);
		memset(b, 0, 16);
		b[3] = AGENT_OP_INSTALL;
		agent_le32(b + 8, 237); /* 0x08047710 + 237 > 0x08047800 */
		host_notify(0x08047700u);
		ck_assert(agent_poll(&A));
		ck_assert_uint_eq(agent_get_le32(b + 4), AGENT_ERR_REQUEST);
	}
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(fw_boot_reads_the_facts),
		TU_CASE(fw_get_identity_factory),
		TU_CASE(fw_first_boot_generates_dik),
		TU_CASE(fw_busy_until_the_trng_delivers),
		TU_CASE(fw_torn_identity_is_regenerated),
		TU_CASE(fw_install_11_and_10),
		TU_CASE(fw_install_refusals_in_order),
		TU_CASE(fw_install_10_with_nwkkey_is_unwrap),
		TU_CASE(fw_install_without_kms_key),
		TU_CASE_SLOW(fw_every_bit_flip_refused, 300),
		TU_CASE_SLOW(fw_power_cut_at_every_write_step, 120),
		TU_CASE(fw_flash_errors_keep_the_old_state),
		TU_CASE(fw_counter_anti_rollback),
		TU_CASE(fw_prove),
		TU_CASE(fw_mailbox_blocks_without_an_answer),
		TU_CASE(fw_mailbox_request_checks),
	};

	return tu_main_fixture("agent-fw", cases, TU_N(cases), setup, teardown);
}
