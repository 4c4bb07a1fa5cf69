/*
 * test-agent-fw-enrol — enrolment on the secure agent's portable core (lpa/agent
 * enrol.c, on the RAM-backed HAL), held to lpa/core and OpenSSL: ENROL's LPE1 verifies
 * and names this chip; STORE_CERT keeps a certificate for the chip's own DIK across
 * reboots, answers the same certificate again with success, and refuses a certificate
 * for another key, a second different certificate and every malformed one with their
 * own statuses; a power cut in either row write leaves no certificate or the whole one,
 * and never another DIK.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent-test.h"
#include "agent.h"
#include "cert-test.h"
#include "hal-host.h"
#include "host-call.h"

#define CHIP_UID 0x0f2a1b3c4d5e6f70ull
#define SILICON_ID 0xE2072100u

static struct agent A;
static EVP_PKEY *ca;

static void setup(void)
{
	static const uint8_t die[11] = {0x70, 0x6f, 0x5e, 0x4d, 0x3c, 0x1b, 0x2a, 1, 15, 6, 7};

	host_reset(0xe401);
	host.sflash[0x01] = 0x21;
	host.sflash[0x02] = 0x07;
	host.sflash[0x03] = 0xE2;
	host.sflash[0x0D] = 0x01;
	memcpy(host.sflash + 0x600, die, sizeof(die));
	agent_boot(&A); /* erased work flash: the first boot generates the DIK */
	ck_assert(A.ready);
	ck_assert_int_eq(A.origin, KS_ID_ORIGIN_CHIP);
	ca = at_key_from_label("lpa test factory ca");
}

static void teardown(void)
{
	lpa_pkey_free(&ca);
}

static uint32_t call(uint8_t op, const void *in, uint32_t in_len, void *out, uint32_t *out_len)
{
	return host_call(&A, op, in, in_len, out, out_len);
}

static uint8_t certified(void)
{
	struct lpa_agent_status st;
	uint8_t out[STATUS_LEN];
	uint32_t n = 0;

	ck_assert_uint_eq(call(AGENT_OP_GET_STATUS, NULL, 0, out, &n), AGENT_OK);
	ck_assert_int_eq(lpa_status_parse(out, n, &st), LPA_OK);
	return st.certified;
}

START_TEST(fw_enrol_request_is_signed_by_the_dik)
{
	struct lpa_lpe1 e;
	uint8_t out[AGENT_DATA_MAX];
	uint32_t n = 0;

	ck_assert_uint_eq(certified(), 0);
	ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n), AGENT_ERR_NOT_CERTIFIED);
	ck_assert_uint_eq(call(AGENT_OP_ENROL, NULL, 0, out, &n), AGENT_OK);
	ck_assert_uint_eq(n, LPA_LPE1_LEN);
	ck_assert_int_eq(lpa_lpe1_verify(out, n, &e), LPA_OK);
	ck_assert_uint_eq(e.chip_uid, CHIP_UID);
	ck_assert_uint_eq(e.silicon_id, SILICON_ID);
	ck_assert_uint_eq(e.agent_version, 0x0100);
	ck_assert_mem_eq(e.dik_pub, A.dik_pub, 65);
	/* One bit of the signed part changed: the proof of possession fails. */
	out[9] ^= 1;
	ck_assert_int_eq(lpa_lpe1_verify(out, n, &e), LPA_ERR_SIGNATURE);
	ck_assert_uint_eq(call(AGENT_OP_ENROL, "x", 1, out, &n), AGENT_ERR_REQUEST);
}
END_TEST

