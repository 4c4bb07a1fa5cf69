/*
 * hal-psoc6.c — hal.h on the PSoC 6's registers (CM0+ side). Every address used here
 * is listed in docs/agent.md, "Registers", with its source; the simulator implements
 * the same list. AGENT_PART selects the part at compile time: CPUSS v1 (CY8C6xx7) or
 * CPUSS v2 (CY8C6xxA, 2M).
 *
 * Waits are bounded by iteration counts (no timer is set up): a flash row takes 16 ms
 * by the datasheet, the bound is over a second at any CM0+ clock; a TRNG that does not
 * deliver within about 10 ms counts as failed (the agent answers BUSY and retries).
 */
#include <string.h>

#include "agent.h"

#if AGENT_PART == AGENT_PART_CY8C6XX7
#define IPC_BASE 0x40230000u
#define IPC_INTR_BASE 0x40231000u
#define IPC_LOCK_STATUS 0x10u
#define CPUSS_PROTECTION 0x40210500u
#define CPUSS_CM4_PWR_CTL 0x40210080u
#define CPUSS_CM4_VTBASE 0x402102C0u
#define PROT_BASE 0x40240000u
#define CRYPTO_BASE 0x40110000u
#define SRAM_SIZE 0x48000u
#elif AGENT_PART == AGENT_PART_CY8C6XXA
#define IPC_BASE 0x40220000u
#define IPC_INTR_BASE 0x40221000u
#define IPC_LOCK_STATUS 0x1Cu
#define CPUSS_PROTECTION 0x402020C4u
#define CPUSS_CM4_PWR_CTL 0x40201200u
#define CPUSS_CM4_VTBASE 0x40200200u
#define PROT_BASE 0x40230000u
#define CRYPTO_BASE 0x40100000u
#define SRAM_SIZE 0x100000u
#else
#error "AGENT_PART must name a part (agent.h)"
#endif

/* IPC structures: 0x20 bytes each; IPC_INTR structures likewise. */
#define IPC_STRUCT(n) (IPC_BASE + 0x20u * (n))
#define IPC_ACQUIRE 0x00u
#define IPC_RELEASE 0x04u
#define IPC_NOTIFY 0x08u
#define IPC_DATA0 0x0Cu
#define IPC_LOCKED 0x80000000u
#define IPC_INTR(n) (IPC_INTR_BASE + 0x20u * (n))
#define IPC_INTR_INTR 0x00u
#define IPC_INTR_MASK 0x08u
#define IPC_SYSCALL_CM0 0 /* IPC_STRUCT0: the CM0+'s own SROM calls */
#define IPC_AGENT 8       /* IPC_STRUCT8: the secure agent's callers */
#define IPC_NOTIFY_BIT(n) (1u << (16 + (n)))

/* SROM API. */
#define SROM_WRITE_ROW 0x05000100u /* opcode 0x05, blocking */
#define SROM_ERASE_ROW 0x1C000100u
#define SROM_DATA_IN_SRAM 0x106u /* arg1 of WriteRow, as OpenOCD and the PDL pass it */
#define SROM_STATUS_MASK 0xF0000000u
#define SROM_STATUS_OK 0xA0000000u

/* PROT: SMPU master controls, SMPU structures, per-master MPU controls. */
#define PROT_SMPU_MS_CTL(m) (PROT_BASE + 4u * (m))
#define PROT_SMPU_STRUCT(n) (PROT_BASE + 0x2000u + 0x40u * (n))
#define SMPU_ADDR0 0x00u
#define SMPU_ATT0 0x04u
#define SMPU_ATT1 0x24u
#define PROT_MPU_MS_CTL(m) (PROT_BASE + 0x4000u + 0x400u * (m))
#define ATT_UR (1u << 0)
#define ATT_UW (1u << 1)
#define ATT_PR (1u << 3)
#define ATT_PW (1u << 4)
#define ATT_PC(pc) (1u << (8 + (pc)))               /* PC_MASK_0 at bit 8, PC k at bit 8 + k */
#define ATT_SIZE(log2) ((uint32_t)((log2)-1) << 24) /* REGION_SIZE: 2^(n+1) bytes */
#define ATT_ENABLED (1u << 31)
#define MS_CTL_PC_MASK(pc) (1u << (16 + (pc)))
#define PC_AGENT 1     /* the CM0+ running the agent */
#define PC_UNTRUSTED 6 /* every other bus master: CM4, debug port, DMA, crypto */
#define MASTER_CM0 0
#define SMPU_KEYSTORE 15 /* the highest-priority structures */
#define SMPU_AGENT_RAM 14

/* CRYPTO block's true random number generator (cyip_crypto.h, cyip_crypto_v2.h): the
 * v2 block of the 2M part moved INTR and TR_RESULT and starts each word by TR_CMD. */
