/*
 * test-agent-fw-image IMAGE.bin PART — the firmware image itself, as a factory flashes
 * it, run from its reset vector on an emulated Cortex-M0 (Unicorn, Thumb mode, the
 * Cortex-M0 model) inside a minimal PSoC 6 of this test's own: flash, SRAM, work flash,
 * SFlash as memory; the IPC structures, the SROM's WriteRow/EraseRow, CPUSS, PROT and
 * the TRNG as MMIO, exactly the registers docs/agent.md lists (any other access fails
 * the test, so the list is proved complete). PART is 1 (CPUSS v1) or 2 (CPUSS v2).
 *
 * It checks, against lpa/core (OpenSSL): boot with a factory-placed identity, every
 * call (LPI1, LPK1 -> LPR1, LPP1, GET_STATUS), refusals (a bad block gets no answer
 * and leaves the agent's RAM alone, a bit flip, a stale counter), a reboot that keeps
 * the keys, a first boot that generates the DIK; the protection registers written as
 * documented; the budgets: image <= 24 KiB, static RAM + painted peak stack <= 6 KiB.
 * It prints the figures docs/agent.md records (size, stack, instructions per call).
 */
#include <stdio.h>
#include <stdlib.h>

#include <unicorn/unicorn.h>

#include "agent-test.h"
#include "cert-test.h"
#include "lpa/core/keystore.h"
#include "lw-net.h"

#define ROM_BASE 0x00000000u
#define ROM_SIZE 0x10000u
#define FLASH_BASE 0x10000000u
#define FLASH_SIZE 0x100000u
#define SRAM_BASE 0x08000000u
#define WORK_BASE 0x14000000u
#define WORK_SIZE 0x8000u
#define SFLASH_BASE 0x16000000u
#define SFLASH_SIZE 0x8000u
#define MMIO_BASE 0x40000000u
#define MMIO_SIZE 0x400000u
#define SCS_BASE 0xE000E000u
#define AGENT_RAM_TOP 0x08001800u
#define KS 0x14007000u
#define PAINT 0xDEADBEEFu

#define FLASH_BUDGET (24 * 1024)
#define RAM_BUDGET (6 * 1024)

#define CHIP_UID 0x0f2a1b3c4d5e6f70ull
#define DEV_EUI 0x70b3d57ed0001234ull

struct part_map {
	uint32_t sram_size, ipc, ipc_intr, lock_off, protection, cm4_pwr, cm4_vt, prot, crypto;
	uint32_t block;                          /* where the station puts its parameter block */
	uint32_t tr_result, crypto_intr, tr_cmd; /* offsets in CRYPTO; tr_cmd 0: none */
};
static const struct part_map maps[3] = {
	[1] = {0x48000, 0x40230000, 0x40231000, 0x10, 0x40210500, 0x40210080, 0x402102C0,
	       0x40240000, 0x40110000, 0x08046000, 0x288, 0x7C0, 0},
	[2] = {0x100000, 0x40220000, 0x40221000, 0x1C, 0x402020C4, 0x40201200, 0x40200200,
	       0x40230000, 0x40100000, 0x080FC000, 0x298, 0x100, 0x290},
};

static const char *image_path;
static int part;

struct chip {
	const struct part_map *m;
	uc_engine *uc;
	uint8_t *rom, *flash, *sram, *work, *sflash;
	size_t image_len;
	uint32_t lock[16], data0[16], intr0, mask0;
	uint32_t tr_ctl1;
	bool tr_started; /* CPUSS v2: TR_CMD.START since the last TR_RESULT read */
	bool trng_dead;  /* the TRNG never delivers */
	uint64_t rng;
	bool stop_when_idle;
	unsigned releases8, srom_calls, bad_mmio;
	uint32_t bad_addr;
	bool reset_requested;
	uint32_t touched[64]; /* register addresses accessed */
	unsigned n_touched;
	uint32_t prot_w[64][2]; /* PROT writes: address, value */
	unsigned n_prot;
	uint64_t insns;
	/* The SROM call in progress: it completes srom_insns instructions after NOTIFY (the
	 * CM0+ polls LOCK_STATUS meanwhile), so that a power cut can land inside it. */
	bool srom_busy;
	uint64_t srom_done_at, srom_started_at;
	unsigned srom_insns;
	uint64_t cut_at; /* 0: no power cut; else the instruction count at which it comes */
	bool cut;
	uint64_t notify_at; /* when the last SROM call was notified */
};
static struct chip C;

static void *page_alloc(size_t n)
{
	void *p = aligned_alloc(4096, n);

	ck_assert_ptr_nonnull(p);
	memset(p, 0, n);
	return p;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *sram(uint32_t a)
{
	ck_assert(a >= SRAM_BASE && a < SRAM_BASE + C.m->sram_size);
	return C.sram + (a - SRAM_BASE);
}

static void touch(uint32_t addr)
{
	for (unsigned i = 0; i < C.n_touched; i++)
		if (C.touched[i] == addr)
			return;
	ck_assert_uint_lt(C.n_touched, TU_N(C.touched));
	C.touched[C.n_touched++] = addr;
}

/* The SROM serving the CM0+'s own call on IPC_STRUCT0: WriteRow and EraseRow of work
 * flash rows, nothing else. */
static void srom_call(unsigned done)
{
	uint8_t *blk = sram(C.data0[0]);
	uint32_t req = le32(blk), st = 0xF000000Fu;

	C.srom_calls++;
	if (req == 0x05000100u) {
		uint32_t addr = le32(blk + 8), data = le32(blk + 12);

		if (addr >= WORK_BASE && addr + 512 <= WORK_BASE + WORK_SIZE && addr % 512 == 0 &&
		    (le32(blk + 4) & 0x100)) {
			/* WriteRow erases, then programs: a cut part way leaves the row erased
			 * with only its first bytes programmed. */
			memset(C.work + (addr - WORK_BASE), 0, 512);
			memcpy(C.work + (addr - WORK_BASE), sram(data), done);
			st = 0xA0000000u;
		} else {
			st = 0xF0000003u;
		}
	} else if (req == 0x1C000100u) {
		uint32_t addr = le32(blk + 4);

		if (addr >= WORK_BASE && addr + 512 <= WORK_BASE + WORK_SIZE && addr % 512 == 0) {
			memset(C.work + (addr - WORK_BASE), 0, 512);
			st = 0xA0000000u;
		} else {
			st = 0xF0000003u;
		}
	}
	put_le32(blk, st);
	C.lock[0] = 0;
}

static uint64_t mmio_read(uc_engine *uc, uint64_t off, unsigned size, void *ud)
{
	uint32_t a = MMIO_BASE + (uint32_t)off;
	const struct part_map *m = C.m;

	(void)ud;
	touch(a);
	if (size != 4)
		goto bad;
	if (a == m->ipc + 0x00) { /* IPC_STRUCT0.ACQUIRE */
		if (C.lock[0])
			return 0;
		C.lock[0] = 0x80000000u;
		return C.lock[0];
	}
	if (a == m->ipc + m->lock_off)
		return C.lock[0];
	if (a == m->ipc + 8 * 0x20 + 0x0C)
		return C.data0[8];
	if (a == m->ipc_intr + 0x00) {
		if (!(C.intr0 & (1u << 24)) && C.stop_when_idle)
			uc_emu_stop(uc); /* the loop is idle: hand back to the test */
		return C.intr0;
	}
	if (a == m->ipc_intr + 0x08)
		return C.mask0;
	if (a == m->protection)
		return 2;                    /* NORMAL */
	if (a == m->crypto + m->crypto_intr) /* TR_DATA_AVAILABLE while oscillators run */
		return !C.trng_dead && C.tr_ctl1 && (!m->tr_cmd || C.tr_started) ? 1u << 3 : 0;
	if (a == m->crypto + m->tr_result) {
		C.tr_started = false;
		uint64_t z = (C.rng += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		return (uint32_t)(z ^ (z >> 31));
	}
bad:
	C.bad_mmio++;
	C.bad_addr = a;
	return 0;
}

static void mmio_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t value, void *ud)
{
	uint32_t a = MMIO_BASE + (uint32_t)off, v = (uint32_t)value;
	const struct part_map *m = C.m;

	(void)uc;
	(void)ud;
	touch(a);
	if (size != 4)
		goto bad;
	if (a == m->ipc + 0x0C) {
		C.data0[0] = v;
		return;
	}
	if (a == m->ipc + 0x08) {
		C.notify_at = C.insns;
		if (C.srom_insns == 0) {
			srom_call(512);
		} else {
			C.srom_busy = true;
			C.srom_started_at = C.insns;
			C.srom_done_at = C.insns + C.srom_insns;
		}
		return;
	}
	if (a == m->ipc + 8 * 0x20 + 0x04) {
		C.lock[8] = 0;
		C.releases8++;
		return;
	}
	if (a == m->ipc_intr + 0x00) {
		C.intr0 &= ~v;
		return;
	}
	if (a == m->ipc_intr + 0x08) {
		C.mask0 = v;
		return;
	}
	if (a == m->cm4_pwr || a == m->cm4_vt)
		return;
	if (a >= m->prot && a < m->prot + 0x10000) {
		ck_assert_uint_lt(C.n_prot, TU_N(C.prot_w));
		C.prot_w[C.n_prot][0] = a;
		C.prot_w[C.n_prot++][1] = v;
		return;
	}
	if (a == m->crypto + 0x284) {
		C.tr_ctl1 = v;
		return;
	}
	if (m->tr_cmd && a == m->crypto + m->tr_cmd) {
		C.tr_started = v & 1;
		return;
	}
	if (a == m->crypto + 0x000 || a == m->crypto + 0x280 || a == m->crypto + 0x2C8 ||
	    a == m->crypto + m->crypto_intr || (m->tr_cmd && a == m->crypto + 0x288))
		return;
bad:
	C.bad_mmio++;
	C.bad_addr = a;
}

static uint64_t scs_read(uc_engine *uc, uint64_t off, unsigned size, void *ud)
{
	(void)uc;
	(void)size;
	(void)ud;
	C.bad_mmio++;
	C.bad_addr = SCS_BASE + (uint32_t)off;
	return 0;
}

static void scs_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t value, void *ud)
{
	(void)size;
	(void)ud;
	if (SCS_BASE + off == 0xE000ED0Cu && value == 0x05FA0004u) {
		C.reset_requested = true; /* the fault handler */
		uc_emu_stop(uc);
		return;
	}
	C.bad_mmio++;
	C.bad_addr = SCS_BASE + (uint32_t)off;
}

