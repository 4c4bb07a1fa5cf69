/* Secret buffers: where they live, and that their memory is wiped. */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <openssl/crypto.h>

#include "testutil.h"

START_TEST(secure_heap_used_and_wiped_on_free)
{
	lpa_secbuf *sb;
	volatile const uint8_t *p;

	ck_assert_int_eq(lpa_secure_init(32 * 1024), LPA_OK);
	sb = lpa_secbuf_new(32);
	ck_assert_ptr_nonnull(sb);
	ck_assert(lpa_secbuf_is_secure_heap(sb));
	ck_assert(CRYPTO_secure_allocated(lpa_secbuf_data(sb)));
	memset(lpa_secbuf_data(sb), 0xa5, 32);
	p = lpa_secbuf_data(sb);
	lpa_secbuf_free(&sb);
	ck_assert_ptr_null(sb);
	/* The secure arena stays mapped for the process's life, so the freed slot can be
	 * inspected: every byte must be zero, not 0xa5. */
	for (int i = 0; i < 32; i++)
		ck_assert_uint_eq(p[i], 0);
}
END_TEST

START_TEST(fallback_pages_locked_and_cleared)
{
	lpa_secbuf *sb;
	uint8_t *d;
	unsigned char vec = 0;

	/* No lpa_secure_init yet: the mlock'd-pages path. */
	ck_assert(!CRYPTO_secure_malloc_initialized());
	sb = lpa_secbuf_new(100);
	ck_assert_ptr_nonnull(sb);
	ck_assert(!lpa_secbuf_is_secure_heap(sb));
	ck_assert_uint_eq(lpa_secbuf_len(sb), 100);
	d = lpa_secbuf_data(sb);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(d[i], 0); /* zero-filled on allocation */
	memset(d, 0x5a, 100);
	ck_assert_int_eq(mincore(d, 1, &vec), 0);
	ck_assert(vec & 1); /* resident: mlock'd pages are never paged out */
	lpa_secbuf_clear(sb);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(d[i], 0);
	lpa_secbuf_free(&sb);
	ck_assert_ptr_null(sb);
	lpa_secbuf_free(&sb); /* freeing NULL is harmless */
}
END_TEST

START_TEST(zero_length_refused)
{
	ck_assert_ptr_null(lpa_secbuf_new(0));
}
END_TEST

START_TEST(ct_memcmp)
{
	ck_assert_int_eq(lpa_ct_memcmp("abcd", "abcd", 4), 0);
	ck_assert_int_ne(lpa_ct_memcmp("abcd", "abce", 4), 0);
}
END_TEST

START_TEST(harden_process_disables_dumps)
{
	struct rlimit rl;

	ck_assert_int_eq(lpa_secure_harden_process(), LPA_OK);
	ck_assert_int_eq(getrlimit(RLIMIT_CORE, &rl), 0);
	ck_assert_uint_eq(rl.rlim_cur, 0);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		/* Fallback first: with CK_FORK=no the secure heap would already exist. */
		TU_CASE(fallback_pages_locked_and_cleared),
		TU_CASE(secure_heap_used_and_wiped_on_free),
		TU_CASE(zero_length_refused),
		TU_CASE(ct_memcmp),
		TU_CASE(harden_process_disables_dumps),
	};

	return tu_main("secbuf", cases, TU_N(cases));
}
