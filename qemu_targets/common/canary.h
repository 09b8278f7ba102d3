/*
 * Register canary harness: the ground truth for "did the handler return
 * every register as it found it".
 *
 * canary_<scenario>() (see triggers.S) saves the C callee-saved registers,
 * loads EVERY general register from canary_expected[], records the stack
 * pointer, runs the trigger at fault_insn_<scenario>, and at
 * fault_resume_<scenario> stores every register into canary_actual[] and the
 * stack pointer into canary_sp_after. Indices are CANARY_AX.. in arch.h.
 *
 * C prepares canary_expected[] (canary_reset() fills the patterns, then
 * canary_set() overrides operand registers with fixed values) and compares
 * afterwards with canary_check(). While stopped at fault_insn_<scenario>, a
 * debugger sees exactly canary_expected[] in the registers.
 */
#ifndef CANARY_H
#define CANARY_H

#include "arch.h"
#include "types.h"

extern ureg_t canary_expected[CANARY_NREGS];
extern ureg_t canary_actual[CANARY_NREGS];
extern ureg_t canary_sp_before, canary_sp_after;

void canary_reset(void);
void canary_set(unsigned reg, ureg_t value);
/* Prints "canary ok" or one "canary FAIL <reg> changed a -> b" per register;
 * returns the mask of changed registers (bit CANARY_NREGS: stack pointer). */
ureg_t canary_check(void);

#endif
