/*
 * hal-host.h — the secure agent's HAL on RAM arrays (hal-host.c), for the host tests
 * of the portable core (tests/agent/test-fw-*.c): a CPUSS v1 chip's SRAM, work flash
 * and SFlash, the IPC_STRUCT8 mailbox, a TRNG, and a flash that can lose power at any
 * row write or report an error.
 *
 * A power cut: the cut_at-th flash operation (counting from 0) erases its row, programs
 * its first cut_bytes bytes and then longjmps to *cut_env, as a chip that browns out
 * in the middle of WriteRow; the test then boots a fresh struct agent from the flash.
 */
#ifndef LPA_TESTS_HAL_HOST_H
#define LPA_TESTS_HAL_HOST_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "hal.h"

#define HOST_SRAM_BASE 0x08000000u
#define HOST_SRAM_SIZE 0x48000u
#define HOST_WORK_BASE 0x14000000u
#define HOST_WORK_SIZE 0x8000u
#define HOST_SFLASH_SIZE 0x8000u

enum host_flash_fail {
	HOST_FAIL_NONE = 0,
	HOST_FAIL_ERROR,  /* the SROM answers an error, nothing written */
	HOST_FAIL_LANDED, /* the SROM answers an error, yet the row was written */
	HOST_FAIL_CORRUPT /* the SROM answers success, one byte programmed wrong */
};

struct host_chip {
	uint8_t sram[HOST_SRAM_SIZE];
	uint8_t work[HOST_WORK_SIZE];
	uint8_t sflash[HOST_SFLASH_SIZE];
	uint8_t prot_state;
	/* IPC_STRUCT8 */
	bool pending;
	uint32_t data0;
	unsigned releases;
	/* flash */
	unsigned flash_ops; /* WriteRow and EraseRow calls so far */
	long cut_at;        /* -1: no cut */
	unsigned cut_bytes;
	jmp_buf *cut_env;
	long fail_at; /* -1: no failure */
	enum host_flash_fail fail;
	/* TRNG */
	uint64_t rng;
	bool trng_fail;
	unsigned trng_bytes;
	unsigned protect_calls;
};
extern struct host_chip host;

/* A fresh chip: erased flash, zero SRAM, NORMAL protection, the TRNG seeded with seed. */
void host_reset(uint64_t seed);
/* A caller's acquire / DATA / NOTIFY: the next agent_poll serves block. */
void host_notify(uint32_t block);
uint8_t *host_sram(uint32_t addr);

#endif
