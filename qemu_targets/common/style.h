/*
 * Correct handlers of other styles (README "Handler styles"), each used only
 * by its style-<name> scenario (sc_style.c). The foreign/ ones (clang,
 * rustc) may be missing from a build: foreign.h.
 */
#ifndef STYLE_H
#define STYLE_H

#include "isr.h"

/* GCC __attribute__((interrupt)) at -O0 and -O2 (style_gcc.h). */
ISR void style_gcc_o0_handler(struct iframe *f);
ISR void style_gcc_o0_err_handler(struct iframe *f, uword_t error);
ISR void style_gcc_o2_handler(struct iframe *f);
ISR void style_gcc_o2_err_handler(struct iframe *f, uword_t error);

/* xv6-style double dispatch (<arch>/alltraps.S): per-vector entries that
 * push (dummy error code and) vector, then jump to the common alltraps. */
extern char style_alltraps_handler[], style_alltraps_err_handler[];
extern char alltraps[];
/* C half: slot -> [vector, error code, CPU frame...]. */
void alltraps_trap(ureg_t *slot);

#endif
