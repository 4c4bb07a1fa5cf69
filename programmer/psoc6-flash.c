/*
 * psoc6-flash.c — programming the PSoC 6's main flash: the CM0+ parked in the boot ROM,
 * (sub)sector erases, then pipelined SROM ProgramRow calls (docs/programmer.md, "Flash
 * programming"), and the read-back that verifies it. The OpenOCD backend hands the
 * whole write to OpenOCD's psoc6 flash driver instead (prog_link_flash_write).
 *
 * Why pipelined: a row takes the SROM 5 ms (datasheet), a USB round trip up to 1 ms,
 * and the row's 512 bytes a few more. Two parameter blocks with their row buffers
 * alternate in SRAM: while the SROM programs row k from one, the host writes row k+1
 * into the other, and the one DAP_Transfer that starts row k+1 first lets the probe wait
 * (value match) for row k's release. The wire then costs nothing beyond the rows' own
 * time as long as one row's data and one round trip fit in a row's programming time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "programmer-private.h"

#define AP_SYS 0
#define AP_CM0 1

#define IPC_STRUCT_SIZE 0x20
#define IPC_ACQUIRE 0x00
#define IPC_NOTIFY 0x08
#define IPC_DATA 0x0C
#define IPC_INTR_MASK 0x08
#define IPC_LOCKED 0x80000000u
#define IPC_SROM 2

#define SROM_PROGRAM_ROW 0x06000100u /* opcode 0x06, blocking */
#define SROM_ERASE_SECTOR 0x14000100u
#define SROM_ERASE_SUBSECTOR 0x1D000100u
#define SROM_DATA_IN_SRAM 0x106u /* arg1: 512-byte row, data in SRAM at arg3 */
#define SROM_OK_MASK 0xF0000000u
#define SROM_OK 0xA0000000u

#define FLASH_SUBSECTOR 0x1000u /* 8 rows */
#define FLASH_SECTOR 0x40000u   /* 256 KiB */
#define FLASH_MAIN_BASE 0x10000000u
#define FLASH_MAIN_MAX 0x200000u /* 2 MiB: the largest part */

/* One slot: the 16-byte SROM parameter block, then the row it points at. */
#define SLOT_SIZE (16 + PSOC6_FLASH_ROW)

/* The CM0+'s debug registers (ARMv6-M), through its own AP. */
#define DHCSR 0xE000EDF0u
#define DCRSR 0xE000EDF4u
#define DCRDR 0xE000EDF8u
#define VTOR 0xE000ED08u
#define DBGKEY 0xA05F0000u
#define C_DEBUGEN 0x1u
#define C_HALT 0x2u
#define S_REGRDY (1u << 16)
#define S_HALT (1u << 17)
#define DCRSR_WRITE (1u << 16)
#define REG_PC 15
#define REG_XPSR 16
/* The boot ROM's idle loop (`b .`), where it waits when flash holds no application;
 * its vector table (VTOR 0) sends the NMI to the SROM. */
#define ROM_IDLE 0x00000100u
#define XPSR_THUMB 0x01000000u

#define FLASH_OP_TIMEOUT_MS 1500

