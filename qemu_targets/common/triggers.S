/*
 * Every scenario trigger, written once for both arches: R_AX/R_BX/R_CX are
 * %rax.. or %eax.., MEM(sym) is RIP-relative or absolute (<arch>/asm.h).
 * Operand registers get their values from canary_expected[] (set in C next
 * to each scenario); every other GPR holds its canary pattern.
 * Arch-only triggers live in <arch>/triggers.S.
 */
#include "asm.h"
#include "vectors.h"

/* ---- ring 0 exceptions ---- */
CANARY_TRIGGER divide_error, div R_CX             /* R_CX = 0 */
CANARY_TRIGGER breakpoint, int3
CANARY_TRIGGER invalid_opcode, ud2
CANARY_TRIGGER gp_selector, mov %ax, %ds          /* R_AX = 0x50 */
CANARY_TRIGGER np_gate, int $0x41                 /* gate 0x41 not present */
CANARY_TRIGGER int14, int $14                     /* no error code pushed */
CANARY_TRIGGER nmi, int $2
CANARY_TRIGGER double_fault, mov %ax, %ds         /* gates 11, 13 absent */
CANARY_TRIGGER triple_fault, mov %ax, %ds         /* gates 8, 11, 13 absent */

/* ---- #PF from ring 0: R_AX = the page ---- */
CANARY_TRIGGER pf_read_not_present, mov (R_AX), R_BX
CANARY_TRIGGER pf_write_not_present, mov R_BX, (R_AX)
CANARY_TRIGGER pf_write_readonly, mov R_BX, (R_AX)

/* ---- run in ring 3 via run_user() ---- */
CANARY_TRIGGER pf_user_read_supervisor, mov (R_AX), R_BX
CANARY_TRIGGER pf_user_write_readonly, mov R_BX, (R_AX)
CANARY_TRIGGER pf_user_read_not_present, mov (R_AX), R_BX
CANARY_TRIGGER user_breakpoint, int3

/*
 * Timer: R_CX = ticks to wait for. fault_insn_timer is the hlt the IRQs
 * interrupt; sti's one-instruction shadow keeps the first IRQ from landing
 * before the first hlt.
 */
CANARY_ENTER timer
	sti
1:
LABEL(fault_insn_timer)
	hlt
	cmp R_CX, MEM(timer_ticks)
	jb 1b
	cli
LABEL(fault_resume_timer)
CANARY_LEAVE timer

/*
 * ---- scenarios that install their own handler (vectors.h) ----
 * `int $N` for the software-interrupt vectors; the #GP ones reuse
 * gp-selector's `mov %ax, %ds` (R_AX = 0x50), the #PF one
 * pf-read-not-present's load (R_AX = the page).
 */

/* Part 1: broken handlers */
CANARY_TRIGGER bad_pop_order, int $VEC_BAD_POP_ORDER
CANARY_TRIGGER bad_error_code_not_popped, mov %ax, %ds
CANARY_TRIGGER bad_pf_error_code_not_popped, mov (R_AX), R_BX
CANARY_TRIGGER bad_ret, int $VEC_BAD_RET
CANARY_TRIGGER bad_clobber_rbx, int $VEC_BAD_CLOBBER_RBX
CANARY_TRIGGER bad_clobber_rax, int $VEC_BAD_CLOBBER_RAX
CANARY_TRIGGER bad_scratch_not_saved, int $VEC_BAD_SCRATCH_NOT_SAVED
CANARY_XMM_TRIGGER bad_sse_clobber, int $VEC_BAD_SSE_CLOBBER
CANARY_TRIGGER bad_segment_clobber, int $VEC_BAD_SEGMENT_CLOBBER
CANARY_TRIGGER bad_stack_imbalance_8, int $VEC_BAD_STACK_IMBALANCE_8
CANARY_TRIGGER bad_stack_imbalance_4, int $VEC_BAD_STACK_IMBALANCE_4

/* Part 2: correct handlers of other styles */
CANARY_TRIGGER style_gcc_o0, int $VEC_STYLE_GCC_O0
CANARY_TRIGGER style_gcc_o0_err, mov %ax, %ds
CANARY_TRIGGER style_gcc_o2, int $VEC_STYLE_GCC_O2
CANARY_TRIGGER style_gcc_o2_err, mov %ax, %ds
CANARY_TRIGGER style_clang, int $VEC_STYLE_CLANG
CANARY_TRIGGER style_clang_err, mov %ax, %ds
CANARY_TRIGGER style_alltraps, int $VEC_STYLE_ALLTRAPS
CANARY_TRIGGER style_alltraps_err, mov %ax, %ds

/* Part 3: nesting (int3 -> ud2 inside; int $0x30 -> IRQ0s inside) */
CANARY_TRIGGER nested_exception, int3
CANARY_TRIGGER nested_irq, int $VEC_NESTED_IRQ

/*
 * task-switch, thread A: R_CX = ticks. Halts until it has been switched
 * back in R_CX times (task_switch.c counts); every IRQ0 in between runs
 * thread B. Like the timer trigger, the label is on the hlt.
 */
CANARY_ENTER task_switch
	sti
1:
LABEL(fault_insn_task_switch)
	hlt
	cmp R_CX, MEM(task_a_runs)
	jb 1b
	cli
LABEL(fault_resume_task_switch)
CANARY_LEAVE task_switch
