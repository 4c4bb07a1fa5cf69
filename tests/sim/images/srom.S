/* srom.S — the CM0+ calls the SROM through its own IPC_STRUCT0 (as the PDL's Cy_Flash
 * does): ProgramRow of 512 bytes (a counting pattern built in SRAM) to 0x10008000.
 * RESULT: the SROM status, RESULT+4: the polls it took. */
	.syntax unified
	.cpu cortex-m0plus
	.thumb
#include "common.inc"
#define PARAMS 0x08003000
#define ROWDATA 0x08003010
	vectors 0
reset:
	ldr r0, =ROWDATA     /* row data: byte i = i */
	movs r1, #0
fill:
	strb r1, [r0, r1]
	adds r1, r1, #1
	ldr r2, =512
	cmp r1, r2
	bne fill
	ldr r0, =PARAMS
	ldr r1, =0x06000100  /* ProgramRow, blocking */
	str r1, [r0]
	ldr r1, =0x106       /* data in SRAM */
	str r1, [r0, #4]
	ldr r1, =0x10008000  /* the row */
	str r1, [r0, #8]
	ldr r1, =ROWDATA
	str r1, [r0, #12]
	ldr r3, =IPC_BASE    /* IPC_STRUCT0 */
acquire:
	ldr r1, [r3]         /* ACQUIRE (read) */
	lsrs r1, r1, #31
	beq acquire
	str r0, [r3, #0xC]   /* DATA = the parameter block */
	ldr r2, =IPC_INTR_BASE
	ldr r1, =0x10000     /* notify bit of struct 0 in IPC_INTR_STRUCT0 */
	str r1, [r2, #8]
	movs r1, #1
	str r1, [r3, #8]     /* NOTIFY */
	movs r4, #0
poll:
	adds r4, r4, #1
	ldr r1, [r3, #0x10]  /* LOCK_STATUS */
	lsrs r1, r1, #31
	bne poll
	ldr r1, [r0]
	ldr r2, =RESULT
	str r1, [r2]
	str r4, [r2, #4]
	bkpt #2
	b .
	.ltorg
