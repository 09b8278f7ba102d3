/* x86_64 entry points whose C signature is arch-specific. */
#include "exc.h"
#include "isr.h"

void breakpoint_handler(struct regs *r);

/* Called by isr_breakpoint with the 15 saved GPRs; the CPU frame follows. */
void breakpoint_handler(struct regs *r)
{
	exc_log_event(3, (struct iframe *)(r + 1), 0, 0, 0, (ureg_t)r);
}
