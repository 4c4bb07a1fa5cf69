/*
 * test-model.c — unit tests of the chip model through its SWD port: SW-DP, MEM-APs,
 * ROM tables, Cortex-M debug, memory map, IPC and SROM. One TCase per behaviour. The
 * chips are erased parts (no agent firmware runs and protects anything) unless a test
 * says otherwise.
 */
#include "simtest.h"
#include "testutil.h"

static struct sim_chip *chip;

static void setup(void)
{
	test_clock = 1000;
	chip = test_chip_ex(SIM_FAMILY_V1, NULL, true);
	swd_connect(chip);
}

/* A part with the agent's firmware, booted far enough to have protected its key store. */
static struct sim_chip *agent_chip(void)
{
	struct sim_chip *c = test_chip(SIM_FAMILY_V1, NULL);
	uint32_t v;

	swd_connect(c);
	for (int i = 0; i < 10; i++)
		(void)dp_rd(c, 0x4, &v);
	return c;
}

static void teardown(void)
{
	sim_chip_free(&chip);
}

/* ---------------------------------------------------------------------- DP */

START_TEST(dp_silent_until_jtag_to_swd)
{
	struct sim_chip *c = test_chip_ex(SIM_FAMILY_V1, NULL, true);
	uint32_t v;

	ck_assert_int_eq(dp_rd(c, 0x0, &v), SIM_ACK_NOACK);
	swd_connect(c);
	sim_chip_free(&c);
}
END_TEST

