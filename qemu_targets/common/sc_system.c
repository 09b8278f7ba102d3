/* Scenarios about the machine rather than one exception: idle, timer, #DF,
 * triple fault. */
#include "canary.h"
#include "config.h"
#include "cpu.h"
#include "double_fault.h"
#include "exc.h"
#include "pic.h"
#include "printf.h"
#include "report.h"
#include "scenario.h"

DECLARE_TRIGGER(timer);
DECLARE_TRIGGER(double_fault);
DECLARE_TRIGGER(triple_fault);

int sc_idle(void)
{
	return 1;
}

int sc_timer(void)
{
	ureg_t handled;
	int ok;

	pit_set_hz(config.hz);
	timer_ticks = 0;
	canary_reset();
	canary_set(CANARY_CX, config.ticks); /* the harness loops to this */
	pic_set_mask((uint16_t)~(1u << 0));  /* IRQ0 only */
	canary_timer();                      /* sti; hlt until ticks; cli */
	pic_mask_all();
	handled = timer_ticks;

	kprintf("timer: handled %lu interrupts\n", handled);
	/* >=: one more tick may land between the final compare and cli. */
	ok = check(handled >= config.ticks, "only %lu of %u timer interrupts",
		   handled, config.ticks);
	ok &= check(canary_check() == 0, "registers changed across IRQ0");
	return ok;
}

/*
 * #GP (DS load with a bad selector) -> gate 13 not present -> #NP while
 * delivering it -> #DF. The #DF handler ends the run itself.
 */
int sc_double_fault(void)
{
	idt_set_present(11, 0);
	idt_set_present(13, 0);
	canary_reset();
	canary_set(CANARY_AX, BAD_SELECTOR);
	double_fault_expected = 1;
	canary_double_fault();
	return check(0, "no double fault: the trigger returned");
}

/*
 * #GP -> gate 13 not present -> #NP -> gate 11 not present -> #DF -> gate 8
 * not present: a triple fault. The CPU shuts down; with -no-reboot QEMU
 * exits with status 0 and no PASS/FAIL line. For tools that must tell a
 * triple fault from a normal end (isrdbg run).
 */
int sc_triple_fault(void)
{
	idt_set_present(8, 0);
	idt_set_present(11, 0);
	idt_set_present(13, 0);
	canary_reset();
	canary_set(CANARY_AX, BAD_SELECTOR);
	canary_triple_fault();
	return check(0, "no triple fault: the trigger returned");
}