static void hook_count(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
	(void)addr;
	(void)size;
	(void)ud;
	C.insns++;
	if (C.cut_at != 0 && C.insns == C.cut_at) {
		/* Power gone: an SROM write in flight stops where it is. */
		if (C.srom_busy) {
			uint64_t done = (C.insns - C.srom_started_at) * 512 / C.srom_insns;

			srom_call((unsigned)done);
			C.srom_busy = false;
		}
		C.cut = true;
		uc_emu_stop(uc);
		return;
	}
	if (C.srom_busy && C.insns >= C.srom_done_at) {
		C.srom_busy = false;
		srom_call(512);
	}
}

/* The facts in SFlash (as the simulator's memory_sflash_init lays them out). */
static void sflash_init(EVP_PKEY *kms)
{
	static const uint8_t die[11] = {0x70, 0x6f, 0x5e, 0x4d, 0x3c, 0x1b, 0x2a, 1, 15, 6, 7};
	uint8_t pub[65];

	C.sflash[0x01] = 0x21;
	C.sflash[0x02] = 0x07;
	C.sflash[0x03] = 0xE2;
	C.sflash[0x0C] = part == 1 ? 0x00 : 0x02;
	C.sflash[0x0D] = 0x01;
	memcpy(C.sflash + 0x600, die, sizeof(die));
	ck_assert_int_eq(lpa_p256_public_bytes(kms, pub), LPA_OK);
	memcpy(C.sflash + 0x5A00, "LPKP", 4);
	lpa_be_put(C.sflash + 0x5A04, 1, 4);
	memcpy(C.sflash + 0x5A08, pub, 65);
}

static void chip_open(void)
{
	FILE *f = fopen(image_path, "rb");
	uc_hook h;

	memset(&C, 0, sizeof(C));
	C.m = &maps[part];
	C.rom = page_alloc(ROM_SIZE);
	C.flash = page_alloc(FLASH_SIZE);
	C.sram = page_alloc(C.m->sram_size);
	C.work = page_alloc(WORK_SIZE);
	C.sflash = page_alloc(SFLASH_SIZE);
	ck_assert_msg(f != NULL, "cannot open %s", image_path);
	C.image_len = fread(C.flash, 1, FLASH_SIZE, f);
	ck_assert(feof(f) && C.image_len > 0x80);
	fclose(f);
	ck_assert_int_eq(uc_open(UC_ARCH_ARM, UC_MODE_THUMB, &C.uc), UC_ERR_OK);
	ck_assert_int_eq(uc_ctl_set_cpu_model(C.uc, UC_CPU_ARM_CORTEX_M0), UC_ERR_OK);
	ck_assert_int_eq(uc_mem_map_ptr(C.uc, ROM_BASE, ROM_SIZE, UC_PROT_READ, C.rom), UC_ERR_OK);
	ck_assert_int_eq(
		uc_mem_map_ptr(C.uc, FLASH_BASE, FLASH_SIZE, UC_PROT_READ | UC_PROT_EXEC, C.flash),
		UC_ERR_OK);
	ck_assert_int_eq(uc_mem_map_ptr(C.uc, SRAM_BASE, C.m->sram_size,
					UC_PROT_READ | UC_PROT_WRITE, C.sram),
			 UC_ERR_OK);
	ck_assert_int_eq(uc_mem_map_ptr(C.uc, WORK_BASE, WORK_SIZE, UC_PROT_READ, C.work),
			 UC_ERR_OK);
	ck_assert_int_eq(uc_mem_map_ptr(C.uc, SFLASH_BASE, SFLASH_SIZE, UC_PROT_READ, C.sflash),
			 UC_ERR_OK);
	ck_assert_int_eq(uc_mmio_map(C.uc, MMIO_BASE, MMIO_SIZE, mmio_read, NULL, mmio_write, NULL),
			 UC_ERR_OK);
	ck_assert_int_eq(uc_mmio_map(C.uc, SCS_BASE, 0x1000, scs_read, NULL, scs_write, NULL),
			 UC_ERR_OK);
	ck_assert_int_eq(uc_hook_add(C.uc, &h, UC_HOOK_CODE, hook_count, NULL, 1, 0), UC_ERR_OK);
	C.rng = 0x7e57;
}

static void chip_close(void)
{
	uc_close(C.uc);
	free(C.rom);
	free(C.flash);
	free(C.sram);
	free(C.work);
	free(C.sflash);
}

/* Runs until the loop is idle (or a fault reset); returns the instructions executed. */
static uint64_t run_until_idle(uint32_t pc)
{
	uint64_t before = C.insns;
	uc_err err;

	C.stop_when_idle = true;
	err = uc_emu_start(C.uc, pc | 1, 0, 0, 0);
	uc_reg_read(C.uc, UC_ARM_REG_PC, &pc);
	ck_assert_msg(err == UC_ERR_OK, "%s at pc 0x%08x", uc_strerror(err), pc);
	if (C.cut)
		return C.insns - before;
	ck_assert_msg(!C.reset_requested, "the firmware faulted (reset request) near 0x%08x", pc);
	ck_assert_msg(C.bad_mmio == 0, "undocumented register access 0x%08x", C.bad_addr);
	return C.insns - before;
}

/* Power-on: SRAM painted (the agent's RAM), registers as after reset, SP and PC from
 * the vector table. */
