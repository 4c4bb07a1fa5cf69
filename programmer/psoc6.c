/*
 * psoc6.c — the PSoC 6 layer: family detection from the AP0 ROM table, per-family
 * constants, IPC calls (SROM API on IPC_STRUCT2, the secure agent on IPC_STRUCT8), the
 * unique ID, and the entrance exam a chip must pass before anything is written.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lpa/agent/agent-abi.h"
#include "programmer-private.h"

#define AP_SYS 0 /* the system AP: memory as the bus masters see it */
#define AP_BASE 0xF8
#define AP_IDR 0xFC

#define IPC_STRUCT_SIZE 0x20
#define IPC_ACQUIRE 0x00
#define IPC_NOTIFY 0x08
#define IPC_DATA 0x0C
#define IPC_INTR_STRUCT_SIZE 0x20
#define IPC_INTR_MASK 0x08
#define IPC_LOCKED 0x80000000u

#define IPC_SROM 2 /* "IPC #2 is dedicated for DAP access" */
#define IPC_AGENT AGENT_IPC_STRUCT

#define SROM_SIID_FAMILY_REV 0x00000001u
#define SROM_SIID_PROTECTION 0x00000101u
#define SROM_OK_MASK 0xF0000000u
#define SROM_OK 0xA0000000u

#define SFLASH_DIE 0x16000600u

#define AGENT_HDR AGENT_BLK_DATA
#define AGENT_BUSY_RETRIES 20
/* What an LPI1 usually takes: its header and a DIK certificate of about 450 bytes
 * (a longer one costs one more read). */
#define LPA_LPI1_EXPECT (LPA_LPI1_HDR_LEN + 512)

static const struct psoc6_family psoc6_families[] = {
	{PSOC6_FAMILY_BLE2, "PSoC 6A-BLE2 (CY8C6xx6/7, CPUSS v1)", 0x40230000, 0x40231000, 0x10,
	 0x40210500, 0x08046000, AGENT_BLOCK_MAX},
	{PSOC6_FAMILY_2M, "PSoC 6A-2M (CY8C6xx8/A, CPUSS v2)", 0x40220000, 0x40221000, 0x1C,
	 0x402020C4, 0x080FC000, AGENT_BLOCK_MAX},
	/* 512K: CPUSS v2 map, 256 KiB SRAM; the agent's block sits below its top. */
	{PSOC6_FAMILY_512K, "PSoC 6A-512K (CY8C6xx5, CPUSS v2)", 0x40220000, 0x40221000, 0x1C,
	 0x402020C4, 0x0803C000, AGENT_BLOCK_MAX},
};

struct psoc6 {
	prog_link *link;
	const struct psoc6_family *fam;
};

const struct psoc6_family *psoc6_family_lookup(uint16_t id)
{
	for (size_t i = 0; i < sizeof(psoc6_families) / sizeof(psoc6_families[0]); i++)
		if (psoc6_families[i].id == id)
			return &psoc6_families[i];
	return NULL;
}

/* The family ID from the system AP's ROM table PIDRs (what KitProg3 reads). */
static int psoc6_read_family(prog_link *link, uint16_t *family)
{
	uint32_t base, p[8];
	uint32_t pidr03, pidr47 = 0;
	int r;

	if ((r = prog_ap_read(link, AP_SYS, AP_BASE, &base)) != LPA_OK)
		return r;
	if (base == 0) {
		uint32_t idr = 0;

		/* A system AP that does not identify itself has been closed by the life
		 * cycle (SECURE or DEAD: CPUSS.AP_CTL): no chip to fix by reseating. */
		if ((r = prog_ap_read(link, AP_SYS, AP_IDR, &idr)) != LPA_OK || idr == 0)
			return LPA_ERR_STATE;
	}
	if ((base & 3) != 3)
		return LPA_ERR_UNSUPPORTED; /* no ROM table in the ADIv5 format */
	base &= 0xFFFFF000u;
	if ((r = prog_mem_read(link, AP_SYS, base + 0xFD0, p, sizeof(p))) != LPA_OK)
		return r;
	/* PIDR4..7 at 0xFD0.., PIDR0..3 at 0xFE0..; the low byte of each word counts. */
	for (int i = 0; i < 4; i++)
		pidr47 |= (le32toh(p[i]) & 0xFF) << (8 * i);
	pidr03 = 0;
	for (int i = 0; i < 4; i++)
		pidr03 |= (le32toh(p[4 + i]) & 0xFF) << (8 * i);
	if ((pidr03 & 0x000FF000u) != 0x000B4000u || pidr47 != 0)
		return LPA_ERR_UNSUPPORTED; /* JEP106 code not Cypress's */
	*family = (uint16_t)(pidr03 & 0xFFF);
	return LPA_OK;
}

