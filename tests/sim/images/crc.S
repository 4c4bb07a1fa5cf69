/* crc.S — CRC-32 (reflected, 0xEDB88320) of the first 1 KiB of main flash, left at
 * RESULT, then BKPT: an image whose answer the test can check against the host. */
	.syntax unified
	.cpu cortex-m0plus
	.thumb
#include "common.inc"
	vectors 0
reset:
	ldr r0, =0x10000000
	ldr r1, =1024
	movs r2, #0
	mvns r2, r2          /* crc = ~0 */
	ldr r3, =0xEDB88320
byte:
	ldrb r4, [r0]
	adds r0, r0, #1
	eors r2, r4
	movs r5, #8
bit:
	lsrs r2, r2, #1
	bcc nox
	eors r2, r3
nox:
	subs r5, r5, #1
	bne bit
	subs r1, r1, #1
	bne byte
	mvns r2, r2
	ldr r0, =RESULT
	str r2, [r0]
	.global done
done:
	bkpt #1
	b .
	.ltorg