static uint64_t chip_boot(void)
{
	uint32_t sp = le32(C.flash), pc = le32(C.flash + 4);

	for (uint32_t a = SRAM_BASE; a < AGENT_RAM_TOP; a += 4)
		put_le32(sram(a), PAINT);
	memset(C.lock, 0, sizeof(C.lock));
	C.intr0 = C.mask0 = 0;
	C.n_prot = 0;
	C.srom_busy = C.cut = false;
	C.cut_at = 0;
	ck_assert_uint_eq(sp, AGENT_RAM_TOP);
	uc_reg_write(C.uc, UC_ARM_REG_SP, &sp);
	return run_until_idle(pc);
}

static uint32_t pc_now(void)
{
	uint32_t pc;

	uc_reg_read(C.uc, UC_ARM_REG_PC, &pc);
	return pc;
}

/* The station's call: block written, IPC_STRUCT8 acquired, DATA, NOTIFY; the test
 * then lets the firmware run until it idles again, and checks the release. */
static uint32_t agent_call_at(uint32_t block, uint8_t op, const void *in, uint32_t in_len,
			      uint8_t *out, uint32_t *out_len, uint64_t *insns)
{
	uint8_t *b = sram(block);
	unsigned rel = C.releases8;
	uint64_t n;

	memset(b, 0, 16);
	put_le32(b, (uint32_t)op << 24);
	put_le32(b + 8, in_len);
	if (in_len)
		memcpy(b + 16, in, in_len);
	C.lock[8] = 0x80000000u;
	C.data0[8] = block;
	C.intr0 |= 1u << 24;
	n = run_until_idle(pc_now());
	if (insns)
		*insns = n;
	if (C.cut)
		return 0; /* no answer: the power went */
	ck_assert_uint_eq(C.releases8, rel + 1);
	ck_assert_uint_eq(C.lock[8], 0);
	if (out_len)
		*out_len = le32(b + 12);
	if (out)
		memcpy(out, b + 16, le32(b + 12) <= 2032 ? le32(b + 12) : 0);
	return le32(b + 4);
}

static uint32_t agent_call(uint8_t op, const void *in, uint32_t in_len, uint8_t *out,
			   uint32_t *out_len, uint64_t *insns)
{
	return agent_call_at(C.m->block, op, in, in_len, out, out_len, insns);
}

/* The deepest the stack went since boot: the lowest word above .bss no longer paint. */
static unsigned stack_peak(uint32_t *static_end)
{
	uint32_t a = SRAM_BASE;

	while (a < AGENT_RAM_TOP && le32(sram(a)) != PAINT)
		a += 4;
	*static_end = a;
	while (a < AGENT_RAM_TOP && le32(sram(a)) == PAINT)
		a += 4;
	return AGENT_RAM_TOP - a;
}

/* The protection registers, as docs/agent.md lists them. */
static void check_protection(void)
{
	const struct part_map *m = C.m;
	const uint32_t want[][2] = {
		{m->prot + 0x2000 + 0x40 * 15 + 0x00, 0x14006000u},
		{m->prot + 0x2000 + 0x40 * 15 + 0x04, 0x8C00031Bu},
		{m->prot + 0x2000 + 0x40 * 14 + 0x00, 0x080000C0u},
		{m->prot + 0x2000 + 0x40 * 14 + 0x04, 0x8C00031Bu},
		{m->prot + 0x2000 + 0x40 * 15 + 0x24, 0x8000031Bu},
		{m->prot + 0x2000 + 0x40 * 14 + 0x24, 0x8000031Bu},
		{m->prot + 4 * 15, 0x00400000u},
		{m->prot + 0x4000 + 0x400 * 15, 6},
		{m->prot + 4 * 14, 0x00400000u},
		{m->prot + 0x4000 + 0x400 * 14, 6},
		{m->prot + 0, 0x00030000u},
		{m->prot + 0x4000, 1},
	};

	for (size_t i = 0; i < TU_N(want); i++) {
		bool seen = false;

		for (unsigned k = 0; k < C.n_prot; k++)
			if (C.prot_w[k][0] == want[i][0] && C.prot_w[k][1] == want[i][1])
				seen = true;
		ck_assert_msg(seen, "PROT 0x%08x = 0x%08x not written", want[i][0], want[i][1]);
	}
	/* The CM0+'s own context is set last: after it the others could not be changed. */
	ck_assert_uint_eq(C.prot_w[C.n_prot - 1][0], m->prot + 0x4000);
	ck_assert_uint_eq(C.prot_w[C.n_prot - 1][1], 1);
}

/* The chip manufacture's identity record for dik in the key store's work flash, with
 * cert_len bytes of cert as its certificate (cert may be pub: its first bytes stand in);
 * the DIK's public key into pub. */
static void factory_identity(EVP_PKEY *dik, const uint8_t *cert, size_t cert_len, uint8_t pub[65])
{
	lpa_secbuf *d = NULL;
	uint8_t rec[LPA_KS_ID_MAX];
	size_t rec_len = 0;

	ck_assert_int_eq(lpa_p256_private_bytes(dik, &d), LPA_OK);
	ck_assert_int_eq(lpa_p256_public_bytes(dik, pub), LPA_OK);
	ck_assert_int_eq(lpa_keystore_identity_encode(LPA_KS_ORIGIN_FACTORY, lpa_secbuf_cdata(d),
						      pub, cert, cert_len, rec, sizeof(rec),
						      &rec_len),
			 LPA_OK);
	memcpy(C.work + (KS + 1024 - WORK_BASE), rec, rec_len);
	lpa_secbuf_free(&d);
}

