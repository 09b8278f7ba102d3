/* i386 entry points whose C signature is arch-specific. */
#include "exc.h"
#include "isr.h"

void breakpoint_handler(ureg_t vector, struct regs saved, struct iframe frame);

/*
 * Called by isr_breakpoint as `pushal; push $3; call`: by the cdecl rules
 * the pushed vector is the first argument and the pushal block and CPU
 * frame above it are the next two (by-value) arguments, read in place.
 * frame.sp/ss exist only for a ring-3 caller (exc_log_event checks cs).
 */
void breakpoint_handler(ureg_t vector, struct regs saved, struct iframe frame)
{
	exc_log_event((unsigned)vector, &frame, 0, 0, 0, (ureg_t)&saved);
}
