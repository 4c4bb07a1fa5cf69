/* prot.S — configures protection as a secure agent would: SMPU region 14 over
 * 0x08006000..0x08006FFF for PC 1 only (privileged read/write), reconfigurable by PC 0
 * only; the debug port (test controller, master 15) to PC 7, the CM4 (14) to PC 6, the
 * CM0+ (0) to PC 1 last. It leaves 0x5EC0DE00 in the region and at RESULT, reads the
 * region back into RESULT+4 (its own access is allowed), then waits in "b .". */
	.syntax unified
	.cpu cortex-m0plus
	.thumb
#include "common.inc"
	vectors 0
reset:
	ldr r0, =0x08006000
	ldr r1, =0x5EC0DE00
	str r1, [r0]
	ldr r3, =PROT_BASE + 0x2000 + 14 * 0x40
	str r0, [r3]                     /* ADDR0 */
	ldr r1, =0x8B000218              /* ENABLED, 4 KiB, PC_MASK PC1, PR|PW */
	str r1, [r3, #4]                 /* ATT0 */
	ldr r1, =0x80000018              /* master structure: PC 0 only */
	str r1, [r3, #0x24]              /* ATT1 */
	ldr r3, =PROT_BASE + 0x4000
	movs r1, #7
	ldr r2, =0x400 * 15
	str r1, [r3, r2]                 /* MPU[15].MS_CTL.PC = 7 */
	movs r1, #6
	ldr r2, =0x400 * 14
	str r1, [r3, r2]                 /* MPU[14].MS_CTL.PC = 6 */
	movs r1, #1
	str r1, [r3]                     /* MPU[0].MS_CTL.PC = 1: locked */
	ldr r1, [r0]
	ldr r2, =RESULT
	ldr r4, =0x5EC0DE00
	str r4, [r2]
	str r1, [r2, #4]
	b .
	.ltorg
