/*
 * hal-host.c — hal.h on RAM arrays (hal-host.h). Every access the portable core makes
 * is checked against the span it may touch: an out-of-range address aborts the test,
 * because mailbox.c is supposed to refuse such a block before it reads or writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal-host.h"

struct host_chip host;

static const struct hal_part host_part = {
	.part = 1,
	.sram_base = HOST_SRAM_BASE,
	.sram_size = HOST_SRAM_SIZE,
	.agent_ram_end = 0x08001800u,
	.srom_reserved = 0x800u,
};

static void host_die(const char *what, uint32_t addr, size_t len)
{
	fprintf(stderr, "hal-host: %s outside its span: 0x%08X + %zu\n", what, addr, len);
	abort();
}

void host_reset(uint64_t seed)
{
	memset(&host, 0, sizeof(host));
	host.prot_state = 2;
	host.cut_at = -1;
	host.fail_at = -1;
	host.rng = seed;
}

void host_notify(uint32_t block)
{
	host.pending = true;
	host.data0 = block;
}

uint8_t *host_sram(uint32_t addr)
{
	return host.sram + (addr - HOST_SRAM_BASE);
}

const struct hal_part *hal_part(void)
{
	return &host_part;
}

int hal_call_pending(uint32_t *block)
{
	if (!host.pending)
		return 0;
	host.pending = false;
	*block = host.data0;
	return 1;
}

void hal_call_release(void)
{
	host.releases++;
}

/* The caller's blocks: outside the agent's RAM and the SROM's reserve. */
static void host_check_block(const char *what, uint32_t addr, size_t len)
{
	if (addr < host_part.agent_ram_end ||
	    (uint64_t)addr + len > HOST_SRAM_BASE + HOST_SRAM_SIZE - host_part.srom_reserved)
		host_die(what, addr, len);
}

void hal_sram_read(uint32_t addr, void *buf, size_t len)
{
	host_check_block("SRAM read", addr, len);
	memcpy(buf, host_sram(addr), len);
}

void hal_sram_write(uint32_t addr, const void *buf, size_t len)
{
	host_check_block("SRAM write", addr, len);
	memcpy(host_sram(addr), buf, len);
}

static uint8_t *host_flash(uint32_t addr, size_t len)
{
	if (addr < HOST_WORK_BASE || (uint64_t)addr + len > HOST_WORK_BASE + HOST_WORK_SIZE)
		host_die("flash access", addr, len);
	return host.work + (addr - HOST_WORK_BASE);
}

void hal_flash_read(uint32_t addr, void *buf, size_t len)
{
	memcpy(buf, host_flash(addr, len), len);
}

/* One flash operation: the cut and the failures apply to whichever comes at its index. */
static int host_flash_op(uint32_t addr, const uint8_t *row)
{
	uint8_t *p = host_flash(addr, HAL_ROW_SIZE);
	long op = (long)host.flash_ops++;

	if (addr % HAL_ROW_SIZE)
		host_die("unaligned row", addr, HAL_ROW_SIZE);
	if (op == host.cut_at) {
		memset(p, 0, HAL_ROW_SIZE);
		if (row)
			memcpy(p, row, host.cut_bytes);
		longjmp(*host.cut_env, 1);
	}
	if (op == host.fail_at && host.fail == HOST_FAIL_ERROR)
		return HAL_ERR_SROM;
	memset(p, 0, HAL_ROW_SIZE);
	if (row)
		memcpy(p, row, HAL_ROW_SIZE);
	if (op == host.fail_at && host.fail == HOST_FAIL_CORRUPT)
		p[40] ^= 0x04;
	if (op == host.fail_at && host.fail == HOST_FAIL_LANDED)
		return HAL_ERR_SROM;
	return HAL_OK;
}

int hal_flash_write_row(uint32_t addr, const uint8_t row[HAL_ROW_SIZE])
{
	return host_flash_op(addr, row);
}

int hal_flash_erase_row(uint32_t addr)
{
	return host_flash_op(addr, NULL);
}

void hal_sflash_read(uint32_t off, void *buf, size_t len)
{
	if ((uint64_t)off + len > HOST_SFLASH_SIZE)
		host_die("SFlash read", off, len);
	memcpy(buf, host.sflash + off, len);
}

uint8_t hal_protection_state(void)
{
	return host.prot_state;
}

int hal_trng(uint8_t *out, size_t len)
{
	if (host.trng_fail) {
		memset(out, 0, len);
		return HAL_ERR_RNG;
	}
	for (size_t i = 0; i < len; i++) {
		/* splitmix64: deterministic per seed, which the tests want. */
		uint64_t z = (host.rng += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		out[i] = (uint8_t)(z ^ (z >> 31));
	}
	host.trng_bytes += (unsigned)len;
	return HAL_OK;
}

void hal_protect(void)
{
	host.protect_calls++;
}

void hal_start_cm4(void)
{
}
