/*
 * i386 entry paths of the process model (common/proc.h). An entry from
 * ring 3 lands at the top of the process's 4 KiB kernel stack (TSS ESP0);
 * pushal below the CPU frame makes the struct trapframe the C half reads
 * and writes, and the stub returns through it: a syscall result, exec's
 * new image and a signal frame all reach ring 3 through its slots. swtch
 * moves between kernel stacks (xv6's).
 */
#include "asm.h"

	.text

/* int $0x80 (DPL 3): proc_syscall(tf) writes the result into tf's eax. */
FUNC(isr_proc_syscall)
	pushal
	push %esp
	call proc_syscall
	add $4, %esp
	jmp proc_trapret
ENDF(isr_proc_syscall)

/* IRQ0: proc_timer(tf) sends the EOI and may switch to other processes
 * (returning here when this one is switched back in, on any CPU). */
FUNC(isr_proc_timer)
	pushal
	push %esp
	call proc_timer
	add $4, %esp
	jmp proc_trapret
ENDF(isr_proc_timer)

/* The one way back to ring 3 (also a new process's first). */
FUNC(proc_trapret)
	popal
	iret
ENDF(proc_trapret)

/* void swtch(ureg_t *save, ureg_t new_sp): the callee-saved registers on
 * this stack, esp into *save; then the same, reversed, from new_sp. */
FUNC(swtch)
	mov 4(%esp), %eax
	mov 8(%esp), %edx
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, (%eax)
	mov %edx, %esp
LABEL(swtch_switched)
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret
ENDF(swtch)

/*
 * bad-proc-syscall-rbx: the result comes back in eax, but ebx does not.
 * The stub keeps the trapframe address in ebx (callee-saved, so it
 * survives the call) and the pops skip ebx's slot.
 */
FUNC(bad_proc_syscall_rbx_handler)
	pushal
	mov %esp, %ebx
	push %ebx
	call proc_syscall
	add $4, %esp
	pop %edi
	pop %esi
	pop %ebp
	add $4, %esp			/* pushal's esp slot: popal skips it too */
LABEL(bug_proc_syscall_rbx)
	add $4, %esp			/* ebx's slot: never popped */
	pop %edx
	pop %ecx
	pop %eax
	iret
ENDF(bad_proc_syscall_rbx_handler)

/*
 * bad-proc-switch-ecx: a timer stub with a second way out for when
 * proc_timer switched processes (it returns 1), and that way skips ecx's
 * slot: ecx keeps what the kernel left in it after the other process ran.
 */
FUNC(bad_proc_switch_handler)
	pushal
	push %esp
	call proc_timer
	add $4, %esp
	test %eax, %eax
	jnz 1f
	popal
	iret
1:	pop %edi
	pop %esi
	pop %ebp
	add $4, %esp			/* pushal's esp slot */
	pop %ebx
	pop %edx
LABEL(bug_proc_switch)
	add $4, %esp			/* ecx's slot: never popped */
	pop %eax
	iret
ENDF(bad_proc_switch_handler)
