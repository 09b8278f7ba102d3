/* Ring-3 excursions for x86_64 (protocol: common/user.h). */
#include "asm.h"

	.bss
	.balign 8
user_return_sp:	.skip 8		/* kernel rsp to return to; 0: none */
	.globl syscall_cs, syscall_ip
syscall_cs:	.skip 8
syscall_ip:	.skip 8

	.text

/* void run_user(void (*fn)(void)) */
FUNC(run_user)
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, user_return_sp(%rip)
	pushq $SEL_UDATA		/* ss */
	lea user_stack_top(%rip), %rax
	push %rax			/* rsp */
	pushq $0x2			/* rflags: IF=0, so no IRQ in ring 3 */
	pushq $SEL_UCODE		/* cs */
	lea user_trampoline(%rip), %rax
	push %rax			/* rip */
	iretq				/* rdi (fn) survives into ring 3 */
ENDF(run_user)

/* Ring 3. */
FUNC(user_trampoline)
	call *%rdi
	int $0x80
	ud2				/* isr_syscall never returns here */
ENDF(user_trampoline)

/*
 * int $0x80 (interrupt gate, DPL 3). Records who called, then abandons the
 * user frame and returns from run_user() on the saved kernel stack.
 */
FUNC(isr_syscall)
	cmpq $0, user_return_sp(%rip)
	je isr_default			/* no excursion in progress */
	mov 8(%rsp), %rax
	mov %rax, syscall_cs(%rip)
	mov (%rsp), %rax
	mov %rax, syscall_ip(%rip)
	/* Ring 3 entry left SS null and the iret nulled DS/ES/FS/GS
	 * (DPL 0 < CPL 3); harmless in long mode, but restore them. */
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	mov %eax, %ss
	mov user_return_sp(%rip), %rsp
	movq $0, user_return_sp(%rip)
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
ENDF(isr_syscall)
