/* x86_64 constants and types used by the shared code. Assembly-safe. */
#ifndef ARCH_H
#define ARCH_H

#define ARCH_NAME "x86_64"

/* Long mode always pushes SS:RSP on interrupts. */
#define IFRAME_ALWAYS_HAS_STACK 1

/* Bytes per IDT gate. */
#define IDT_GATE_SIZE 16

/* IST slots used by the IDT (0 = no stack switch). */
#define IST_DOUBLE_FAULT 1
#define IST_NMI 2

/* Canary register indices: slots of canary_expected[]/canary_actual[]. */
#define CANARY_AX 0
#define CANARY_BX 1
#define CANARY_CX 2
#define CANARY_DX 3
#define CANARY_SI 4
#define CANARY_DI 5
#define CANARY_BP 6
#define CANARY_R8 7
#define CANARY_R9 8
#define CANARY_R10 9
#define CANARY_R11 10
#define CANARY_R12 11
#define CANARY_R13 12
#define CANARY_R14 13
#define CANARY_R15 14
#define CANARY_NREGS 15 /* every GPR but rsp (checked separately) */
#define CANARY_SP_NAME "rsp"
#define CANARY_NXMM 16 /* xmm registers the SSE harness checks */

#ifndef __ASSEMBLER__
#include "types.h"

/* X(index, name, pattern): distinct, recognisable value per register. */
#define CANARY_REGS(X)                                                         \
	X(CANARY_AX, "rax", 0xa0a0a0a0a0a0a0a1UL)                              \
	X(CANARY_BX, "rbx", 0xb0b0b0b0b0b0b0b1UL)                              \
	X(CANARY_CX, "rcx", 0xc0c0c0c0c0c0c0c1UL)                              \
	X(CANARY_DX, "rdx", 0xd0d0d0d0d0d0d0d1UL)                              \
	X(CANARY_SI, "rsi", 0x5151515151515151UL)                              \
	X(CANARY_DI, "rdi", 0xd1d1d1d1d1d1d1d1UL)                              \
	X(CANARY_BP, "rbp", 0xbdbdbdbdbdbdbdbdUL)                              \
	X(CANARY_R8, "r8", 0x0808080808080808UL)                               \
	X(CANARY_R9, "r9", 0x0909090909090909UL)                               \
	X(CANARY_R10, "r10", 0x1010101010101010UL)                             \
	X(CANARY_R11, "r11", 0x1111111111111111UL)                             \
	X(CANARY_R12, "r12", 0x1212121212121212UL)                             \
	X(CANARY_R13, "r13", 0x1313131313131313UL)                             \
	X(CANARY_R14, "r14", 0x1414141414141414UL)                             \
	X(CANARY_R15, "r15", 0x1515151515151515UL)

/* Saved by PUSH_GPRS (asm.h), lowest address first. */
struct regs {
	ureg_t r15, r14, r13, r12, r11, r10, r9, r8;
	ureg_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
};
#endif

#endif
