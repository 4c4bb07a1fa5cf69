/*
 * mailbox.c — the IPC_STRUCT8 mailbox: takes a notified call, checks its parameter
 * block, runs the call and answers, always in this order (docs/protocols.md and what
 * the station expects):
 *   1. a block that is misaligned, not in SRAM, overlaps the agent's own RAM or the
 *      SROM's reserve gets no answer at all (there is nowhere safe to write one); the
 *      structure is released so the caller is not left waiting;
 *   2. no identity yet (BUSY);
 *   3. request bits other than the opcode, an input longer than the block, or an input
 *      that runs past the usable SRAM (REQUEST);
 *   4. the call's own checks (calls.c); an unknown opcode is REQUEST;
 *   5. an output that would not fit in SRAM (REQUEST, nothing written).
 * The output length is written before the status, and the structure is released last:
 * a caller that sees the release reads a complete answer.
 */
#include "agent.h"

/* The usable span for parameter blocks: after the agent's RAM, before the SROM's. */
static bool mailbox_span_ok(const struct agent *a, uint32_t addr, uint32_t len)
{
	uint32_t lo = a->part->agent_ram_end;
	uint32_t hi = a->part->sram_base + a->part->sram_size - a->part->srom_reserved;

	return addr >= lo && addr <= hi && len <= hi - addr;
}

static uint32_t mailbox_run(struct agent *a, uint8_t op, uint32_t in_addr, uint32_t in_len,
			    uint32_t out_addr, uint32_t *out_len)
{
	/* The one input copy: the caller may change the block while we work. 240 bytes
	 * hold the longest input (LPK1); every other length is refused before copying. */
	uint8_t in[240], out[LPR1_LEN];
	uint32_t st;

	*out_len = 0;
	switch (op) {
	case AGENT_OP_GET_IDENTITY:
		if (in_len != 0)
			return AGENT_ERR_REQUEST;
		return calls_get_identity(a, out_addr, out_len);
	case AGENT_OP_INSTALL:
		if (in_len != LPK1_LEN)
			return AGENT_ERR_REQUEST;
		hal_sram_read(in_addr, in, LPK1_LEN);
		st = calls_install(a, in, out);
		ct_wipe(in, sizeof(in));
		if (st == AGENT_OK) {
			hal_sram_write(out_addr, out, LPR1_LEN);
			*out_len = LPR1_LEN;
		}
		return st;
	case AGENT_OP_PROVE:
		if (in_len != PROVE_IN_LEN)
			return AGENT_ERR_REQUEST;
		hal_sram_read(in_addr, in, PROVE_IN_LEN);
		st = calls_prove(a, in, out);
		if (st == AGENT_OK) {
			hal_sram_write(out_addr, out, LPP1_LEN);
			*out_len = LPP1_LEN;
		}
		return st;
	case AGENT_OP_GET_STATUS:
		if (in_len != 0)
			return AGENT_ERR_REQUEST;
		calls_status(a, out);
		hal_sram_write(out_addr, out, STATUS_LEN);
		*out_len = STATUS_LEN;
		return AGENT_OK;
	case AGENT_OP_ENROL:
		if (in_len != 0)
			return AGENT_ERR_REQUEST;
		enrol_request(a, in);
		hal_sram_write(out_addr, in, LPE1_LEN);
		*out_len = LPE1_LEN;
		return AGENT_OK;
	case AGENT_OP_STORE_CERT:
		return enrol_store_cert(a, in_addr, in_len);
	case AGENT_OP_LW_JOIN_REQUEST:
	case AGENT_OP_LW_JOIN_ACCEPT:
	case AGENT_OP_LW_UPLINK:
	case AGENT_OP_LW_DOWNLINK:
		return lorawan_calls_run(a, op, in_addr, in_len, out_addr, out_len);
	default:
		return AGENT_ERR_REQUEST;
	}
}

/* The largest output a call can produce, checked against SRAM before it runs. */
static uint32_t mailbox_out_max(const struct agent *a, uint8_t op)
{
	switch (op) {
	case AGENT_OP_GET_IDENTITY:
		return LPI1_HDR_LEN + a->cert_len;
	case AGENT_OP_INSTALL:
		return LPR1_LEN;
	case AGENT_OP_PROVE:
		return LPP1_LEN;
	case AGENT_OP_GET_STATUS:
		return STATUS_LEN;
	case AGENT_OP_ENROL:
		return LPE1_LEN;
	case AGENT_OP_LW_JOIN_REQUEST:
	case AGENT_OP_LW_JOIN_ACCEPT:
	case AGENT_OP_LW_UPLINK:
	case AGENT_OP_LW_DOWNLINK:
		return lorawan_calls_out_max(op);
	default:
		return 0;
	}
}

void agent_serve(struct agent *a, uint32_t block)
{
	uint8_t hdr[AGENT_BLK_DATA], word[4];
	uint32_t req, in_len, st, out_len = 0;
	uint8_t op;

	if (block % 4 || !mailbox_span_ok(a, block, AGENT_BLK_DATA))
		return; /* 1: no answer; the caller's lock is released by agent_poll */
	hal_sram_read(block, hdr, sizeof(hdr));
	req = agent_get_le32(hdr + AGENT_BLK_REQUEST);
	in_len = agent_get_le32(hdr + AGENT_BLK_IN_LEN);
	op = (uint8_t)(req >> 24);
	if (!a->ready)
		st = AGENT_ERR_BUSY;
	else if ((req & 0x00FFFFFFu) != 0 || in_len > AGENT_DATA_MAX ||
		 !mailbox_span_ok(a, block + AGENT_BLK_DATA, in_len))
		st = AGENT_ERR_REQUEST;
	else if (!mailbox_span_ok(a, block + AGENT_BLK_DATA, mailbox_out_max(a, op)))
		st = AGENT_ERR_REQUEST; /* 5: checked up front, so nothing half-written */
	else
		st = mailbox_run(a, op, block + AGENT_BLK_DATA, in_len, block + AGENT_BLK_DATA,
				 &out_len);
	if (st != AGENT_OK)
		out_len = 0;
	agent_le32(word, out_len);
	hal_sram_write(block + AGENT_BLK_OUT_LEN, word, 4);
	agent_le32(word, st);
	hal_sram_write(block + AGENT_BLK_STATUS, word, 4);
}

bool agent_poll(struct agent *a)
{
	uint32_t block;

	if (!hal_call_pending(&block))
		return false;
	if (!a->ready)
		a->ready = identity_load(a); /* BUSY until the TRNG delivers (identity.c) */
	agent_serve(a, block);
	hal_call_release();
	return true;
}