START_TEST(fw_store_cert_and_identity)
{
	static uint8_t der[1200], der2[1200], out[AGENT_DATA_MAX];
	struct lpa_lpi1 id;
	size_t len = make_cert(ca, A.dik_pub, 1, 0, der),
	       len2 = make_cert(ca, A.dik_pub, 2, 0, der2);
	uint32_t n = 0;

	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, der, (uint32_t)len, NULL, &n), AGENT_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(certified(), 1);
	ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n), AGENT_OK);
	ck_assert_int_eq(lpa_lpi1_parse(out, n, &id), LPA_OK);
	ck_assert_uint_eq(id.cert_len, len);
	ck_assert_mem_eq(id.cert, der, len);
	/* Across a reboot. */
	agent_boot(&A);
	ck_assert_uint_eq(certified(), 1);
	ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n), AGENT_OK);
	ck_assert_int_eq(lpa_lpi1_parse(out, n, &id), LPA_OK);
	ck_assert_mem_eq(id.cert, der, len);
	/* The same certificate again (a station resuming) is success; another is not. */
	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, der, (uint32_t)len, NULL, &n), AGENT_OK);
	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, der2, (uint32_t)len2, NULL, &n),
			  AGENT_ERR_CERTIFIED);
	agent_boot(&A);
	ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n), AGENT_OK);
	ck_assert_int_eq(lpa_lpi1_parse(out, n, &id), LPA_OK);
	ck_assert_mem_eq(id.cert, der, len);
}
END_TEST

START_TEST(fw_store_cert_refuses_another_key)
{
	static uint8_t der[1200];
	uint8_t pub[65];
	EVP_PKEY *other;
	size_t len;
	uint32_t n = 0;

	other = at_key_from_label("another chip");
	ck_assert_int_eq(lpa_p256_public_bytes(other, pub), LPA_OK);
	len = make_cert(ca, pub, 1, 0, der);
	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, der, (uint32_t)len, NULL, &n),
			  AGENT_ERR_CERT_KEY);
	ck_assert_uint_eq(certified(), 0);
	agent_boot(&A);
	ck_assert_uint_eq(certified(), 0);
	lpa_pkey_free(&other);
}
END_TEST

START_TEST(fw_store_cert_refuses_malformed)
{
	static uint8_t der[1200], bad[1200];
	size_t len = make_cert(ca, A.dik_pub, 1, 0, der);
	uint32_t n = 0;

	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, NULL, 0, NULL, &n), AGENT_ERR_REQUEST);
	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, der, (uint32_t)len - 1, NULL, &n),
			  AGENT_ERR_REQUEST);
	memcpy(bad, der, len);
	bad[len] = 0;
	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, bad, (uint32_t)len + 1, NULL, &n),
			  AGENT_ERR_REQUEST);
	memset(bad, 0x30, sizeof(bad));
	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, bad, KS_CERT_MAX + 1, NULL, &n),
			  AGENT_ERR_REQUEST);
	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, bad, 64, NULL, &n), AGENT_ERR_REQUEST);
	/* Every single-byte change of the DER is refused or, where it only changes bytes
	 * the agent does not read, accepted: never a fault, never a wrong key stored. */
	for (size_t i = 0; i < len; i++) {
		uint32_t st;

		memcpy(bad, der, len);
		bad[i] ^= 0x80;
		st = call(AGENT_OP_STORE_CERT, bad, (uint32_t)len, NULL, &n);
		ck_assert(st == AGENT_OK || st == AGENT_ERR_REQUEST || st == AGENT_ERR_CERT_KEY);
		if (st == AGENT_OK) {
			/* It stored these bytes: undo, for the next flip. */
			ck_assert_mem_eq(host.work + (KS_CERT_ADDR + KS_CERT_HDR - HOST_WORK_BASE),
					 bad, len);
			memset(host.work + (KS_CERT_ADDR - HOST_WORK_BASE), 0, 2 * HAL_ROW_SIZE);
			agent_boot(&A);
		}
	}
	ck_assert_uint_eq(certified(), 0);
}
END_TEST

