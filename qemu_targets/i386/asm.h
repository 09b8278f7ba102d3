/* Assembly helpers for the i386 kernel (included by .S files only). */
#ifndef ASM_H
#define ASM_H

#include "arch.h"
#include "segments.h"

#define FUNC(name) .globl name; .type name, @function; name:
#define ENDF(name) .size name, . - name
#define LABEL(name) .globl name; name:
#define WORD .long

/* Arch-neutral operand names for the shared triggers.S. */
#define R_AX %eax
#define R_BX %ebx
#define R_CX %ecx
#define MEM(sym) sym

	.section .note.GNU-stack, "", @progbits

/* Saves every GPR; the layout is struct regs (arch.h). */
.macro PUSH_GPRS
	pushal
.endm

.macro POP_GPRS
	popal
.endm

/* Canary harness (see common/canary.h); absolute addressing needs no base
 * register, so all 7 GPRs carry canaries. */
.macro CANARY_ENTER name
	.text
FUNC(canary_\name)
	push %ebx
	push %ebp
	push %esi
	push %edi
	mov %esp, canary_sp_before
	mov canary_expected + 4*CANARY_AX, %eax
	mov canary_expected + 4*CANARY_BX, %ebx
	mov canary_expected + 4*CANARY_CX, %ecx
	mov canary_expected + 4*CANARY_DX, %edx
	mov canary_expected + 4*CANARY_SI, %esi
	mov canary_expected + 4*CANARY_DI, %edi
	mov canary_expected + 4*CANARY_BP, %ebp
.endm

.macro CANARY_LEAVE name
	mov %esp, canary_sp_after
	mov %eax, canary_actual + 4*CANARY_AX
	mov %ebx, canary_actual + 4*CANARY_BX
	mov %ecx, canary_actual + 4*CANARY_CX
	mov %edx, canary_actual + 4*CANARY_DX
	mov %esi, canary_actual + 4*CANARY_SI
	mov %edi, canary_actual + 4*CANARY_DI
	mov %ebp, canary_actual + 4*CANARY_BP
	pop %edi
	pop %esi
	pop %ebp
	pop %ebx
	ret
ENDF(canary_\name)
.endm

#include "canary_asm.h"

#endif
