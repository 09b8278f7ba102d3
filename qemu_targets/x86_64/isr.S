/*
 * x86_64 assembly interrupt entry points. The GCC-attribute handlers are in
 * common/handlers.c and double_fault.c; run_user/isr_syscall in user.S.
 * Every stub returns every GPR as it found it; RFLAGS comes back via iretq.
 */
#include "asm.h"
#include "pic.h"

	.text

/* Push-all stub that passes struct regs * (the CPU frame follows it). */
.macro PUSHALL_STUB name, handler
FUNC(\name)
	PUSH_GPRS
	mov %rsp, %rdi
	CALL_ALIGNED \handler
	POP_GPRS
	iretq
ENDF(\name)
.endm

PUSHALL_STUB isr_debug, debug_handler	/* 1: #DB */
PUSHALL_STUB isr_nmi, nmi_handler	/* 2: NMI, on IST2 */
/* 3: #BP, trap gate DPL 3: breakpoint_handler(struct regs *) */
PUSHALL_STUB isr_breakpoint, breakpoint_handler

/*
 * 14: #PF. The CPU pushes an error code, except for a software `int $14`,
 * which is told apart only by the kernel flag soft_int14_expected. Calls
 * page_fault_handler(regs, frame, error, has_error) and removes the error
 * code (if any) before iretq. The cmpb's flag change is undone by iretq.
 */
FUNC(isr_page_fault)
	PUSH_GPRS
	mov %rsp, %rdi
	cmpb $0, soft_int14_expected(%rip)
	jne 1f
	lea 16*8(%rsp), %rsi		/* frame: above the 15 GPRs + error */
	mov 15*8(%rsp), %rdx		/* error code */
	mov $1, %ecx
	CALL_ALIGNED page_fault_handler
	POP_GPRS
	add $8, %rsp			/* pop the error code */
	iretq
1:	lea 15*8(%rsp), %rsi		/* no error code: frame right above */
	xor %edx, %edx
	xor %ecx, %ecx
	CALL_ALIGNED page_fault_handler
	POP_GPRS
	iretq
ENDF(isr_page_fault)

/* 32: IRQ0. EOI goes to the master PIC after timer_tick() has counted. */
FUNC(isr_timer)
	PUSH_GPRS
	CALL_ALIGNED timer_tick
	mov $PIC_EOI, %al
	out %al, $PIC1_CMD
	POP_GPRS
	iretq
ENDF(isr_timer)

/* Every vector not otherwise assigned: reports and ends the run. */
FUNC(isr_default)
	PUSH_GPRS
	mov %rsp, %rdi
	CALL_ALIGNED unexpected_interrupt
	ud2				/* not reached */
ENDF(isr_default)

/*
 * isr_exc<N>: one small stub per exception vector nobody expects. Each
 * pushes a dummy error code when the CPU pushes none, so all share one
 * frame layout (struct exc_frame), then its vector, and records itself in
 * isr_exc_table for idt.c.
 */
	.pushsection .rodata.isr_exc_table, "a"
	.balign 8
LABEL(isr_exc_table)
	.popsection

.macro EXC_STUB vector, cpu_pushes_error
FUNC(isr_exc\vector)
	.if !\cpu_pushes_error
	pushq $0
	.endif
	pushq $\vector
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
	PUSH_GPRS
	mov %rsp, %rdi			/* struct exc_frame * */
	CALL_ALIGNED unexpected_exception
	ud2				/* not reached */