START_TEST(dp_line_reset_wants_dpidr_first)
{
	static const uint8_t reset[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	uint32_t v;

	sim_chip_swj_sequence(chip, reset, 64);
	ck_assert_int_eq(dp_rd(chip, 0x4, &v), SIM_ACK_NOACK);
	ck_assert_int_eq(dp_wr(chip, 0x8, 0), SIM_ACK_NOACK);
	ck_assert_int_eq(dp_rd(chip, 0x0, &v), SIM_ACK_OK);
	ck_assert_int_eq(dp_rd(chip, 0x4, &v), SIM_ACK_OK);
}
END_TEST

START_TEST(dp_power_handshake_lags)
{
	struct sim_chip *c = test_chip_ex(SIM_FAMILY_V1, NULL, true);
	static const uint8_t seq[17] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x9e, 0xe7,
					0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	uint32_t v;

	sim_chip_swj_sequence(c, seq, 136);
	ck_assert_int_eq(dp_rd(c, 0x0, &v), SIM_ACK_OK);
	ck_assert_int_eq(dp_wr(c, 0x4, 0x50000000u), SIM_ACK_OK);
	ck_assert_int_eq(dp_rd(c, 0x4, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0xA0000000u, 0); /* requested, not yet acknowledged */
	ck_assert_int_eq(dp_rd(c, 0x4, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0xF0000000u, 0xF0000000u);
	sim_chip_free(&c);
}
END_TEST

START_TEST(dp_sticky_error_faults_ap_until_abort)
{
	uint32_t v;

	ck_assert_int_eq(mem_rd(chip, 0, 0x30000000u, &v), SIM_ACK_FAULT); /* unmapped */
	ck_assert_int_eq(ap_rd(chip, 0, 0xFC, &v), SIM_ACK_FAULT);
	ck_assert_int_eq(dp_rd(chip, 0x4, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x20, 0x20); /* STICKYERR */
	ck_assert_int_eq(dp_rd(chip, 0xC, &v), SIM_ACK_FAULT);
	clear_sticky(chip);
	ck_assert_int_eq(ap_rd(chip, 0, 0xFC, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x84770001u);
}
END_TEST

START_TEST(dp_rdbuff_repeats_last_ap_read)
{
	uint32_t v, r;

	ck_assert_int_eq(ap_rd(chip, 2, 0xFC, &v), SIM_ACK_OK);
	ck_assert_int_eq(dp_rd(chip, 0xC, &r), SIM_ACK_OK);
	ck_assert_uint_eq(r, v);
	ck_assert_uint_eq(r, 0x24770011u);
}
END_TEST

START_TEST(dp_dormant_to_swd)
{
	static const uint8_t to_dormant[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe3};
	static const uint8_t wake[] = {0xff, 0x92, 0xf3, 0x09, 0x62, 0x95, 0x2d, 0x85, 0x86,
				       0xe9, 0xaf, 0xdd, 0xe3, 0xa2, 0x0e, 0xbc, 0x19, 0xa0,
				       0xf1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	uint32_t v;

	sim_chip_swj_sequence(chip, to_dormant, 72);
	ck_assert_int_eq(dp_rd(chip, 0x0, &v), SIM_ACK_NOACK);
	/* 8 ones, the alert, 4 low cycles + activation code 0x1A, a line reset */
	sim_chip_swj_sequence(chip, wake, sizeof(wake) * 8);
	ck_assert_int_eq(dp_rd(chip, 0x0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x6BA02477u);
}
END_TEST

START_TEST(dp_banked_registers)
{
	uint32_t v;

	ck_assert_int_eq(dp_wr(chip, 0x8, 2), SIM_ACK_OK); /* DPBANKSEL 2: TARGETID */
	ck_assert_int_eq(dp_rd(chip, 0x4, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, DP_TARGETID);
	ck_assert_int_eq(dp_wr(chip, 0x8, 0), SIM_ACK_OK);
	ck_assert_int_eq(dp_rd(chip, 0x4, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v >> 28, 0xF);
}
END_TEST

/* ---------------------------------------------------------------------- APs */

START_TEST(ap_identification)
{
	static const uint32_t idr[] = {0x84770001u, 0x84770001u, 0x24770011u, 0};
	static const uint32_t base[] = {0xF1000003u, 0xF0000003u, 0xE00FF003u, 0};
	uint32_t v;

	for (unsigned ap = 0; ap < 4; ap++) {
		ck_assert_int_eq(ap_rd(chip, ap, 0xFC, &v), SIM_ACK_OK);
		ck_assert_uint_eq(v, idr[ap]);
		ck_assert_int_eq(ap_rd(chip, ap, 0xF8, &v), SIM_ACK_OK);
		ck_assert_uint_eq(v, base[ap]);
	}
}
END_TEST

START_TEST(ap_byte_and_halfword_lanes)
{
	uint8_t b[4];
	uint32_t v;

	ck_assert_int_eq(mem_wr(chip, 0, 0x08000100, 0x11223344u), SIM_ACK_OK);
	ck_assert_int_eq(ap_wr(chip, 0, 0x00, 0x23000000u), SIM_ACK_OK); /* 8-bit */
	ck_assert_int_eq(ap_wr(chip, 0, 0x04, 0x08000101), SIM_ACK_OK);
	ck_assert_int_eq(ap_wr(chip, 0, 0x0C, 0x0000AA00u), SIM_ACK_OK); /* lane 1 */
	ck_assert_int_eq(sim_chip_peek(chip, 0x08000100, b, 4), 0);
	ck_assert_uint_eq(sim_le32(b), 0x1122AA44u);
	ck_assert_int_eq(ap_wr(chip, 0, 0x00, 0x23000001u), SIM_ACK_OK); /* 16-bit */
	ck_assert_int_eq(ap_wr(chip, 0, 0x04, 0x08000102), SIM_ACK_OK);
	ck_assert_int_eq(ap_rd(chip, 0, 0x0C, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x11220000u); /* upper lanes */
}
END_TEST

START_TEST(ap_autoincrement_wraps_at_1k)
{
	uint8_t b[4];

	ck_assert_int_eq(ap_wr(chip, 0, 0x00, 0x23000012u), SIM_ACK_OK);
	ck_assert_int_eq(ap_wr(chip, 0, 0x04, 0x080003FC), SIM_ACK_OK);
	ck_assert_int_eq(ap_wr(chip, 0, 0x0C, 0xAAAAAAAAu), SIM_ACK_OK);
	ck_assert_int_eq(ap_wr(chip, 0, 0x0C, 0xBBBBBBBBu), SIM_ACK_OK);
	ck_assert_int_eq(sim_chip_peek(chip, 0x08000000, b, 4), 0);
	ck_assert_uint_eq(sim_le32(b), 0xBBBBBBBBu);
	ck_assert_int_eq(sim_chip_peek(chip, 0x08000400, b, 4), 0);
	ck_assert_uint_eq(sim_le32(b), 0);
}
END_TEST

START_TEST(ap_packed_increment_not_supported)
{
	uint32_t v;

	ck_assert_int_eq(ap_wr(chip, 0, 0x00, 0xA2000020u), SIM_ACK_OK);
	ck_assert_int_eq(ap_rd(chip, 0, 0x00, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x30, 0x10);
	ck_assert_uint_eq(v & 0x40, 0x40); /* DeviceEn */
}
END_TEST

START_TEST(ap_banked_data)
{
	uint32_t v;

	ck_assert_int_eq(mem_wr(chip, 0, 0x08000204, 0xCAFEF00Du), SIM_ACK_OK);
	ck_assert_int_eq(ap_wr(chip, 0, 0x04, 0x08000200), SIM_ACK_OK);
	ck_assert_int_eq(ap_rd(chip, 0, 0x14, &v), SIM_ACK_OK); /* BD1 */
	ck_assert_uint_eq(v, 0xCAFEF00Du);
}
END_TEST

START_TEST(ap_private_bus_per_core)
{
	uint32_t v;

	ck_assert_int_eq(mem_rd(chip, 1, 0xE000ED00, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x410CC601u);
	ck_assert_int_eq(mem_rd(chip, 2, 0xE000ED00, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x410FC241u);
	ck_assert_int_eq(mem_rd(chip, 0, 0xE000ED00, &v), SIM_ACK_FAULT);
}
END_TEST

START_TEST(ap_ctl_disables_an_ap)
{
	uint32_t v;

	ck_assert_int_eq(mem_wr(chip, 0, 0x40210540, 0x00020007u), SIM_ACK_OK); /* CM4_DISABLE */
	ck_assert_int_eq(mem_rd(chip, 2, 0x08000000, &v), SIM_ACK_FAULT);
	clear_sticky(chip);
	ck_assert_int_eq(ap_rd(chip, 2, 0xFC, &v), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 1, 0x08000000, &v), SIM_ACK_OK);
}
END_TEST

/* -------------------------------------------------------------- ROM tables */

static uint32_t rom_family(struct sim_chip *c)
{
	uint32_t base, p[4], p4;

	ck_assert_int_eq(ap_rd(c, 0, 0xF8, &base), SIM_ACK_OK);
	ck_assert_uint_eq(base & 3, 3);
	base &= 0xFFFFF000u;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(mem_rd(c, 0, base + 0xFE0 + 4 * (uint32_t)i, &p[i]), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(c, 0, base + 0xFD0, &p4), SIM_ACK_OK);
	{
		uint32_t pidr = (p[0] & 0xFF) | (p[1] & 0xFF) << 8 | (p[2] & 0xFF) << 16 |
				(p[3] & 0xFF) << 24;

		/* KitProg3's acceptance rule: Cypress designer, PIDR4..7 zero */
		ck_assert_uint_eq(pidr & 0x000FF000u, 0x000B4000u);
		ck_assert_uint_eq(p4, 0);
		return pidr & 0xFFF;
	}
}

START_TEST(rom_table_family_v1_and_v2)
{
	struct sim_chip *c2 = test_chip_ex(SIM_FAMILY_V2, NULL, true);

	ck_assert_uint_eq(rom_family(chip), 0x100);
	swd_connect(c2);
	ck_assert_uint_eq(rom_family(c2), 0x102);
	sim_chip_free(&c2);
}
END_TEST

START_TEST(rom_table_cm0_nests_arm_table)
{
	uint32_t v;

	ck_assert_int_eq(mem_rd(chip, 1, 0xF0000000, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0xF00FF003u);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE00FF000, &v), SIM_ACK_OK);
	ck_assert_uint_eq(0xE00FF000u + (v & ~3u), 0xE000E000u); /* SCS first */
	ck_assert_int_eq(mem_rd(chip, 1, 0xE00FFFE0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0xC0); /* part 0x4C0 */
}
END_TEST

/* --------------------------------------------------------------- Cortex-M */

START_TEST(cm_halt_and_resume)
{
	uint32_t v;

	ck_assert_int_eq(mem_rd(chip, 1, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 17), 0);
	cm_halt(chip, 0);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 17), 1u << 17);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000ED30, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 1, 1); /* DFSR.HALTED */
	cm_resume(chip, 0);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 17), 0);
}
END_TEST

START_TEST(cm_dhcsr_needs_key)
{
	uint32_t v;

	ck_assert_int_eq(mem_wr(chip, 1, 0xE000EDF0, 0x00000003u), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 17), 0);
}
END_TEST

START_TEST(cm_register_file)
{
	uint32_t v;

	cm_halt(chip, 1);
	ck_assert_int_eq(mem_wr(chip, 2, 0xE000EDF8, 0x12345678u), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(chip, 2, 0xE000EDF4, 0x00010005u), SIM_ACK_OK); /* R5 */
	ck_assert_int_eq(mem_wr(chip, 2, 0xE000EDF8, 0), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(chip, 2, 0xE000EDF4, 0x00000005u), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 2, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 16), 1u << 16); /* S_REGRDY */
	ck_assert_int_eq(mem_rd(chip, 2, 0xE000EDF8, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x12345678u);
	/* xPSR has the Thumb bit after reset */
	ck_assert_int_eq(mem_wr(chip, 2, 0xE000EDF4, 16), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 2, 0xE000EDF8, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x01000000u, 0x01000000u);
}
END_TEST

START_TEST(cm_sysresetreq_resets_system)
{
	uint32_t v;

	ck_assert_int_eq(mem_wr(chip, 1, 0xE000ED08, 0x08000000u), SIM_ACK_OK); /* VTOR */
	ck_assert_int_eq(mem_wr(chip, 1, 0xE000ED0C, 0x05FA0004u), SIM_ACK_OK);
	/* the reset cleared the AP's TAR */
	ck_assert_int_eq(ap_rd(chip, 1, 0x04, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 25), 1u << 25); /* S_RESET_ST, once */
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 25), 0);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000ED08, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(cm_vectreset_only_on_m4)
{
	uint32_t v;

	ck_assert_int_eq(mem_wr(chip, 1, 0xE000ED0C, 0x05FA0001u), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 25), 0); /* ARMv6-M: no VECTRESET */
	ck_assert_int_eq(mem_wr(chip, 2, 0xE000ED0C, 0x05FA0001u), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 2, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 25), 1u << 25);
}
END_TEST

START_TEST(cm_vector_catch_halts_at_reset)
{
	uint32_t v;

	cm_halt(chip, 0);
	ck_assert_int_eq(mem_wr(chip, 1, 0xE000EDFC, 0x01000001u), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(chip, 1, 0xE000ED0C, 0x05FA0004u), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000EDF0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & (1u << 17), 1u << 17);
	ck_assert_int_eq(mem_rd(chip, 1, 0xE000ED30, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 8, 8); /* DFSR.VCATCH */
}
END_TEST

/* ------------------------------------------------------------ memory map */

START_TEST(mem_flash_not_writable_by_bus)
{
	uint32_t v;

	ck_assert_int_eq(mem_wr(chip, 0, 0x10000000u, 0x1u), SIM_ACK_FAULT);
	clear_sticky(chip);
	ck_assert_int_eq(mem_rd(chip, 0, 0x10000000u, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0); /* erased */
}
END_TEST

START_TEST(mem_keystore_faults_every_ap)
{
	struct sim_chip *c = agent_chip();
	uint32_t v;

	/* The agent's firmware closed it (SMPU, per bus master) as it booted. */
	for (unsigned ap = 0; ap < 3; ap++) {
		ck_assert_int_eq(mem_rd(c, ap, SIM_KEYSTORE_BASE + 0x200, &v), SIM_ACK_FAULT);
		clear_sticky(c);
		ck_assert_int_eq(mem_wr(c, ap, SIM_KEYSTORE_BASE, 0), SIM_ACK_FAULT);
		clear_sticky(c);
	}
	/* and the LoRaWAN nonce rows below it (one 8 KiB SMPU region from 0x14006000) */
	ck_assert_int_eq(mem_rd(c, 0, SIM_KEYSTORE_BASE - 0x400, &v), SIM_ACK_FAULT);
	clear_sticky(c);
	ck_assert_int_eq(mem_rd(c, 0, SIM_KEYSTORE_BASE - 0x1000, &v), SIM_ACK_FAULT);
	clear_sticky(c);
	/* the flash below that is readable */
	ck_assert_int_eq(mem_rd(c, 0, SIM_KEYSTORE_BASE - 0x1000 - 4, &v), SIM_ACK_OK);
	/* on an erased part nothing closed it */
	ck_assert_int_eq(mem_rd(chip, 0, SIM_KEYSTORE_BASE + 0x200, &v), SIM_ACK_OK);
	sim_chip_free(&c);
}
END_TEST

START_TEST(mem_unique_id_fields)
{
	uint32_t w0, w1, w2;
	uint64_t uid;

	ck_assert_int_eq(mem_rd(chip, 0, 0x16000600, &w0), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 0, 0x16000604, &w1), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 0, 0x16000608, &w2), SIM_ACK_OK);
	/* Cy_SysLib_GetUniqueId: lot, wafer, x, y, sort, minor&1, year<<57 */
	uid = (uint64_t)w0 | (uint64_t)(w1 & 0x00FFFFFFu) << 32 | (uint64_t)(w1 >> 24 & 1) << 56 |
	      (uint64_t)(w2 >> 16 & 0x7F) << 57;
	ck_assert_uint_eq(uid, sim_chip_uid(chip));
}
END_TEST

START_TEST(mem_geometry_and_ids)
{
	uint32_t v;

	ck_assert_int_eq(mem_rd(chip, 0, 0x4025F00C, &v), SIM_ACK_OK);
	ck_assert_uint_eq((1u << (v >> 4 & 0xF)) * (1 + (v >> 8 & 0xFFFF)), 1024 * 1024);
	ck_assert_int_eq(mem_rd(chip, 0, 0x16000000, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v >> 16, 0xE207);
	ck_assert_int_eq(mem_rd(chip, 0, 0x40210500, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, SIM_PROT_NORMAL);
}
END_TEST

/* ------------------------------------------------------------ IPC and SROM */

START_TEST(ipc_acquire_and_release)
{
	uint32_t v;

	ck_assert_int_eq(mem_rd(chip, 0, 0x40230060, &v), SIM_ACK_OK); /* struct 3 */
	ck_assert_uint_eq(v & 0x80000000u, 0x80000000u);
	ck_assert_int_eq(mem_rd(chip, 0, 0x40230060, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0); /* already taken */
	ck_assert_int_eq(mem_rd(chip, 0, 0x40230070, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0x80000000u);
	ck_assert_int_eq(mem_wr(chip, 0, 0x40230064, 0), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 0, 0x40230070, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0);
}
END_TEST

START_TEST(srom_silicon_id_both_params)
{
	uint32_t fam, prot, si;

	ck_assert(ipc_call(chip, 2, 0x00000001u, 2));
	ck_assert_int_eq(mem_rd(chip, 0, 0x4023004C, &fam), SIM_ACK_OK);
	ck_assert(ipc_call(chip, 2, 0x00000101u, 2));
	ck_assert_int_eq(mem_rd(chip, 0, 0x4023004C, &prot), SIM_ACK_OK);
	ck_assert_uint_eq(fam >> 28, 0xA);
	si = (prot & 0xFFFF) << 16 | (fam & 0x00FF0000) >> 8 | (fam & 0xFF);
	ck_assert_uint_eq(si, sim_chip_silicon_id(chip));
	ck_assert_uint_eq(si, 0xE2072100u);
	ck_assert_uint_eq((prot >> 16) & 0xF, SIM_PROT_NORMAL);
}
END_TEST

START_TEST(srom_waits_for_running_cm0)
{
	uint32_t v;

	cm_halt(chip, 0);
	ck_assert(!ipc_call(chip, 2, 0x00000001u, 5));
	cm_resume(chip, 0);
	ck_assert_int_eq(mem_rd(chip, 0, 0x40230050, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0);
}
END_TEST

START_TEST(srom_needs_rom_vectors)
{
	uint32_t v;

	/* An application's vector table on the CM0+: the SROM call is never served. */
	ck_assert_int_eq(mem_wr(chip, 1, 0xE000ED08, 0x10000000u), SIM_ACK_OK);
	ck_assert(!ipc_call(chip, 2, 0x00000001u, 3));
	ck_assert_int_eq(mem_wr(chip, 1, 0xE000ED08, 0), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 0, 0x40230050, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0);
}
END_TEST

START_TEST(srom_needs_notify_unmasked)
{
	uint32_t v;

	ck_assert_int_eq(mem_rd(chip, 0, 0x40230040, &v), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(chip, 0, 0x4023004C, 1), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(chip, 0, 0x40231008, 0), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(chip, 0, 0x40230048, 1), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 0, 0x40230050, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0x80000000u); /* never served */
	ck_assert_int_eq(mem_wr(chip, 0, 0x40231008, 1u << 18), SIM_ACK_OK);
	ck_assert_int_eq(mem_rd(chip, 0, 0x40230050, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0);
}
END_TEST

/* A ProgramRow/WriteRow/EraseRow through a parameter block at wa. */
static uint32_t srom_row(struct sim_chip *c, uint32_t req, uint32_t addr, uint8_t fill)
{
	const uint32_t wa = 0x08002800; /* above the agent's RAM (docs/agent.md) */
	uint32_t v;

	ck_assert_int_eq(mem_wr(c, 0, wa, req), SIM_ACK_OK);
	if ((req >> 24) == 0x1C) {
		ck_assert_int_eq(mem_wr(c, 0, wa + 4, addr), SIM_ACK_OK);
	} else {
		ck_assert_int_eq(mem_wr(c, 0, wa + 4, 0x106), SIM_ACK_OK);
		ck_assert_int_eq(mem_wr(c, 0, wa + 8, addr), SIM_ACK_OK);
		ck_assert_int_eq(mem_wr(c, 0, wa + 12, wa + 16), SIM_ACK_OK);
		for (uint32_t i = 0; i < 512; i += 4)
			ck_assert_int_eq(mem_wr(c, 0, wa + 16 + i, fill * 0x01010101u), SIM_ACK_OK);
	}
	ck_assert(ipc_call(c, 2, wa, 2));
	ck_assert_int_eq(mem_rd(c, 0, wa, &v), SIM_ACK_OK);
	return v;
}

START_TEST(srom_program_row_ors_into_flash)
{
	uint8_t b[4];

	ck_assert_uint_eq(srom_row(chip, 0x06000100, 0x10002000, 0x0F), SROM_OK);
	ck_assert_uint_eq(srom_row(chip, 0x06000100, 0x10002000, 0x30), SROM_OK);
	ck_assert_int_eq(sim_chip_peek(chip, 0x100021FC, b, 4), 0);
	ck_assert_uint_eq(sim_le32(b), 0x3F3F3F3Fu);
	ck_assert_uint_eq(srom_row(chip, 0x1C000100, 0x10002000, 0), SROM_OK);
	ck_assert_int_eq(sim_chip_peek(chip, 0x10002000, b, 4), 0);
	ck_assert_uint_eq(sim_le32(b), 0);
}
END_TEST

START_TEST(srom_refuses_what_the_caller_cannot_write)
{
	struct sim_chip *c = agent_chip();
	uint8_t b[4];

	/* The debug port's SROM call may not write the key store the agent closed to it. */
	ck_assert_uint_eq(srom_row(c, 0x05000100, SIM_KEYSTORE_BASE, 0x5A), SROM_ERR_ROWPROT);
	ck_assert_int_eq(sim_chip_peek(c, SIM_KEYSTORE_BASE, b, 4), 0);
	ck_assert_uint_ne(sim_le32(b), 0x5A5A5A5Au);
	/* An erased part has nothing closed: the row is written. */
	ck_assert_uint_eq(srom_row(chip, 0x05000100, SIM_KEYSTORE_BASE, 0x5A), SROM_OK);
	sim_chip_free(&c);
}
END_TEST

START_TEST(srom_write_row_sflash_rules)
{
	uint8_t b[4];

	ck_assert_uint_eq(srom_row(chip, 0x05000100, 0x16000800, 0x5A), SROM_OK);
	ck_assert_int_eq(sim_chip_peek(chip, 0x16000800, b, 4), 0);
	ck_assert_uint_eq(sim_le32(b), 0x5A5A5A5Au);
	/* factory rows refuse; unaligned addresses are invalid */
	ck_assert_uint_eq(srom_row(chip, 0x05000100, 0x16000600, 0x5A), SROM_ERR_ROWPROT);
	ck_assert_uint_eq(srom_row(chip, 0x06000100, 0x10002004, 0x5A), SROM_ERR_ADDR);
	ck_assert_uint_eq(srom_row(chip, 0x06000100, 0x16000800, 0x5A), SROM_ERR_ADDR);
}
END_TEST

START_TEST(srom_latency_keeps_the_lock)
{
	uint32_t v;

	chip->cfg.latency.row_program_us = 5000;
	ck_assert_int_eq(mem_wr(chip, 0, 0x08000800, 0x06000100), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(chip, 0, 0x08000804, 0x106), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(chip, 0, 0x08000808, 0x10004000), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(chip, 0, 0x0800080C, 0x08000810), SIM_ACK_OK);
	ck_assert(!ipc_call(chip, 2, 0x08000800, 3));
	test_clock += 4999000;
	ck_assert_int_eq(mem_rd(chip, 0, 0x40230050, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0x80000000u);
	test_clock += 1000;
	ck_assert_int_eq(mem_rd(chip, 0, 0x40230050, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0);
}
END_TEST

START_TEST(srom_secure_refuses_flash)
{
	chip->prot_state = SIM_PROT_SECURE;
	chip->ap_ctl = 0x7;
	/* SECURE leaves the system AP off: the call cannot even be made from AP0 */
	{
		uint32_t v;

		ck_assert_int_eq(mem_rd(chip, 0, 0x40230040, &v), SIM_ACK_FAULT);
		clear_sticky(chip);
	}
	chip->prot_state = SIM_PROT_NORMAL;
	ck_assert_uint_eq(srom_row(chip, 0x06000100, 0x10002000, 1), SROM_OK);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(dp_silent_until_jtag_to_swd),
		TU_CASE(dp_line_reset_wants_dpidr_first),
		TU_CASE(dp_power_handshake_lags),
		TU_CASE(dp_sticky_error_faults_ap_until_abort),
		TU_CASE(dp_rdbuff_repeats_last_ap_read),
		TU_CASE(dp_dormant_to_swd),
		TU_CASE(dp_banked_registers),
		TU_CASE(ap_identification),
		TU_CASE(ap_byte_and_halfword_lanes),
		TU_CASE(ap_autoincrement_wraps_at_1k),
		TU_CASE(ap_packed_increment_not_supported),
		TU_CASE(ap_banked_data),
		TU_CASE(ap_private_bus_per_core),
		TU_CASE(ap_ctl_disables_an_ap),
		TU_CASE(rom_table_family_v1_and_v2),
		TU_CASE(rom_table_cm0_nests_arm_table),
		TU_CASE(cm_halt_and_resume),
		TU_CASE(cm_dhcsr_needs_key),
		TU_CASE(cm_register_file),
		TU_CASE(cm_sysresetreq_resets_system),
		TU_CASE(cm_vectreset_only_on_m4),
		TU_CASE(cm_vector_catch_halts_at_reset),
		TU_CASE(mem_flash_not_writable_by_bus),
		TU_CASE(mem_keystore_faults_every_ap),
		TU_CASE(mem_unique_id_fields),
		TU_CASE(mem_geometry_and_ids),
		TU_CASE(ipc_acquire_and_release),
		TU_CASE(srom_silicon_id_both_params),
		TU_CASE(srom_waits_for_running_cm0),
		TU_CASE(srom_needs_notify_unmasked),
		TU_CASE(srom_needs_rom_vectors),
		TU_CASE(srom_program_row_ors_into_flash),
		TU_CASE(srom_write_row_sflash_rules),
		TU_CASE(srom_refuses_what_the_caller_cannot_write),
		TU_CASE(srom_latency_keeps_the_lock),
		TU_CASE(srom_secure_refuses_flash),
	};

	return tu_main_fixture("sim-model", cases, TU_N(cases), setup, teardown);
}