START_TEST(fw_image_runs)
{
	EVP_PKEY *kms = at_key_from_label("lpa vector kms"),
		 *dik = at_key_from_label("lpa vector dik");
	EVP_PKEY *dpub = NULL;
	lpa_secbuf *keys = lpa_secbuf_new(32), *got = NULL;
	uint8_t pub[65], pkg[LPA_LPK1_LEN], out[2048], in[24];
	static const uint8_t cert[] = {0x30, 0x82, 0x00, 0x05, 'c', 'e', 'r', 't', '!'};
	struct lpa_lpk1_hdr h = {.lorawan = LPA_LORAWAN_11,
				 .dev_eui = DEV_EUI,
				 .join_eui = 0x70b3d57ed0000000ull,
				 .chip_uid = CHIP_UID,
				 .counter = 1,
				 .key_id = 1};
	struct lpa_keystore ks;
	struct lpa_agent_status st;
	struct lpa_lpi1 id;
	struct lpa_lpr1 rc;
	struct lpa_lpp1 pp;
	uint64_t n_boot, n_status, n_ident, n_install, n_prove, n_gen, n_bad, n_reboot;
	uint64_t n_enrol, n_store, n_cert_boot;
	uint32_t n = 0, static_end = 0;
	unsigned peak;

	chip_open();
	ck_assert_uint_le(C.image_len, FLASH_BUDGET);
	ck_assert_mem_eq(C.flash + 0x40, "LPAI", 4);
	ck_assert_uint_eq(C.flash[0x45], part);
	ck_assert_uint_eq(le32(C.flash + 0x48), C.image_len);
	sflash_init(kms);
	/* The chip manufacture's identity record. */
	factory_identity(dik, cert, sizeof(cert), pub);
	n_boot = chip_boot();
	check_protection();
	/* The CM0+'s own SROM calls need their notify bit; ours is not set by the agent. */
	ck_assert_uint_eq(C.mask0 & (1u << 24), 0);

	ck_assert_uint_eq(agent_call(0x73, NULL, 0, out, &n, &n_status), 0xA0000000u);
	ck_assert_int_eq(lpa_status_parse(out, n, &st), LPA_OK);
	ck_assert_uint_eq(st.provisioned, 0);
	ck_assert_uint_eq(agent_call(0x70, NULL, 0, out, &n, &n_ident), 0xA0000000u);
	ck_assert_int_eq(lpa_lpi1_parse(out, n, &id), LPA_OK);
	ck_assert_uint_eq(id.chip_uid, CHIP_UID);
	ck_assert_mem_eq(id.dik_pub, pub, 65);
	ck_assert_mem_eq(id.cert, cert, sizeof(cert));
	ck_assert_uint_eq(id.silicon_id, part == 1 ? 0xE2072100u : 0xE2072102u);

	for (int i = 0; i < 32; i++)
		lpa_secbuf_data(keys)[i] = (uint8_t)(0xA0 + i);
	ck_assert_int_eq(lpa_p256_from_public(pub, &dpub), LPA_OK);
	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dpub, kms, NULL, NULL, pkg), LPA_OK);
	/* A flipped bit first: refused with lpa_lpk1_open's status, nothing written. */
	pkg[100] ^= 0x20;
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, CHIP_UID, 0, &h, &got),
			 LPA_ERR_SIGNATURE);
	ck_assert_uint_eq(agent_call(0x71, pkg, sizeof(pkg), out, &n, NULL), 0xF0000002u);
	ck_assert_uint_eq(n, 0);
	pkg[100] ^= 0x20;
	ck_assert_uint_eq(C.srom_calls, 0);
	ck_assert_uint_eq(agent_call(0x71, pkg, sizeof(pkg), out, &n, &n_install), 0xA0000000u);
	ck_assert_uint_eq(C.srom_calls, 1);
	ck_assert_int_eq(lpa_lpr1_verify(out, n, dpub, pkg, keys, &rc), LPA_OK);
	ck_assert_uint_eq(agent_call(0x71, pkg, sizeof(pkg), out, &n, NULL), 0xF0000004u);

	lpa_be_put(in, DEV_EUI, 8);
	memset(in + 8, 0x5C, 16);
	ck_assert_uint_eq(agent_call(0x72, in, 24, out, &n, &n_prove), 0xA0000000u);
	ck_assert_int_eq(
		lpa_lpp1_verify(out, n, dpub, DEV_EUI, CHIP_UID, in + 8, LPA_LORAWAN_11, keys, &pp),
		LPA_OK);

	/* A block inside the agent's RAM: no answer, and the agent's RAM is left alone
	 * (its words there are the agent's own, which this test never writes). */
	{
		uint8_t before[0x1800];

		memcpy(before, sram(SRAM_BASE), sizeof(before));
		C.lock[8] = 0x80000000u;
		C.data0[8] = SRAM_BASE + 0x100;
		C.intr0 |= 1u << 24;
		n_bad = run_until_idle(pc_now());
		ck_assert_uint_eq(C.lock[8], 0);
		ck_assert_mem_eq(sram(SRAM_BASE + 0x100), before + 0x100, 16);
	}
	ck_assert_uint_eq(agent_call(0x74, NULL, 0, out, &n, NULL), 0xF0000001u);
	peak = stack_peak(&static_end);

	/* The key store as lpa/core reads it from the flash. */
	ck_assert_int_eq(lpa_keystore_parse(C.work + (KS - WORK_BASE), 4096, &ks), LPA_OK);
	ck_assert_int_eq(ks.active, 0);
	ck_assert_mem_eq(ks.slot[0].keys, lpa_secbuf_cdata(keys), 32);
	ck_assert_int_eq(ks.id.origin, LPA_KS_ORIGIN_FACTORY);
	lpa_keystore_wipe(&ks);

	/* A reset: the keys are still there. */
	n_reboot = chip_boot();
	ck_assert_uint_eq(agent_call(0x73, NULL, 0, out, &n, NULL), 0xA0000000u);
	ck_assert_int_eq(lpa_status_parse(out, n, &st), LPA_OK);
	ck_assert_uint_eq(st.provisioned, 1);
	ck_assert_uint_eq(st.counter, 1);
	ck_assert_uint_eq(st.dev_eui, DEV_EUI);

	/* A chip without a factory identity: the first boot makes its DIK. */
	memset(C.work, 0, WORK_SIZE);
	n_gen = chip_boot();
	ck_assert_int_eq(lpa_keystore_parse(C.work + (KS - WORK_BASE), 4096, &ks), LPA_OK);
	ck_assert_int_eq(ks.id.status, LPA_OK);
	ck_assert_int_eq(ks.id.origin, LPA_KS_ORIGIN_CHIP);
	{
		EVP_PKEY *k = NULL;
		uint8_t p2[65];

		ck_assert_int_eq(lpa_p256_from_private(ks.id.dik, &k), LPA_OK);
		ck_assert_int_eq(lpa_p256_public_bytes(k, p2), LPA_OK);
		ck_assert_mem_eq(p2, ks.id.dik_pub, 65);
		lpa_pkey_free(&k);
	}
	lpa_keystore_wipe(&ks);
	/* Its enrolment: ENROL's LPE1 verifies (lpa/core) and names the new DIK; STORE_CERT
	 * of a certificate for it (two rows: it is over 480 bytes); after a reset the chip is
	 * certified and GET_IDENTITY gives that certificate. */
	{
		static uint8_t der[1200];
		struct lpa_lpe1 e;
		EVP_PKEY *ca = NULL;
		uint8_t cd[32];
		size_t len;

		ck_assert_uint_eq(agent_call(0x70, NULL, 0, out, &n, NULL), 0xF0000009u);
		ck_assert_uint_eq(agent_call(0x78, NULL, 0, out, &n, &n_enrol), 0xA0000000u);
		ck_assert_int_eq(lpa_lpe1_verify(out, n, &e), LPA_OK);
		ck_assert_uint_eq(e.chip_uid, CHIP_UID);
		ck_assert_int_eq(lpa_sha256("lpa test factory ca", 19, cd), LPA_OK);
		ck_assert_int_eq(lpa_p256_from_private(cd, &ca), LPA_OK);
		len = make_cert(ca, e.dik_pub, 9, 300, der);
		ck_assert_uint_gt(len, 480);
		ck_assert_uint_eq(agent_call(0x79, der, (uint32_t)len, out, &n, &n_store),
				  0xA0000000u);
		n_cert_boot = chip_boot();
		ck_assert_uint_eq(agent_call(0x73, NULL, 0, out, &n, NULL), 0xA0000000u);
		ck_assert_int_eq(lpa_status_parse(out, n, &st), LPA_OK);
		ck_assert_uint_eq(st.certified, 1);
		ck_assert_uint_eq(agent_call(0x70, NULL, 0, out, &n, NULL), 0xA0000000u);
		ck_assert_int_eq(lpa_lpi1_parse(out, n, &id), LPA_OK);
		ck_assert_uint_eq(id.cert_len, len);
		ck_assert_mem_eq(id.cert, der, len);
		lpa_pkey_free(&ca);
	}
	{
		unsigned peak2 = stack_peak(&static_end);

		if (peak2 > peak)
			peak = peak2;
	}
	printf("part %d: image %zu bytes (budget %d); static RAM %u bytes, peak stack %u bytes, "
	       "total %u (budget %d)\n",
	       part, C.image_len, FLASH_BUDGET, static_end - SRAM_BASE, peak,
	       static_end - SRAM_BASE + peak, RAM_BUDGET);
	printf("part %d instructions: boot %llu, reboot (provisioned) %llu, first boot with DIK "
	       "generation %llu, GET_STATUS %llu, GET_IDENTITY %llu, INSTALL_PACKAGE %llu, "
	       "PROVE %llu, refused block %llu\n",
	       part, (unsigned long long)n_boot, (unsigned long long)n_reboot,
	       (unsigned long long)n_gen, (unsigned long long)n_status, (unsigned long long)n_ident,
	       (unsigned long long)n_install, (unsigned long long)n_prove,
	       (unsigned long long)n_bad);
	printf("part %d enrolment instructions: ENROL %llu, STORE_CERT (%s) %llu, boot with a "
	       "certificate record %llu\n",
	       part, (unsigned long long)n_enrol, "two rows", (unsigned long long)n_store,
	       (unsigned long long)n_cert_boot);
	printf("part %d registers touched:", part);
	for (unsigned i = 0; i < C.n_touched; i++)
		printf(" 0x%08x", C.touched[i]);
	printf("\n");
	ck_assert_uint_le(static_end - SRAM_BASE + peak, RAM_BUDGET);
	lpa_secbuf_free(&keys);
	lpa_secbuf_free(&got);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&dpub);
	chip_close();
}
END_TEST