int psoc6_attach(prog_link *link, psoc6 **out)
{
	psoc6 *c;
	uint16_t id = 0;
	int r;

	*out = NULL;
	if ((r = psoc6_read_family(link, &id)) != LPA_OK)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return LPA_ERR_NOMEM;
	c->link = link;
	if ((c->fam = psoc6_family_lookup(id)) == NULL) {
		free(c);
		return LPA_ERR_UNSUPPORTED;
	}
	*out = c;
	return LPA_OK;
}

void psoc6_detach(psoc6 **c)
{
	if (c == NULL)
		return;
	free(*c);
	*c = NULL;
}

const struct psoc6_family *psoc6_get_family(const psoc6 *c)
{
	return c->fam;
}

/*
 * One IPC call, as the PDL makes it: unmask the structure's notify interrupt on
 * IPC_INTR_STRUCT0 (the CM0+), acquire the structure (reading ACQUIRE takes the lock
 * when it is free), put the request (or a pointer to it) in DATA, notify, and wait until
 * the CM0+ releases the lock. As one script, so the native backend sends it in one host
 * wait and the probe does the polling; result, when not NULL, is DATA read back at the
 * end, and the `after` ops (reads: the agent's answer) follow in the same script.
 */
#define IPC_CALL_OPS 6
static size_t psoc6_ipc_ops(psoc6 *c, unsigned idx, uint32_t data, uint32_t *result,
			    struct prog_op *ops)
{
	uint32_t ipc = c->fam->ipc_base + idx * IPC_STRUCT_SIZE;
	size_t n = 0;

	ops[n++] = (struct prog_op){PROG_OP_WRITE32,
				    c->fam->ipc_intr_base + IPC_INTR_MASK,
				    1u << (16 + idx),
				    0,
				    NULL,
				    NULL,
				    0};
	ops[n++] = (struct prog_op){
		PROG_OP_POLL32, ipc + IPC_ACQUIRE, IPC_LOCKED, IPC_LOCKED, NULL, NULL, 0};
	ops[n++] = (struct prog_op){PROG_OP_WRITE32, ipc + IPC_DATA, data, 0, NULL, NULL, 0};
	ops[n++] = (struct prog_op){PROG_OP_WRITE32, ipc + IPC_NOTIFY, 1, 0, NULL, NULL, 0};
	ops[n++] = (struct prog_op){
		PROG_OP_POLL32, ipc + c->fam->lock_status_off, 0, IPC_LOCKED, NULL, NULL, 0};
	if (result != NULL)
		ops[n++] = (struct prog_op){PROG_OP_READ32, ipc + IPC_DATA, 0, 0, result, NULL, 0};
	return n;
}

static int psoc6_ipc_call(psoc6 *c, unsigned idx, uint32_t data, unsigned timeout_ms,
			  uint32_t *result)
{
	struct prog_op ops[IPC_CALL_OPS];
	size_t n = psoc6_ipc_ops(c, idx, data, result, ops);

	return prog_mem_ops(c->link, AP_SYS, ops, n, timeout_ms);
}

