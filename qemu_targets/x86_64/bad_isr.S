/*
 * x86_64 halves of the deliberately broken handlers (the shared ones are in
 * common/bad_isr.S; README "Broken handlers" has the effects). Each is
 * installed only by its bad-<what> scenario; bug_<what> marks the bug.
 */
#include "asm.h"
#include "vectors.h"

	.text

/*
 * bad-pop-order: PUSH_GPRS pushes rbx before r12, but the pops take rbx
 * first (from r12's slot) and r12 last (from rbx's): the interrupted code
 * gets rbx and r12 swapped.
 */
FUNC(bad_pop_order_handler)
	PUSH_GPRS
	CALL_LOG_TRAP VEC_BAD_POP_ORDER, GPRS_SIZE
	pop %r15
	pop %r14
	pop %r13
LABEL(bug_pop_order)
	pop %rbx			/* should be r12 */
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %r12			/* should be rbx */
	pop %rax
	iretq
ENDF(bad_pop_order_handler)

/*
 * bad-scratch-not-saved: saves only what the SysV ABI calls callee-saved
 * (rbx rbp r12-r15) and calls C, which may change every other register and
 * does (bad_scratch_not_saved_c): rax rcx rdx rsi rdi r8-r11 all come back
 * changed. The stub itself also loads rdi/rsi with the arguments.
 */
FUNC(bad_scratch_not_saved_handler)
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov $VEC_BAD_SCRATCH_NOT_SAVED, %edi
	lea 6*8(%rsp), %rsi		/* the CPU frame */
	mov %rsp, %rbx
	and $-16, %rsp
LABEL(bug_scratch_not_saved)
	call bad_scratch_not_saved_c	/* rax rcx rdx rsi rdi r8-r11 unsaved */
	mov %rbx, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	iretq
ENDF(bad_scratch_not_saved_handler)

/*
 * bad-stack-imbalance-8: pushes its vector number (as the isr_exc<N> stubs
 * do) and never drops it, so iretq starts 8 bytes low: it pops the vector
 * as RIP and the real RIP as CS, a bogus selector, and raises #GP.
 */
FUNC(bad_stack_imbalance_8_handler)
	pushq $VEC_BAD_STACK_IMBALANCE_8
	PUSH_GPRS
	CALL_LOG_TRAP VEC_BAD_STACK_IMBALANCE_8, GPRS_SIZE + 8
	POP_GPRS
LABEL(bug_stack_imbalance_8)		/* missing: add $8, %rsp */
	iretq
ENDF(bad_stack_imbalance_8_handler)

/*
 * bad-stack-imbalance-4: adjusts rsp by 4 (a 32-bit habit) before iretq,
 * which then reads its frame 4 bytes low: CS comes from the top half of
 * RIP, i.e. 0, and iretq raises #GP(0).
 */
FUNC(bad_stack_imbalance_4_handler)
	PUSH_GPRS
	CALL_LOG_TRAP VEC_BAD_STACK_IMBALANCE_4, GPRS_SIZE
	POP_GPRS
LABEL(bug_stack_imbalance_4)
	sub $4, %rsp
	iretq
ENDF(bad_stack_imbalance_4_handler)
