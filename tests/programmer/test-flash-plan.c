/* psoc6_flash_plan: what a main-flash write costs the SROM (rows, sector and subsector
 * erases), and the ranges it refuses. */
#include "programmer/programmer.h"
#include "testutil.h"

START_TEST(rows_and_erases_counted)
{
	struct psoc6_flash_plan p;

	/* The agent image (12,324 bytes): 25 rows, 4 subsectors. */
	ck_assert_int_eq(psoc6_flash_plan(0x10000000u, 12324, &p), LPA_OK);
	ck_assert_uint_eq(p.rows, 25);
	ck_assert_uint_eq(p.sector_erases, 0);
	ck_assert_uint_eq(p.subsector_erases, 4);
	/* One byte is a row and a subsector. */
	ck_assert_int_eq(psoc6_flash_plan(0x10000000u, 1, &p), LPA_OK);
	ck_assert_uint_eq(p.rows, 1);
	ck_assert_uint_eq(p.subsector_erases, 1);
	/* A whole sector is one erase, the rest by subsectors. */
	ck_assert_int_eq(psoc6_flash_plan(0x10000000u, 256 * 1024, &p), LPA_OK);
	ck_assert_uint_eq(p.rows, 512);
	ck_assert_uint_eq(p.sector_erases, 1);
	ck_assert_uint_eq(p.subsector_erases, 0);
	ck_assert_int_eq(psoc6_flash_plan(0x10000000u, 256 * 1024 + 4097, &p), LPA_OK);
	ck_assert_uint_eq(p.rows, 521);
	ck_assert_uint_eq(p.sector_erases, 1);
	ck_assert_uint_eq(p.subsector_erases, 2);
	/* Not starting on a sector boundary: subsectors only. */
	ck_assert_int_eq(psoc6_flash_plan(0x10001000u, 256 * 1024, &p), LPA_OK);
	ck_assert_uint_eq(p.sector_erases, 0);
	ck_assert_uint_eq(p.subsector_erases, 64);
}
END_TEST

START_TEST(bad_ranges_refused)
{
	struct psoc6_flash_plan p;

	ck_assert_int_eq(psoc6_flash_plan(0x10000000u, 0, &p), LPA_ERR_INVAL);
	ck_assert_int_eq(psoc6_flash_plan(0x10000200u, 512, &p), LPA_ERR_INVAL);  /* not 4 KiB */
	ck_assert_int_eq(psoc6_flash_plan(0x0FFFF000u, 512, &p), LPA_ERR_INVAL);  /* below */
	ck_assert_int_eq(psoc6_flash_plan(0x14000000u, 512, &p), LPA_ERR_INVAL);  /* work flash */
	ck_assert_int_eq(psoc6_flash_plan(0x101FF000u, 8192, &p), LPA_ERR_INVAL); /* past 2 MiB */
	ck_assert_int_eq(psoc6_flash_plan(0x101FF000u, 4096, &p), LPA_OK);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(rows_and_erases_counted),
		TU_CASE(bad_ranges_refused),
	};

	return tu_main("flash-plan", cases, TU_N(cases));
}
