/*
 * test-cpu.c — the executing CM0+ (fixtures/sim/cm0.c on Unicorn) with small images of
 * our own (tests/sim/images, cross-built with arm-none-eabi-gcc): results checked
 * against the host, BKPT and FPB halting, C_HALT/S_HALT after a step, the register file
 * through DCRSR/DCRDR, vector catch and AIRCR's boot hand-off, SROM calls from the CM0+
 * through IPC_STRUCT0, protection per bus master (and its negative control), HardFault
 * and lockup, the TRNG, the translation cache after code changes, DWT PC sampling and
 * simulated time from instructions executed.
 */
#include <dlfcn.h>
#include <stdio.h>

#include "simtest.h"

#define RESULT 0x08007F00u
#define DHCSR 0xE000EDF0u
#define DCRSR 0xE000EDF4u
#define DCRDR 0xE000EDF8u
#define DEMCR 0xE000EDFCu
#define AIRCR 0xE000ED0Cu
#define DFSR 0xE000ED30u
#define FP_CTRL 0xE0002000u
#define FP_COMP0 0xE0002008u
#define DWT_PCSR 0xE000101Cu
#define S_HALT (1u << 17)
#define S_LOCKUP (1u << 19)
#define C_HALT (1u << 1)

static struct sim_chip *c;

static void setup(void)
{
	test_clock = 0;
	c = test_chip_ex(SIM_FAMILY_V1, NULL, true); /* erased: the test images go in */
	swd_connect(c);
}

static void teardown(void)
{
	sim_chip_free(&c);
}

static size_t load(struct sim_chip *chip, const char *name, uint32_t addr)
{
	const char *dir = getenv("IMAGES_DIR");
	char path[1024];
	uint8_t buf[8192];
	size_t n;
	FILE *f;

	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	ck_assert_uint_gt(n, 16);
	ck_assert_int_eq(sim_chip_poke(chip, addr, buf, n), 0);
	return n;
}

static uint32_t rd(struct sim_chip *chip, uint32_t addr)
{
	uint32_t v = 0;

	ck_assert_int_eq(mem_rd(chip, 1, addr, &v), SIM_ACK_OK);
	return v;
}

static void wr(struct sim_chip *chip, uint32_t addr, uint32_t v)
{
	ck_assert_int_eq(mem_wr(chip, 1, addr, v), SIM_ACK_OK);
}

static uint32_t reg(struct sim_chip *chip, unsigned sel)
{
	wr(chip, DCRSR, sel);
	return rd(chip, DCRDR);
}

static void set_reg(struct sim_chip *chip, unsigned sel, uint32_t v)
{
	wr(chip, DCRDR, v);
	wr(chip, DCRSR, 0x10000u | sel);
}

/* The image in flash, halting debug on, then a system reset: the boot ROM hands over to
 * the image at 0x10000000 (optionally halting at its entry: vector catch). */
static void boot(struct sim_chip *chip, const char *image, bool catch_reset)
{
	load(chip, image, 0x10000000);
	wr(chip, DHCSR, 0xA05F0001u);
	wr(chip, DEMCR, catch_reset ? 1u : 0u);
	wr(chip, AIRCR, 0x05FA0004u);
}

/* Polls DHCSR (each access lets the core run) until it halts; false after polls. */
static bool wait_halt(struct sim_chip *chip, unsigned polls)
{
	for (unsigned i = 0; i < polls; i++) {
		test_clock += 1000000; /* 1 ms a poll */
		if (rd(chip, DHCSR) & S_HALT)
			return true;
	}
	return false;
}

static uint32_t host_crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

START_TEST(crc_image_matches_host)
{
	uint8_t flash[1024];
	uint32_t v;

	boot(c, "crc", false);
	ck_assert(wait_halt(c, 50));
	ck_assert_int_eq(sim_chip_peek(c, 0x10000000, flash, sizeof(flash)), 0);
	ck_assert_uint_eq(rd(c, RESULT), host_crc32(flash, sizeof(flash)));
	/* Halted on the BKPT: PC on it, DFSR.BKPT, C_HALT set like S_HALT. */
	ck_assert_int_eq(sim_chip_peek(c, reg(c, 15), &v, 2), 0);
	ck_assert_uint_eq(v & 0xFF00u, 0xBE00u);
	ck_assert_uint_ne(rd(c, DFSR) & 2u, 0);
	ck_assert_uint_ne(rd(c, DHCSR) & C_HALT, 0);
	/* 1 KiB at 8 bit steps each: tens of thousands of instructions ran. */
	ck_assert_uint_gt(sim_chip_cpu_retired(c), 40000);
}
END_TEST

