/*
 * Register canary harness: the ground truth for "did the handler return
 * every register as it found it".
 *
 * canary_<scenario>() (see triggers.S) saves the C callee-saved registers,
 * records the stack pointer, DS and ES, loads EVERY general register from
 * canary_expected[], runs the trigger at fault_insn_<scenario>, and at
 * fault_resume_<scenario> stores every register into canary_actual[] and
 * the stack pointer, DS and ES into the *_after variables. It then puts the
 * stack pointer, DS and ES back as they were, so even a broken handler's
 * damage is reported rather than crashing the harness. Indices are
 * CANARY_AX.. in arch.h.
 *
 * C prepares canary_expected[] (canary_reset() fills the patterns, then
 * canary_set() overrides operand registers with fixed values) and compares
 * afterwards with canary_check(). While stopped at fault_insn_<scenario>, a
 * debugger sees exactly canary_expected[] in the registers.
 *
 * CANARY_XMM_TRIGGER harnesses also carry xmm0..CANARY_NXMM-1
 * (canary_xmm_expected[], checked by canary_xmm_check()).
 */
#ifndef CANARY_H
#define CANARY_H

#include "arch.h"
#include "types.h"

extern ureg_t canary_expected[CANARY_NREGS];
extern ureg_t canary_actual[CANARY_NREGS];
extern ureg_t canary_sp_before, canary_sp_after;
extern uint16_t canary_ds_before, canary_ds_after;
extern uint16_t canary_es_before, canary_es_after;
extern uint8_t canary_xmm_expected[CANARY_NXMM][16];
extern uint8_t canary_xmm_actual[CANARY_NXMM][16];

/* Bits of canary_check()'s result beyond the GPRs (bit i = index i). */
#define CANARY_SP_BIT (1UL << CANARY_NREGS)
#define CANARY_DS_BIT (1UL << (CANARY_NREGS + 1))
#define CANARY_ES_BIT (1UL << (CANARY_NREGS + 2))

void canary_reset(void);
void canary_set(unsigned reg, ureg_t value);
/* Prints "canary ok" or one "canary FAIL <reg> changed a -> b" per register
 * (GPRs, stack pointer, ds, es; the stack pointer's line ends in the signed
 * difference, e.g. "(-0x28)"); returns the mask of changed ones. */
ureg_t canary_check(void);
/* The same comparison for any register table (e.g. another thread's):
 * prints "canary FAIL <who><reg> ..." lines only; returns the GPR mask. */
ureg_t canary_compare(const char *who, const ureg_t *want, const ureg_t *got);
/* The fill pattern of register index reg (arch.h). */
ureg_t canary_pattern(unsigned reg);

/* xmm<i> = 16 bytes of 0xe0 + i; actual poisoned. */
void canary_xmm_reset(void);
/* "canary xmm ok" or "canary FAIL xmm<i> changed <hex> -> <hex>" lines
 * (bytes in memory order); returns the mask of changed registers. */
unsigned canary_xmm_check(void);

#endif
