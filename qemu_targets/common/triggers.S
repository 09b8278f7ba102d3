/*
 * Every scenario trigger, written once for both arches: R_AX/R_BX/R_CX are
 * %rax.. or %eax.., MEM(sym) is RIP-relative or absolute (<arch>/asm.h).
 * Operand registers get their values from canary_expected[] (set in C next
 * to each scenario); every other GPR holds its canary pattern.
 * Arch-only triggers live in <arch>/triggers.S.
 */
#include "asm.h"

/* ---- ring 0 exceptions ---- */
CANARY_TRIGGER divide_error, div R_CX             /* R_CX = 0 */
CANARY_TRIGGER breakpoint, int3
CANARY_TRIGGER invalid_opcode, ud2
CANARY_TRIGGER gp_selector, mov %ax, %ds          /* R_AX = 0x50 */
CANARY_TRIGGER np_gate, int $0x41                 /* gate 0x41 not present */
CANARY_TRIGGER int14, int $14                     /* no error code pushed */
CANARY_TRIGGER nmi, int $2
CANARY_TRIGGER double_fault, mov %ax, %ds         /* gates 11, 13 absent */

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