START_TEST(vector_catch_step_and_registers)
{
	uint32_t d;

	boot(c, "loop", true);
	d = rd(c, DHCSR);
	ck_assert_uint_ne(d & S_HALT, 0);
	ck_assert_uint_ne(rd(c, DFSR) & 8u, 0); /* VCATCH */
	ck_assert_uint_eq(reg(c, 15), 0x10000100u);
	ck_assert_uint_eq(reg(c, 13), 0x08007E00u); /* SP from the vector table */
	ck_assert_uint_eq(reg(c, 16) & 0x01000000u, 0x01000000u);
	/* A step runs one instruction (movs r0, #0) and halts again: S_HALT and C_HALT. */
	set_reg(c, 0, 0x1234);
	wr(c, DHCSR, 0xA05F0005u);
	d = rd(c, DHCSR);
	ck_assert_uint_eq(d & (S_HALT | C_HALT), S_HALT | C_HALT);
	ck_assert_uint_eq(reg(c, 15), 0x10000102u);
	ck_assert_uint_eq(reg(c, 0), 0);
	/* Through the loop: adds r0, #1 ... r0 counts the steps. */
	for (int i = 0; i < 6; i++)
		wr(c, DHCSR, 0xA05F0005u);
	ck_assert_uint_eq(reg(c, 0), 2);
	ck_assert_uint_eq(reg(c, 1), 4);
	ck_assert_uint_eq(reg(c, 15), 0x10000108u);
	/* Registers written by the debugger are the core's. */
	set_reg(c, 0, 100);
	set_reg(c, 15, 0x10000104u);
	wr(c, DHCSR, 0xA05F0005u);
	ck_assert_uint_eq(reg(c, 0), 101);
	/* PRIMASK through the special-purpose selector. */
	set_reg(c, 20, 1);
	ck_assert_uint_eq(reg(c, 20) & 1u, 1);
}
END_TEST

START_TEST(fpb_breakpoint_halts_at_address)
{
	boot(c, "loop", false);
	wr(c, FP_CTRL, 3); /* KEY | ENABLE */
	wr(c, FP_COMP0, 0x10000108u | 1u | 1u << 30);
	ck_assert(wait_halt(c, 10));
	ck_assert_uint_eq(reg(c, 15), 0x10000108u);
	ck_assert_uint_ne(rd(c, DFSR) & 2u, 0);
	/* Resuming onto the breakpoint halts at once (OpenOCD's maskisr-auto step relies
	 * on it); without the comparator the core runs on. */
	wr(c, DFSR, 0x1F);
	wr(c, DHCSR, 0xA05F0001u);
	ck_assert(wait_halt(c, 2));
	ck_assert_uint_eq(reg(c, 15), 0x10000108u);
	wr(c, FP_COMP0, 0);
	wr(c, DHCSR, 0xA05F0001u);
	ck_assert(!wait_halt(c, 3));
	/* DWT PC sampling: a PC inside the loop while it runs. */
	for (int i = 0; i < 5; i++) {
		uint32_t pc = rd(c, DWT_PCSR);

		ck_assert_uint_ge(pc, 0x10000104u);
		ck_assert_uint_le(pc, 0x10000108u);
	}
	cm_halt(c, 0);
	ck_assert_uint_eq(rd(c, DWT_PCSR), 0xFFFFFFFFu);
}
END_TEST

START_TEST(srom_call_from_cm0)
{
	uint8_t row[512];

	boot(c, "srom", false);
	if (!wait_halt(c, 50)) {
		cm_halt(c, 0);
		fprintf(stderr, "pc %08x r4 %u ipsr %x lock %08x\n", reg(c, 15), reg(c, 4),
			reg(c, 16), rd(c, 0x40230010));
	}
	ck_assert_uint_eq(rd(c, RESULT), 0xA0000000u);
	ck_assert_uint_ge(rd(c, RESULT + 4), 1);
	ck_assert_int_eq(sim_chip_peek(c, 0x10008000, row, sizeof(row)), 0);
	for (int i = 0; i < 512; i++)
		ck_assert_uint_eq(row[i], (uint8_t)i);
}
END_TEST

START_TEST(srom_call_takes_datasheet_time)
{
	/* With the datasheet's latencies the row program holds the core for 5 ms of
	 * simulated time: not finished 2 ms in, finished at 7 ms. */
	sim_latency_default(&c->cfg.latency);
	c->cfg.latency.cpu_khz = 0; /* the core itself as fast as the host runs it */
	boot(c, "srom", false);
	for (int i = 0; i < 20; i++)
		(void)rd(c, DHCSR); /* the image runs up to its poll loop */
	test_clock += 2000000;
	ck_assert_uint_eq(rd(c, DHCSR) & S_HALT, 0);
	test_clock += 5000000;
	ck_assert(wait_halt(c, 5));
	ck_assert_uint_eq(rd(c, RESULT), 0xA0000000u);
}
END_TEST

