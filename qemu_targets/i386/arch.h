/* i386 constants and types used by the shared code. Assembly-safe. */
#ifndef ARCH_H
#define ARCH_H

#define ARCH_NAME "i386"

/* Protected mode pushes SS:ESP only when the privilege level changes. */
#define IFRAME_ALWAYS_HAS_STACK 0

/* Bytes per IDT gate. */
#define IDT_GATE_SIZE 8

/* No IST in protected mode; #DF gets its stack from a task gate instead. */
#define IST_DOUBLE_FAULT 0
#define IST_NMI 0

/* Second TSS, for the #DF task gate (after the common GDT entries). */
#define SEL_DF_TSS 0x30

/* Canary register indices: slots of canary_expected[]/canary_actual[]. */
#define CANARY_AX 0
#define CANARY_BX 1
#define CANARY_CX 2
#define CANARY_DX 3
#define CANARY_SI 4
#define CANARY_DI 5
#define CANARY_BP 6
#define CANARY_NREGS 7 /* every GPR but esp (checked separately) */
#define CANARY_SP_NAME "esp"
#define CANARY_NXMM 8 /* xmm registers the SSE harness checks */

#ifndef __ASSEMBLER__
#include "types.h"

/* X(index, name, pattern): the low halves of the x86_64 patterns. */
#define CANARY_REGS(X)                                                         \
	X(CANARY_AX, "eax", 0xa0a0a0a1UL)                                      \
	X(CANARY_BX, "ebx", 0xb0b0b0b1UL)                                      \
	X(CANARY_CX, "ecx", 0xc0c0c0c1UL)                                      \
	X(CANARY_DX, "edx", 0xd0d0d0d1UL)                                      \
	X(CANARY_SI, "esi", 0x51515151UL)                                      \
	X(CANARY_DI, "edi", 0xd1d1d1d1UL)                                      \
	X(CANARY_BP, "ebp", 0xbdbdbdbdUL)

/* The pushal block, lowest address first (esp_at_pushal is ignored by
 * popal). */
struct regs {
	ureg_t edi, esi, ebp, esp_at_pushal, ebx, edx, ecx, eax;
};
#endif

#endif
