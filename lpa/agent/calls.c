/*
 * calls.c — GET_IDENTITY, INSTALL_PACKAGE, PROVE and GET_STATUS (docs/protocols.md,
 * "Secure-agent calls over IPC"). mailbox.c has checked the block and the input length
 * already; each call here makes the checks that belong to it, in the documented order.
 */
#include <string.h>

#include "agent.h"

uint32_t calls_get_identity(struct agent *a, uint32_t out, uint32_t *out_len)
{
	uint8_t h[LPI1_HDR_LEN], chunk[64];
	uint8_t prot = hal_protection_state();
	uint32_t off;

	/* lpa_lpi1_parse's rules: a certificate of 1..1024 bytes (a chip whose DIK nobody
	 * certified yet has none: it is enrolled first, enrol.c), a known protection state. */
	if (a->cert_len == 0)
		return AGENT_ERR_NOT_CERTIFIED;
	if (a->cert_len > LPI1_MAX_CERT || prot < 1 || prot > 4)
		return AGENT_ERR_REQUEST;
	memcpy(h, "LPI1", 4);
	h[4] = (uint8_t)(AGENT_VERSION >> 8);
	h[5] = (uint8_t)AGENT_VERSION;
	h[6] = prot;
	h[7] = a->active >= 0 && a->cur.provisioned;
	memcpy(h + 8, a->uid, 8);
	agent_be32(h + 16, a->silicon_id);
	agent_be32(h + 20, a->last_counter);
	memcpy(h + 24, a->dik_pub, P256_PUB_LEN);
	h[89] = (uint8_t)(a->cert_len >> 8);
	h[90] = (uint8_t)a->cert_len;
	hal_sram_write(out, h, sizeof(h));
	/* The certificate goes from the identity record in flash to the block. */
	for (off = 0; off < a->cert_len; off += sizeof(chunk)) {
		uint32_t n = a->cert_len - off < sizeof(chunk) ? a->cert_len - off : sizeof(chunk);

		hal_flash_read(a->cert_addr + off, chunk, n);
		hal_sram_write(out + LPI1_HDR_LEN + off, chunk, n);
	}
	*out_len = LPI1_HDR_LEN + a->cert_len;
	return AGENT_OK;
}

uint32_t calls_install(struct agent *a, const uint8_t *in, uint8_t out[LPR1_LEN])
{
	struct ks_slot s;
	uint8_t hash[SHA256_LEN];
	uint32_t st;

	memset(&s, 0, sizeof(s));
	if (!a->kms_ok)
		return AGENT_ERR_SIGNATURE; /* no trusted key: nothing can verify */
	if ((st = package_open(a, in, s.keys)) != AGENT_OK)
		goto done;
	sha256(in, LPK1_LEN, hash);
	s.counter = agent_get_be32(in + 32);
	s.lorawan = in[5];
	s.provisioned = 1;
	memcpy(s.dev_eui, in + 8, 8);
	memcpy(s.join_eui, in + 16, 8);
	memcpy(s.pkg_hash, hash, 16);
	/* The slot write and its read-back are the commit: until then a->cur is the old
	 * state, and a power failure leaves the old slot the newest valid one. */
	if (keystore_commit(a, &s) != HAL_OK) {
		st = AGENT_ERR_FLASH;
		goto done;
	}
	package_receipt(a, &a->cur, out);
	st = AGENT_OK;
done:
	ct_wipe(&s, sizeof(s));
	return st;
}

uint32_t calls_prove(struct agent *a, const uint8_t in[PROVE_IN_LEN], uint8_t out[LPP1_LEN])
{
	if (a->active < 0 || !a->cur.provisioned)
		return AGENT_ERR_NOT_PROVISIONED;
	if (memcmp(in, a->cur.dev_eui, 8) != 0)
		return AGENT_ERR_WRONG_CHIP; /* a challenge for another device */
	package_proof(a, in + 8, out);
	return AGENT_OK;
}

void calls_status(const struct agent *a, uint8_t out[STATUS_LEN])
{
	bool prov = a->active >= 0 && a->cur.provisioned;

	memset(out, 0, STATUS_LEN);
	out[0] = (uint8_t)(AGENT_VERSION >> 8);
	out[1] = (uint8_t)AGENT_VERSION;
	out[2] = prov;
	out[3] = a->cert_len ? STATUS_CERTIFIED : 0;
	if (prov)
		memcpy(out + 4, a->cur.dev_eui, 8);
	agent_be32(out + 12, a->last_counter);
}
