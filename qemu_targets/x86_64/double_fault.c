/* #DF: GCC interrupt handler on IST1. An abort: it ends the run. */
#include "double_fault.h"
#include "isr.h"
#include "memmap.h"
#include "report.h"

ISR void isr_double_fault(struct iframe *f, uword_t error)
{
	int ok = double_fault_check(f->ip, f->cs, (ureg_t)error);

	/* The frame itself sits at the top of the IST1 stack. */
	ok &= check_range("#DF frame", (ureg_t)f, ist1_stack, ist1_stack_top);
	finish(ok);
}
