/* Every IDT entry point, by style. See idt.c for the vector assignment. */
#ifndef ISR_H
#define ISR_H

#include "frame.h"

/* GCC __attribute__((interrupt)) handlers (handlers.c, and the x86_64 #DF). */
#define ISR __attribute__((interrupt))
ISR void isr_divide_error(struct iframe *f);
ISR void isr_overflow(struct iframe *f);
ISR void isr_invalid_opcode(struct iframe *f);
ISR void isr_segment_not_present(struct iframe *f, uword_t error);
ISR void isr_general_protection(struct iframe *f, uword_t error);

/* Assembly stubs (<arch>/isr.S, <arch>/user.S). Arrays: never called from C. */
extern char isr_debug[], isr_nmi[], isr_breakpoint[], isr_page_fault[];
extern char isr_timer[], isr_syscall[], isr_default[];

/* (vector, stub) pairs for the "unexpected exception" stubs isr_exc<N>,
 * emitted by <arch>/isr.S next to the stubs themselves. */
struct exc_stub {
	ureg_t vector;
	const void *entry;
};
extern const struct exc_stub isr_exc_table[], isr_exc_table_end[];

/* C functions the assembly stubs call (traps.c, <arch>/traps.c). */
void page_fault_handler(struct regs *r, struct iframe *f, ureg_t error,
			int has_error);
void timer_tick(void);
void nmi_handler(struct regs *r);
void debug_handler(struct regs *r);
NORETURN void unexpected_exception(struct exc_frame *e);
NORETURN void unexpected_interrupt(struct regs *r);

#endif
