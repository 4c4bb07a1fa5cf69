/* trng.S — powers the crypto block, enables a ring oscillator, reads TR_RESULT twice
 * into RESULT and RESULT+4, then BKPT. */
	.syntax unified
	.cpu cortex-m0plus
	.thumb
#include "common.inc"
	vectors 0
reset:
	ldr r3, =CRYPTO_BASE
	ldr r1, =0x80000000
	str r1, [r3]                    /* CTL.ENABLED */
	ldr r2, =0x284
	movs r1, #1
	str r1, [r3, r2]                /* TR_CTL1: RO11 on */
	ldr r2, =0x288
	ldr r0, [r3, r2]
	ldr r1, [r3, r2]
	ldr r2, =RESULT
	str r0, [r2]
	str r1, [r2, #4]
	bkpt #4
	b .
	.ltorg
