/* Assembly helpers for the i386 kernel (included by .S files only). */
#ifndef ASM_H
#define ASM_H

#include "arch.h"
#include "segments.h"

#define FUNC(name) .globl name; .type name, @function; name:
#define ENDF(name) .size name, . - name
#define LABEL(name) .globl name; name:
#define WORD .long

/* Arch-neutral names for the shared .S files (triggers.S, bad_isr.S, ...). */
#define R_AX %eax
#define R_BX %ebx
#define R_CX %ecx
#define MEM(sym) sym
#define R_SP %esp
#define IRET iret
#define WSIZE 4			/* bytes per push */
#define GPRS_SIZE (8 * 4)	/* what PUSH_GPRS (pushal) pushes */

	.section .note.GNU-stack, "", @progbits

/* Saves every GPR; the layout is struct regs (arch.h). */
.macro PUSH_GPRS
	pushal
.endm

.macro POP_GPRS
	popal
.endm

/*
 * Calls from the stubs that a scenario installs (after PUSH_GPRS, or
 * whatever the stub saved): stub_log_trap(vector, frame) for a software
 * interrupt; stub_fault(vector, frame, error) for a fault whose error code
 * is at err_off(%esp), the CPU frame right above it. Clobber eax, ecx, edx
 * (cdecl scratch).
 */
.macro CALL_LOG_TRAP vector, frame_off
	lea \frame_off(%esp), %eax
	push %eax
	push $\vector
	call stub_log_trap
	add $8, %esp
.endm

.macro CALL_FAULT vector, err_off
	mov \err_off(%esp), %edx
	lea \err_off+4(%esp), %eax
	push %edx
	push %eax
	push $\vector
	call stub_fault
	add $12, %esp
.endm

/* Canary harness (see common/canary.h); absolute addressing needs no base
 * register, so all 7 GPRs carry canaries. */
.macro CANARY_LOAD table		/* every GPR from table[CANARY_xx] */
	mov \table + 4*CANARY_AX, %eax
	mov \table + 4*CANARY_BX, %ebx
	mov \table + 4*CANARY_CX, %ecx
	mov \table + 4*CANARY_DX, %edx
	mov \table + 4*CANARY_SI, %esi
	mov \table + 4*CANARY_DI, %edi
	mov \table + 4*CANARY_BP, %ebp
.endm

.macro CANARY_STORE table		/* every GPR into table[CANARY_xx] */
	mov %eax, \table + 4*CANARY_AX
	mov %ebx, \table + 4*CANARY_BX
	mov %ecx, \table + 4*CANARY_CX
	mov %edx, \table + 4*CANARY_DX
	mov %esi, \table + 4*CANARY_SI
	mov %edi, \table + 4*CANARY_DI
	mov %ebp, \table + 4*CANARY_BP
.endm

.macro CANARY_ENTER name
	.text
FUNC(canary_\name)
	push %ebx
	push %ebp
	push %esi
	push %edi
	mov %esp, canary_sp_before
	mov %ds, canary_ds_before
	mov %es, canary_es_before
	CANARY_LOAD canary_expected
.endm

/* Records, then undoes, whatever the handler did to esp, DS and ES, so a
 * broken handler's damage is reported instead of crashing the harness. */
.macro CANARY_LEAVE name
	mov %esp, canary_sp_after
	CANARY_STORE canary_actual
	mov %ds, canary_ds_after
	mov %es, canary_es_after
	mov canary_sp_before, %esp
	mov canary_ds_before, %ds
	mov canary_es_before, %es
	pop %edi
	pop %esi
	pop %ebp
	pop %ebx
	ret
ENDF(canary_\name)
.endm

#include "canary_asm.h"

#endif
