/* err.c — the one table of messages for every CRYPTO_ERR_* code. */
#include "crypto.h"

/* Indexed by -code; short, since they are firmware bytes. */
static const char *const err_msg[] = {
	[0] = "success",
	[-CRYPTO_ERR_LENGTH] = "wrong length",
	[-CRYPTO_ERR_POINT] = "not a curve point",
	[-CRYPTO_ERR_RANGE] = "coordinate >= p or scalar not in [1, n-1]",
	[-CRYPTO_ERR_IDENTITY] = "point at infinity",
	[-CRYPTO_ERR_ENCODING] = "point not 04 || X || Y",
	[-CRYPTO_ERR_SIG_RANGE] = "r or s not in [1, n-1]",
	[-CRYPTO_ERR_SIGNATURE] = "bad signature",
	[-CRYPTO_ERR_TAG] = "tag mismatch",
	[-CRYPTO_ERR_RNG] = "no random scalar in range",
};

const char *crypto_strerror(int err)
{
	if (err > 0 || err <= CRYPTO_ERR_LAST)
		return "unknown error";
	return err_msg[-err];
}
