/*
 * The GCC __attribute__((interrupt)) handlers: the compiler writes the
 * prologue/epilogue (saving exactly the registers the body clobbers, which,
 * because they call out, is every call-clobbered GPR) and the iret; for
 * vectors with an error code it also pops the code. Built with
 * -mgeneral-regs-only so no SSE/x87 state is involved.
 */
#include "exc.h"
#include "isr.h"

ISR void isr_divide_error(struct iframe *f)
{
	fault_fixup(0, f, 0, 0, 0);
}

/* Trap gate, DPL 3: reachable with int $4 (INTO is invalid in long mode). */
ISR void isr_overflow(struct iframe *f)
{
	exc_log_event(4, f, 0, 0, 0, HANDLER_SP);
}

ISR void isr_invalid_opcode(struct iframe *f)
{
	fault_fixup(6, f, 0, 0, 0);
}

ISR void isr_segment_not_present(struct iframe *f, uword_t error)
{
	fault_fixup(11, f, 1, (ureg_t)error, 0);
}

ISR void isr_general_protection(struct iframe *f, uword_t error)
{
	fault_fixup(13, f, 1, (ureg_t)error, 0);
}