START_TEST(fw_store_cert_power_cut)
{
	/* A certificate over 480 bytes spans both rows: cuts in each row's write. */
	static uint8_t der[1200], out[AGENT_DATA_MAX];
	static const unsigned bytes[] = {0, 7, 200, 511};
	uint8_t pub[65];
	volatile unsigned none = 0, whole = 0;
	size_t len;

	memcpy(pub, A.dik_pub, 65);
	len = make_cert(ca, A.dik_pub, 1, 500, der);
	ck_assert_uint_gt(len, 2 * HAL_ROW_SIZE - KS_CERT_HDR - 32 - 500);
	ck_assert_uint_gt(len + KS_CERT_HDR + 32, HAL_ROW_SIZE);
	for (volatile unsigned op = 0; op < 2; op++)
		for (volatile size_t i = 0; i < TU_N(bytes); i++) {
			jmp_buf env;
			uint32_t n = 0;

			host.flash_ops = 0;
			host.cut_at = op;
			host.cut_bytes = bytes[i];
			host.cut_env = &env;
			if (setjmp(env) == 0) {
				uint32_t st =
					call(AGENT_OP_STORE_CERT, der, (uint32_t)len, NULL, &n);

				ck_abort_msg(
					"the cut did not happen: op %u, %zu bytes, status %08x", op,
					len, st);
			}
			host.cut_at = -1;
			agent_boot(&A);
			ck_assert(A.ready);
			ck_assert_mem_eq(A.dik_pub, pub, 65); /* never a new DIK */
			if (certified()) {
				/* The cut came after the record's last byte: the whole one. */
				struct lpa_lpi1 id;

				ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n),
						  AGENT_OK);
				ck_assert_int_eq(lpa_lpi1_parse(out, n, &id), LPA_OK);
				ck_assert_uint_eq(id.cert_len, len);
				ck_assert_mem_eq(id.cert, der, len);
				memset(host.work + (KS_CERT_ADDR - HOST_WORK_BASE), 0,
				       2 * HAL_ROW_SIZE);
				agent_boot(&A);
				whole++;
			} else {
				ck_assert_uint_eq(call(AGENT_OP_GET_IDENTITY, NULL, 0, out, &n),
						  AGENT_ERR_NOT_CERTIFIED);
				none++;
			}
		}
	ck_assert_uint_eq(none, 7); /* all but the cut after row 7's last used byte */
	ck_assert_uint_eq(whole, 1);
	/* And the enrolment completes afterwards. */
	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, der, (uint32_t)len, NULL, NULL), AGENT_OK);
	agent_boot(&A);
	ck_assert_uint_eq(certified(), 1);
}
END_TEST

START_TEST(fw_store_cert_flash_error)
{
	static uint8_t der[1200];
	size_t len = make_cert(ca, A.dik_pub, 1, 0, der);

	host.flash_ops = 0;
	host.fail_at = 0;
	host.fail = HOST_FAIL_CORRUPT;
	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, der, (uint32_t)len, NULL, NULL),
			  AGENT_ERR_FLASH);
	host.fail_at = -1;
	ck_assert_uint_eq(certified(), 0);
	agent_boot(&A);
	ck_assert_uint_eq(certified(), 0);
}
END_TEST

START_TEST(fw_stale_cert_record_of_another_dik)
{
	/* A certificate record left from an earlier DIK (the identity was torn and
	 * regenerated) does not certify the new one. */
	static uint8_t der[1200];
	size_t len = make_cert(ca, A.dik_pub, 1, 0, der);

	ck_assert_uint_eq(call(AGENT_OP_STORE_CERT, der, (uint32_t)len, NULL, NULL), AGENT_OK);
	memset(host.work + (KS_ID_ADDR - HOST_WORK_BASE), 0, 4 * HAL_ROW_SIZE);
	agent_boot(&A);
	ck_assert(A.ready);
	ck_assert_uint_eq(certified(), 0);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(fw_enrol_request_is_signed_by_the_dik),
		TU_CASE(fw_store_cert_and_identity),
		TU_CASE(fw_store_cert_refuses_another_key),
		TU_CASE_SLOW(fw_store_cert_refuses_malformed, 120),
		TU_CASE(fw_store_cert_power_cut),
		TU_CASE(fw_store_cert_flash_error),
		TU_CASE(fw_stale_cert_record_of_another_dik),
	};

	return tu_main_fixture("agent-fw-enrol", cases, TU_N(cases), setup, teardown);
}
