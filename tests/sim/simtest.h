/*
 * simtest.h — helpers of the chip-model unit tests: a debugger's view of the chip
 * (SWD connect, MEM-AP accesses, IPC calls), driven through the same SWD entry point the
 * virtual probe uses, and a test clock.
 */
#ifndef LPA_SIMTEST_H
#define LPA_SIMTEST_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lpa/core/lpa-core.h"
#include "sim-private.h"

#define DP_R(a) (0x2u | (a)) /* DP read, a = 0x0/0x4/0x8/0xC */
#define DP_W(a) (0x0u | (a))
#define AP_R(a) (0x3u | ((a)&0xC))
#define AP_W(a) (0x1u | ((a)&0xC))

extern uint64_t test_clock;
uint64_t test_now(void *ctx);

/* A chip with zero latencies, the fixture PKI (PKI_DIR), a KMS key of our own. */
struct sim_chip *test_chip(enum sim_family fam, EVP_PKEY *kms);
/* no_agent: an erased part, without the secure agent (nothing configures protection);
 * otherwise the agent firmware from $AGENT_DIR is in its flash. */
struct sim_chip *test_chip_ex(enum sim_family fam, EVP_PKEY *kms, bool no_agent);
EVP_PKEY *test_kms_key(void);

void swd_connect(struct sim_chip *c);
enum sim_ack dp_rd(struct sim_chip *c, unsigned a, uint32_t *v);
enum sim_ack dp_wr(struct sim_chip *c, unsigned a, uint32_t v);
enum sim_ack ap_rd(struct sim_chip *c, unsigned ap, unsigned reg, uint32_t *v);
enum sim_ack ap_wr(struct sim_chip *c, unsigned ap, unsigned reg, uint32_t v);
enum sim_ack mem_rd(struct sim_chip *c, unsigned ap, uint32_t addr, uint32_t *v);
enum sim_ack mem_wr(struct sim_chip *c, unsigned ap, uint32_t addr, uint32_t v);
void clear_sticky(struct sim_chip *c);
/* Acquire / DATA / mask / NOTIFY on IPC struct n; true when the lock was released
 * within polls reads of LOCK_STATUS. */
bool ipc_call(struct sim_chip *c, unsigned n, uint32_t data, unsigned polls);
/* An agent call through IPC_STRUCT8 with a parameter block at the reserved SRAM. */
uint32_t agent_call(struct sim_chip *c, uint8_t op, const uint8_t *in, size_t in_len, uint8_t *out,
		    size_t *out_len);
void cm_halt(struct sim_chip *c, unsigned core);
void cm_resume(struct sim_chip *c, unsigned core);

#endif
