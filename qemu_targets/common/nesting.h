/*
 * Handlers that nest (README "Nesting and task switching"), used only by
 * the nested-exception and nested-irq scenarios (sc_nesting.c).
 */
#ifndef NESTING_H
#define NESTING_H

#include "exc.h"
#include "isr.h"

/* nested-exception: the #BP handler executes ud2 at nested_ud2_insn; the
 * standard #UD handler resumes it at nested_ud2_resume. */
ISR void nested_bp_handler(struct iframe *f);
extern const char nested_ud2_insn[], nested_ud2_resume[];
extern struct exc_log nested_inner; /* exc_log as the #UD handler left it */

/* nested-irq: the int $0x30 handler enables interrupts (at nested_irq_sti)
 * and waits for config.ticks timer interrupts before returning. */
ISR void nested_irq_handler(struct iframe *f);
extern const char nested_irq_sti[];
extern volatile ureg_t nested_irq_ticks; /* timer ticks seen inside */

#endif
