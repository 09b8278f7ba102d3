/* Every IDT entry point, by style. See idt.c for the vector assignment. */
#ifndef ISR_H
#define ISR_H

#include "frame.h"

/* GCC __attribute__((interrupt)) handlers (handlers.c, and the x86_64 #DF). */
#define ISR __attribute__((interrupt))
/* Where a C handler runs (exc_log.handler_sp). */
#define HANDLER_SP ((ureg_t)__builtin_frame_address(0))
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

/* C halves of the handlers that scenarios install (CALL_LOG_TRAP and
 * CALL_FAULT in <arch>/asm.h): log a software interrupt that returns to the
 * next instruction; or log a fault and resume at fault_resume_rip (reads
 * CR2 for vector 14). */
void stub_log_trap(ureg_t vector, struct iframe *f);
void stub_fault(ureg_t vector, struct iframe *f, ureg_t error);

#endif
