/*
 * style-alltraps, style-alltraps-err: xv6's "double dispatch". Each vector
 * has a tiny entry that pushes a dummy error code (unless the CPU pushed a
 * real one) and its vector number, then jumps to the one shared alltraps,
 * which, as in xv6, saves the data segment registers and every GPR, loads
 * the kernel data segments, calls alltraps_trap(&vector slot), restores
 * everything, drops the vector and error code and returns with iret.
 */
#include "asm.h"
#include "vectors.h"

	.text

FUNC(style_alltraps_handler)		/* VEC_STYLE_ALLTRAPS: no error code */
	push $0
	push $VEC_STYLE_ALLTRAPS
	jmp alltraps
ENDF(style_alltraps_handler)

FUNC(style_alltraps_err_handler)	/* #GP: the CPU pushed the error code */
	push $VEC_GP
	jmp alltraps
ENDF(style_alltraps_err_handler)

FUNC(alltraps)
	push %ds
	push %es
	push %fs
	push %gs
	pushal
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	lea GPRS_SIZE + 4*4(%esp), %eax	/* the vector slot */
	push %eax
	call alltraps_trap
	add $4, %esp
LABEL(trapret)
	popal
	pop %gs
	pop %fs
	pop %es
	pop %ds
	add $8, %esp			/* vector and error code */
	iret
ENDF(alltraps)
