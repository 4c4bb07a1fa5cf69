/* err.c — the one table of messages for every CRYPTO_ERR_* code. */
#include "crypto.h"

/* Indexed by -code. */
static const char *const err_msg[] = {
	[0] = "success",
	[-CRYPTO_ERR_LENGTH] = "wrong or unsupported input length",
	[-CRYPTO_ERR_POINT] = "point is not on the curve",
	[-CRYPTO_ERR_RANGE] = "coordinate not below p, or private scalar not in [1, n-1]",
	[-CRYPTO_ERR_IDENTITY] = "point at infinity where a curve point is required",
	[-CRYPTO_ERR_ENCODING] = "point encoding is not 04 || X || Y",
	[-CRYPTO_ERR_SIG_RANGE] = "signature r or s is 0 or not below n",
	[-CRYPTO_ERR_SIGNATURE] = "signature does not verify",
	[-CRYPTO_ERR_TAG] = "authentication tag mismatch",
	[-CRYPTO_ERR_RNG] = "random bytes never gave a scalar in range",
};

const char *crypto_strerror(int err)
{
	if (err > 0 || err <= CRYPTO_ERR_LAST)
		return "unknown error";
	return err_msg[-err];
}
