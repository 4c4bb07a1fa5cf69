/* testutil.h — small helpers shared by the Check unit tests. */
#ifndef LPA_TESTUTIL_H
#define LPA_TESTUTIL_H

#define TU_N(a) (sizeof(a) / sizeof((a)[0]))

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpa/core/lpa-core.h"

/* Decodes hex (spaces ignored) into out; asserts it is exactly n bytes. */
static inline void tu_hex(const char *hex, uint8_t *out, size_t n)
{
	char buf[4096];
	size_t j = 0;

	for (size_t i = 0; hex[i] != '\0' && j < sizeof(buf) - 1; i++)
		if (hex[i] != ' ')
			buf[j++] = hex[i];
	buf[j] = '\0';
	ck_assert_int_eq(lpa_hex_decode(buf, j, out, n), LPA_OK);
}

static inline void tu_assert_hex(const uint8_t *got, size_t n, const char *want_hex)
{
	uint8_t want[2048];

	ck_assert_uint_le(n, sizeof(want));
	tu_hex(want_hex, want, n);
	ck_assert_mem_eq(got, want, n);
}

/* A whole file, NUL-terminated (its length, without the NUL, in *n); free it. */
static inline char *tu_slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(buf = malloc((size_t)len + 1));
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	buf[len] = '\0';
	*n = (size_t)len;
	return buf;
}

/* Writes n bytes of buf as the whole file at path. */
static inline void tu_spill(const char *path, const char *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static inline lpa_secbuf *tu_secbuf_hex(const char *hex, size_t n)
{
	lpa_secbuf *sb = lpa_secbuf_new(n);

	ck_assert_ptr_nonnull(sb);
	tu_hex(hex, lpa_secbuf_data(sb), n);
	return sb;
}

/* One TCase per behaviour, named after its test function. */
struct tu_case {
	const char *name;
	const TTest *test;
	int timeout; /* seconds; 0 = Check's default */
};
#define TU_CASE(t)                                                                                 \
	{                                                                                          \
#t, t, 0                                                                           \
	}
#define TU_CASE_SLOW(t, secs)                                                                      \
	{                                                                                          \
#t, t, secs                                                                        \
	}

/* Builds the suite from cases (each with the given fixture, which may be NULL) and
 * runs it; exit status 0 only when all pass. */
static inline int tu_main_fixture(const char *name, const struct tu_case *cases, size_t n,
				  void (*setup)(void), void (*teardown)(void))
{
	Suite *s = suite_create(name);
	SRunner *sr;
	int failed;

	for (size_t i = 0; i < n; i++) {
		TCase *tc = tcase_create(cases[i].name);

		if (cases[i].timeout > 0)
			tcase_set_timeout(tc, cases[i].timeout);
		if (setup != NULL || teardown != NULL)
			tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	sr = srunner_create(s);

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static inline int tu_main(const char *name, const struct tu_case *cases, size_t n)
{
	return tu_main_fixture(name, cases, n, NULL, NULL);
}

#endif
