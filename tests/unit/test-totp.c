/* TOTP: the full RFC 6238 Appendix B table, windows, formats and the replay rule. */
#include "testutil.h"

static const char *seed_sha1 = "12345678901234567890";
static const char *seed_sha256 = "12345678901234567890123456789012";
static const char *seed_sha512 = "1234567890123456789012345678901234567890123456789012345678901234";

static const struct {
	time_t t;
	const char *sha1, *sha256, *sha512;
} rfc6238[] = {
	{59, "94287082", "46119246", "90693936"},
	{1111111109, "07081804", "68084774", "25091201"},
	{1111111111, "14050471", "67062674", "99943326"},
	{1234567890, "89005924", "91819424", "93441116"},
	{2000000000, "69279037", "90698825", "38618901"},
	{20000000000LL, "65353130", "77737706", "47863826"},
};

static void params8(struct lpa_totp_params *p, enum lpa_totp_alg alg)
{
	lpa_totp_params_default(p);
	p->alg = alg;
	p->digits = 8;
}

static void check_table(enum lpa_totp_alg alg, const char *seed, size_t off)
{
	struct lpa_totp_params p;
	char code[9];

	params8(&p, alg);
	for (size_t i = 0; i < TU_N(rfc6238); i++) {
		const char *want = *(const char *const *)((const char *)&rfc6238[i] + off);
		int64_t step = -1;

		ck_assert_int_eq(lpa_totp_generate(&p, (const uint8_t *)seed, strlen(seed),
						   rfc6238[i].t, code),
				 LPA_OK);
		ck_assert_str_eq(code, want);
		ck_assert_int_eq(lpa_totp_verify(&p, (const uint8_t *)seed, strlen(seed),
						 rfc6238[i].t, want, -1, &step),
				 LPA_OK);
		ck_assert_int_eq(step, rfc6238[i].t / 30);
	}
}

START_TEST(rfc6238_sha1)
{
	check_table(LPA_TOTP_SHA1, seed_sha1, offsetof(__typeof__(rfc6238[0]), sha1));
}
END_TEST

START_TEST(rfc6238_sha256)
{
	check_table(LPA_TOTP_SHA256, seed_sha256, offsetof(__typeof__(rfc6238[0]), sha256));
}
END_TEST

START_TEST(rfc6238_sha512)
{
	check_table(LPA_TOTP_SHA512, seed_sha512, offsetof(__typeof__(rfc6238[0]), sha512));
}
END_TEST

START_TEST(six_digit_default)
{
	struct lpa_totp_params p;
	char code[9];

	lpa_totp_params_default(&p);
	ck_assert_int_eq(lpa_totp_generate(&p, (const uint8_t *)seed_sha1, 20, 59, code), LPA_OK);
	ck_assert_str_eq(code, "287082"); /* the low six digits of 94287082 */
}
END_TEST

START_TEST(window_accepts_neighbours_only)
{
	struct lpa_totp_params p;
	const uint8_t *s = (const uint8_t *)seed_sha1;
	const time_t now = 1111111109; /* step 37037036 */
	char prev[9], next[9], far[9];
	int64_t step;

	lpa_totp_params_default(&p);
	ck_assert_int_eq(lpa_totp_generate(&p, s, 20, now - 30, prev), 0);
	ck_assert_int_eq(lpa_totp_generate(&p, s, 20, now + 30, next), 0);
	ck_assert_int_eq(lpa_totp_generate(&p, s, 20, now + 60, far), 0);
	ck_assert_int_eq(lpa_totp_verify(&p, s, 20, now, prev, -1, &step), LPA_OK);
	ck_assert_int_eq(step, now / 30 - 1);
	ck_assert_int_eq(lpa_totp_verify(&p, s, 20, now, next, -1, &step), LPA_OK);
	ck_assert_int_eq(step, now / 30 + 1);
	ck_assert_int_eq(lpa_totp_verify(&p, s, 20, now, far, -1, &step), LPA_ERR_TOTP_INVALID);
}
END_TEST

START_TEST(accepted_step_never_again)
{
	struct lpa_totp_params p;
	const uint8_t *s = (const uint8_t *)seed_sha1;
	const time_t now = 1234567890;
	char code[9], older[9];
	int64_t step = -1, step2 = -1;

	lpa_totp_params_default(&p);
	ck_assert_int_eq(lpa_totp_generate(&p, s, 20, now, code), 0);
	ck_assert_int_eq(lpa_totp_verify(&p, s, 20, now, code, -1, &step), LPA_OK);
	/* The same code again, now or a step later while still in the window: refused. */
	ck_assert_int_eq(lpa_totp_verify(&p, s, 20, now, code, step, &step2), LPA_ERR_TOTP_REPLAY);
	ck_assert_int_eq(lpa_totp_verify(&p, s, 20, now + 30, code, step, &step2),
			 LPA_ERR_TOTP_REPLAY);
	/* An older, still-in-window code after a newer login: refused as well. */
	ck_assert_int_eq(lpa_totp_generate(&p, s, 20, now - 30, older), 0);
	ck_assert_int_eq(lpa_totp_verify(&p, s, 20, now, older, step, &step2), LPA_ERR_TOTP_REPLAY);
	/* The next step's code is fine. */
	ck_assert_int_eq(lpa_totp_generate(&p, s, 20, now + 30, code), 0);
	ck_assert_int_eq(lpa_totp_verify(&p, s, 20, now + 30, code, step, &step2), LPA_OK);
	ck_assert_int_eq(step2, step + 1);
}
END_TEST

START_TEST(code_format_checked)
{
	struct lpa_totp_params p;
	int64_t step;

	lpa_totp_params_default(&p);
	ck_assert_int_eq(
		lpa_totp_verify(&p, (const uint8_t *)seed_sha1, 20, 59, "28708", -1, &step),
		LPA_ERR_TOTP_FORMAT);
	ck_assert_int_eq(
		lpa_totp_verify(&p, (const uint8_t *)seed_sha1, 20, 59, "94287082", -1, &step),
		LPA_ERR_TOTP_FORMAT);
	ck_assert_int_eq(
		lpa_totp_verify(&p, (const uint8_t *)seed_sha1, 20, 59, "28708a", -1, &step),
		LPA_ERR_TOTP_FORMAT);
	p.digits = 7;
	ck_assert_int_eq(
		lpa_totp_verify(&p, (const uint8_t *)seed_sha1, 20, 59, "2870821", -1, &step),
		LPA_ERR_INVAL);
}
END_TEST

START_TEST(wrong_algorithm_fails)
{
	struct lpa_totp_params p;
	int64_t step;

	params8(&p, LPA_TOTP_SHA256);
	/* The SHA-1 code under SHA-256 parameters must not pass. */
	ck_assert_int_eq(
		lpa_totp_verify(&p, (const uint8_t *)seed_sha1, 20, 59, "94287082", -1, &step),
		LPA_ERR_TOTP_INVALID);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(rfc6238_sha1),
		TU_CASE(rfc6238_sha256),
		TU_CASE(rfc6238_sha512),
		TU_CASE(six_digit_default),
		TU_CASE(window_accepts_neighbours_only),
		TU_CASE(accepted_step_never_again),
		TU_CASE(code_format_checked),
		TU_CASE(wrong_algorithm_fails),
	};

	return tu_main("totp", cases, TU_N(cases));
}