/* A chip without an identity whose TRNG never delivers: the boot ends (the wait is
 * bounded), every call answers BUSY, and once the TRNG works the next call is served. */
START_TEST(fw_image_busy_without_trng)
{
	EVP_PKEY *kms = at_key_from_label("lpa vector kms");
	uint8_t out[2048];
	uint32_t n = 0;
	uint64_t boot;

	chip_open();
	sflash_init(kms);
	C.trng_dead = true;
	boot = chip_boot();
	ck_assert_uint_eq(agent_call(0x73, NULL, 0, out, &n, NULL), 0xF0000008u);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(agent_call(0x70, NULL, 0, out, &n, NULL), 0xF0000008u);
	C.trng_dead = false;
	ck_assert_uint_eq(agent_call(0x73, NULL, 0, out, &n, NULL), 0xA0000000u);
	ck_assert_uint_eq(n, 16);
	printf("part %d: boot with a dead TRNG %llu instructions, then BUSY\n", part,
	       (unsigned long long)boot);
	lpa_pkey_free(&kms);
	chip_close();
}
END_TEST

/* AppKey || NwkKey = fill, fill + 1, ... */
static void brownout_keys(lpa_secbuf *k, uint8_t fill)
{
	for (int i = 0; i < 32; i++)
		lpa_secbuf_data(k)[i] = (uint8_t)(fill + i);
}

/*
 * Power cuts at seeded random instructions inside INSTALL_PACKAGE, on the image: half
 * anywhere in the call, half in the window of its flash write (where the row may be
 * left half programmed). After each, a reboot must show the old keys and counter or
 * the new ones, never a mixture, and the agent must go on working. LPA_BROWNOUT_TRIALS
 * sets the number (the suite runs 6; a campaign 200 or more), LPA_DIFF_SEED the seed.
 */
START_TEST(fw_image_brownout_inside_install)
{
	EVP_PKEY *kms = at_key_from_label("lpa vector kms"),
		 *dik = at_key_from_label("lpa vector dik");
	EVP_PKEY *dpub = NULL;
	lpa_secbuf *ka = lpa_secbuf_new(32), *kb = lpa_secbuf_new(32);
	uint8_t pub[65], p1[LPA_LPK1_LEN], p2[LPA_LPK1_LEN], out[2048];
	static uint8_t base[WORK_SIZE];
	struct lpa_lpk1_hdr h = {.lorawan = LPA_LORAWAN_11,
				 .dev_eui = DEV_EUI,
				 .join_eui = 0x70b3d57ed0000000ull,
				 .chip_uid = CHIP_UID,
				 .counter = 1,
				 .key_id = 1};
	const char *e = getenv("LPA_BROWNOUT_TRIALS");
	long trials = e ? strtol(e, NULL, 10) : 6;
	struct at_rng rng = at_rng(0xb0);
	unsigned old = 0, new = 0, in_write = 0;
	uint64_t total, notify_rel, start;
	uint32_t n = 0;

	chip_open();
	sflash_init(kms);
	factory_identity(dik, pub, 8, pub);
	ck_assert_int_eq(lpa_p256_from_public(pub, &dpub), LPA_OK);
	brownout_keys(ka, 0x11);
	brownout_keys(kb, 0x77);
	ck_assert_int_eq(lpa_lpk1_build(&h, ka, dpub, kms, NULL, NULL, p1), LPA_OK);
	h.counter = 2;
	ck_assert_int_eq(lpa_lpk1_build(&h, kb, dpub, kms, NULL, NULL, p2), LPA_OK);
	C.srom_insns = 4000; /* the row write lasts this long for the CM0+ */
	(void)chip_boot();
	ck_assert_uint_eq(agent_call(0x71, p1, sizeof(p1), out, &n, NULL), 0xA0000000u);
	memcpy(base, C.work, WORK_SIZE);
	/* A reference run without a cut: how long the call is, when the write starts. */
	(void)chip_boot();
	start = C.insns;
	ck_assert_uint_eq(agent_call(0x71, p2, sizeof(p2), out, &n, &total), 0xA0000000u);
	notify_rel = C.notify_at - start;
	for (long t = 0; t < trials; t++) {
		struct lpa_agent_status st;
		struct lpa_keystore ks;
		uint64_t off = t % 2 ? 1 + at_below(&rng, total)
				     : notify_rel - 200 + at_below(&rng, C.srom_insns + 2400);

		memcpy(C.work, base, WORK_SIZE);
		(void)chip_boot();
		C.cut_at = C.insns + off;
		(void)agent_call(0x71, p2, sizeof(p2), out, &n, NULL);
		if (C.cut && off > notify_rel && off <= notify_rel + C.srom_insns)
			in_write++;
		(void)chip_boot();
		ck_assert_uint_eq(agent_call(0x73, NULL, 0, out, &n, NULL), 0xA0000000u);
		ck_assert_int_eq(lpa_status_parse(out, n, &st), LPA_OK);
		ck_assert_int_eq(lpa_keystore_parse(C.work + (KS - WORK_BASE), 4096, &ks), LPA_OK);
		ck_assert_int_ge(ks.active, 0);
		if (st.counter == 1) {
			old++;
			ck_assert_mem_eq(ks.slot[ks.active].keys, lpa_secbuf_cdata(ka), 32);
		} else {
			ck_assert_uint_eq(st.counter, 2);
			new ++;
			ck_assert_mem_eq(ks.slot[ks.active].keys, lpa_secbuf_cdata(kb), 32);
		}
		ck_assert_uint_eq(st.provisioned, 1);
		lpa_keystore_wipe(&ks);
		if (t < 2) /* and the agent carries on: the package goes in, or is stale */
			ck_assert_uint_eq(agent_call(0x71, p2, sizeof(p2), out, &n, NULL),
					  st.counter == 1 ? 0xA0000000u : 0xF0000004u);
	}
	printf("brownout inside INSTALL_PACKAGE: %ld trials (seed 0x%llx), %u old keys, %u new, "
	       "%u cut inside the row write; the call is %llu instructions, the write starts "
	       "at %llu\n",
	       trials, (unsigned long long)rng.seed, old, new, in_write, (unsigned long long)total,
	       (unsigned long long)notify_rel);
	ck_assert_uint_eq(old + new, (unsigned)trials);
	lpa_secbuf_free(&ka);
	lpa_secbuf_free(&kb);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&dpub);
	chip_close();
}
END_TEST

/* ------------------------------------------------------ LoRaWAN runtime calls */

#define LW_JOIN_EUI 0x70b3d57ed0000000ull
#define LW_DEV_ADDR 0x26011234u
#define LW_NET_ID 0x000013u

/* A chip with the factory identity whose keys came in by INSTALL_PACKAGE (the real
 * path); AppKey || NwkKey = 0x40.. (NwkKey zero for 1.0.x). */
