/*
 * i386 halves of the deliberately broken handlers (the shared ones are in
 * common/bad_isr.S; README "Broken handlers" has the effects). Each is
 * installed only by its bad-<what> scenario; bug_<what> marks the bug.
 */
#include "asm.h"
#include "vectors.h"

	.text

/*
 * bad-pop-order: pushes one register at a time (ebx before esi), but the
 * pops take ebx first (from esi's slot) and esi last (from ebx's): the
 * interrupted code gets ebx and esi swapped.
 */
FUNC(bad_pop_order_handler)
	push %eax
	push %ebx
	push %ecx
	push %edx
	push %esi
	push %edi
	push %ebp
	CALL_LOG_TRAP VEC_BAD_POP_ORDER, 7*4
	pop %ebp
	pop %edi
LABEL(bug_pop_order)
	pop %ebx			/* should be esi */
	pop %edx
	pop %ecx
	pop %esi			/* should be ebx */
	pop %eax
	iret
ENDF(bad_pop_order_handler)

/*
 * bad-scratch-not-saved: saves only what cdecl calls callee-saved (ebx esi
 * edi ebp) and calls C, which may change eax, ecx and edx and does
 * (bad_scratch_not_saved_c): all three come back changed.
 */
FUNC(bad_scratch_not_saved_handler)
	push %ebx
	push %esi
	push %edi
	push %ebp
	lea 4*4(%esp), %ebx		/* the CPU frame (ebx is saved) */
	push %ebx
	push $VEC_BAD_SCRATCH_NOT_SAVED
LABEL(bug_scratch_not_saved)
	call bad_scratch_not_saved_c	/* eax ecx edx unsaved */
	add $8, %esp
	pop %ebp
	pop %edi
	pop %esi
	pop %ebx
	iret
ENDF(bad_scratch_not_saved_handler)

/*
 * bad-stack-imbalance-8: pushes a dummy error code and its vector number
 * (xv6's vectorN shape) and never drops them, so iret starts 8 bytes low:
 * it pops the vector as EIP and the dummy 0 as CS, and raises #GP(0).
 */
FUNC(bad_stack_imbalance_8_handler)
	push $0
	push $VEC_BAD_STACK_IMBALANCE_8
	pushal
	CALL_LOG_TRAP VEC_BAD_STACK_IMBALANCE_8, GPRS_SIZE + 8
	popal
LABEL(bug_stack_imbalance_8)		/* missing: add $8, %esp */
	iret
ENDF(bad_stack_imbalance_8_handler)

/*
 * bad-stack-imbalance-4: pushes its vector number and never drops it, so
 * iret starts 4 bytes low: it pops the vector as EIP and the real EIP as
 * CS, a bogus selector, and raises #GP.
 */
FUNC(bad_stack_imbalance_4_handler)
	push $VEC_BAD_STACK_IMBALANCE_4
	pushal
	CALL_LOG_TRAP VEC_BAD_STACK_IMBALANCE_4, GPRS_SIZE + 4
	popal
LABEL(bug_stack_imbalance_4)		/* missing: add $4, %esp */
	iret
ENDF(bad_stack_imbalance_4_handler)
