/*
 * host-call.h — the station's side of the mailbox for the host tests of the portable
 * core (tests/agent/test-fw*.c), on the RAM-backed HAL (hal-host.h): one call written
 * into a block, notified, served by agent_poll and read back, with the checks every
 * call must pass.
 */
#ifndef LPA_TESTS_HOST_CALL_H
#define LPA_TESTS_HOST_CALL_H

#include <stdint.h>

#include "agent.h"

/* The request block the tests use: in SRAM, outside the agent's own RAM. */
#define HOST_CALL_BLOCK 0x08046000u

/* One call at block with request word req (op << 24 | flags) and in_len bytes of in.
 * The block is poisoned first, the status and length words too, so an answer the agent
 * did not write shows. Asserts that the agent served the call and released IPC_STRUCT8
 * once, and that a failed call answers no data. Returns the status; the answer (at most
 * AGENT_DATA_MAX bytes) into out and its length into *out_len, where not NULL. */
uint32_t host_call_at(struct agent *a, uint32_t block, uint32_t req, const void *in,
		      uint32_t in_len, void *out, uint32_t *out_len);
/* host_call_at at HOST_CALL_BLOCK for op, no flags. */
uint32_t host_call(struct agent *a, uint8_t op, const void *in, uint32_t in_len, void *out,
		   uint32_t *out_len);

#endif
