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

#define IPC_SROM 2  /* "IPC #2 is dedicated for DAP access" */
#define IPC_AGENT 8 /* docs/protocols.md */

#define SROM_SIID_FAMILY_REV 0x00000001u
#define SROM_SIID_PROTECTION 0x00000101u
#define SROM_OK_MASK 0xF0000000u
#define SROM_OK 0xA0000000u

#define SFLASH_DIE 0x16000600u

#define AGENT_BLOCK_MAX 2048
#define AGENT_HDR 16
#define AGENT_BUSY_RETRIES 20

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
 * One IPC call, as the PDL makes it: acquire the structure (reading ACQUIRE takes the
 * lock when it is free), put the request (or a pointer to it) in DATA, unmask its notify
 * interrupt on IPC_INTR_STRUCT0 (the CM0+), notify, and wait until the CM0+ releases the
 * lock. As one script, so the native backend sends it in one USB round trip and the
 * probe does the polling; result, when not NULL, is DATA read back at the end.
 */
static int psoc6_ipc_call(psoc6 *c, unsigned idx, uint32_t data, unsigned timeout_ms,
			  uint32_t *result)
{
	uint32_t ipc = c->fam->ipc_base + idx * IPC_STRUCT_SIZE;
	struct prog_op ops[6] = {
		{PROG_OP_POLL32, ipc + IPC_ACQUIRE, IPC_LOCKED, IPC_LOCKED, NULL},
		{PROG_OP_WRITE32, ipc + IPC_DATA, data, 0, NULL},
		{PROG_OP_WRITE32, c->fam->ipc_intr_base + IPC_INTR_MASK, 1u << (16 + idx), 0, NULL},
		{PROG_OP_WRITE32, ipc + IPC_NOTIFY, 1, 0, NULL},
		{PROG_OP_POLL32, ipc + c->fam->lock_status_off, 0, IPC_LOCKED, NULL},
		{PROG_OP_READ32, ipc + IPC_DATA, 0, 0, result},
	};

	return prog_mem_ops(c->link, AP_SYS, ops, result != NULL ? 6 : 5, timeout_ms);
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

int psoc6_silicon_id(psoc6 *c, uint32_t *silicon_id, uint8_t *protection)
{
	uint32_t fam_rev = 0, siid_prot = 0;
	int r;

	if ((r = psoc6_srom_data(c, SROM_SIID_FAMILY_REV, &fam_rev)) != LPA_OK ||
	    (r = psoc6_srom_data(c, SROM_SIID_PROTECTION, &siid_prot)) != LPA_OK)
		return r;
	*silicon_id = (siid_prot & 0xFFFF) << 16 | (fam_rev & 0x00FF0000) >> 8 | (fam_rev & 0xFF);
	*protection = (uint8_t)((siid_prot & 0x000F0000) >> 16);
	return LPA_OK;
}

int psoc6_unique_id(psoc6 *c, uint64_t *uid)
{
	uint8_t d[12];
	int r;

	if ((r = prog_mem_read(c->link, AP_SYS, SFLASH_DIE, d, sizeof(d))) != LPA_OK)
		return r;
	/* Cy_SysLib_GetUniqueId: lot[0..2], wafer, x, y, sort, minor bit 0, year; the day
	 * and month fields are not part of it. */
	*uid = (uint64_t)d[0] | (uint64_t)d[1] << 8 | (uint64_t)d[2] << 16 | (uint64_t)d[3] << 24 |
	       (uint64_t)d[4] << 32 | (uint64_t)d[5] << 40 | (uint64_t)d[6] << 48 |
	       (uint64_t)(d[7] & 1) << 56 | (uint64_t)(d[10] & 0x7F) << 57;
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

int psoc6_agent_call(psoc6 *c, uint8_t opcode, const void *in, size_t in_len, void *out,
		     size_t out_cap, size_t *out_len, unsigned timeout_ms)
{
	uint8_t blk[AGENT_BLOCK_MAX];
	uint32_t base = c->fam->param_area, status, olen;
	size_t wlen = (AGENT_HDR + in_len + 3) & ~(size_t)3;
	int r = LPA_ERR_AGENT_BUSY;

	*out_len = 0;
	if (in_len > AGENT_BLOCK_MAX - AGENT_HDR)
		return LPA_ERR_INVAL;
	/* BUSY: the agent is still booting after a reset; it says so promptly, retry. */
	for (int attempt = 0; attempt < AGENT_BUSY_RETRIES && r == LPA_ERR_AGENT_BUSY; attempt++) {
		if (attempt > 0)
			usleep(20000);
		memset(blk, 0, wlen);
		psoc6_put_le32(blk + 0, (uint32_t)opcode << 24);
		psoc6_put_le32(blk + 8, (uint32_t)in_len);
		if (in_len > 0)
			memcpy(blk + AGENT_HDR, in, in_len);
		if ((r = prog_mem_write(c->link, AP_SYS, base, blk, wlen)) != LPA_OK ||
		    (r = psoc6_ipc_call(c, IPC_AGENT, base, timeout_ms, NULL)) != LPA_OK ||
		    (r = prog_mem_read(c->link, AP_SYS, base, blk, AGENT_HDR)) != LPA_OK)
			return r;
		status = psoc6_get_le32(blk + 4);
		r = lpa_agent_err_from_status(status);
	}
	if (r != LPA_OK)
		return r;
	olen = psoc6_get_le32(blk + 12);
	if (olen > AGENT_BLOCK_MAX - AGENT_HDR || olen > out_cap)
		return LPA_ERR_PROTOCOL; /* the agent claims more than the block can hold */
	if (olen > 0) {
		size_t rlen = (olen + 3) & ~(size_t)3;

		if ((r = prog_mem_read(c->link, AP_SYS, base + AGENT_HDR, blk, rlen)) != LPA_OK)
			return r;
		memcpy(out, blk, olen);
	}
	*out_len = olen;
	return LPA_OK;
}

int psoc6_get_identity(psoc6 *c, struct lpa_lpi1 *id, uint8_t *raw, size_t raw_cap, size_t *raw_len)
{
	uint8_t buf[LPA_LPI1_MAX_LEN];
	size_t n = 0;
	int r;

	if ((r = psoc6_agent_call(c, 0x70, NULL, 0, buf, sizeof(buf), &n, 2000)) != LPA_OK)
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
	if ((r = psoc6_agent_call(c, 0x71, lpk1, LPA_LPK1_LEN, lpr1, LPA_LPR1_LEN, &n, 10000)) !=
	    LPA_OK)
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
	if ((r = psoc6_agent_call(c, 0x72, in, sizeof(in), lpp1, LPA_LPP1_LEN, &n, 5000)) != LPA_OK)
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

	if ((r = psoc6_agent_call(c, 0x73, NULL, 0, buf, sizeof(buf), &n, 2000)) != LPA_OK)
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

static const char *psoc6_protection_name(uint8_t p)
{
	static const char *names[] = {"UNKNOWN", "VIRGIN", "NORMAL", "SECURE", "DEAD"};

	return p < 5 ? names[p] : "invalid";
}

int psoc6_entrance_exam(psoc6 *c, const struct psoc6_exam_policy *p, struct psoc6_exam_result *res)
{
	int r;

	memset(res, 0, sizeof(*res));
	res->family = c->fam->id;
	if ((r = psoc6_silicon_id(c, &res->silicon_id, &res->protection)) != LPA_OK) {
		snprintf(res->reason, sizeof(res->reason), "SiliconID SROM call failed: %s",
			 lpa_strerror(r));
		return r;
	}
	if (res->protection > 7 || (p->allowed_protection & (1u << res->protection)) == 0) {
		snprintf(res->reason, sizeof(res->reason), "protection state %s not allowed",
			 psoc6_protection_name(res->protection));
		return LPA_ERR_STATE;
	}
	if ((r = psoc6_unique_id(c, &res->uid)) != LPA_OK) {
		snprintf(res->reason, sizeof(res->reason), "unique ID unreadable: %s",
			 lpa_strerror(r));
		return r;
	}
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
