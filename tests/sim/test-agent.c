/*
 * test-agent.c — the secure agent's firmware (lpa/agent) executing on the simulated
 * CM0+, reached on IPC_STRUCT8 over SWD as a station would: every call, the checks of
 * docs/protocols.md, power-fail-safe key storage under the simulator's fault injection,
 * and the key store as its documented layout reads from the simulated flash. Packages
 * come from lpa/core's KMS-side builder, receipts and proofs are verified with its
 * KMS-side verifiers.
 */
#include <openssl/x509.h>

#include "simtest.h"
#include "testutil.h"

static struct sim_chip *chip;
static EVP_PKEY *kms;
static uint8_t buf[2048];
static size_t len;

static const uint8_t root_keys[32] = {
	0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15,
	0x88, 0x09, 0xcf, 0x4f, 0x3c, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
	0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
};

static void setup(void)
{
	test_clock = 1000;
	kms = test_kms_key();
	chip = test_chip(SIM_FAMILY_V1, kms);
	swd_connect(chip);
}

static void teardown(void)
{
	sim_chip_free(&chip);
	lpa_pkey_free(&kms);
}

/* The key store as the simulated flash holds it (the oracle reads it the same way). */
static void keystore(struct lpa_keystore *ks)
{
	static uint8_t dump[LPA_KS_SIZE];

	ck_assert_int_eq(sim_chip_peek(chip, LPA_KS_BASE, dump, sizeof(dump)), 0);
	ck_assert_int_eq(lpa_keystore_parse(dump, sizeof(dump), ks), LPA_OK);
}

static lpa_secbuf *keys_for(uint8_t lorawan)
{
	lpa_secbuf *k = lpa_secbuf_new(32);

	memcpy(lpa_secbuf_data(k), root_keys, 32);
	if (lorawan == LPA_LORAWAN_10)
		memset(lpa_secbuf_data(k) + 16, 0, 16);
	return k;
}

/* An LPK1 for uid wrapped to dik_pub, signed by signer. */
static void make_pkg(uint8_t out[LPA_LPK1_LEN], uint64_t uid, uint32_t counter, uint8_t lorawan,
		     const uint8_t *dik_pub, EVP_PKEY *signer)
{
	struct lpa_lpk1_hdr h;
	EVP_PKEY *dik = NULL;
	lpa_secbuf *k = keys_for(lorawan);

	memset(&h, 0, sizeof(h));
	h.lorawan = lorawan;
	h.dev_eui = 0x70B3D57ED0000001ull;
	h.join_eui = 0x70B3D57ED0000000ull;
	h.chip_uid = uid;
	h.counter = counter;
	h.key_id = 1;
	h.issued_at = 1790000000;
	ck_assert_int_eq(lpa_p256_from_public(dik_pub, &dik), LPA_OK);
	ck_assert_int_eq(lpa_lpk1_build(&h, k, dik, signer, NULL, NULL, out), LPA_OK);
	lpa_pkey_free(&dik);
	lpa_secbuf_free(&k);
}

static uint32_t install(const uint8_t *pkg)
{
	return agent_call(chip, AGENT_OP_INSTALL, pkg, LPA_LPK1_LEN, buf, &len);
}

START_TEST(agent_get_identity)
{
	struct lpa_lpi1 id;
	const unsigned char *p;
	X509 *x;
	char sn[32];

	ck_assert_uint_eq(agent_call(chip, AGENT_OP_GET_IDENTITY, NULL, 0, buf, &len), AGENT_OK);
	ck_assert_int_eq(lpa_lpi1_parse(buf, len, &id), LPA_OK);
	ck_assert_uint_eq(id.chip_uid, sim_chip_uid(chip));
	ck_assert_uint_eq(id.silicon_id, 0xE2072100u);
	ck_assert_uint_eq(id.protection, LPA_PROT_NORMAL);
	ck_assert_uint_eq(id.provisioned, 0);
	ck_assert_mem_eq(id.dik_pub, sim_chip_dik_pub(chip), 65);
	/* the certificate names the chip: subject serialNumber = UID as 16 hex digits */
	p = id.cert;
	ck_assert_ptr_nonnull(x = d2i_X509(NULL, &p, id.cert_len));
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_serialNumber, sn,
						   sizeof(sn)),
			 0);
	{
		char want[17];

		snprintf(want, sizeof(want), "%016llX", (unsigned long long)id.chip_uid);
		ck_assert_str_eq(sn, want);
	}
	X509_free(x);
}
END_TEST

