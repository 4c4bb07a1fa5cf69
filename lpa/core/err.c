/* err.c — the one table of error messages for every LPA_ERR_* code. */
#include <string.h>

#include "lpa/agent/agent-abi.h"
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
	[21] = {"LPA_ERR_STATE",
		"protection state not allowed (locked, SECURE or DEAD life cycle, or by policy)"},
	[22] = {"LPA_ERR_TOTP_FORMAT", "one-time code is not 6 or 8 digits"},
	[23] = {"LPA_ERR_TOTP_INVALID", "one-time code is wrong"},
	[24] = {"LPA_ERR_TOTP_REPLAY", "one-time code was already used"},
	[25] = {"LPA_ERR_SYSTEM", "system call failed"},
	[26] = {"LPA_ERR_NO_TARGET", "no target answers (is a chip in the socket?)"},
	[27] = {"LPA_ERR_WAIT", "target kept answering WAIT"},
	[28] = {"LPA_ERR_FAULT", "target answered FAULT (bus error)"},
	[29] = {"LPA_ERR_PROBE_GONE", "probe disconnected"},
	[30] = {"LPA_ERR_PROTOCOL", "malformed reply from the probe"},
	[31] = {"LPA_ERR_TIMEOUT", "timed out"},
	[32] = {"LPA_ERR_NOT_FOUND", "not found"},
	[33] = {"LPA_ERR_UNSUPPORTED", "not supported"},
	[34] = {"LPA_ERR_AGENT_REQUEST", "secure agent: bad request"},
	[35] = {"LPA_ERR_AGENT_FLASH", "secure agent: flash write failed"},
	[36] = {"LPA_ERR_AGENT_UNPROV", "secure agent: chip is not provisioned"},
	[37] = {"LPA_ERR_AGENT_BUSY", "secure agent: busy"},
	[38] = {"LPA_ERR_AGENT_UNKNOWN", "secure agent: unknown status"},
	[39] = {"LPA_ERR_KMS_UNREACHABLE", "KMS unreachable"},
	[40] = {"LPA_ERR_KMS_AUTH", "KMS refused the login or session"},
	[41] = {"LPA_ERR_KMS_UNTRUSTED", "KMS refused the chip's identity (untrusted chip)"},
	[42] = {"LPA_ERR_KMS_RECEIPT", "KMS refused the chip's receipt"},
	[43] = {"LPA_ERR_KMS_REFUSED", "KMS refused the request"},
	[44] = {"LPA_ERR_KMS_SERVER", "KMS failed (server error)"},
	[45] = {"LPA_ERR_KMS_PROTOCOL", "malformed reply from the KMS"},
	[46] = {"LPA_ERR_KMS_RECORD",
		"KMS record fails the pinned record keys or is not this device's"},
	[47] = {"LPA_ERR_FLASH", "programming the chip's flash failed"},
	[48] = {"LPA_ERR_AGENT_NO_CERT", "the chip's device identity key has no certificate yet"},
	[49] = {"LPA_ERR_AGENT_CERT_KEY",
		"the certificate is not for the chip's device identity key"},
	[50] = {"LPA_ERR_AGENT_CERTIFIED", "the chip already holds another certificate"},
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

const char *lpa_errid(int err, char *buf, size_t len)
{
	const char *name = lpa_errname(err);
	size_t i = 0;

	if (err == LPA_OK)
		return NULL;
	if (strncmp(name, "LPA_ERR_", 8) == 0)
		name += 8;
	for (; name[i] && i + 1 < len; i++)
		buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	buf[i] = '\0';
	return buf;
}

/* Agent status word <-> error code. Format errors a chip finds in a request
 * (length, magic, version, reserved) are all "bad request" on the wire. */
static const struct {
	uint32_t status;
	int err;
} err_agent[] = {
	{AGENT_ERR_REQUEST, LPA_ERR_AGENT_REQUEST},
	{AGENT_ERR_SIGNATURE, LPA_ERR_SIGNATURE},
	{AGENT_ERR_WRONG_CHIP, LPA_ERR_WRONG_CHIP},
	{AGENT_ERR_STALE, LPA_ERR_STALE},
	{AGENT_ERR_UNWRAP, LPA_ERR_UNWRAP},
	{AGENT_ERR_FLASH, LPA_ERR_AGENT_FLASH},
	{AGENT_ERR_NOT_PROVISIONED, LPA_ERR_AGENT_UNPROV},
	{AGENT_ERR_BUSY, LPA_ERR_AGENT_BUSY},
	{AGENT_ERR_NOT_CERTIFIED, LPA_ERR_AGENT_NO_CERT},
	{AGENT_ERR_CERT_KEY, LPA_ERR_AGENT_CERT_KEY},
	{AGENT_ERR_CERTIFIED, LPA_ERR_AGENT_CERTIFIED},
	/* The LoRaWAN runtime calls' statuses (0xF0000010..16) are the CM4's to read: no host
	 * program makes those calls but lpa-cm4, which prints the word itself. */
};

uint32_t lpa_agent_status_from_err(int err)
{
	if (err == LPA_OK)
		return LPA_AGENT_OK;
	if (err == LPA_ERR_NWKKEY)
		return AGENT_ERR_UNWRAP; /* a 1.0.x package with a NwkKey fails as an unwrap */
	for (size_t i = 0; i < sizeof(err_agent) / sizeof(err_agent[0]); i++)
		if (err_agent[i].err == err)
			return err_agent[i].status;
	return AGENT_ERR_REQUEST;
}

int lpa_agent_err_from_status(uint32_t status)
{
	if (status == LPA_AGENT_OK)
		return LPA_OK;
	for (size_t i = 0; i < sizeof(err_agent) / sizeof(err_agent[0]); i++)
		if (err_agent[i].status == status)
			return err_agent[i].err;
	return LPA_ERR_AGENT_UNKNOWN;
}