#define CRYPTO_CTL (CRYPTO_BASE + 0x000u)
#define CRYPTO_TR_CTL0 (CRYPTO_BASE + 0x280u)
#define CRYPTO_TR_CTL1 (CRYPTO_BASE + 0x284u)
#define CRYPTO_TR_MON_CMD (CRYPTO_BASE + 0x2C8u)
#if AGENT_PART == AGENT_PART_CY8C6XX7
#define CRYPTO_TR_RESULT (CRYPTO_BASE + 0x288u)
#define CRYPTO_INTR (CRYPTO_BASE + 0x7C0u)
#else
#define CRYPTO_TR_CTL2 (CRYPTO_BASE + 0x288u) /* SIZE: bits per result */
#define CRYPTO_TR_CMD (CRYPTO_BASE + 0x290u)  /* START */
#define CRYPTO_TR_RESULT (CRYPTO_BASE + 0x298u)
#define CRYPTO_INTR (CRYPTO_BASE + 0x100u)
#endif
#define CRYPTO_ENABLED 0x80000000u
#define TR_CTL0_CFG 0x31030000u /* stop on AP/RC detect, von Neumann, init delay 3 */
#define TR_CTL1_ALL_RO 0x3Fu    /* RO11, RO15, GARO15, GARO31, FIRO15, FIRO31 */
#define TR_MON_START 0x3u       /* adaptive-proportion and repetition-count tests */
#define INTR_TR_DATA (1u << 3)
#define INTR_TR_HEALTH ((1u << 19) | (1u << 20))

#define CM4_APP_VT 0x10080000u
#define CM4_PWR_ON 0x05FA0003u

#define WAIT_LOOPS (1u << 24)      /* IPC and SROM: over a second */
#define TRNG_WAIT_LOOPS (1u << 18) /* a TRNG word: over 10 ms, it takes microseconds */

static const struct hal_part hal_psoc6_part = {
	.part = AGENT_PART,
	.sram_base = 0x08000000u,
	.sram_size = SRAM_SIZE,
	.agent_ram_end = 0x08001800u,
	.srom_reserved = 0x800u,
};

/* The SROM's parameter block: in the agent's RAM, which the SROM (PC0) may read. */
static uint32_t hal_srom_block[4];

