/*
 * Arch-neutral canary harness macros, built on the per-arch CANARY_ENTER /
 * CANARY_LEAVE (<arch>/asm.h). Included by <arch>/asm.h.
 *
 *   CANARY_TRIGGER name, insn      one trigger instruction labelled
 *                                  fault_insn_<name>, followed directly by
 *                                  fault_resume_<name>.
 *   CANARY_XMM_TRIGGER name, insn  the same, and xmm0..CANARY_NXMM-1 also
 *                                  carry canaries (canary_xmm_expected[]);
 *                                  needs SSE enabled (sse_enable()).
 * For anything longer, write CANARY_ENTER name ... CANARY_LEAVE name and
 * define both labels with LABEL().
 */
#ifndef CANARY_ASM_H
#define CANARY_ASM_H

.macro CANARY_TRIGGER name, insn:vararg
CANARY_ENTER \name
LABEL(fault_insn_\name)
	\insn
LABEL(fault_resume_\name)
CANARY_LEAVE \name
.endm

/* movdqu: the tables need no alignment. No GPR is touched, so these can
 * sit between the GPR loads and the trigger. */
.macro CANARY_XMM_LOAD
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	.if \i < CANARY_NXMM
	movdqu MEM(canary_xmm_expected + 16*\i), %xmm\i
	.endif
	.endr
.endm

.macro CANARY_XMM_STORE
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	.if \i < CANARY_NXMM
	movdqu %xmm\i, MEM(canary_xmm_actual + 16*\i)
	.endif
	.endr
.endm

.macro CANARY_XMM_TRIGGER name, insn:vararg
CANARY_ENTER \name
	CANARY_XMM_LOAD
LABEL(fault_insn_\name)
	\insn
LABEL(fault_resume_\name)
	CANARY_XMM_STORE
CANARY_LEAVE \name
.endm

#endif
