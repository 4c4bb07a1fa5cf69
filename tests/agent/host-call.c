/* host-call.c — one mailbox call from the station's side (host-call.h). */
#include <check.h>
#include <string.h>

#include "hal-host.h"
#include "host-call.h"

uint32_t host_call_at(struct agent *a, uint32_t block, uint32_t req, const void *in,
		      uint32_t in_len, void *out, uint32_t *out_len)
{
	uint8_t *b = host_sram(block);
	unsigned releases = host.releases;
	uint32_t st, olen;

	memset(b, 0xEE, AGENT_BLOCK_MAX);
	agent_le32(b + 0, req);
	agent_le32(b + 4, 0x12345678u);
	agent_le32(b + 8, in_len);
	agent_le32(b + 12, 0x12345678u);
	if (in_len)
		memcpy(b + 16, in, in_len);
	host_notify(block);
	ck_assert(agent_poll(a));
	ck_assert_uint_eq(host.releases, releases + 1); /* every call releases IPC_STRUCT8 */
	st = agent_get_le32(b + 4);
	olen = agent_get_le32(b + 12);
	if (st != AGENT_OK)
		ck_assert_uint_eq(olen, 0);
	if (out) {
		ck_assert_uint_le(olen, AGENT_DATA_MAX);
		memcpy(out, b + 16, olen);
	}
	if (out_len)
		*out_len = olen;
	return st;
}

uint32_t host_call(struct agent *a, uint8_t op, const void *in, uint32_t in_len, void *out,
		   uint32_t *out_len)
{
	return host_call_at(a, HOST_CALL_BLOCK, (uint32_t)op << 24, in, in_len, out, out_len);
}