START_TEST(protection_per_bus_master)
{
	uint32_t v;

	boot(c, "prot", false);
	/* It ends in "b .": give it time, then look. */
	for (int i = 0; i < 10; i++)
		(void)rd(c, DHCSR);
	ck_assert_int_eq(mem_rd(c, 0, RESULT, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x5EC0DE00u);
	/* The CM0+ (PC 1) read its region... */
	ck_assert_int_eq(mem_rd(c, 0, RESULT + 4, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x5EC0DE00u);
	/* ...the debug port (PC 7) cannot, through any AP. */
	ck_assert_int_eq(mem_rd(c, 0, 0x08006000, &v), SIM_ACK_FAULT);
	clear_sticky(c);
	ck_assert_int_eq(mem_rd(c, 1, 0x08006000, &v), SIM_ACK_FAULT);
	clear_sticky(c);
	ck_assert_int_eq(mem_rd(c, 2, 0x08006000, &v), SIM_ACK_FAULT);
	clear_sticky(c);
	ck_assert_int_eq(mem_wr(c, 0, 0x08006000, 0), SIM_ACK_FAULT);
	clear_sticky(c);
	/* Nobody is in PC 0 any more: putting the debug port back changes nothing. */
	ck_assert_int_eq(mem_wr(c, 0, 0x40244000 + 0x400 * 15, 0), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(c, 0, 0x08006000, &v), SIM_ACK_FAULT);
	clear_sticky(c);
	/* Memory next to the region stays open. */
	ck_assert_int_eq(mem_rd(c, 0, 0x08007000, &v), SIM_ACK_OK);
	/* A reset returns every master to PC 0 and every region to disabled. */
	wr(c, DEMCR, 1);
	wr(c, AIRCR, 0x05FA0004u);
	ck_assert_int_eq(mem_rd(c, 0, 0x08006000, &v), SIM_ACK_OK);
}
END_TEST

START_TEST(keystore_open_without_agent)
{
	struct sim_chip *agent = test_chip(SIM_FAMILY_V1, NULL);
	uint32_t v;

	/* The agent's firmware closes the key store as it boots (its identity record is
	 * there from the chip's manufacture)... */
	swd_connect(agent);
	for (int i = 0; i < 10; i++)
		(void)rd(agent, DHCSR);
	ck_assert_int_eq(mem_rd(agent, 0, SIM_KEYSTORE_BASE + 0x400, &v), SIM_ACK_FAULT);
	clear_sticky(agent);
	ck_assert_int_eq(mem_rd(agent, 2, SIM_KEYSTORE_BASE + 0x400, &v), SIM_ACK_FAULT);
	clear_sticky(agent);
	sim_chip_free(&agent);
	/* ...and a part whose firmware configured nothing (erased, the identity record
	 * still placed) lets the debugger read it: the negative control that shows the
	 * enforcement comes from the configuration. */
	ck_assert_int_eq(mem_rd(c, 0, SIM_KEYSTORE_BASE + 0x400, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x3144494Cu); /* "LID1" */
	ck_assert_int_eq(mem_rd(c, 2, SIM_KEYSTORE_BASE + 0x400, &v), SIM_ACK_OK);
}
END_TEST

START_TEST(hardfault_and_lockup)
{
	boot(c, "fault", false);
	ck_assert(wait_halt(c, 10));
	ck_assert_uint_eq(rd(c, RESULT), 3);               /* IPSR: HardFault */
	ck_assert_uint_eq(rd(c, RESULT + 4), 0x10000012u); /* the udf ("bad" in fault.S) */
	/* No valid HardFault vector: the core locks up (S_LOCKUP, PC 0xFFFFFFFE). */
	boot(c, "lockup", false);
	for (int i = 0; i < 5; i++)
		(void)rd(c, DHCSR);
	ck_assert_uint_ne(rd(c, DHCSR) & S_LOCKUP, 0);
	cm_halt(c, 0);
	ck_assert_uint_eq(reg(c, 15), 0xFFFFFFFEu);
}
END_TEST

START_TEST(trng_gives_fresh_words)
{
	boot(c, "trng", false);
	ck_assert(wait_halt(c, 10));
	ck_assert_uint_ne(rd(c, RESULT), rd(c, RESULT + 4));
	ck_assert_uint_ne(rd(c, RESULT) | rd(c, RESULT + 4), 0);
}
END_TEST

START_TEST(code_written_by_debugger_runs)
{
	/* movs r0, #1; bkpt — then movs r0, #2; bkpt at the same address: the second run
	 * must not execute the first translation. */
	cm_halt(c, 0);
	wr(c, DHCSR, 0xA05F0003u);
	wr(c, 0x08004000, 0xBE002001u);
	set_reg(c, 15, 0x08004000);
	wr(c, DHCSR, 0xA05F0001u);
	ck_assert(wait_halt(c, 5));
	ck_assert_uint_eq(reg(c, 0), 1);
	wr(c, 0x08004000, 0xBE002002u);
	set_reg(c, 15, 0x08004000);
	wr(c, DHCSR, 0xA05F0001u);
	ck_assert(wait_halt(c, 5));
	ck_assert_uint_eq(reg(c, 0), 2);
}
END_TEST

START_TEST(time_follows_instructions)
{
	uint64_t before;

	/* 100 MHz at 1.5 cycles per instruction: 15 ns each, 66666 in a millisecond. */
	c->cfg.latency.cpu_khz = 100000;
	boot(c, "loop", false);
	(void)rd(c, DHCSR);
	before = sim_chip_cpu_retired(c);
	test_clock += 1000000;
	(void)rd(c, DHCSR);
	ck_assert_uint_ge(sim_chip_cpu_retired(c) - before, 66600);
	ck_assert_uint_le(sim_chip_cpu_retired(c) - before, 66700);
	/* A halted core retires nothing. */
	cm_halt(c, 0);
	before = sim_chip_cpu_retired(c);
	test_clock += 1000000;
	(void)rd(c, DHCSR);
	ck_assert_uint_eq(sim_chip_cpu_retired(c), before);
}
END_TEST

START_TEST(parked_core_costs_nothing)
{
	uint64_t before;

	/* The boot ROM's idle "b ." (an erased part): nothing executes, however long. */
	before = sim_chip_cpu_retired(c);
	for (int i = 0; i < 100; i++) {
		test_clock += 10000000;
		(void)rd(c, DHCSR);
	}
	ck_assert_uint_eq(sim_chip_cpu_retired(c), before);
}
END_TEST

struct uc_struct;
struct page_collection;
struct page_collection *page_collection_lock_arm(struct uc_struct *uc, uint64_t start,
						 uint64_t end);

START_TEST(store_path_is_lean)
{
	/* cm0.c's replacement of the engine's page-collection pair is the one the process
	 * resolves (the executable exports it), so the engine's stores call it. */
	ck_assert_ptr_eq(dlsym(RTLD_DEFAULT, "page_collection_lock_arm"),
			 (void *)page_collection_lock_arm);
	/* ...and code the core ran, then overwrote itself, is still caught (the check
	 * these two bracket is the engine's own). */
	cm_halt(c, 0);
	wr(c, DHCSR, 0xA05F0003u);
	wr(c, 0x08004010, 0xBE002003u); /* movs r0, #3; bkpt */
	wr(c, 0x08004000, 0xBE00801Au); /* strh r2, [r3]; bkpt */
	set_reg(c, 15, 0x08004010u);
	wr(c, DHCSR, 0xA05F0001u);
	ck_assert(wait_halt(c, 5));
	ck_assert_uint_eq(reg(c, 0), 3);
	set_reg(c, 2, 0x2004u); /* movs r0, #4 */
	set_reg(c, 3, 0x08004010u);
	set_reg(c, 15, 0x08004000u);
	wr(c, DHCSR, 0xA05F0001u);
	ck_assert(wait_halt(c, 5));
	set_reg(c, 15, 0x08004010u);
	wr(c, DHCSR, 0xA05F0001u);
	ck_assert(wait_halt(c, 5));
	ck_assert_uint_eq(reg(c, 0), 4);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sim-cpu");
	TCase *tc = tcase_create("cm0");
	SRunner *r;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, crc_image_matches_host);
	tcase_add_test(tc, vector_catch_step_and_registers);
	tcase_add_test(tc, fpb_breakpoint_halts_at_address);
	tcase_add_test(tc, srom_call_from_cm0);
	tcase_add_test(tc, srom_call_takes_datasheet_time);
	tcase_add_test(tc, protection_per_bus_master);
	tcase_add_test(tc, keystore_open_without_agent);
	tcase_add_test(tc, hardfault_and_lockup);
	tcase_add_test(tc, trng_gives_fresh_words);
	tcase_add_test(tc, code_written_by_debugger_runs);
	tcase_add_test(tc, time_follows_instructions);
	tcase_add_test(tc, parked_core_costs_nothing);
	tcase_add_test(tc, store_path_is_lean);
	suite_add_tcase(s, tc);
	r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
