/* Ring-3 excursions for i386 (protocol: common/user.h). */
#include "asm.h"

	.bss
	.balign 4
user_return_sp:	.skip 4		/* kernel esp to return to; 0: none */
	.globl syscall_cs, syscall_ip
syscall_cs:	.skip 4
syscall_ip:	.skip 4

	.text

/* void run_user(void (*fn)(void)) */
FUNC(run_user)
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov 20(%esp), %edi		/* fn: survives the iret */
	mov %esp, user_return_sp
	/* iret to ring 3 would null any data segment register with DPL 0,
	 * so hand ring 3 its own (flat, so the kernel is unaffected). */
	mov $SEL_UDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	push $SEL_UDATA			/* ss */
	push $user_stack_top		/* esp */
	push $0x2			/* eflags: IF=0, so no IRQ in ring 3 */
	push $SEL_UCODE			/* cs */
	push $user_trampoline		/* eip */
	iret
ENDF(run_user)

/* Ring 3. */
FUNC(user_trampoline)
	call *%edi
	int $0x80
	ud2				/* isr_syscall never returns here */
ENDF(user_trampoline)

/*
 * int $0x80 (interrupt gate, DPL 3). Records who called, then abandons the
 * user frame and returns from run_user() on the saved kernel stack.
 */
FUNC(isr_syscall)
	cmpl $0, user_return_sp
	je isr_default			/* no excursion in progress */
	mov 4(%esp), %eax
	mov %eax, syscall_cs
	mov (%esp), %eax
	mov %eax, syscall_ip
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	mov user_return_sp, %esp	/* same SS (0x10, from TSS.SS0) */
	movl $0, user_return_sp
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret
ENDF(isr_syscall)
