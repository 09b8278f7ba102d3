/*
 * x86_64 entry paths of the process model (common/proc.h). An entry from
 * ring 3 lands at the top of the process's 4 KiB kernel stack (TSS RSP0);
 * the stub pushes every GPR below the CPU frame, which makes the struct
 * trapframe the C half reads and writes, and returns through it: a syscall
 * result, exec's new image and a signal frame all reach ring 3 through the
 * trapframe's slots. swtch moves between kernel stacks (xv6's).
 */
#include "asm.h"

	.text

/* int $0x80 (DPL 3): proc_syscall(tf) writes the result into tf's rax. */
FUNC(isr_proc_syscall)
	PUSH_GPRS
	mov %rsp, %rdi
	CALL_ALIGNED proc_syscall
	jmp proc_trapret
ENDF(isr_proc_syscall)

/* IRQ0: proc_timer(tf) sends the EOI and may switch to other processes
 * (returning here when this one is switched back in, on any CPU). */
FUNC(isr_proc_timer)
	PUSH_GPRS
	mov %rsp, %rdi
	CALL_ALIGNED proc_timer
	jmp proc_trapret
ENDF(isr_proc_timer)

/* The one way back to ring 3 (also a new process's first). */
FUNC(proc_trapret)
	POP_GPRS
	iretq
ENDF(proc_trapret)

/* void swtch(ureg_t *save, ureg_t new_sp): the callee-saved registers on
 * this stack, rsp into *save; then the same, reversed, from new_sp. */
FUNC(swtch)
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, (%rdi)
	mov %rsi, %rsp
LABEL(swtch_switched)
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
ENDF(swtch)

/*
 * proc-entry-stack: Linux-like. TSS RSP0 is a small per-CPU entry stack
 * shared by every process on that CPU. An entry from ring 3 saves the GPRs
 * there, proc_sync_regs copies frame and registers to the process's
 * trapframe (Linux's sync_regs, called from error_entry), and the stub
 * continues on the task stack; it irets from there. Entries from ring 0
 * (the idle loop) stay on the stack they came on.
 */
.macro ENTRY_STACK_STUB name, handler
FUNC(\name)
	PUSH_GPRS
	testb $3, GPRS_SIZE+8(%rsp)	/* the CS the CPU pushed */
	jz 1f
	mov %rsp, %rdi
	CALL_ALIGNED proc_sync_regs
	mov %rax, %rsp			/* now on the task stack */
1:	mov %rsp, %rdi
	CALL_ALIGNED \handler
	POP_GPRS
	iretq
ENDF(\name)
.endm

ENTRY_STACK_STUB isr_proc_entry_syscall, proc_syscall
ENTRY_STACK_STUB isr_proc_entry_timer, proc_timer

/*
 * bad-proc-syscall-rbx: the result comes back in rax, but rbx does not.
 * CALL_ALIGNED keeps the trapframe address in rbx, and the pops skip rbx's
 * slot, so ring 3 gets the trapframe address in rbx.
 */
FUNC(bad_proc_syscall_rbx_handler)
	PUSH_GPRS
	mov %rsp, %rdi
	CALL_ALIGNED proc_syscall
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
LABEL(bug_proc_syscall_rbx)
	add $8, %rsp			/* rbx's slot: never popped */
	pop %rax
	iretq
ENDF(bad_proc_syscall_rbx_handler)

/*
 * bad-proc-switch-r11: a timer stub with a second way out for when
 * proc_timer switched processes (it returns 1), and that way skips r11's
 * slot: r11 keeps what the kernel left in it after the other process ran.
 */
FUNC(bad_proc_switch_handler)
	PUSH_GPRS
	mov %rsp, %rdi
	CALL_ALIGNED proc_timer
	test %eax, %eax
	jnz 1f
	POP_GPRS
	iretq
1:	pop %r15
	pop %r14
	pop %r13
	pop %r12
LABEL(bug_proc_switch)
	add $8, %rsp			/* r11's slot: never popped */
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
	iretq
ENDF(bad_proc_switch_handler)