static void flash_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int flash_fail(char *why, size_t why_len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int flash_fail(char *why, size_t why_len, int r, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && why_len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* One core register written while the core is halted. */
static int flash_core_reg(prog_link *l, unsigned reg, uint32_t val)
{
	struct prog_op ops[] = {
		{PROG_OP_WRITE32, DCRDR, val, 0, NULL},
		{PROG_OP_WRITE32, DCRSR, DCRSR_WRITE | reg, 0, NULL},
		{PROG_OP_POLL32, DHCSR, S_REGRDY, S_REGRDY, NULL},
	};

	return prog_mem_ops(l, AP_CM0, ops, 3, FLASH_OP_TIMEOUT_MS);
}

/*
 * The CM0+ must not run code that is being rewritten, and must keep running for the
 * SROM to be served (the SROM is its NMI). So: halt it, point it at the boot ROM's idle
 * loop with the ROM's vector table, and let it go. A reset undoes all of it.
 */
int psoc6_flash_park(psoc6 *chip)
{
	prog_link *l = psoc6_link(chip);
	struct prog_op halt[] = {
		{PROG_OP_WRITE32, DHCSR, DBGKEY | C_DEBUGEN | C_HALT, 0, NULL},
		{PROG_OP_POLL32, DHCSR, S_HALT, S_HALT, NULL},
	};
	int r;

	if ((r = prog_mem_ops(l, AP_CM0, halt, 2, FLASH_OP_TIMEOUT_MS)) != LPA_OK ||
	    (r = flash_core_reg(l, REG_PC, ROM_IDLE)) != LPA_OK ||
	    (r = flash_core_reg(l, REG_XPSR, XPSR_THUMB)) != LPA_OK ||
	    (r = prog_mem_write32(l, AP_CM0, VTOR, 0)) != LPA_OK)
		return r;
	return prog_mem_write32(l, AP_CM0, DHCSR, DBGKEY | C_DEBUGEN);
}

/*
 * A CM0+ left halted by an earlier debug session — a station killed while it parked the
 * core (psoc6_flash_park), or an OpenOCD session — serves no SROM call, so every exam
 * would time out on the chip. DHCSR survives a system reset; only a power cycle or the
 * debugger clears it. Take the core out of debug when it is halted, so it runs on from
 * where it stopped: the agent, or the boot ROM's idle loop if the park got that far.
 */
int psoc6_flash_release(psoc6 *chip)
{
	prog_link *l = psoc6_link(chip);
	uint32_t dhcsr = 0;
	int r;

	if ((r = prog_mem_read32(l, AP_CM0, DHCSR, &dhcsr)) != LPA_OK)
		return r;
	if ((dhcsr & S_HALT) == 0)
		return LPA_OK;
	return prog_mem_write32(l, AP_CM0, DHCSR, DBGKEY);
}

/* The IPC_STRUCT2 script that starts the SROM call whose block is at blk, after the
 * previous call (if any) released the structure; prev_status gets that call's result. */
static size_t flash_kick(const struct psoc6_family *f, uint32_t blk, uint32_t prev_blk,
			 uint32_t *prev_status, struct prog_op *ops)
{
	uint32_t ipc = f->ipc_base + IPC_SROM * IPC_STRUCT_SIZE;
	size_t n = 0;

	ops[n++] =
		(struct prog_op){PROG_OP_POLL32, ipc + IPC_ACQUIRE, IPC_LOCKED, IPC_LOCKED, NULL};
	if (prev_status != NULL)
		ops[n++] = (struct prog_op){PROG_OP_READ32, prev_blk, 0, 0, prev_status};
	ops[n++] = (struct prog_op){PROG_OP_WRITE32, ipc + IPC_DATA, blk, 0, NULL};
	ops[n++] = (struct prog_op){PROG_OP_WRITE32, f->ipc_intr_base + IPC_INTR_MASK,
				    1u << (16 + IPC_SROM), 0, NULL};
	ops[n++] = (struct prog_op){PROG_OP_WRITE32, ipc + IPC_NOTIFY, 1, 0, NULL};
	return n;
}

/* Waits for the last call's release and reads its result. */
static int flash_drain(psoc6 *chip, uint32_t blk, uint32_t *status)
{
	const struct psoc6_family *f = psoc6_get_family(chip);
	uint32_t ipc = f->ipc_base + IPC_SROM * IPC_STRUCT_SIZE;
	struct prog_op ops[] = {
		{PROG_OP_POLL32, ipc + f->lock_status_off, 0, IPC_LOCKED, NULL},
		{PROG_OP_READ32, blk, 0, 0, status},
	};

	return prog_mem_ops(psoc6_link(chip), AP_SYS, ops, 2, FLASH_OP_TIMEOUT_MS);
}

/* One SROM call with its block at blk, waited for. */
static int flash_srom(psoc6 *chip, uint32_t blk, const uint32_t words[4], uint32_t *status)
{
	const struct psoc6_family *f = psoc6_get_family(chip);
	uint8_t b[16];
	struct prog_op ops[5];
	size_t n;
	int r;

	for (int i = 0; i < 4; i++)
		flash_put_le32(b + 4 * i, words[i]);
	n = flash_kick(f, blk, 0, NULL, ops);
	if ((r = prog_mem_write(psoc6_link(chip), AP_SYS, blk, b, sizeof(b))) != LPA_OK ||
	    (r = prog_mem_ops(psoc6_link(chip), AP_SYS, ops, n, FLASH_OP_TIMEOUT_MS)) != LPA_OK)
		return r;
	return flash_drain(chip, blk, status);
}

int psoc6_flash_plan(uint32_t addr, size_t len, struct psoc6_flash_plan *p)
{
	uint32_t a, end;

	memset(p, 0, sizeof(*p));
	if (len == 0 || addr % FLASH_SUBSECTOR != 0 || addr < FLASH_MAIN_BASE ||
	    len > FLASH_MAIN_MAX || addr - FLASH_MAIN_BASE > FLASH_MAIN_MAX - len)
		return LPA_ERR_INVAL;
	end = addr + (uint32_t)len;
	p->rows = (unsigned)((len + PSOC6_FLASH_ROW - 1) / PSOC6_FLASH_ROW);
	/* Whole sectors in one erase each, the rest by 4-KiB subsectors. */
	for (a = addr; a < end;) {
		if (a % FLASH_SECTOR == 0 && end - a >= FLASH_SECTOR) {
			p->sector_erases++;
			a += FLASH_SECTOR;
		} else {
			p->subsector_erases++;
			a += FLASH_SUBSECTOR;
		}
	}
	return LPA_OK;
}

static int flash_erase(psoc6 *chip, uint32_t addr, size_t len, uint32_t blk, char *why,
		       size_t why_len)
{
	uint32_t end = addr + (uint32_t)len, a = addr, status = 0;
	int r;

	while (a < end) {
		bool sector = a % FLASH_SECTOR == 0 && end - a >= FLASH_SECTOR;
		uint32_t w[4] = {sector ? SROM_ERASE_SECTOR : SROM_ERASE_SUBSECTOR, a, 0, 0};

		if ((r = flash_srom(chip, blk, w, &status)) != LPA_OK)
			return flash_fail(why, why_len, r, "erase at 0x%08x: %s", a,
					  lpa_strerror(r));
		if ((status & SROM_OK_MASK) != SROM_OK)
			return flash_fail(why, why_len, LPA_ERR_FLASH,
					  "erase at 0x%08x: SROM status 0x%08x", a, status);
		a += sector ? FLASH_SECTOR : FLASH_SUBSECTOR;
	}
	return LPA_OK;
}

/* The rows, two slots alternating (see the top of this file). */
static int flash_rows(psoc6 *chip, uint32_t addr, const uint8_t *data, size_t len, char *why,
		      size_t why_len)
{
	const struct psoc6_family *f = psoc6_get_family(chip);
	prog_link *l = psoc6_link(chip);
	uint32_t slot[2] = {f->param_area, f->param_area + SLOT_SIZE}, status = 0, prev = addr;
	size_t rows = (len + PSOC6_FLASH_ROW - 1) / PSOC6_FLASH_ROW;
	uint8_t b[SLOT_SIZE];
	struct prog_op ops[5];
	int r;

	for (size_t k = 0; k < rows; k++) {
		/* The first row last: until the whole image is in, its vector table and
		 * header (0x10000000..) stay erased, so an interrupted write is never taken
		 * for a complete image. */
		size_t i = (k + 1) % rows, off = i * PSOC6_FLASH_ROW, n;
		uint32_t blk = slot[k % 2], row = addr + (uint32_t)off;
		size_t chunk = len - off < PSOC6_FLASH_ROW ? len - off : PSOC6_FLASH_ROW;

		flash_put_le32(b + 0, SROM_PROGRAM_ROW);
		flash_put_le32(b + 4, SROM_DATA_IN_SRAM);
		flash_put_le32(b + 8, row);
		flash_put_le32(b + 12, blk + 16);
		memset(b + 16, 0, PSOC6_FLASH_ROW); /* the erased value pads the last row */
		memcpy(b + 16, data + off, chunk);
		/* Row k-1 is being programmed from the other slot meanwhile. */
		if ((r = prog_mem_write(l, AP_SYS, blk, b, sizeof(b))) != LPA_OK)
			return flash_fail(why, why_len, r, "row data for 0x%08x: %s", row,
					  lpa_strerror(r));
		n = flash_kick(f, blk, slot[(k + 1) % 2], k > 0 ? &status : NULL, ops);
		if ((r = prog_mem_ops(l, AP_SYS, ops, n, FLASH_OP_TIMEOUT_MS)) != LPA_OK)
			return flash_fail(why, why_len, r, "ProgramRow 0x%08x: %s", row,
					  lpa_strerror(r));
		if (k > 0 && (status & SROM_OK_MASK) != SROM_OK) {
			(void)flash_drain(chip, blk, &(uint32_t){0});
			return flash_fail(why, why_len, LPA_ERR_FLASH,
					  "ProgramRow 0x%08x: SROM status 0x%08x", prev, status);
		}
		prev = row;
	}
	if ((r = flash_drain(chip, slot[(rows - 1) % 2], &status)) != LPA_OK)
		return flash_fail(why, why_len, r, "ProgramRow 0x%08x: %s", prev, lpa_strerror(r));
	if ((status & SROM_OK_MASK) != SROM_OK)
		return flash_fail(why, why_len, LPA_ERR_FLASH,
				  "ProgramRow 0x%08x: SROM status 0x%08x", prev, status);
	return LPA_OK;
}

int psoc6_flash_write(psoc6 *chip, uint32_t addr, const void *data, size_t len, char *why,
		      size_t why_len)
{
	struct psoc6_flash_plan plan;
	prog_link *l = psoc6_link(chip);
	int r;

	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if ((r = psoc6_flash_plan(addr, len, &plan)) != LPA_OK)
		return flash_fail(why, why_len, r, "0x%08x+%zu is not a main-flash range", addr,
				  len);
	/* A backend with its own flash programming (OpenOCD's psoc6 driver) does it all. */
	r = prog_link_flash_write(l, addr, data, len);
	if (r != LPA_ERR_UNSUPPORTED) {
		if (r != LPA_OK)
			flash_fail(why, why_len, r, "%s: %s", prog_link_backend_name(l),
				   prog_link_last_error(l)[0] ? prog_link_last_error(l)
							      : lpa_strerror(r));
	} else if ((r = psoc6_flash_park(chip)) != LPA_OK) {
		flash_fail(why, why_len, r, "cannot park the CM0+: %s", lpa_strerror(r));
	} else if ((r = flash_erase(chip, addr, len, psoc6_get_family(chip)->param_area, why,
				    why_len)) == LPA_OK) {
		r = flash_rows(chip, addr, data, len, why, why_len);
	}
	/* Out of debug: a core left halted (OpenOCD's driver leaves it so) would stay halted
	 * through the reset that starts the new image (DHCSR survives a system reset). */
	(void)prog_mem_write32(l, AP_CM0, DHCSR, DBGKEY);
	return r;
}

int psoc6_flash_verify(psoc6 *chip, uint32_t addr, const void *data, size_t len, uint8_t sha256[32],
		       uint32_t *bad_addr)
{
	uint8_t *back = malloc(len ? len : 1), want[32];
	int r;

	*bad_addr = 0;
	if (back == NULL)
		return LPA_ERR_NOMEM;
	if ((r = prog_mem_read(psoc6_link(chip), AP_SYS, addr, back, len)) != LPA_OK)
		goto fail;
	if ((r = lpa_sha256(back, len, sha256)) != LPA_OK ||
	    (r = lpa_sha256(data, len, want)) != LPA_OK)
		goto fail;
	if (memcmp(sha256, want, 32) != 0) {
		size_t i = 0;

		while (i < len && back[i] == ((const uint8_t *)data)[i])
			i++;
		*bad_addr = addr + (uint32_t)i;
		r = LPA_ERR_MISMATCH;
	}
fail:
	free(back);
	return r;
}
