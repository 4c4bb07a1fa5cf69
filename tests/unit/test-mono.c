/* The monotonic clock: units that agree, time that does not go back, deadlines. */
#include <time.h>

#include "testutil.h"

START_TEST(mono_units_agree)
{
	uint64_t ns0 = lpa_mono_ns(), ms = lpa_mono_ms(), ns1 = lpa_mono_ns();
	double s = lpa_mono_s();
	uint64_t ns2 = lpa_mono_ns();

	ck_assert_uint_le(ns0, ns1);
	/* Read between ns0 and ns1: the same instant in milliseconds. */
	ck_assert_uint_ge(ms, ns0 / 1000000u);
	ck_assert_uint_le(ms, ns1 / 1000000u);
	ck_assert(s >= (double)ns1 / 1e9 - 1e-6 && s <= (double)ns2 / 1e9 + 1e-6);
}
END_TEST

START_TEST(mono_advances)
{
	struct timespec nap = {0, 20 * 1000 * 1000};
	uint64_t ns = lpa_mono_ns(), ms = lpa_mono_ms();

	ck_assert_int_eq(nanosleep(&nap, NULL), 0);
	ck_assert_uint_ge(lpa_mono_ns() - ns, 20u * 1000 * 1000);
	ck_assert_uint_ge(lpa_mono_ms() - ms, 19u);
}
END_TEST

START_TEST(mono_left_ms)
{
	uint64_t now = lpa_mono_ms();
	int64_t left = lpa_mono_left_ms(now + 60000);

	ck_assert(left > 59000 && left <= 60000);
	/* Past deadlines are negative, by how much they have passed. */
	left = lpa_mono_left_ms(now - 5000);
	ck_assert(left <= -5000 && left > -6000);
	ck_assert_int_le(lpa_mono_left_ms(0), -(int64_t)now);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(mono_units_agree),
		TU_CASE(mono_advances),
		TU_CASE(mono_left_ms),
	};

	return tu_main("mono", cases, TU_N(cases));
}
