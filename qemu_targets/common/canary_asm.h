/*
 * Arch-neutral canary harness macros, built on the per-arch CANARY_ENTER /
 * CANARY_LEAVE (<arch>/asm.h). Included by <arch>/asm.h.
 *
 *   CANARY_TRIGGER name, insn   one trigger instruction labelled
 *                               fault_insn_<name>, followed directly by
 *                               fault_resume_<name>.
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

#endif