static inline uint32_t rd(uint32_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void wr(uint32_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

const struct hal_part *hal_part(void)
{
	return &hal_psoc6_part;
}

int hal_call_pending(uint32_t *block)
{
	/* Polled: the notify bit is set in INTR whatever INTR_MASK says, so the call is
	 * seen whether or not the caller unmasked bit 16+8 (docs/protocols.md). */
	if (!(rd(IPC_INTR(0) + IPC_INTR_INTR) & IPC_NOTIFY_BIT(IPC_AGENT)))
		return 0;
	wr(IPC_INTR(0) + IPC_INTR_INTR, IPC_NOTIFY_BIT(IPC_AGENT)); /* write one to clear */
	*block = rd(IPC_STRUCT(IPC_AGENT) + IPC_DATA0);
	return 1;
}

void hal_call_release(void)
{
	wr(IPC_STRUCT(IPC_AGENT) + IPC_RELEASE, 0); /* no release interrupts */
}

void hal_sram_read(uint32_t addr, void *buf, size_t len)
{
	memcpy(buf, (const void *)addr, len);
}

void hal_sram_write(uint32_t addr, const void *buf, size_t len)
{
	memcpy((void *)addr, buf, len);
}

void hal_flash_read(uint32_t addr, void *buf, size_t len)
{
	memcpy(buf, (const void *)addr, len);
}

void hal_sflash_read(uint32_t off, void *buf, size_t len)
{
	memcpy(buf, (const void *)(0x16000000u + off), len);
}

/* One SROM call with its parameters in hal_srom_block, through IPC_STRUCT0. */
static int hal_srom(void)
{
	uint32_t ipc = IPC_STRUCT(IPC_SYSCALL_CM0), n;

	for (n = 0; !(rd(ipc + IPC_ACQUIRE) & IPC_LOCKED); n++)
		if (n == WAIT_LOOPS)
			return HAL_ERR_IPC;
	wr(ipc + IPC_DATA0, (uint32_t)hal_srom_block);
	/* The SROM runs in the boot ROM's NMI, raised by IPC_INTR_STRUCT0 for struct 0:
	 * unmask it (a caller of ours may have rewritten the mask), keep the other bits. */
	wr(IPC_INTR(0) + IPC_INTR_MASK,
	   rd(IPC_INTR(0) + IPC_INTR_MASK) | IPC_NOTIFY_BIT(IPC_SYSCALL_CM0));
	wr(ipc + IPC_NOTIFY, 1u << 0);
	for (n = 0; rd(ipc + IPC_LOCK_STATUS) & IPC_LOCKED; n++)
		if (n == WAIT_LOOPS)
			return HAL_ERR_IPC;
	return (hal_srom_block[0] & SROM_STATUS_MASK) == SROM_STATUS_OK ? HAL_OK : HAL_ERR_SROM;
}

int hal_flash_write_row(uint32_t addr, const uint8_t row[HAL_ROW_SIZE])
{
	hal_srom_block[0] = SROM_WRITE_ROW;
	hal_srom_block[1] = SROM_DATA_IN_SRAM;
	hal_srom_block[2] = addr;
	hal_srom_block[3] = (uint32_t)row;
	return hal_srom();
}

int hal_flash_erase_row(uint32_t addr)
{
	hal_srom_block[0] = SROM_ERASE_ROW;
	hal_srom_block[1] = addr;
	hal_srom_block[2] = 0;
	hal_srom_block[3] = 0;
	return hal_srom();
}

uint8_t hal_protection_state(void)
{
	return (uint8_t)(rd(CPUSS_PROTECTION) & 7u);
}

int hal_trng(uint8_t *out, size_t len)
{
	int r = HAL_OK;

	wr(CRYPTO_CTL, CRYPTO_ENABLED);
	wr(CRYPTO_TR_CTL0, TR_CTL0_CFG);
	wr(CRYPTO_INTR, INTR_TR_DATA | INTR_TR_HEALTH);
	wr(CRYPTO_TR_MON_CMD, TR_MON_START);
	wr(CRYPTO_TR_CTL1, TR_CTL1_ALL_RO);
#ifdef CRYPTO_TR_CTL2
	wr(CRYPTO_TR_CTL2, 32);
#endif
	for (size_t i = 0; i < len && r == HAL_OK; i += 4) {
		uint32_t v, intr = 0, n;

#ifdef CRYPTO_TR_CMD
		wr(CRYPTO_TR_CMD, 1); /* one 32-bit word */
#endif
		for (n = 0; n < TRNG_WAIT_LOOPS; n++)
			if ((intr = rd(CRYPTO_INTR)) & (INTR_TR_DATA | INTR_TR_HEALTH))
				break;
		if (!(intr & INTR_TR_DATA) || (intr & INTR_TR_HEALTH)) {
			r = HAL_ERR_RNG;
			break;
		}
		v = rd(CRYPTO_TR_RESULT);
		wr(CRYPTO_INTR, INTR_TR_DATA);
		for (size_t k = 0; k < 4 && i + k < len; k++)
			out[i + k] = (uint8_t)(v >> (8 * k));
	}
	wr(CRYPTO_TR_CTL1, 0); /* oscillators off */
	if (r != HAL_OK)
		ct_wipe(out, len);
	return r;
}

void hal_protect(void)
{
	static const uint8_t others[] = {1, 2, 3, 4, 14, 15}; /* crypto, DW0, DW1, DMAC, CM4, TC */
	const uint32_t perm = ATT_UR | ATT_UW | ATT_PR | ATT_PW | ATT_PC(0) | ATT_PC(PC_AGENT);

	/* 1. The regions, open to PC0 (boot ROM, SROM) and the agent's PC only: the key
	 * store with the LoRaWAN nonce rows (the top 8 KiB of work flash) and the agent's
	 * RAM (8 KiB with its top two 1-KiB subregions disabled: 6 KiB). */
	wr(PROT_SMPU_STRUCT(SMPU_KEYSTORE) + SMPU_ADDR0, KS_PROT_BASE);
	wr(PROT_SMPU_STRUCT(SMPU_KEYSTORE) + SMPU_ATT0,
	   perm | ATT_SIZE(KS_PROT_LOG2) | ATT_ENABLED);
	wr(PROT_SMPU_STRUCT(SMPU_AGENT_RAM) + SMPU_ADDR0, 0x08000000u | 0xC0u);
	wr(PROT_SMPU_STRUCT(SMPU_AGENT_RAM) + SMPU_ATT0, perm | ATT_SIZE(13) | ATT_ENABLED);
	/* 2. Their own registers writable by PC0 and the agent's PC only. */
	wr(PROT_SMPU_STRUCT(SMPU_KEYSTORE) + SMPU_ATT1, perm | ATT_ENABLED);
	wr(PROT_SMPU_STRUCT(SMPU_AGENT_RAM) + SMPU_ATT1, perm | ATT_ENABLED);
	/* 3. Every other bus master into the untrusted context, allowed no other. */
	for (unsigned i = 0; i < sizeof(others); i++) {
		wr(PROT_SMPU_MS_CTL(others[i]), MS_CTL_PC_MASK(PC_UNTRUSTED));
		wr(PROT_MPU_MS_CTL(others[i]), PC_UNTRUSTED);
	}
	/* 4. The CM0+ last: PC0 stays allowed (the boot ROM's handlers switch to it). */
	wr(PROT_SMPU_MS_CTL(MASTER_CM0), MS_CTL_PC_MASK(0) | MS_CTL_PC_MASK(PC_AGENT));
	wr(PROT_MPU_MS_CTL(MASTER_CM0), PC_AGENT);
}

void hal_start_cm4(void)
{
	uint32_t reset = rd(CM4_APP_VT + 4);

	if (reset == 0 || reset == 0xFFFFFFFFu)
		return; /* no CM4 application programmed */
	wr(CPUSS_CM4_VTBASE, CM4_APP_VT);
	wr(CPUSS_CM4_PWR_CTL, CM4_PWR_ON);
}
