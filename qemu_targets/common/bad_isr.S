/*
 * Deliberately broken handlers written once for both arches (R_SP, IRET,
 * WSIZE, GPRS_SIZE, CALL_LOG_TRAP, CALL_FAULT: <arch>/asm.h). The
 * arch-specific ones are in <arch>/bad_isr.S. Each is installed only by its
 * bad-<what> scenario (sc_bad.c). bug_<what> is on the buggy instruction, or
 * where a missing one belonged; README "Broken handlers" has the effects.
 */
#include "asm.h"
#include "pic.h"
#include "vectors.h"

	.text

/*
 * bad-ret: returns with a near `ret`, which pops only the return ip. CS and
 * the flags (x86_64: also RSP and SS) stay on the stack, so execution goes
 * on at the next instruction with the stack pointer 2 words (x86_64: 4)
 * lower than before the interrupt, and IF/TF are not restored.
 */
FUNC(bad_ret_handler)
	PUSH_GPRS
	CALL_LOG_TRAP VEC_BAD_RET, GPRS_SIZE
	POP_GPRS
LABEL(bug_ret)
	ret				/* should be IRET */
ENDF(bad_ret_handler)

/*
 * bad-error-code-not-popped (#GP) and bad-pf-error-code-not-popped (#PF):
 * correct until the exit, which forgets to drop the CPU's error code. The
 * iret then takes the error code as the ip and the ip as CS (a bogus
 * selector), so the iret itself raises #GP at the bug label.
 */
FUNC(bad_error_code_not_popped_handler)
	PUSH_GPRS
	CALL_FAULT VEC_GP, GPRS_SIZE
	POP_GPRS
LABEL(bug_error_code_not_popped)	/* missing: add $WSIZE, R_SP */
	IRET
ENDF(bad_error_code_not_popped_handler)

FUNC(bad_pf_error_code_not_popped_handler)
	PUSH_GPRS
	CALL_FAULT VEC_PF, GPRS_SIZE
	POP_GPRS
LABEL(bug_pf_error_code_not_popped)	/* missing: add $WSIZE, R_SP */
	IRET
ENDF(bad_pf_error_code_not_popped_handler)

/*
 * bad-clobber-rax: copied from an IRQ stub, with the EOI moved after the
 * register restore, as if rax were scratch (it is in C, not in a handler):
 * the interrupted code gets its rax back with the low byte = 0x20.
 */
FUNC(bad_clobber_rax_handler)
	PUSH_GPRS
	CALL_LOG_TRAP VEC_BAD_CLOBBER_RAX, GPRS_SIZE
	POP_GPRS
LABEL(bug_clobber_rax)
	mov $PIC_EOI, %al		/* after POP_GPRS: nothing restores al */
	out %al, $PIC1_CMD
	IRET
ENDF(bad_clobber_rax_handler)

/*
 * bad-segment-clobber: switches DS to the user data segment (say, to copy
 * from user memory) and never switches back: the interrupted code resumes
 * with DS = 0x23 instead of 0x10. Flat on both arches, so nothing faults;
 * the harness's DS check is what notices.
 */
FUNC(bad_segment_clobber_handler)
	PUSH_GPRS
	mov $SEL_UDATA, %eax
LABEL(bug_segment_clobber)
	mov %eax, %ds			/* nothing saves or restores DS */
	CALL_LOG_TRAP VEC_BAD_SEGMENT_CLOBBER, GPRS_SIZE
	POP_GPRS
	IRET
ENDF(bad_segment_clobber_handler)
