/* loop.S — counts in r0 forever at a fixed address (0x10000100): breakpoints, steps and
 * PC sampling land on known instructions. */
	.syntax unified
	.cpu cortex-m0plus
	.thumb
#include "common.inc"
	vectors 0
	.org 0x100 - 0x10
reset:
	movs r0, #0
	movs r1, #0
loop:                      /* 0x10000104 */
	adds r0, r0, #1
	adds r1, r1, #2
	b loop               /* 0x10000108 */
