/*
 * Fuzz the firmware's mailbox and calls (lpa/agent mailbox.c, calls.c, package.c: the
 * very sources that ship, on the RAM-backed HAL, whose every access outside the span
 * the agent may touch aborts). The chip is the one of docs/protocols.md's worked
 * vectors (its UID, DIK and KMS key), so the vector LPK1 is a package it accepts.
 *
 * Input: byte 0 — bits 0-1 where the block goes (0 the station's 0x08046000, 1 the
 * last words below the SROM's reserve, 2 the address in bytes 1-4, little-endian),
 * bit 7 a chip that has installed the vector package already, bit 6 (without bit 7) a
 * chip whose vector DIK has no certificate yet (to be enrolled); then the block's bytes.
 * Checked: the status is a documented one, a failure answers no output, a success has
 * the call's output length, a proof verifies with the vector keys, an enrolment request
 * verifies and names the vector DIK, and a stored certificate is the input, for the
 * vector DIK, and reported by GET_STATUS and GET_IDENTITY afterwards.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "hal-host.h"
#include "lpa/core/keystore.h"

#define BLOCK 0x08046000u
#define SROM_RESERVE 0x08047800u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct host_chip fresh, installed, uncert;
static struct agent a_fresh, a_installed, a_uncert;
static EVP_PKEY *dik_pub;
static lpa_secbuf *vec_keys;

static void fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static EVP_PKEY *fuzz_key(const char *label)
{
	uint8_t d[32];
	EVP_PKEY *k = NULL;

	fuzz_check(lpa_sha256(label, strlen(label), d) == LPA_OK);
	fuzz_check(lpa_p256_from_private(d, &k) == LPA_OK);
	return k;
}

/* The worked vectors' chip: UID 0f2a1b3c4d5e6f70, the vector DIK with a certificate,
 * the vector KMS key; once as it comes, once with the vector package installed. */
static void fuzz_init(void)
{
	static const uint8_t die[11] = {0x70, 0x6f, 0x5e, 0x4d, 0x3c, 0x1b, 0x2a, 1, 15, 6, 7};
	static const uint8_t cert[] = {0x30, 0x82, 0x00, 0x03, 1, 2, 3};
	EVP_PKEY *kms = fuzz_key("lpa vector kms"), *dik = fuzz_key("lpa vector dik");
	EVP_PKEY *eph = fuzz_key("lpa vector eph");
	struct lpa_lpk1_hdr h = {.lorawan = 0x11,
				 .dev_eui = 0x70b3d57ed0001234ull,
				 .join_eui = 0x70b3d57ed0000000ull,
				 .chip_uid = 0x0f2a1b3c4d5e6f70ull,
				 .counter = 1,
				 .key_id = 1,
				 .issued_at = 0x6a8c5e00};
	static const uint8_t nonce[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
					  0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};
	uint8_t pub[65], rec[LPA_KS_ID_MAX], pkg[LPA_LPK1_LEN], *b;
	lpa_secbuf *d = NULL;
	size_t n = 0;

	host_reset(0x5eed);
	memcpy(host.sflash + 0x600, die, sizeof(die));
	fuzz_check(lpa_p256_public_bytes(kms, pub) == LPA_OK);
	memcpy(host.sflash + 0x5A00, "LPKP\0\0\0\1", 8);
	memcpy(host.sflash + 0x5A08, pub, 65);
	fuzz_check(lpa_p256_private_bytes(dik, &d) == LPA_OK);
	fuzz_check(lpa_p256_public_bytes(dik, pub) == LPA_OK);
	fuzz_check(lpa_keystore_identity_encode(LPA_KS_ORIGIN_FACTORY, lpa_secbuf_cdata(d), pub,
						cert, sizeof(cert), rec, sizeof(rec),
						&n) == LPA_OK);
	memcpy(host.work + (KS_ID_ADDR - HOST_WORK_BASE), rec, n);
	agent_boot(&a_fresh);
	fresh = host;
	memset(host.work, 0, sizeof(host.work));
	fuzz_check(lpa_keystore_identity_encode(LPA_KS_ORIGIN_CHIP, lpa_secbuf_cdata(d), pub, NULL,
						0, rec, sizeof(rec), &n) == LPA_OK);
	memcpy(host.work + (KS_ID_ADDR - HOST_WORK_BASE), rec, n);
	agent_boot(&a_uncert);
	fuzz_check(a_uncert.ready && a_uncert.cert_len == 0);
	uncert = host;
	host = fresh;
	fuzz_check(lpa_p256_from_public(pub, &dik_pub) == LPA_OK);
	vec_keys = lpa_secbuf_new(32);
	for (int i = 0; i < 32; i++)
		lpa_secbuf_data(vec_keys)[i] = (uint8_t)(i < 16 ? i : 0x10 + i - 16);
	fuzz_check(lpa_lpk1_build(&h, vec_keys, dik_pub, kms, eph, nonce, pkg) == LPA_OK);
	b = host_sram(BLOCK);
	memset(b, 0, 16);
	b[3] = AGENT_OP_INSTALL;
	b[8] = LPA_LPK1_LEN;
	memcpy(b + 16, pkg, sizeof(pkg));
	a_installed = a_fresh;
	agent_serve(&a_installed, BLOCK);
	fuzz_check(agent_get_le32(b + 4) == AGENT_OK);
	installed = host;
	lpa_secbuf_free(&d);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&eph);
}

