/*
 * hal.h — the edge between the secure agent's portable logic (mailbox.c, calls.c,
 * package.c, keystore.c, identity.c) and the chip. hal-psoc6.c implements it with the
 * PSoC 6's registers (docs/agent.md, "Registers"); tests/agent/hal-host.c with RAM
 * arrays, so that the host tests run the very sources that ship.
 *
 * Every function is synchronous; the firmware is one polled loop without interrupts.
 * Functions that can fail return 0 or a negative HAL_ERR_* code.
 */
#ifndef LPA_AGENT_HAL_H
#define LPA_AGENT_HAL_H

#include <stddef.h>
#include <stdint.h>

#define HAL_ROW_SIZE 512u

enum hal_err {
	HAL_OK = 0,
	HAL_ERR_RANGE = -1, /* an address span outside what the call may touch */
	HAL_ERR_SROM = -2,  /* the SROM answered with an error status */
	HAL_ERR_IPC = -3,   /* IPC_STRUCT0 never came free, or the SROM never answered */
	HAL_ERR_RNG = -4,   /* the TRNG reported a health-test failure or never delivered */
};

/* What differs between the parts: filled by the HAL, read by the portable code. */
struct hal_part {
	uint8_t part;                  /* AGENT_PART_* (agent.h) */
	uint32_t sram_base, sram_size; /* the whole SRAM */
	uint32_t agent_ram_end;        /* the agent's own RAM is [sram_base, agent_ram_end) */
	uint32_t srom_reserved;        /* bytes at the top of SRAM left to the SROM */
};
const struct hal_part *hal_part(void);

/* --- the secure agent's IPC channel (IPC_STRUCT8, notify into IPC_INTR_STRUCT0) --- */
/* 1 once a caller has notified IPC_STRUCT8 since the last call, else 0; takes the
 * event (clears the notify bit). *block is the caller's DATA word (the block). */
int hal_call_pending(uint32_t *block);
/* Ends the call: releases IPC_STRUCT8, which is what the caller polls for. */
void hal_call_release(void);

/* --- SRAM outside the agent's own: the parameter blocks callers choose -------------- */
/* The portable code checks the span first (mailbox.c); these only copy. */
void hal_sram_read(uint32_t addr, void *buf, size_t len);
void hal_sram_write(uint32_t addr, const void *buf, size_t len);

/* --- flash --------------------------------------------------------------------- */
/* Reads flash (main, work or supervisory) as memory. */
void hal_flash_read(uint32_t addr, void *buf, size_t len);
/* SROM WriteRow (erase + program) of one 512-byte row, through IPC_STRUCT0. */
int hal_flash_write_row(uint32_t addr, const uint8_t row[HAL_ROW_SIZE]);
/* SROM EraseRow. */
int hal_flash_erase_row(uint32_t addr);

/* --- chip facts ------------------------------------------------------------------- */
/* n bytes at offset off of the supervisory flash (0x16000000): IDs, die fields, keys. */
void hal_sflash_read(uint32_t off, void *buf, size_t len);
/* CPUSS.PROTECTION: 1 VIRGIN, 2 NORMAL, 3 SECURE, 4 DEAD (0 UNKNOWN). */
uint8_t hal_protection_state(void);
/* len bytes from the TRNG; HAL_ERR_RNG when its health monitors fail. */
int hal_trng(uint8_t *out, size_t len);

/* --- boot ----------------------------------------------------------------------- */
/* Closes the key store and the agent's RAM to every bus master but the CM0+ (SMPU
 * regions, protection contexts), and locks that configuration. First thing at boot. */
void hal_protect(void);
/* Starts the CM4 application when one is programmed (after hal_protect). */
void hal_start_cm4(void);

#endif
