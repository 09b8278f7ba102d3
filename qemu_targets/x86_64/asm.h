/* Assembly helpers for the x86_64 kernel (included by .S files only). */
#ifndef ASM_H
#define ASM_H

#include "arch.h"
#include "segments.h"

#define FUNC(name) .globl name; .type name, @function; name:
#define ENDF(name) .size name, . - name
#define LABEL(name) .globl name; name:
#define WORD .quad

/* Arch-neutral names for the shared .S files (triggers.S, bad_isr.S, ...). */
#define R_AX %rax
#define R_BX %rbx
#define R_CX %rcx
#define MEM(sym) sym(%rip)
#define R_SP %rsp
#define IRET iretq
#define WSIZE 8			/* bytes per push */
#define GPRS_SIZE (15 * 8)	/* what PUSH_GPRS pushes: sizeof(struct regs) */

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
 * Calls from the stubs that a scenario installs (after PUSH_GPRS, or
 * whatever the stub saved): stub_log_trap(vector, frame) for a software
 * interrupt; stub_fault(vector, frame, error) for a fault whose error code
 * is at err_off(%rsp), the CPU frame right above it. Clobber the scratch
 * registers and rbx.
 */
.macro CALL_LOG_TRAP vector, frame_off
	mov $\vector, %edi
	lea \frame_off(%rsp), %rsi
	CALL_ALIGNED stub_log_trap
.endm

.macro CALL_FAULT vector, err_off
	mov $\vector, %edi
	lea \err_off+8(%rsp), %rsi
	mov \err_off(%rsp), %rdx
	CALL_ALIGNED stub_fault
.endm

/*
 * Canary harness (see common/canary.h). RIP-relative loads and stores need
 * no base register, so all 15 GPRs carry canaries.
 */
.macro CANARY_LOAD table		/* every GPR from table[CANARY_xx] */
	mov \table + 8*CANARY_AX(%rip), %rax
	mov \table + 8*CANARY_BX(%rip), %rbx
	mov \table + 8*CANARY_CX(%rip), %rcx
	mov \table + 8*CANARY_DX(%rip), %rdx
	mov \table + 8*CANARY_SI(%rip), %rsi
	mov \table + 8*CANARY_DI(%rip), %rdi
	mov \table + 8*CANARY_BP(%rip), %rbp
	mov \table + 8*CANARY_R8(%rip), %r8
	mov \table + 8*CANARY_R9(%rip), %r9
	mov \table + 8*CANARY_R10(%rip), %r10
	mov \table + 8*CANARY_R11(%rip), %r11
	mov \table + 8*CANARY_R12(%rip), %r12
	mov \table + 8*CANARY_R13(%rip), %r13
	mov \table + 8*CANARY_R14(%rip), %r14
	mov \table + 8*CANARY_R15(%rip), %r15
.endm

.macro CANARY_STORE table		/* every GPR into table[CANARY_xx] */
	mov %rax, \table + 8*CANARY_AX(%rip)
	mov %rbx, \table + 8*CANARY_BX(%rip)
	mov %rcx, \table + 8*CANARY_CX(%rip)
	mov %rdx, \table + 8*CANARY_DX(%rip)
	mov %rsi, \table + 8*CANARY_SI(%rip)
	mov %rdi, \table + 8*CANARY_DI(%rip)
	mov %rbp, \table + 8*CANARY_BP(%rip)
	mov %r8, \table + 8*CANARY_R8(%rip)
	mov %r9, \table + 8*CANARY_R9(%rip)
	mov %r10, \table + 8*CANARY_R10(%rip)
	mov %r11, \table + 8*CANARY_R11(%rip)
	mov %r12, \table + 8*CANARY_R12(%rip)
	mov %r13, \table + 8*CANARY_R13(%rip)
	mov %r14, \table + 8*CANARY_R14(%rip)
	mov %r15, \table + 8*CANARY_R15(%rip)
.endm

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
	mov %ds, canary_ds_before(%rip)
	mov %es, canary_es_before(%rip)
	CANARY_LOAD canary_expected
.endm

/* Records, then undoes, whatever the handler did to rsp, DS and ES, so a
 * broken handler's damage is reported instead of crashing the harness. */
.macro CANARY_LEAVE name
	mov %rsp, canary_sp_after(%rip)
	CANARY_STORE canary_actual
	mov %ds, canary_ds_after(%rip)
	mov %es, canary_es_after(%rip)
	mov canary_sp_before(%rip), %rsp
	mov canary_ds_before(%rip), %ds
	mov canary_es_before(%rip), %es
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
