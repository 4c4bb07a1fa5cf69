/* err.c — the one table of error messages for every LPA_ERR_* code. */
#include "lpa/core/lpa-core.h"

struct err_entry {
	const char *name;
	const char *msg;
};

/* Indexed by -code. */
static const struct err_entry err_table[] = {
        [0] = {"LPA_OK", "success"},
        [1] = {"LPA_ERR_NOMEM", "out of memory"},
        [2] = {"LPA_ERR_INVAL", "invalid argument"},
        [3] = {"LPA_ERR_CRYPTO", "cryptographic library failure"},
        [4] = {"LPA_ERR_LENGTH", "wrong length"},
        [5] = {"LPA_ERR_MAGIC", "wrong magic bytes"},
        [6] = {"LPA_ERR_VERSION", "unsupported format version"},
        [7] = {"LPA_ERR_LORAWAN", "unsupported LoRaWAN version"},
        [8] = {"LPA_ERR_RESERVED", "reserved bytes are not zero"},
        [9] = {"LPA_ERR_SIGNATURE", "signature does not verify"},
        [10] = {"LPA_ERR_WRONG_CHIP", "package is for another chip"},
        [11] = {"LPA_ERR_STALE", "counter is not above the last accepted one"},
        [12] = {"LPA_ERR_UNWRAP", "key unwrap failed (authentication tag mismatch)"},
        [13] = {"LPA_ERR_NWKKEY", "LoRaWAN 1.0.x package carries a non-zero NwkKey"},
        [14] = {"LPA_ERR_KEYCHECK_APP", "AppKey check value does not match"},
        [15] = {"LPA_ERR_KEYCHECK_NWK", "NwkKey check value does not match"},
        [16] = {"LPA_ERR_PKG_HASH", "receipt refers to another package"},
        [17] = {"LPA_ERR_MISMATCH", "field differs from the expected value"},
        [18] = {"LPA_ERR_ENCODING", "malformed hex or base64url text"},
        [19] = {"LPA_ERR_KEY", "malformed or invalid key"},
        [20] = {"LPA_ERR_CERT", "malformed certificate"},
        [21] = {"LPA_ERR_STATE", "unknown protection state"},
        [22] = {"LPA_ERR_TOTP_FORMAT", "one-time code is not 6 or 8 digits"},
        [23] = {"LPA_ERR_TOTP_INVALID", "one-time code is wrong"},
        [24] = {"LPA_ERR_TOTP_REPLAY", "one-time code was already used"},
        [25] = {"LPA_ERR_SYSTEM", "system call failed"},
};

_Static_assert(sizeof(err_table) / sizeof(err_table[0]) == -LPA_ERR_LAST,
               "every error code needs a message");

static const struct err_entry *err_lookup(int err)
{
	if (err > 0 || err <= LPA_ERR_LAST)
		return NULL;
	return &err_table[-err];
}

const char *lpa_strerror(int err)
{
	const struct err_entry *e = err_lookup(err);

	return e ? e->msg : "unknown error";
}

const char *lpa_errname(int err)
{
	const struct err_entry *e = err_lookup(err);

	return e ? e->name : "LPA_ERR_UNKNOWN";
}
