/* The nesting handlers (nesting.h); GCC __attribute__((interrupt)). */
#include "config.h"
#include "nesting.h"
#include "vectors.h"
#include "x86.h"

struct exc_log nested_inner;
volatile ureg_t nested_irq_ticks;

/*
 * Outer level of nested-exception (vector 3, trap gate): arms the fault
 * fixup, executes ud2, and the standard #UD handler (isr_invalid_opcode)
 * runs on top of this one and resumes it right after the ud2. Logs itself
 * last, so exc_log ends as the #BP and nested_inner holds the #UD.
 */
ISR void nested_bp_handler(struct iframe *f)
{
	expected_fault_rip = (ureg_t)nested_ud2_insn;
	fault_resume_rip = (ureg_t)nested_ud2_resume;
	__asm__ volatile(".globl nested_ud2_insn, nested_ud2_resume\n"
			 "nested_ud2_insn:\n\t"
			 "ud2\n"
			 "nested_ud2_resume:"
			 : : : "memory");
	nested_inner = exc_log;
	exc_log_event(VEC_BP, f, 0, 0, 0, HANDLER_SP);
}

/*
 * nested-irq (int $0x30, interrupt gate, so IF=0 on entry): enables
 * interrupts and halts until config.ticks timer interrupts were handled
 * (by the standard isr_timer) on top of this handler. Everywhere else the
 * scenario runs with IF=0, so every tick counted happened in here.
 */
ISR void nested_irq_handler(struct iframe *f)
{
	ureg_t start = timer_ticks;

	__asm__ volatile(".globl nested_irq_sti\n"
			 "nested_irq_sti:\n\t"
			 "sti"
			 : : : "memory");
	while (timer_ticks - start < config.ticks)
		hlt();
	cli();
	nested_irq_ticks = timer_ticks - start;
	exc_log_event(VEC_NESTED_IRQ, f, 0, 0, 0, HANDLER_SP);
}
