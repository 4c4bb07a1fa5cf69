/*
 * test-kms-rate.c — the login rate limiter (lpa/kms/rate.c) on a clock the test holds.
 * The attack it was open to: a fixed one-minute window let 2 x N attempts through in a
 * moment across the minute boundary; a token bucket does not.
 */
#include <check.h>

#include "kms-auth.h"
#include "testutil.h"

static unsigned burst(struct kms_rate *r, const char *key, unsigned per_minute, unsigned n,
		      uint64_t at_ms)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += rate_allow(r, key, per_minute, at_ms + i, NULL);
	return ok;
}

START_TEST(no_double_rate_across_the_minute)
{
	struct kms_rate *r = NULL;
	unsigned a, b;

	ck_assert_int_eq(rate_new(&r), KMS_OK);
	/* 10 per minute: 10 attempts at 0:59.9 and 10 more at 1:00.1. */
	a = burst(r, "op:alice@1", 10, 10, 59900);
	b = burst(r, "op:alice@1", 10, 10, 60100);
	ck_assert_uint_eq(a, 10);
	ck_assert_uint_le(a + b, 11);
	rate_free(&r);
}
END_TEST

START_TEST(refills_at_the_rate)
{
	struct kms_rate *r = NULL;
	unsigned retry = 0;

	ck_assert_int_eq(rate_new(&r), KMS_OK);
	ck_assert_uint_eq(burst(r, "st:1", 10, 10, 1000), 10);
	ck_assert(!rate_allow(r, "st:1", 10, 1010, &retry));
	ck_assert_uint_ge(retry, 5); /* one token per 6 s */
	ck_assert_uint_le(retry, 7);
	ck_assert(rate_allow(r, "st:1", 10, 1010 + 6000, NULL));
	ck_assert(!rate_allow(r, "st:1", 10, 1010 + 6001, NULL));
	/* A minute later the bucket is full again, and no fuller. */
	ck_assert_uint_eq(burst(r, "st:1", 10, 20, 200000), 10);
	rate_free(&r);
}
END_TEST

START_TEST(keys_are_independent)
{
	struct kms_rate *r = NULL;

	ck_assert_int_eq(rate_new(&r), KMS_OK);
	ck_assert_uint_eq(burst(r, "op:alice@1", 3, 5, 0), 3);
	ck_assert_uint_eq(burst(r, "op:alice@2", 3, 5, 0), 3);
	/* Many other keys (more than the table holds) do not reset a busy one. */
	for (unsigned i = 0; i < 3000; i++) {
		char key[32];

		snprintf(key, sizeof(key), "op:guess%u@9", i);
		rate_allow(r, key, 3, 10 + i, NULL);
		ck_assert(!rate_allow(r, "op:alice@1", 3, 10 + i, NULL));
	}
	rate_free(&r);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(no_double_rate_across_the_minute),
		TU_CASE(refills_at_the_rate),
		TU_CASE(keys_are_independent),
	};

	return tu_main("kms-rate", cases, TU_N(cases));
}
