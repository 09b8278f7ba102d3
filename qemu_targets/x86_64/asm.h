/* Assembly helpers for the x86_64 kernel (included by .S files only). */
#ifndef ASM_H
#define ASM_H

#include "arch.h"
#include "segments.h"

#define FUNC(name) .globl name; .type name, @function; name:
#define ENDF(name) .size name, . - name
#define LABEL(name) .globl name; name:
#define WORD .quad

/* Arch-neutral operand names for the shared triggers.S. */
#define R_AX %rax
#define R_BX %rbx
#define R_CX %rcx
#define MEM(sym) sym(%rip)

	.section .note.GNU-stack, "", @progbits

/* Saves every GPR; the layout is struct regs (arch.h). */
.macro PUSH_GPRS
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
.endm

.macro POP_GPRS
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
.endm

/*
 * The SysV ABI wants rsp 16-byte aligned at a call. The CPU aligns rsp
 * before pushing its frame, but whether an error code follows varies, so
 * align explicitly; rbx is callee-saved and already saved by PUSH_GPRS.
 */
.macro CALL_ALIGNED fn
	mov %rsp, %rbx
	and $-16, %rsp
	call \fn
	mov %rbx, %rsp
.endm

/*
 * Canary harness (see common/canary.h). RIP-relative loads and stores need
 * no base register, so all 15 GPRs carry canaries.
 */
.macro CANARY_ENTER name
	.text
FUNC(canary_\name)
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, canary_sp_before(%rip)
	mov canary_expected + 8*CANARY_AX(%rip), %rax
	mov canary_expected + 8*CANARY_BX(%rip), %rbx
	mov canary_expected + 8*CANARY_CX(%rip), %rcx
	mov canary_expected + 8*CANARY_DX(%rip), %rdx
	mov canary_expected + 8*CANARY_SI(%rip), %rsi
	mov canary_expected + 8*CANARY_DI(%rip), %rdi
	mov canary_expected + 8*CANARY_BP(%rip), %rbp
	mov canary_expected + 8*CANARY_R8(%rip), %r8
	mov canary_expected + 8*CANARY_R9(%rip), %r9
	mov canary_expected + 8*CANARY_R10(%rip), %r10
	mov canary_expected + 8*CANARY_R11(%rip), %r11
	mov canary_expected + 8*CANARY_R12(%rip), %r12
	mov canary_expected + 8*CANARY_R13(%rip), %r13
	mov canary_expected + 8*CANARY_R14(%rip), %r14
	mov canary_expected + 8*CANARY_R15(%rip), %r15
.endm

.macro CANARY_LEAVE name
	mov %rsp, canary_sp_after(%rip)
	mov %rax, canary_actual + 8*CANARY_AX(%rip)
	mov %rbx, canary_actual + 8*CANARY_BX(%rip)
	mov %rcx, canary_actual + 8*CANARY_CX(%rip)
	mov %rdx, canary_actual + 8*CANARY_DX(%rip)
	mov %rsi, canary_actual + 8*CANARY_SI(%rip)
	mov %rdi, canary_actual + 8*CANARY_DI(%rip)
	mov %rbp, canary_actual + 8*CANARY_BP(%rip)
	mov %r8, canary_actual + 8*CANARY_R8(%rip)
	mov %r9, canary_actual + 8*CANARY_R9(%rip)
	mov %r10, canary_actual + 8*CANARY_R10(%rip)
	mov %r11, canary_actual + 8*CANARY_R11(%rip)
	mov %r12, canary_actual + 8*CANARY_R12(%rip)
	mov %r13, canary_actual + 8*CANARY_R13(%rip)
	mov %r14, canary_actual + 8*CANARY_R14(%rip)
	mov %r15, canary_actual + 8*CANARY_R15(%rip)
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
ENDF(canary_\name)
.endm

#include "canary_asm.h"

#endif
