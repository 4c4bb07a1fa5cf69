/* fault.S — an undefined instruction (udf) at the symbol "bad": the HardFault handler
 * records IPSR and the stacked PC at RESULT, RESULT+4, then BKPT. With the symbol
 * LOCKUP defined the vector table has no valid HardFault handler: lockup. */
	.syntax unified
	.cpu cortex-m0plus
	.thumb
#include "common.inc"
#ifdef LOCKUP
	vectors 0x10000200
#else
	vectors hardfault + 1
#endif
reset:
	movs r0, #0
	.global bad
bad:
	udf #0
	b .
hardfault:
	mrs r0, ipsr
	ldr r2, =RESULT
	str r0, [r2]
	ldr r1, [sp, #24]               /* the stacked return address */
	str r1, [r2, #4]
	bkpt #3
	b .
	.ltorg