static void lw_chip(uint8_t lorawan, uint8_t app_key[16], uint8_t nwk_key[16])
{
	EVP_PKEY *kms = at_key_from_label("lpa vector kms"),
		 *dik = at_key_from_label("lpa vector dik");
	EVP_PKEY *dpub = NULL;
	lpa_secbuf *keys = lpa_secbuf_new(32);
	uint8_t pub[65], pkg[LPA_LPK1_LEN], out[2048];
	struct lpa_lpk1_hdr h = {.lorawan = lorawan,
				 .dev_eui = DEV_EUI,
				 .join_eui = LW_JOIN_EUI,
				 .chip_uid = CHIP_UID,
				 .counter = 1,
				 .key_id = 1};
	uint32_t n = 0;

	chip_open();
	sflash_init(kms);
	factory_identity(dik, pub, 8, pub);
	(void)chip_boot();
	/* Before any keys: no JoinRequest. */
	ck_assert_uint_eq(agent_call(0x80, NULL, 0, out, &n, NULL), 0xF0000007u);
	ck_assert_uint_eq(n, 0);
	for (int i = 0; i < 32; i++)
		lpa_secbuf_data(keys)[i] = lorawan == 0x10 && i >= 16 ? 0 : (uint8_t)(0x40 + i);
	memcpy(app_key, lpa_secbuf_cdata(keys), 16);
	memcpy(nwk_key, lpa_secbuf_cdata(keys) + 16, 16);
	ck_assert_int_eq(lpa_p256_from_public(pub, &dpub), LPA_OK);
	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dpub, kms, NULL, NULL, pkg), LPA_OK);
	ck_assert_uint_eq(agent_call(0x71, pkg, sizeof(pkg), out, &n, NULL), 0xA0000000u);
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&dpub);
}

/* JOIN_REQUEST, checked as a Join Server checks it (lpa/core): fields and MIC under
 * the root key of the device's version. Returns the DevNonce. */
static uint16_t lw_join_request(uint8_t lorawan, const uint8_t app_key[16],
				const uint8_t nwk_key[16], uint64_t *insns)
{
	uint8_t out[64], mic[4], want[23];
	uint32_t n = 0;
	uint16_t dn;

	ck_assert_uint_eq(agent_call(0x80, NULL, 0, out, &n, insns), 0xA0000000u);
	ck_assert_uint_eq(n, 23);
	dn = (uint16_t)(out[17] | out[18] << 8);
	want[0] = 0;
	for (int i = 0; i < 8; i++) {
		want[1 + i] = (uint8_t)(LW_JOIN_EUI >> (8 * i));
		want[9 + i] = (uint8_t)(DEV_EUI >> (8 * i));
	}
	ck_assert_mem_eq(out, want, 17);
	ck_assert_int_eq(lpa_lorawan_join_request_mic(lorawan == 0x11 ? nwk_key : app_key, 0,
						      LW_JOIN_EUI, DEV_EUI, dn, mic),
			 LPA_OK);
	ck_assert_mem_eq(out + 19, mic, 4);
	return dn;
}

/* The join-accept a Join Server sends for dn: 1.0.x under AppKey; 1.1 with OptNeg
 * (JSIntKey MIC, NwkKey encryption) or without (the 1.0 form under NwkKey). */
static size_t lw_accept(uint8_t lorawan, int opt_neg, const uint8_t app_key[16],
			const uint8_t nwk_key[16], uint16_t dn, uint32_t join_nonce,
			const uint8_t *cflist, uint8_t msg[33])
{
	uint8_t js_int[16], js_enc[16];
	const uint8_t *root = lorawan == 0x11 ? nwk_key : app_key;

	if (lorawan == 0x11 && opt_neg) {
		ck_assert_int_eq(lpa_lorawan11_js_keys(nwk_key, DEV_EUI, js_int, js_enc), LPA_OK);
		return lw_net_join_accept(nwk_key, js_int, 1, LW_JOIN_EUI, dn, join_nonce,
					  LW_NET_ID, LW_DEV_ADDR, 0x80 | 0x03, 1, cflist, msg);
	}
	return lw_net_join_accept(root, root, 0, LW_JOIN_EUI, dn, join_nonce, LW_NET_ID,
				  LW_DEV_ADDR, 0x03, 1, cflist, msg);
}

/* An UPLINK: the frame goes in plaintext, comes out as the network must see it: the
 * host's MIC under the host's session keys, payload decrypted by the host's AppSKey. */
static uint32_t lw_uplink(const struct lw_net_session *s, uint8_t mhdr, uint8_t fctrl, int port,
			  const char *text, uint16_t conf_fcnt, uint64_t *insns)
{
	uint8_t in[4 + 64], out[4 + 64 + 4], mic[4], plain[64];
	size_t tl = strlen(text), flen = 8 + 1 + tl;
	uint32_t n = 0, fcnt;

	in[0] = 5; /* TxDr */
	in[1] = 2; /* TxCh */
	in[2] = in[3] = 0;
	in[4] = mhdr;
	put_le32(in + 5, s->dev_addr);
	in[9] = fctrl;
	in[10] = in[11] = 0xEE; /* the agent sets FCnt */
	in[12] = (uint8_t)port;
	memcpy(in + 13, text, tl);
	ck_assert_uint_eq(agent_call(0x82, in, (uint32_t)(4 + flen), out, &n, insns), 0xA0000000u);
	ck_assert_uint_eq(n, 4 + flen + 4);
	fcnt = le32(out);
	ck_assert_uint_eq(out[4 + 6] | out[4 + 7] << 8, fcnt & 0xFFFF);
	ck_assert_mem_eq(out + 4, in + 4, 6);
	lw_net_frame_mic(s, 0, conf_fcnt, 5, 2, fcnt, out + 4, flen, mic);
	ck_assert_mem_eq(out + 4 + flen, mic, 4);
	memcpy(plain, out + 13, tl);
	if (tl > 0)
		ck_assert_mem_ne(plain, text, tl); /* encrypted on the air */
	lw_net_frm_crypt(port == 0 ? s->nwk_enc : s->app_s, 0, s->dev_addr, fcnt, plain, tl);
	ck_assert_mem_eq(plain, text, tl);
	return fcnt;
}

/* A DOWNLINK the network built; the agent's output is FCnt | frame with the plaintext. */
static uint32_t lw_downlink(const struct lw_net_session *s, uint8_t mhdr, uint8_t fctrl,
			    uint32_t fcnt, int port, const char *text, uint16_t conf_fcnt,
			    uint64_t *insns)
{
	uint8_t msg[64], out[64];
	size_t tl = strlen(text), len;
	uint32_t n = 0, st;

	len = lw_net_downlink(s, mhdr, fctrl, fcnt, port, (const uint8_t *)text, tl, conf_fcnt,
			      msg);
	st = agent_call(0x83, msg, (uint32_t)len, out, &n, insns);
	if (st != 0xA0000000u) {
		ck_assert_uint_eq(n, 0);
		return st;
	}
	ck_assert_uint_eq(n, 4 + len - 4);
	ck_assert_uint_eq(le32(out), fcnt);
	ck_assert_mem_eq(out + 4, msg, 9);
	ck_assert_mem_eq(out + 4 + 9, text, tl);
	return st;
}

/*
 * A provisioned chip joins and talks, for a 1.0.x and a 1.1 device: the JoinRequest
 * checked by the host's Join Server code, every refusal with its status (no join
 * pending, a wrong MHDR, a flipped bit, lengths, a replayed join-accept, an old
 * JoinNonce), then uplinks the host verifies and decrypts with the keys it derived
 * itself, downlinks the agent verifies and decrypts (replays, wrong DevAddr, a flipped
 * bit refused), a rejoin, and a reboot: the session is gone, the DevNonce goes on.
 */
