/*
 * startup.c — the Cortex-M0+ image's first bytes and first instructions (ours, written
 * from the ARMv6-M architecture and docs/agent.md's memory map): the vector table at
 * 0x10000000, which the boot ROM's flash boot hands the CM0+ to, the image-info block
 * right after it, and the reset handler.
 *
 * The reset handler closes the protection units before anything else (hal_protect uses
 * constants only, no initialised data), then copies .data, zeroes .bss and calls
 * agent_main. The stack pointer comes from vector 0: the top of the agent's RAM.
 */
#include <stdint.h>

#include "agent.h"
#include "hal.h"

#ifndef AGENT_VERSION_STR
#define AGENT_VERSION_STR "1.0.0"
#endif

extern uint32_t __stack_top[], __data_start[], __data_end[], __data_load[], __bss_start[],
	__bss_end[];
void agent_main(void) __attribute__((noreturn));
void startup_reset(void) __attribute__((noreturn));
void startup_fault(void) __attribute__((noreturn));

/* The boot ROM's NMI handler serves SROM calls (the debug port's on IPC_STRUCT2, ours
 * on IPC_STRUCT0); the application's vector table must send the NMI there. Thumb
 * address 0x0000000D (facts: the PDL's CM0+ startup does the same). */
#define ROM_NMI_HANDLER 0x0000000Du

__attribute__((section(".vectors"), used)) const uint32_t startup_vectors[16] = {
	[0] = (uint32_t)__stack_top,    [1] = (uint32_t)startup_reset,
	[2] = ROM_NMI_HANDLER,          [3] = (uint32_t)startup_fault, /* HardFault */
	[11] = (uint32_t)startup_fault,                                /* SVCall: never used */
	[14] = (uint32_t)startup_fault,                                /* PendSV */
	[15] = (uint32_t)startup_fault,                                /* SysTick */
};

/*
 * The image-info block (docs/agent.md, "Image"): what `lpa-station agent info` prints.
 * Size and SHA-256 are filled in after linking by image.py; the hash covers the raw
 * binary with its own 32 bytes zero.
 */
struct startup_info {
	char magic[4];      /* "LPAI" */
	uint8_t format;     /* 1 */
	uint8_t part;       /* AGENT_PART_* */
	uint8_t version[2]; /* agent version, major, minor */
	uint32_t size;      /* bytes of the raw image (little-endian) */
	uint32_t flags;     /* 0 */
	uint8_t sha256[32];
	char version_str[16];
};
__attribute__((section(".agent_info"), used)) const struct startup_info startup_info = {
	.magic = {'L', 'P', 'A', 'I'},
	.format = 1,
	.part = AGENT_PART,
	.version = {AGENT_VERSION >> 8, AGENT_VERSION & 0xFF},
	.version_str = AGENT_VERSION_STR,
};

void startup_reset(void)
{
	uint32_t *s = __data_load, *d = __data_start;

	hal_protect();
	while (d < __data_end)
		*d++ = *s++;
	for (d = __bss_start; d < __bss_end; d++)
		*d = 0;
	agent_main();
}

/* A fault is a bug, never a request's doing (mailbox.c checks every address before it
 * touches it): reset the chip, whose next boot recovers from the key store. */
void startup_fault(void)
{
	*(volatile uint32_t *)0xE000ED0Cu = 0x05FA0004u; /* AIRCR: VECTKEY | SYSRESETREQ */
	for (;;)
		;
}
