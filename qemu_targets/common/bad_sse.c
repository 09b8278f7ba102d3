/*
 * bad-sse-clobber. This file is built WITHOUT -mgeneral-regs-only and with
 * -msse2 (Makefile NO_FLAGS/EXTRA_FLAGS), like kernel code whose author
 * let the compiler use SSE. GCC itself refuses SSE inside an interrupt
 * handler ("sorry, unimplemented"), so the handler is general-regs-only by
 * attribute, saves only the general registers, and calls a helper that
 * uses xmm0. Nothing saves the interrupted code's xmm0: it comes back zero.
 * (Real kernels save the FPU/SSE state, e.g. fxsave, or keep SSE out.)
 */
#include "bad.h"
#include "exc.h"
#include "vectors.h"

/* A record the handler clears; aligned for movaps. */
unsigned char bad_sse_record[64] __attribute__((aligned(16)));

/*
 * What GCC makes of a 64-byte memset once SSE is allowed (one zeroed xmm
 * register, four 16-byte stores), written out so that bug_sse_clobber sits
 * on the instruction that destroys xmm0. noipa: one copy, one label.
 */
static __attribute__((noinline, noipa)) void clear_record(void)
{
	__asm__ volatile(".globl bug_sse_clobber\n"
			 "bug_sse_clobber:\n\t"
			 "pxor %%xmm0, %%xmm0\n\t"
			 "movaps %%xmm0, 0(%0)\n\t"
			 "movaps %%xmm0, 16(%0)\n\t"
			 "movaps %%xmm0, 32(%0)\n\t"
			 "movaps %%xmm0, 48(%0)"
			 : : "r"(bad_sse_record) : "xmm0", "memory");
}

__attribute__((interrupt, target("general-regs-only")))
void bad_sse_clobber_handler(struct iframe *f)
{
	clear_record(); /* xmm0 is caller-saved: the callee may change it */
	exc_log_event(VEC_BAD_SSE_CLOBBER, f, 0, 0, 0, HANDLER_SP);
}