START_TEST(agent_install_and_status)
{
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpr1 r;
	struct lpa_agent_status st;
	EVP_PKEY *dik = NULL;
	lpa_secbuf *k = keys_for(LPA_LORAWAN_11);

	make_pkg(pkg, sim_chip_uid(chip), 7, LPA_LORAWAN_11, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(install(pkg), AGENT_OK);
	ck_assert_uint_eq(len, LPA_LPR1_LEN);
	ck_assert_int_eq(lpa_p256_from_public(sim_chip_dik_pub(chip), &dik), LPA_OK);
	ck_assert_int_eq(lpa_lpr1_verify(buf, len, dik, pkg, k, &r), LPA_OK);
	ck_assert_uint_eq(r.counter, 7);
	ck_assert_uint_eq(agent_call(chip, AGENT_OP_GET_STATUS, NULL, 0, buf, &len), AGENT_OK);
	ck_assert_int_eq(lpa_status_parse(buf, len, &st), LPA_OK);
	ck_assert_uint_eq(st.provisioned, 1);
	ck_assert_uint_eq(st.counter, 7);
	ck_assert_uint_eq(st.dev_eui, 0x70B3D57ED0000001ull);
	/* the keys are in the key store, which the debug port cannot read */
	{
		static struct lpa_keystore ks;
		uint32_t v;

		keystore(&ks);
		ck_assert_int_ge(ks.active, 0);
		ck_assert_mem_eq(ks.slot[ks.active].keys, root_keys, 32);
		ck_assert_uint_eq(ks.id.origin, LPA_KS_ORIGIN_FACTORY);
		lpa_keystore_wipe(&ks);
		ck_assert_int_eq(mem_rd(chip, 0, LPA_KS_BASE, &v), SIM_ACK_FAULT);
		clear_sticky(chip);
	}
	lpa_pkey_free(&dik);
	lpa_secbuf_free(&k);
}
END_TEST

START_TEST(agent_rejects_bad_signature)
{
	uint8_t pkg[LPA_LPK1_LEN];
	EVP_PKEY *other = test_kms_key();

	make_pkg(pkg, sim_chip_uid(chip), 1, LPA_LORAWAN_11, sim_chip_dik_pub(chip), other);
	ck_assert_uint_eq(install(pkg), AGENT_ERR_SIGNATURE);
	ck_assert_uint_eq(len, 0);
	lpa_pkey_free(&other);
}
END_TEST

START_TEST(agent_rejects_other_chip)
{
	uint8_t pkg[LPA_LPK1_LEN];

	make_pkg(pkg, sim_chip_uid(chip) ^ 1, 1, LPA_LORAWAN_11, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(install(pkg), AGENT_ERR_WRONG_CHIP);
}
END_TEST

START_TEST(agent_rejects_stale_counter)
{
	uint8_t pkg[LPA_LPK1_LEN];

	make_pkg(pkg, sim_chip_uid(chip), 5, LPA_LORAWAN_10, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(install(pkg), AGENT_OK);
	ck_assert_uint_eq(install(pkg), AGENT_ERR_STALE); /* a replay */
	make_pkg(pkg, sim_chip_uid(chip), 4, LPA_LORAWAN_10, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(install(pkg), AGENT_ERR_STALE);
	make_pkg(pkg, sim_chip_uid(chip), 6, LPA_LORAWAN_10, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(install(pkg), AGENT_OK);
}
END_TEST

START_TEST(agent_rejects_unwrappable)
{
	uint8_t pkg[LPA_LPK1_LEN], other_pub[65];
	EVP_PKEY *other = test_kms_key();

	/* signed and addressed correctly, but wrapped to another chip's key */
	ck_assert_int_eq(lpa_p256_public_bytes(other, other_pub), LPA_OK);
	make_pkg(pkg, sim_chip_uid(chip), 1, LPA_LORAWAN_11, other_pub, kms);
	ck_assert_uint_eq(install(pkg), AGENT_ERR_UNWRAP);
	lpa_pkey_free(&other);
}
END_TEST

START_TEST(agent_rejects_malformed_requests)
{
	uint8_t pkg[LPA_LPK1_LEN];

	make_pkg(pkg, sim_chip_uid(chip), 1, LPA_LORAWAN_11, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(agent_call(chip, AGENT_OP_INSTALL, pkg, LPA_LPK1_LEN - 1, buf, &len),
			  AGENT_ERR_REQUEST);
	pkg[0] = 'X';
	ck_assert_uint_eq(install(pkg), AGENT_ERR_REQUEST);
	ck_assert_uint_eq(agent_call(chip, 0x7F, NULL, 0, buf, &len), AGENT_ERR_REQUEST);
	ck_assert_uint_eq(agent_call(chip, AGENT_OP_GET_STATUS, pkg, 4, buf, &len),
			  AGENT_ERR_REQUEST);
	ck_assert_uint_eq(agent_call(chip, AGENT_OP_PROVE, pkg, 23, buf, &len), AGENT_ERR_REQUEST);
}
END_TEST

START_TEST(agent_prove)
{
	uint8_t pkg[LPA_LPK1_LEN], in[24], nonce[16];
	struct lpa_lpp1 pp;
	EVP_PKEY *dik = NULL;
	lpa_secbuf *k = keys_for(LPA_LORAWAN_11);

	memset(nonce, 0xA5, sizeof(nonce));
	lpa_be_put(in, 0x70B3D57ED0000001ull, 8);
	memcpy(in + 8, nonce, 16);
	ck_assert_uint_eq(agent_call(chip, AGENT_OP_PROVE, in, 24, buf, &len),
			  AGENT_ERR_NOT_PROVISIONED);
	make_pkg(pkg, sim_chip_uid(chip), 1, LPA_LORAWAN_11, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(install(pkg), AGENT_OK);
	ck_assert_uint_eq(agent_call(chip, AGENT_OP_PROVE, in, 24, buf, &len), AGENT_OK);
	ck_assert_int_eq(lpa_p256_from_public(sim_chip_dik_pub(chip), &dik), LPA_OK);
	ck_assert_int_eq(lpa_lpp1_verify(buf, len, dik, 0x70B3D57ED0000001ull, sim_chip_uid(chip),
					 nonce, LPA_LORAWAN_11, k, &pp),
			 LPA_OK);
	lpa_be_put(in, 0x70B3D57ED0000002ull, 8); /* a challenge for another device */
	ck_assert_uint_eq(agent_call(chip, AGENT_OP_PROVE, in, 24, buf, &len),
			  AGENT_ERR_WRONG_CHIP);
	lpa_pkey_free(&dik);
	lpa_secbuf_free(&k);
}
END_TEST

START_TEST(agent_call_during_boot_is_served)
{
	/* Right after SYSRESETREQ the firmware is still booting (protection, key store,
	 * identity); a call made now is not lost: its notify waits in INTR. */
	ck_assert_int_eq(mem_wr(chip, 1, 0xE000ED0C, 0x05FA0004u), SIM_ACK_OK); /* SYSRESETREQ */
	swd_connect(chip);
	ck_assert_uint_eq(agent_call(chip, AGENT_OP_GET_STATUS, NULL, 0, buf, &len), AGENT_OK);
	ck_assert_uint_eq(len, LPA_STATUS_LEN);
}
END_TEST

static enum sim_install_stage fail_stage;
static bool fail_next;

static uint64_t fail_insns;

static bool install_hook(void *ctx, enum sim_install_stage *stage, uint64_t *insns)
{
	(void)ctx;
	*insns = fail_insns;
	if (!fail_next)
		return false;
	fail_next = false;
	*stage = fail_stage;
	return true;
}

/* Installs counter 1, then counter 2 with a power failure at stage; returns the counter
 * the agent reports after power comes back. */
static uint32_t install_with_brownout(enum sim_install_stage stage, uint32_t *status2)
{
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_agent_status st;

	chip->cfg.hooks.brownout_install = install_hook;
	chip->cfg.latency.brownout_us = 1000;
	make_pkg(pkg, sim_chip_uid(chip), 1, LPA_LORAWAN_11, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(install(pkg), AGENT_OK);
	make_pkg(pkg, sim_chip_uid(chip), 2, LPA_LORAWAN_11, sim_chip_dik_pub(chip), kms);
	fail_stage = stage;
	fail_next = true;
	*status2 = install(pkg);
	if (stage == SIM_INSTALL_FLASH_FAIL) {
		ck_assert(!chip->dead);
	} else {
		uint32_t v;

		ck_assert_uint_eq(*status2, 0); /* never answered */
		ck_assert(chip->dead);
		ck_assert_int_eq(dp_rd(chip, 0, &v), SIM_ACK_NOACK);
		test_clock += 1000 * 1000;
		swd_connect(chip); /* power is back: the DP needs a new connection */
	}
	ck_assert_uint_eq(agent_call(chip, AGENT_OP_GET_STATUS, NULL, 0, buf, &len), AGENT_OK);
	ck_assert_int_eq(lpa_status_parse(buf, len, &st), LPA_OK);
	ck_assert_uint_eq(st.provisioned, 1);
	return st.counter;
}

START_TEST(agent_brownout_mid_slot_keeps_old_keys)
{
	uint32_t s2;

	ck_assert_uint_eq(install_with_brownout(SIM_INSTALL_MID_SLOT, &s2), 1);
}
END_TEST

START_TEST(agent_brownout_before_flip_keeps_old_keys)
{
	uint32_t s2;

	ck_assert_uint_eq(install_with_brownout(SIM_INSTALL_BEFORE_FLIP, &s2), 1);
}
END_TEST

START_TEST(agent_brownout_after_flip_keeps_new_keys)
{
	uint32_t s2;

	ck_assert_uint_eq(install_with_brownout(SIM_INSTALL_AFTER_FLIP, &s2), 2);
}
END_TEST

START_TEST(agent_flash_failure)
{
	uint32_t s2;

	ck_assert_uint_eq(install_with_brownout(SIM_INSTALL_FLASH_FAIL, &s2), 1);
	ck_assert_uint_eq(s2, AGENT_ERR_FLASH);
}
END_TEST

START_TEST(agent_counter_survives_power_cycle)
{
	uint8_t pkg[LPA_LPK1_LEN];

	chip->cfg.latency.brownout_us = 10;
	make_pkg(pkg, sim_chip_uid(chip), 9, LPA_LORAWAN_11, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(install(pkg), AGENT_OK);
	sim_chip_brownout(chip);
	test_clock += 10 * 1000;
	swd_connect(chip);
	ck_assert_uint_eq(install(pkg), AGENT_ERR_STALE);
	{
		static struct lpa_keystore ks;

		keystore(&ks);
		ck_assert_uint_eq(ks.last_counter, 9);
		lpa_keystore_wipe(&ks);
	}
}
END_TEST

/*
 * Power fails after a random number of the firmware's instructions into an install
 * (brownout-install=K:insn=N): afterwards the chip holds the old package's keys and
 * counter or the new one's, never a mixture, and a completed call is never undone. A
 * handful of seeded trials here; LPA_BROWNOUT_TRIALS=200 (and LPA_BROWNOUT_SEED) make
 * the campaign.
 */
static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

START_TEST(agent_brownout_at_random_instructions)
{
	const char *env_n = getenv("LPA_BROWNOUT_TRIALS"), *env_s = getenv("LPA_BROWNOUT_SEED");
	unsigned trials = env_n ? (unsigned)strtoul(env_n, NULL, 0) : 6, old = 0, new = 0;
	uint64_t seed = env_s ? strtoull(env_s, NULL, 0) : 0xB20u, x = seed;
	uint8_t pkg[LPA_LPK1_LEN];

	printf("agent_brownout_at_random_instructions: %u trials, LPA_BROWNOUT_SEED=0x%llx\n",
	       trials, (unsigned long long)seed);
	chip->cfg.hooks.brownout_install = install_hook;
	chip->cfg.latency.brownout_us = 1000;
	make_pkg(pkg, sim_chip_uid(chip), 1, LPA_LORAWAN_11, sim_chip_dik_pub(chip), kms);
	ck_assert_uint_eq(install(pkg), AGENT_OK);
	for (unsigned t = 0, counter = 1; t < trials; t++) {
		static struct lpa_keystore ks;
		uint32_t st, v;

		/* An install runs about 59 million instructions: aim inside it, and a
		 * little past its end now and then. */
		fail_insns = splitmix(&x) % 62000000u;
		fail_stage = SIM_INSTALL_AT_INSN;
		fail_next = true;
		make_pkg(pkg, sim_chip_uid(chip), counter + 1, LPA_LORAWAN_11,
			 sim_chip_dik_pub(chip), kms);
		st = install(pkg);
		if (st == 0 || chip->dead) {
			ck_assert(dp_rd(chip, 0, &v) == SIM_ACK_NOACK || st == 0);
			test_clock += 1000 * 1000;
			swd_connect(chip);
			ck_assert_uint_eq(agent_call(chip, AGENT_OP_GET_STATUS, NULL, 0, buf, &len),
					  AGENT_OK);
		} else {
			ck_assert_uint_eq(st, AGENT_OK); /* the count fell past the call */
		}
		keystore(&ks);
		ck_assert_int_ge(ks.active, 0);
		/* Old or new, whole: counter, sequence and keys of one package. */
		ck_assert(ks.slot[ks.active].counter == counter ||
			  ks.slot[ks.active].counter == counter + 1);
		ck_assert_mem_eq(ks.slot[ks.active].keys, root_keys, 32);
		ck_assert_uint_eq(ks.last_counter, ks.slot[ks.active].counter);
		if (ks.slot[ks.active].counter == counter + 1) {
			new ++;
			counter++;
		} else {
			ck_assert_uint_ne(st, AGENT_OK); /* an answered install is never lost */
			old++;
		}
		lpa_keystore_wipe(&ks);
	}
	printf("  %u kept the old keys, %u took the new ones\n", old, new);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(agent_get_identity),
		TU_CASE(agent_install_and_status),
		TU_CASE(agent_rejects_bad_signature),
		TU_CASE(agent_rejects_other_chip),
		TU_CASE(agent_rejects_stale_counter),
		TU_CASE(agent_rejects_unwrappable),
		TU_CASE(agent_rejects_malformed_requests),
		TU_CASE(agent_prove),
		TU_CASE(agent_call_during_boot_is_served),
		TU_CASE(agent_brownout_mid_slot_keeps_old_keys),
		TU_CASE(agent_brownout_before_flip_keeps_old_keys),
		TU_CASE(agent_brownout_after_flip_keeps_new_keys),
		TU_CASE(agent_flash_failure),
		TU_CASE(agent_counter_survives_power_cycle),
		TU_CASE(agent_brownout_at_random_instructions),
	};

	return tu_main_fixture("sim-agent", cases, TU_N(cases), setup, teardown);
}
