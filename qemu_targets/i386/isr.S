/*
 * i386 assembly interrupt entry points. The GCC-attribute handlers are in
 * common/handlers.c; the #DF task body in double_fault.c; run_user and
 * isr_syscall in user.S. Every stub returns every GPR as it found it.
 */
#include "asm.h"
#include "pic.h"

	.text

/* Push-all stub that passes struct regs * (the CPU frame follows it). */
.macro PUSHALL_STUB name, handler
FUNC(\name)
	pushal
	push %esp
	call \handler
	add $4, %esp
	popal
	iret
ENDF(\name)
.endm

PUSHALL_STUB isr_debug, debug_handler	/* 1: #DB */
PUSHALL_STUB isr_nmi, nmi_handler	/* 2: NMI */

/* 3: #BP, trap gate DPL 3, the classic style: the vector is the argument
 * and breakpoint_handler() reads the pushal block as by-value arguments. */
FUNC(isr_breakpoint)
	pushal
	push $3
	call breakpoint_handler
	add $4, %esp
	popal
	iret
ENDF(isr_breakpoint)

/*
 * 14: #PF. The CPU pushes an error code, except for a software `int $14`,
 * which is told apart only by the kernel flag soft_int14_expected. Calls
 * page_fault_handler(regs, frame, error, has_error) and removes the error
 * code (if any) before iret. The cmpb's flag change is undone by iret.
 */
FUNC(isr_page_fault)
	pushal
	mov %esp, %eax			/* struct regs * */
	cmpb $0, soft_int14_expected
	jne 1f
	lea 36(%esp), %ecx		/* frame: above pushal (32) + error */
	mov 32(%esp), %edx		/* error code */
	push $1
	push %edx
	push %ecx
	push %eax
	call page_fault_handler
	add $16, %esp
	popal
	add $4, %esp			/* pop the error code */
	iret
1:	lea 32(%esp), %ecx		/* no error code: frame right above */
	push $0
	push $0
	push %ecx
	push %eax
	call page_fault_handler
	add $16, %esp
	popal
	iret
ENDF(isr_page_fault)

/* 32: IRQ0. EOI goes to the master PIC after timer_tick() has counted. */
FUNC(isr_timer)
	pushal
	call timer_tick
	mov $PIC_EOI, %al
	out %al, $PIC1_CMD
	popal
	iret
ENDF(isr_timer)

/* Every vector not otherwise assigned: reports and ends the run. */
FUNC(isr_default)
	pushal
	push %esp
	call unexpected_interrupt
	ud2				/* not reached */
ENDF(isr_default)

/*
 * isr_exc<N>: one small stub per exception vector nobody expects. Each
 * pushes a dummy error code when the CPU pushes none, so all share one
 * frame layout (struct exc_frame), then its vector, and records itself in
 * isr_exc_table for idt.c.
 */
	.pushsection .rodata.isr_exc_table, "a"
	.balign 4
LABEL(isr_exc_table)
	.popsection

.macro EXC_STUB vector, cpu_pushes_error
FUNC(isr_exc\vector)
	.if !\cpu_pushes_error
	push $0
	.endif
	push $\vector
	jmp unexpected_exception_common
ENDF(isr_exc\vector)
	.pushsection .rodata.isr_exc_table, "a"
	WORD \vector, isr_exc\vector
	.popsection
.endm

EXC_STUB 5, 0	/* #BR */
EXC_STUB 7, 0	/* #NM */
EXC_STUB 9, 0	/* coprocessor segment overrun */
EXC_STUB 10, 1	/* #TS */
EXC_STUB 12, 1	/* #SS */
EXC_STUB 15, 0
EXC_STUB 16, 0	/* #MF */
EXC_STUB 17, 1	/* #AC */
EXC_STUB 18, 0	/* #MC */
EXC_STUB 19, 0	/* #XM */
EXC_STUB 20, 0	/* #VE */
EXC_STUB 21, 1	/* #CP */
EXC_STUB 22, 0
EXC_STUB 23, 0
EXC_STUB 24, 0
EXC_STUB 25, 0
EXC_STUB 26, 0
EXC_STUB 27, 0
EXC_STUB 28, 0	/* #HV */
EXC_STUB 29, 1	/* #VC */
EXC_STUB 30, 1	/* #SX */
EXC_STUB 31, 0

	.pushsection .rodata.isr_exc_table, "a"
LABEL(isr_exc_table_end)
	.popsection

unexpected_exception_common:
	pushal
	push %esp			/* struct exc_frame * */
	call unexpected_exception
	ud2				/* not reached */

/*
 * 8: #DF, reached through a TASK gate: the CPU saved the faulting context
 * in the main TSS and loaded df_tss (fresh registers, its own stack), then
 * pushed the error code. Call double_fault_task(error), which ends the run.
 */
FUNC(isr_double_fault)
	call double_fault_task
2:	cli
	hlt
	jmp 2b
ENDF(isr_double_fault)