static void lw_join_and_talk(uint8_t lorawan)
{
	uint8_t app[16], nwk[16], msg[33], bad[40], out[64];
	static const uint8_t cflist[16] = {0x18, 0x4F, 0x84, 0xE8, 0x56, 0x84, 0xB8, 0x5E,
					   0x84, 0x88, 0x66, 0x84, 0x58, 0x6E, 0x84, 0x00};
	struct lw_net_session s;
	uint64_t n_jr, n_ja, n_up, n_down;
	uint32_t n = 0;
	uint16_t dn;
	size_t len;

	lw_chip(lorawan, app, nwk);
	ck_assert_uint_eq(agent_call(0x82, "\0\0\0\0\x40\x34\x12\x01\x26\0\0\0", 12, out, &n, NULL),
			  0xF0000013u);
	len = lw_accept(lorawan, 1, app, nwk, 0, 1, NULL, msg);
	ck_assert_uint_eq(agent_call(0x81, msg, (uint32_t)len, out, &n, NULL), 0xF0000011u);

	dn = lw_join_request(lorawan, app, nwk, &n_jr);
	ck_assert_uint_eq(dn, 0);
	len = lw_accept(lorawan, 1, app, nwk, dn, 1, cflist, msg);
	ck_assert_uint_eq(len, 33);
	/* Refusals, each with its status and no output; the JoinRequest stays pending. */
	ck_assert_uint_eq(agent_call(0x81, msg, 18, out, &n, NULL), 0xF0000001u);
	ck_assert_uint_eq(agent_call(0x81, msg, 32, out, &n, NULL), 0xF0000001u);
	memcpy(bad, msg, len);
	bad[0] = 0x40;
	ck_assert_uint_eq(agent_call(0x81, bad, (uint32_t)len, out, &n, NULL), 0xF0000016u);
	for (size_t bit = 8; bit < 8 * len; bit += 37) {
		memcpy(bad, msg, len);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_uint_eq(agent_call(0x81, bad, (uint32_t)len, out, &n, NULL), 0xF0000010u);
		ck_assert_uint_eq(n, 0);
	}
	if (lorawan == 0x11) {
		/* A join-accept for another DevNonce: the 1.1 MIC covers it. */
		len = lw_accept(lorawan, 1, app, nwk, 7, 1, cflist, bad);
		ck_assert_uint_eq(agent_call(0x81, bad, (uint32_t)len, out, &n, NULL), 0xF0000010u);
	}
	ck_assert_uint_eq(agent_call(0x81, msg, 33, out, &n, &n_ja), 0xA0000000u);
	ck_assert_uint_eq(n, 29);
	ck_assert_uint_eq(out[0], lorawan);
	ck_assert_uint_eq(out[1] | out[2] << 8 | out[3] << 16, 1);         /* JoinNonce */
	ck_assert_uint_eq(out[4] | out[5] << 8 | out[6] << 16, LW_NET_ID); /* NetID */
	ck_assert_uint_eq(le32(out + 7), LW_DEV_ADDR);                     /* DevAddr */
	ck_assert_uint_eq(out[11], lorawan == 0x11 ? 0x83 : 0x03);         /* DLSettings */
	ck_assert_uint_eq(out[12], 1);                                     /* RxDelay */
	ck_assert_mem_eq(out + 13, cflist, 16);
	/* The same join-accept again: nothing pending any more. */
	ck_assert_uint_eq(agent_call(0x81, msg, 33, out, &n, NULL), 0xF0000011u);

	lw_net_session(lorawan, 1, app, nwk, 1, LW_NET_ID, LW_JOIN_EUI, dn, LW_DEV_ADDR, &s);
	ck_assert_uint_eq(lw_uplink(&s, 0x40, 0, 1, "hello, network", 0, &n_up), 0);
	ck_assert_uint_eq(lw_uplink(&s, 0x80, 0, 2, "confirmed", 0, NULL), 1);
	ck_assert_uint_eq(lw_uplink(&s, 0x40, 0, 0, "\x02", 0, NULL), 2); /* MAC: LinkCheckReq */
	/* Downlinks: the ACK of the confirmed uplink (FCnt 1) enters the 1.1 MIC. */
	ck_assert_uint_eq(lw_downlink(&s, 0x60, 0x20, 0, 3, "ack", 1, &n_down), 0xA0000000u);
	ck_assert_uint_eq(lw_downlink(&s, 0x60, 0x00, 0, 3, "ack", 0, NULL), 0xF0000014u);
	ck_assert_uint_eq(lw_downlink(&s, 0x60, 0x00, 1, 3, "again", 0, NULL), 0xA0000000u);
	ck_assert_uint_eq(lw_downlink(&s, 0x60, 0x00, 1, 3, "again", 0, NULL), 0xF0000014u);
	/* 1.1 counts network downlinks apart (NFCntDown): FCnt 0 is new there. */
	ck_assert_uint_eq(lw_downlink(&s, 0xA0, 0x00, lorawan == 0x11 ? 0 : 2, 0, "\x03", 0, NULL),
			  0xA0000000u);
	/* A confirmed downlink: the next uplink's ACK carries its FCnt in the 1.1 MIC. */
	ck_assert_uint_eq(lw_downlink(&s, 0xA0, 0x00, lorawan == 0x11 ? 2 : 3, 5, "conf", 0, NULL),
			  0xA0000000u);
	ck_assert_uint_eq(lw_uplink(&s, 0x40, 0x20, 1, "acked", lorawan == 0x11 ? 2 : 3, NULL), 3);
	{
		size_t dl = lw_net_downlink(&s, 0x60, 0, 9, 4, (const uint8_t *)"x", 1, 0, bad);

		bad[3] ^= 1; /* DevAddr */
		ck_assert_uint_eq(agent_call(0x83, bad, (uint32_t)dl, out, &n, NULL), 0xF0000016u);
		bad[3] ^= 1;
		bad[9] ^= 0x10; /* payload */
		ck_assert_uint_eq(agent_call(0x83, bad, (uint32_t)dl, out, &n, NULL), 0xF0000010u);
		bad[9] ^= 0x10;
		bad[0] = 0x40; /* an uplink MType */
		ck_assert_uint_eq(agent_call(0x83, bad, (uint32_t)dl, out, &n, NULL), 0xF0000016u);
		ck_assert_uint_eq(agent_call(0x83, bad, 11, out, &n, NULL), 0xF0000001u);
	}
	{
		/* Uplink refusals: FOpts past the frame, reserved bytes, a downlink MType. */
		/* (sized for the over-long call at the end) */
		uint8_t up[4 + 252] = {5,    2,    0,    0, 0x40, 0x34, 0x12,
				       0x01, 0x26, 0x0F, 0, 0,    1,    'a'};

		ck_assert_uint_eq(agent_call(0x82, up, 14, out, &n, NULL), 0xF0000016u);
		up[9] = 0;
		up[2] = 1;
		ck_assert_uint_eq(agent_call(0x82, up, 14, out, &n, NULL), 0xF0000001u);
		up[2] = 0;
		up[4] = 0x60;
		ck_assert_uint_eq(agent_call(0x82, up, 14, out, &n, NULL), 0xF0000016u);
		ck_assert_uint_eq(agent_call(0x82, up, 11, out, &n, NULL), 0xF0000001u);
		ck_assert_uint_eq(agent_call(0x82, up, 4 + 252, out, &n, NULL), 0xF0000001u);
	}

	/* A rejoin: the next DevNonce; the old join-accept (JoinNonce 1) is refused — by
	 * its JoinNonce (1.0.x: the MIC does not cover the DevNonce) or its MIC (1.1). */
	dn = lw_join_request(lorawan, app, nwk, NULL);
	ck_assert_uint_eq(dn, 1);
	ck_assert_uint_eq(agent_call(0x81, msg, 33, out, &n, NULL),
			  lorawan == 0x11 ? 0xF0000010u : 0xF0000012u);
	len = lw_accept(lorawan, 1, app, nwk, dn, 1, NULL, msg);
	ck_assert_uint_eq(agent_call(0x81, msg, (uint32_t)len, out, &n, NULL), 0xF0000012u);
	len = lw_accept(lorawan, 1, app, nwk, dn, 2, NULL, msg);
	ck_assert_uint_eq(agent_call(0x81, msg, (uint32_t)len, out, &n, NULL), 0xA0000000u);
	ck_assert_uint_eq(n, 13);
	lw_net_session(lorawan, 1, app, nwk, 2, LW_NET_ID, LW_JOIN_EUI, dn, LW_DEV_ADDR, &s);
	ck_assert_uint_eq(lw_uplink(&s, 0x40, 0, 1, "new session", 0, NULL), 0);

	if (lorawan == 0x11) {
		/* A 1.1 device answered in the 1.0 form (OptNeg unset): 1.0 keys from NwkKey. */
		dn = lw_join_request(lorawan, app, nwk, NULL);
		len = lw_accept(lorawan, 0, app, nwk, dn, 3, NULL, msg);
		ck_assert_uint_eq(agent_call(0x81, msg, (uint32_t)len, out, &n, NULL), 0xA0000000u);
		ck_assert_uint_eq(out[0], 0x10);
		lw_net_session(lorawan, 0, app, nwk, 3, LW_NET_ID, LW_JOIN_EUI, dn, LW_DEV_ADDR,
			       &s);
		ck_assert_uint_eq(lw_uplink(&s, 0x40, 0, 1, "1.0 form", 0, NULL), 0);
		ck_assert_uint_eq(lw_downlink(&s, 0x60, 0, 0, 1, "down", 0, NULL), 0xA0000000u);
		/* OptNeg set with the 1.0 MIC: refused. */
		dn = lw_join_request(lorawan, app, nwk, NULL);
		len = lw_net_join_accept(nwk, nwk, 0, LW_JOIN_EUI, dn, 4, LW_NET_ID, LW_DEV_ADDR,
					 0x83, 1, NULL, msg);
		ck_assert_uint_eq(agent_call(0x81, msg, (uint32_t)len, out, &n, NULL), 0xF0000010u);
	}

	/* Keys never leave the CM0+: no root or session key anywhere in the SRAM the CM4
	 * and the debug port see (NwkKey is zero for 1.0.x: not looked for); the session's
	 * AppSKey is in the agent's own RAM (the scan's positive control). */
	{
		const uint8_t *keys[] = {nwk, app, s.f_nwk, s.s_nwk, s.nwk_enc, s.app_s};
		size_t open_len = C.m->sram_size - (AGENT_RAM_TOP - SRAM_BASE);

		for (size_t k = lorawan == 0x11 ? 0 : 1; k < TU_N(keys); k++)
			ck_assert_msg(memmem(sram(AGENT_RAM_TOP), open_len, keys[k], 16) == NULL,
				      "key %zu in the open SRAM", k);
		ck_assert_ptr_nonnull(
			memmem(sram(SRAM_BASE), AGENT_RAM_TOP - SRAM_BASE, s.app_s, 16));
	}

	/* A reboot: the session was in RAM; the DevNonce counter was in flash. */
	(void)chip_boot();
	ck_assert_uint_eq(lw_downlink(&s, 0x60, 0, 5, 1, "gone", 0, NULL), 0xF0000013u);
	dn = lw_join_request(lorawan, app, nwk, NULL);
	ck_assert_uint_eq(dn, lorawan == 0x11 ? 4 : 2);
	/* And the JoinNonce floor too: JoinNonce 2 (1.1: 4) was the last one accepted. */
	len = lw_accept(lorawan, 1, app, nwk, dn, lorawan == 0x11 ? 3 : 2, NULL, msg);
	ck_assert_uint_eq(agent_call(0x81, msg, (uint32_t)len, out, &n, NULL), 0xF0000012u);
	printf("part %d LoRaWAN %s instructions: JOIN_REQUEST %llu (with its row write), "
	       "JOIN_ACCEPT %llu (33 bytes, with its row write), UPLINK %llu (14-byte payload), "
	       "DOWNLINK %llu (3-byte payload)\n",
	       part, lorawan == 0x11 ? "1.1" : "1.0.x", (unsigned long long)n_jr,
	       (unsigned long long)n_ja, (unsigned long long)n_up, (unsigned long long)n_down);
	{
		uint32_t static_end = 0;
		unsigned peak = stack_peak(&static_end);

		printf("part %d LoRaWAN %s: static RAM %u bytes, peak stack %u bytes\n", part,
		       lorawan == 0x11 ? "1.1" : "1.0.x", static_end - SRAM_BASE, peak);
		ck_assert_uint_le(static_end - SRAM_BASE + peak, RAM_BUDGET);
	}
	chip_close();
}