/* An SROM call whose parameters fit in DATA (bit 0 set); the result comes back there. */
static int psoc6_srom_data(psoc6 *c, uint32_t req, uint32_t *result)
{
	uint32_t ipc = c->fam->ipc_base + IPC_SROM * IPC_STRUCT_SIZE;
	int r;

	(void)ipc;
	if ((r = psoc6_ipc_call(c, IPC_SROM, req, 1500, result)) != LPA_OK)
		return r;
	return (*result & SROM_OK_MASK) == SROM_OK ? LPA_OK : LPA_ERR_UNSUPPORTED;
}

/* The two SiliconID calls; with uid_die, the SFlash die fields read in the second
 * call's script (one host wait for both). */
static int psoc6_silicon_id_die(psoc6 *c, uint32_t *silicon_id, uint8_t *protection,
				uint8_t *uid_die, size_t die_len)
{
	uint32_t fam_rev = 0, siid_prot = 0;
	struct prog_op ops[IPC_CALL_OPS + 1];
	size_t n;
	int r;

	if ((r = psoc6_srom_data(c, SROM_SIID_FAMILY_REV, &fam_rev)) != LPA_OK)
		return r;
	n = psoc6_ipc_ops(c, IPC_SROM, SROM_SIID_PROTECTION, &siid_prot, ops);
	if (uid_die != NULL)
		ops[n++] = (struct prog_op){
			PROG_OP_READ_BLOCK, SFLASH_DIE, 0, 0, NULL, uid_die, die_len};
	if ((r = prog_mem_ops(c->link, AP_SYS, ops, n, 1500)) != LPA_OK)
		return r;
	if ((siid_prot & SROM_OK_MASK) != SROM_OK)
		return LPA_ERR_UNSUPPORTED;
	*silicon_id = (siid_prot & 0xFFFF) << 16 | (fam_rev & 0x00FF0000) >> 8 | (fam_rev & 0xFF);
	*protection = (uint8_t)((siid_prot & 0x000F0000) >> 16);
	return LPA_OK;
}

int psoc6_silicon_id(psoc6 *c, uint32_t *silicon_id, uint8_t *protection)
{
	return psoc6_silicon_id_die(c, silicon_id, protection, NULL, 0);
}

int psoc6_unique_id(psoc6 *c, uint64_t *uid)
{
	uint8_t d[12]; /* 11 die bytes, read as whole words */
	int r;

	if ((r = prog_mem_read(c->link, AP_SYS, SFLASH_DIE, d, sizeof(d))) != LPA_OK)
		return r;
	*uid = lpa_chip_uid_from_die(d);
	return LPA_OK;
}

static void psoc6_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t psoc6_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One agent call; `expect` is the output length the caller expects (read in the same
 * script as the call: one host wait for call and answer when it is right). */