static uint32_t fuzz_out_len(const struct agent *a, uint8_t op)
{
	switch (op) {
	case AGENT_OP_GET_IDENTITY:
		return LPI1_HDR_LEN + a->cert_len;
	case AGENT_OP_INSTALL:
		return LPR1_LEN;
	case AGENT_OP_PROVE:
		return LPP1_LEN;
	case AGENT_OP_ENROL:
		return LPE1_LEN;
	case AGENT_OP_STORE_CERT:
		return 0;
	default:
		return STATUS_LEN;
	}
}

/* After a STORE_CERT that succeeded: the chip reports the input as its certificate. */
static void fuzz_enrolled(struct agent *a, const uint8_t *b)
{
	static uint8_t cert[1024];
	struct lpa_agent_status st;
	struct lpa_lpi1 id;
	uint32_t len = agent_get_le32(b + 8), n;
	uint8_t *c = host_sram(BLOCK);

	fuzz_check(len >= 1 && len <= KS_CERT_MAX);
	memcpy(cert, b + 16, len);
	memset(c, 0, 16);
	c[3] = AGENT_OP_GET_STATUS;
	agent_serve(a, BLOCK);
	fuzz_check(lpa_status_parse(c + 16, agent_get_le32(c + 12), &st) == LPA_OK && st.certified);
	memset(c, 0, 16);
	c[3] = AGENT_OP_GET_IDENTITY;
	agent_serve(a, BLOCK);
	n = agent_get_le32(c + 12);
	fuzz_check(agent_get_le32(c + 4) == AGENT_OK && lpa_lpi1_parse(c + 16, n, &id) == LPA_OK);
	fuzz_check(memcmp(id.dik_pub, a->dik_pub, 65) == 0);
	/* A chip that had a certificate took only the very same bytes again. */
	fuzz_check(id.cert_len == len && memcmp(id.cert, cert, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct agent a;
	uint32_t block, st, olen, avail;
	uint8_t *b, sel, op;

	if (dik_pub == NULL)
		fuzz_init();
	if (size < 1)
		return 0;
	sel = data[0];
	host = sel & 0x80 ? installed : sel & 0x40 ? uncert : fresh;
	a = sel & 0x80 ? a_installed : sel & 0x40 ? a_uncert : a_fresh;
	data++;
	size--;
	switch (sel & 3) {
	case 0:
		block = BLOCK;
		break;
	case 1:
		block = SROM_RESERVE - 16 - 4 * (size > 0 ? data[0] : 0);
		break;
	default:
		if (size < 4)
			return 0;
		block = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
			(uint32_t)data[3] << 24;
		data += 4;
		size -= 4;
		break;
	}
	/* The block's bytes as the caller wrote them, where they fit in SRAM. */
	if (block >= HOST_SRAM_BASE && block < HOST_SRAM_BASE + HOST_SRAM_SIZE) {
		avail = HOST_SRAM_BASE + HOST_SRAM_SIZE - block;
		memcpy(host_sram(block), data, size < avail ? size : avail);
	}
	host_notify(block);
	fuzz_check(agent_poll(&a));
	fuzz_check(host.releases == (sel & 0x80   ? installed.releases
				     : sel & 0x40 ? uncert.releases
						  : fresh.releases) +
					    1);
	if (block % 4 || block < 0x08001800u || block > SROM_RESERVE - 16)
		return 0; /* no answer: hal-host would have aborted on any access */
	b = host_sram(block);
	st = agent_get_le32(b + 4);
	olen = agent_get_le32(b + 12);
	op = b[3];
	fuzz_check(st == AGENT_OK || (st >= 0xF0000001u && st <= 0xF000000Bu));
	fuzz_check(st != AGENT_ERR_BUSY); /* this chip has its identity */
	if (st != AGENT_OK) {
		fuzz_check(olen == 0);
		return 0;
	}
	fuzz_check((op >= AGENT_OP_GET_IDENTITY && op <= AGENT_OP_GET_STATUS) ||
		   op == AGENT_OP_ENROL || op == AGENT_OP_STORE_CERT);
	fuzz_check(olen == fuzz_out_len(&a, op));
	if (op == AGENT_OP_PROVE) {
		struct lpa_lpp1 p;

		fuzz_check(lpa_lpp1_verify(b + 16, olen, dik_pub, 0x70b3d57ed0001234ull,
					   0x0f2a1b3c4d5e6f70ull, b + 16 + 20, 0x11, vec_keys,
					   &p) == LPA_OK);
	}
	if (op == AGENT_OP_INSTALL)
		fuzz_check(!(sel & 0x80)); /* the vector package again is stale */
	if (op == AGENT_OP_ENROL) {
		struct lpa_lpe1 e;

		fuzz_check(lpa_lpe1_verify(b + 16, olen, &e) == LPA_OK);
		fuzz_check(memcmp(e.dik_pub, a.dik_pub, 65) == 0 &&
			   e.chip_uid == 0x0f2a1b3c4d5e6f70ull);
	}
	if (op == AGENT_OP_STORE_CERT)
		fuzz_enrolled(&a, b);
	return 0;
}
