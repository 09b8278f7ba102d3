/*
 * style-alltraps, style-alltraps-err: xv6's "double dispatch". Each vector
 * has a tiny entry that pushes a dummy error code (unless the CPU pushed a
 * real one) and its vector number, then jumps to the one shared alltraps,
 * which saves every GPR, calls alltraps_trap(&vector slot), restores them,
 * drops the vector and error code and returns with iretq.
 */
#include "asm.h"
#include "vectors.h"

	.text

FUNC(style_alltraps_handler)		/* VEC_STYLE_ALLTRAPS: no error code */
	pushq $0
	pushq $VEC_STYLE_ALLTRAPS
	jmp alltraps
ENDF(style_alltraps_handler)

FUNC(style_alltraps_err_handler)	/* #GP: the CPU pushed the error code */
	pushq $VEC_GP
	jmp alltraps
ENDF(style_alltraps_err_handler)

FUNC(alltraps)
	PUSH_GPRS
	lea GPRS_SIZE(%rsp), %rdi	/* the vector slot */
	CALL_ALIGNED alltraps_trap
LABEL(trapret)
	POP_GPRS
	add $16, %rsp			/* vector and error code */
	iretq
ENDF(alltraps)
