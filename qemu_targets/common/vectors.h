/*
 * Vectors that scenarios claim for their own handlers (installed by the
 * scenario's install hook, so every other boot has the plain IDT of idt.c).
 * Spare vectors: 0x30 (just above the remapped PIC's 32..47), 0x40.. for
 * correct handlers of other styles, 0x50.. for deliberately broken ones;
 * 0x41 stays free for np-gate. Assembly-safe.
 */
#ifndef VECTORS_H
#define VECTORS_H

#define VEC_GP 13 /* #GP: the error-code handler styles replace its gate */
#define VEC_PF 14
#define VEC_BP 3
#define VEC_UD 6
#define VEC_TIMER 32 /* IRQ_BASE + 0 */
/* The process model's syscall gate (DPL 3), the same vector as run_user's
 * isr_syscall, which the proc scenarios replace (common/proc.h). */
#define VEC_PROC_SYSCALL 0x80

/* Part 3: nesting */
#define VEC_NESTED_IRQ 0x30

/* Part 2: correct handlers of other styles (software int $N) */
#define VEC_STYLE_GCC_O0 0x40
#define VEC_STYLE_GCC_O2 0x42
#define VEC_STYLE_CLANG 0x43
#define VEC_STYLE_RUST 0x44
#define VEC_STYLE_ALLTRAPS 0x45

/* Part 1: broken handlers (software int $N) */
#define VEC_BAD_POP_ORDER 0x50
#define VEC_BAD_RET 0x51
#define VEC_BAD_CLOBBER_RBX 0x52
#define VEC_BAD_CLOBBER_RAX 0x53
#define VEC_BAD_SCRATCH_NOT_SAVED 0x54
#define VEC_BAD_SSE_CLOBBER 0x55
#define VEC_BAD_SEGMENT_CLOBBER 0x56
#define VEC_BAD_STACK_IMBALANCE_8 0x57
#define VEC_BAD_STACK_IMBALANCE_4 0x58
#define VEC_BAD_RED_ZONE 0x59

#endif
