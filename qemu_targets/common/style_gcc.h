/*
 * The GCC __attribute__((interrupt)) style handlers, defined by the same
 * source in style_gcc_o0.c (built at -O0: Makefile EXTRA_FLAGS) and
 * style_gcc_o2.c (the kernel's -O2), so the two code shapes can be compared.
 */
#ifndef STYLE_GCC_H
#define STYLE_GCC_H

#include "exc.h"
#include "style.h"
#include "vectors.h"

/* <prefix>_handler for `int $vector` (a trap: log and return), and
 * <prefix>_err_handler for #GP (log and resume at the fixup). */
#define DEFINE_STYLE_GCC_HANDLERS(prefix, vector)                              \
	ISR void prefix##_handler(struct iframe *f)                            \
	{                                                                      \
		exc_log_event(vector, f, 0, 0, 0, HANDLER_SP);                 \
	}                                                                      \
	ISR void prefix##_err_handler(struct iframe *f, uword_t error)         \
	{                                                                      \
		fault_fixup(VEC_GP, f, 1, (ureg_t)error, 0);                   \
	}

#endif
