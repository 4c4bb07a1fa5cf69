/*
 * totp.c — RFC 6238 time-based one-time codes through liboath, plus the rule liboath
 * leaves to its caller: a time step, once accepted, is never accepted again.
 */
#include <pthread.h>
#include <string.h>

#include <liboath/oath.h>

#include "lpa/core/lpa-core.h"

static int totp_flags(enum lpa_totp_alg alg, int *flags)
{
	switch (alg) {
	case LPA_TOTP_SHA1:
		*flags = 0;
		return LPA_OK;
	case LPA_TOTP_SHA256:
		*flags = OATH_TOTP_HMAC_SHA256;
		return LPA_OK;
	case LPA_TOTP_SHA512:
		*flags = OATH_TOTP_HMAC_SHA512;
		return LPA_OK;
	}
	return LPA_ERR_INVAL;
}

static int totp_check_params(const struct lpa_totp_params *p, int *flags)
{
	if (p == NULL || (p->digits != 6 && p->digits != 8) || p->period == 0 || p->window > 10)
		return LPA_ERR_INVAL;
	return totp_flags(p->alg, flags);
}

static int totp_init_rc = LPA_ERR_CRYPTO;

static void totp_init_once(void)
{
	totp_init_rc = oath_init() == OATH_OK ? LPA_OK : LPA_ERR_CRYPTO;
}

/* liboath's init is not thread-safe; do it once per process and keep it. */
static int totp_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, totp_init_once);
	return totp_init_rc;
}

void lpa_totp_params_default(struct lpa_totp_params *p)
{
	p->alg = LPA_TOTP_SHA1;
	p->digits = 6;
	p->period = 30;
	p->window = 1;
}

int lpa_totp_generate(const struct lpa_totp_params *p, const uint8_t *secret, size_t secret_len,
		      time_t now, char code[9])
{
	int flags = 0, r;

	if ((r = totp_check_params(p, &flags)) != LPA_OK)
		return r;
	if (secret_len == 0 || now < 0)
		return LPA_ERR_INVAL;
	if ((r = totp_init()) != LPA_OK)
		return r;
	if (oath_totp_generate2((const char *)secret, secret_len, now, p->period, 0, p->digits,
				flags, code) != OATH_OK)
		r = LPA_ERR_CRYPTO;
	return r;
}

int lpa_totp_verify(const struct lpa_totp_params *p, const uint8_t *secret, size_t secret_len,
		    time_t now, const char *code, int64_t last_step, int64_t *step)
{
	int flags = 0, pos = 0, r, rc;
	uint64_t counter = 0;
	size_t n;

	if ((r = totp_check_params(p, &flags)) != LPA_OK)
		return r;
	if (secret_len == 0 || now < 0 || code == NULL)
		return LPA_ERR_INVAL;
	n = strlen(code);
	/* liboath takes the digit count from the code's length; pin it to ours. */
	if (n != p->digits || strspn(code, "0123456789") != n)
		return LPA_ERR_TOTP_FORMAT;
	if ((r = totp_init()) != LPA_OK)
		return r;
	rc = oath_totp_validate4((const char *)secret, secret_len, now, p->period, 0, p->window,
				 &pos, &counter, flags, code);
	if (rc < 0)
		return rc == OATH_INVALID_OTP ? LPA_ERR_TOTP_INVALID : LPA_ERR_CRYPTO;
	if (counter > INT64_MAX)
		return LPA_ERR_TOTP_INVALID;
	/* Not only the same step: an older one is refused too, so a code observed earlier
	 * in the window cannot be used after a newer login. */
	if ((int64_t)counter <= last_step)
		return LPA_ERR_TOTP_REPLAY;
	*step = (int64_t)counter;
	return LPA_OK;
}