START_TEST(fw_image_lorawan10_join_and_talk)
{
	lw_join_and_talk(0x10);
}
END_TEST

START_TEST(fw_image_lorawan11_join_and_talk)
{
	lw_join_and_talk(0x11);
}
END_TEST

/*
 * Power cuts at seeded random instructions inside JOIN_REQUEST (half of them in the
 * window of its DevNonce row write, which lasts 4,000 instructions and is left half
 * programmed by a cut): after each, the chip reboots and joins again; no DevNonce the
 * agent ever released may come out a second time, and the counter only goes up.
 * LPA_BROWNOUT_TRIALS sets the number (the suite runs 8).
 */
START_TEST(fw_image_brownout_dev_nonce)
{
	uint8_t app[16], nwk[16], out[64];
	const char *e = getenv("LPA_BROWNOUT_TRIALS");
	long trials = e ? strtol(e, NULL, 10) : 8;
	struct at_rng rng = at_rng(0xde7);
	static bool released[0x10000];
	unsigned cut_in_write = 0, cuts = 0, wasted = 0;
	uint64_t total, notify_rel, start;
	uint32_t n = 0;
	int last = -1;

	memset(released, 0, sizeof(released));
	lw_chip(0x11, app, nwk);
	C.srom_insns = 4000;
	(void)chip_boot();
	start = C.insns;
	last = lw_join_request(0x11, app, nwk, &total);
	released[last] = true;
	notify_rel = C.notify_at - start;
	for (long t = 0; t < trials; t++) {
		uint64_t off = t % 2 ? 1 + at_below(&rng, total)
				     : notify_rel - 100 + at_below(&rng, C.srom_insns + 200);
		uint32_t st;
		int dn;

		(void)chip_boot();
		C.cut_at = C.insns + off;
		st = agent_call(0x80, NULL, 0, out, &n, NULL);
		if (C.cut) {
			cuts++;
			if (off > notify_rel && off <= notify_rel + C.srom_insns)
				cut_in_write++;
		} else {
			/* The call finished before the cut: its DevNonce is out. */
			ck_assert_uint_eq(st, 0xA0000000u);
			dn = out[17] | out[18] << 8;
			ck_assert(!released[dn]);
			released[dn] = true;
			ck_assert_int_gt(dn, last);
			last = dn;
		}
		(void)chip_boot();
		dn = lw_join_request(0x11, app, nwk, NULL);
		ck_assert_msg(!released[dn], "DevNonce %d released twice", dn);
		ck_assert_int_gt(dn, last);
		if (dn > last + 1)
			wasted++;
		released[dn] = true;
		last = dn;
	}
	printf("brownout inside JOIN_REQUEST: %ld trials (seed 0x%llx), %u cuts (%u inside the "
	       "DevNonce row write), %u DevNonces wasted, none reused; the call is %llu "
	       "instructions, the write starts at %llu\n",
	       trials, (unsigned long long)rng.seed, cuts, cut_in_write, wasted,
	       (unsigned long long)total, (unsigned long long)notify_rel);
	chip_close();
}
END_TEST

int main(int argc, char **argv)
{
	const struct tu_case cases[] = {
		TU_CASE_SLOW(fw_image_runs, 300),
		TU_CASE_SLOW(fw_image_busy_without_trng, 300),
		TU_CASE_SLOW(fw_image_brownout_inside_install, 24 * 3600),
		TU_CASE_SLOW(fw_image_lorawan10_join_and_talk, 300),
		TU_CASE_SLOW(fw_image_lorawan11_join_and_talk, 300),
		TU_CASE_SLOW(fw_image_brownout_dev_nonce, 24 * 3600),
	};

	if (argc != 3 || (atoi(argv[2]) != 1 && atoi(argv[2]) != 2)) {
		fprintf(stderr, "usage: %s IMAGE.bin PART(1|2)\n", argv[0]);
		return 2;
	}
	image_path = argv[1];
	part = atoi(argv[2]);
	return tu_main("agent-fw-image", cases, TU_N(cases));
}