static int psoc6_agent_call_expect(psoc6 *c, uint8_t opcode, const void *in, size_t in_len,
				   void *out, size_t out_cap, size_t *out_len, size_t expect,
				   unsigned timeout_ms)
{
	uint8_t blk[AGENT_BLOCK_MAX], rd[AGENT_BLOCK_MAX];
	uint32_t base = c->fam->param_area, status, olen;
	size_t wlen = (AGENT_HDR + in_len + 3) & ~(size_t)3;
	size_t rlen = (AGENT_HDR + (expect < out_cap ? expect : out_cap) + 3) & ~(size_t)3;
	struct prog_op ops[IPC_CALL_OPS + 2];
	size_t n;
	int r = LPA_ERR_AGENT_BUSY;

	*out_len = 0;
	if (in_len > AGENT_BLOCK_MAX - AGENT_HDR)
		return LPA_ERR_INVAL;
	if (rlen > AGENT_BLOCK_MAX)
		rlen = AGENT_BLOCK_MAX;
	/* BUSY: the agent is still booting after a reset; it says so promptly, retry. */
	for (int attempt = 0; attempt < AGENT_BUSY_RETRIES && r == LPA_ERR_AGENT_BUSY; attempt++) {
		if (attempt > 0)
			usleep(20000);
		memset(blk, 0, wlen);
		psoc6_put_le32(blk + AGENT_BLK_REQUEST, (uint32_t)opcode << 24);
		psoc6_put_le32(blk + AGENT_BLK_IN_LEN, (uint32_t)in_len);
		if (in_len > 0)
			memcpy(blk + AGENT_HDR, in, in_len);
		/* The block, the call, then the block read back (status, lengths and the
		 * answer): one script. A block write the link did not complete stops the
		 * script; the call behind it may have run on a torn block, which the agent
		 * refuses like any malformed request, and the script runs again from the
		 * write. */
		ops[0] = (struct prog_op){PROG_OP_WRITE_BLOCK, base, 0, 0, NULL, blk, wlen};
		n = 1 + psoc6_ipc_ops(c, IPC_AGENT, base, NULL, ops + 1);
		ops[n++] = (struct prog_op){PROG_OP_READ_BLOCK, base, 0, 0, NULL, rd, rlen};
		if ((r = prog_mem_ops(c->link, AP_SYS, ops, n, timeout_ms)) != LPA_OK)
			return r;
		status = psoc6_get_le32(rd + AGENT_BLK_STATUS);
		r = lpa_agent_err_from_status(status);
	}
	if (r != LPA_OK)
		return r;
	olen = psoc6_get_le32(rd + AGENT_BLK_OUT_LEN);
	if (olen > AGENT_BLOCK_MAX - AGENT_HDR || olen > out_cap)
		return LPA_ERR_PROTOCOL; /* the agent claims more than the block can hold */
	if (AGENT_HDR + (size_t)olen > rlen) {
		/* Longer than expected: the rest in one more read. */
		size_t more = ((AGENT_HDR + olen + 3) & ~(size_t)3) - rlen;

		if ((r = prog_mem_read(c->link, AP_SYS, base + (uint32_t)rlen, rd + rlen, more)) !=
		    LPA_OK)
			return r;
	}
	if (olen > 0) /* a call without output (STORE_CERT) may pass out = NULL */
		memcpy(out, rd + AGENT_HDR, olen);
	*out_len = olen;
	return LPA_OK;
}

int psoc6_agent_call(psoc6 *c, uint8_t opcode, const void *in, size_t in_len, void *out,
		     size_t out_cap, size_t *out_len, unsigned timeout_ms)
{
	return psoc6_agent_call_expect(c, opcode, in, in_len, out, out_cap, out_len, 0, timeout_ms);
}

int psoc6_get_identity(psoc6 *c, struct lpa_lpi1 *id, uint8_t *raw, size_t raw_cap, size_t *raw_len)
{
	uint8_t buf[LPA_LPI1_MAX_LEN];
	size_t n = 0;
	int r;

	if ((r = psoc6_agent_call_expect(c, AGENT_OP_GET_IDENTITY, NULL, 0, buf, sizeof(buf), &n,
					 LPA_LPI1_EXPECT, 2000)) != LPA_OK)
		return r;
	if ((r = lpa_lpi1_parse(buf, n, id)) != LPA_OK)
		return r;
	if (raw != NULL) {
		if (n > raw_cap)
			return LPA_ERR_LENGTH;
		memcpy(raw, buf, n);
		*raw_len = n;
	}
	return LPA_OK;
}

int psoc6_install_package(psoc6 *c, const uint8_t lpk1[LPA_LPK1_LEN], uint8_t lpr1[LPA_LPR1_LEN])
{
	struct lpa_lpr1 rc;
	size_t n = 0;
	int r;

	/* Two flash writes and ECDH/ECDSA on a CM0+: allow seconds, not milliseconds. */
	if ((r = psoc6_agent_call_expect(c, AGENT_OP_INSTALL, lpk1, LPA_LPK1_LEN, lpr1,
					 LPA_LPR1_LEN, &n, LPA_LPR1_LEN, 10000)) != LPA_OK)
		return r;
	if (n != LPA_LPR1_LEN)
		return LPA_ERR_PROTOCOL;
	return lpa_lpr1_parse(lpr1, n, &rc);
}

