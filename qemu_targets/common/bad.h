/*
 * The deliberately broken handlers (README "Broken handlers"). Each
 * bad_<what>_handler is installed only by its bad-<what> scenario
 * (sc_bad.c); the global label bug_<what> sits on the buggy instruction,
 * or, for a missing instruction, on the one where it belonged.
 */
#ifndef BAD_H
#define BAD_H

#include "isr.h"

/* Assembly: common/bad_isr.S and <arch>/bad_isr.S. */
extern char bad_pop_order_handler[], bad_ret_handler[];
extern char bad_error_code_not_popped_handler[];
extern char bad_pf_error_code_not_popped_handler[];
extern char bad_clobber_rax_handler[], bad_scratch_not_saved_handler[];
extern char bad_segment_clobber_handler[];
extern char bad_stack_imbalance_8_handler[], bad_stack_imbalance_4_handler[];

/* C: bad_handlers.c, bad_sse.c, x86_64/bad_red_zone.c. */
ISR void bad_clobber_rbx_handler(struct iframe *f);
ISR void bad_sse_clobber_handler(struct iframe *f);
ISR void bad_red_zone_handler(struct iframe *f);
/* The C function bad_scratch_not_saved_handler calls. */
void bad_scratch_not_saved_c(ureg_t vector, struct iframe *f);

#endif
