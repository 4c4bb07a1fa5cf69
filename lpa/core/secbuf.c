/*
 * secbuf.c — buffers for secrets. They come from OpenSSL's secure heap (one mlock'd
 * arena, guard pages, MADV_DONTDUMP) when lpa_secure_init() could set it up; otherwise
 * from page-aligned memory that is mlock'd and excluded from core dumps one buffer at a
 * time. Either way the contents are wiped with OPENSSL_cleanse before release.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lpa/core/lpa-core.h"

struct lpa_secbuf {
	uint8_t *data;
	size_t len;
	size_t map_len; /* 0 when data came from the secure heap */
};

int lpa_secure_init(size_t size)
{
	if (CRYPTO_secure_malloc_initialized())
		return LPA_OK;
	/* minsize 16: root keys are 16 bytes, so nothing smaller is worth a slot. */
	if (CRYPTO_secure_malloc_init(size, 16) == 0)
		return LPA_ERR_SYSTEM;
	return LPA_OK;
}

int lpa_secure_harden_process(void)
{
	struct rlimit rl = {0, 0};

	/* A core dump would write every secret in memory to disk; PR_SET_DUMPABLE 0 also
	 * stops other processes of the same user from ptrace-attaching to read them. */
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return LPA_ERR_SYSTEM;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return LPA_ERR_SYSTEM;
	return LPA_OK;
}

lpa_secbuf *lpa_secbuf_new(size_t len)
{
	lpa_secbuf *sb;
	size_t page;

	if (len == 0)
		return NULL;
	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return NULL;
	sb->len = len;
	if (CRYPTO_secure_malloc_initialized()) {
		sb->data = CRYPTO_secure_zalloc(len, OPENSSL_FILE, OPENSSL_LINE);
		if (sb->data != NULL && CRYPTO_secure_allocated(sb->data))
			return sb;
		/* The arena is full: OpenSSL fell back to plain malloc. Give that back and
		 * use locked pages instead. */
		if (sb->data != NULL)
			CRYPTO_secure_clear_free(sb->data, len, OPENSSL_FILE, OPENSSL_LINE);
		sb->data = NULL;
	}
	page = (size_t)sysconf(_SC_PAGESIZE);
	sb->map_len = (len + page - 1) / page * page;
	sb->data =
		mmap(NULL, sb->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sb->data == MAP_FAILED) {
		free(sb);
		return NULL;
	}
	/* Failing to lock is not fatal (RLIMIT_MEMLOCK may be tiny); the swap exposure is
	 * what lpa_secure_init's arena exists to avoid. Dumps are excluded regardless. */
	(void)mlock(sb->data, sb->map_len);
	(void)madvise(sb->data, sb->map_len, MADV_DONTDUMP);
	return sb;
}

void lpa_secbuf_free(lpa_secbuf **sbp)
{
	lpa_secbuf *sb;

	if (sbp == NULL || (sb = *sbp) == NULL)
		return;
	if (sb->map_len == 0) {
		CRYPTO_secure_clear_free(sb->data, sb->len, OPENSSL_FILE, OPENSSL_LINE);
	} else {
		OPENSSL_cleanse(sb->data, sb->map_len);
		(void)munlock(sb->data, sb->map_len);
		(void)munmap(sb->data, sb->map_len);
	}
	free(sb);
	*sbp = NULL;
}

uint8_t *lpa_secbuf_data(lpa_secbuf *sb)
{
	return sb->data;
}

const uint8_t *lpa_secbuf_cdata(const lpa_secbuf *sb)
{
	return sb->data;
}

size_t lpa_secbuf_len(const lpa_secbuf *sb)
{
	return sb->len;
}

void lpa_secbuf_clear(lpa_secbuf *sb)
{
	OPENSSL_cleanse(sb->data, sb->len);
}

int lpa_secbuf_is_secure_heap(const lpa_secbuf *sb)
{
	return sb->map_len == 0;
}

int lpa_ct_memcmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) != 0;
}