int psoc6_prove(psoc6 *c, uint64_t dev_eui, const uint8_t nonce[16], uint8_t lpp1[LPA_LPP1_LEN])
{
	uint8_t in[24];
	struct lpa_lpp1 p;
	size_t n = 0;
	int r;

	lpa_be_put(in, dev_eui, 8);
	memcpy(in + 8, nonce, 16);
	if ((r = psoc6_agent_call_expect(c, AGENT_OP_PROVE, in, sizeof(in), lpp1, LPA_LPP1_LEN, &n,
					 LPA_LPP1_LEN, 5000)) != LPA_OK)
		return r;
	if (n != LPA_LPP1_LEN)
		return LPA_ERR_PROTOCOL;
	return lpa_lpp1_parse(lpp1, n, &p);
}

int psoc6_get_status(psoc6 *c, struct lpa_agent_status *st)
{
	uint8_t buf[LPA_STATUS_LEN];
	size_t n = 0;
	int r;

	if ((r = psoc6_agent_call_expect(c, AGENT_OP_GET_STATUS, NULL, 0, buf, sizeof(buf), &n,
					 LPA_STATUS_LEN, 2000)) != LPA_OK)
		return r;
	return lpa_status_parse(buf, n, st);
}

void psoc6_exam_policy_default(struct psoc6_exam_policy *p)
{
	p->allowed_protection = 1u << LPA_PROT_NORMAL;
	/* Agent versions are major.minor (high byte, low byte); this station speaks 1.x. */
	p->min_agent_version = 0x0100;
	p->max_agent_version = 0x01FF;
	p->allow_reprovision = false;
}

int psoc6_entrance_exam(psoc6 *c, const struct psoc6_exam_policy *p, struct psoc6_exam_result *res)
{
	uint8_t die[12];
	int r;

	memset(res, 0, sizeof(*res));
	res->family = c->fam->id;
	/* The unique ID rides in the second SiliconID call's script; it is reported only
	 * once the protection state allows the chip. */
	if ((r = psoc6_silicon_id_die(c, &res->silicon_id, &res->protection, die, sizeof(die))) !=
	    LPA_OK) {
		snprintf(res->reason, sizeof(res->reason), "SiliconID SROM call failed: %s",
			 lpa_strerror(r));
		return r;
	}
	if (res->protection > 7 || (p->allowed_protection & (1u << res->protection)) == 0) {
		snprintf(res->reason, sizeof(res->reason), "protection state %s not allowed",
			 lpa_protection_name(res->protection));
		return LPA_ERR_STATE;
	}
	res->uid = lpa_chip_uid_from_die(die);
	if ((r = psoc6_get_status(c, &res->status)) != LPA_OK) {
		snprintf(res->reason, sizeof(res->reason), "secure agent not answering: %s",
			 lpa_strerror(r));
		return r;
	}
	if (res->status.agent_version < p->min_agent_version ||
	    res->status.agent_version > p->max_agent_version) {
		snprintf(res->reason, sizeof(res->reason),
			 "secure agent version %u.%u not supported", res->status.agent_version >> 8,
			 res->status.agent_version & 0xFF);
		return LPA_ERR_UNSUPPORTED;
	}
	if (res->status.provisioned && !p->allow_reprovision) {
		snprintf(res->reason, sizeof(res->reason),
			 "already provisioned (DevEUI %016llx); re-provisioning not requested",
			 (unsigned long long)res->status.dev_eui);
		return LPA_ERR_MISMATCH;
	}
	return LPA_OK;
}

prog_link *psoc6_link(psoc6 *c)
{
	return c->link;
}
