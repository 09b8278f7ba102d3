/*
 * Part 3: nesting and task switching (nesting.h, task_switch.h). All PASS.
 */
#include "canary.h"
#include "config.h"
#include "cpu.h"
#include "exc.h"
#include "idt.h"
#include "nesting.h"
#include "pic.h"
#include "printf.h"
#include "report.h"
#include "scenario.h"
#include "segments.h"
#include "task_switch.h"
#include "vectors.h"

DECLARE_TRIGGER(nested_exception);
DECLARE_TRIGGER(nested_irq);
DECLARE_TRIGGER(task_switch);

static void in_nested_exception(void)
{
	/* A trap gate like isr_breakpoint's, but ring 0 only. */
	idt_set_gate(VEC_BP, nested_bp_handler, GATE_TRAP, 0, 0);
}

/*
 * int3 -> nested_bp_handler -> ud2 -> isr_invalid_opcode (nested on top)
 * -> fixup -> back in nested_bp_handler -> iret. Two events: the #UD first
 * (nested_inner), then the #BP (exc_log, checked by run_case).
 */
static int sc_nested_exception(void)
{
	int ok;

	canary_reset();
	ok = run_case(&(struct fault_case){ CASE_TRIGGER(nested_exception),
					    .kind = CASE_TRAP, .vector = VEC_BP,
					    .events = 2 });
	kprintf("inner #UD: ip=%#lx cs=%#lx handler_sp=%#lx (outer #BP "
		"handler_sp=%#lx)\n", nested_inner.ip, nested_inner.cs,
		nested_inner.handler_sp, exc_log.handler_sp);
	ok &= check_eq("inner vector", nested_inner.vector, VEC_UD);
	ok &= check_eq("inner frame ip", nested_inner.ip,
		       (ureg_t)nested_ud2_insn);
	ok &= check_eq("inner frame cs", nested_inner.cs, SEL_KCODE);
	/* The #UD ran on the same stack, below the #BP handler. */
	ok &= check(nested_inner.handler_sp < exc_log.handler_sp,
		    "inner handler_sp %#lx is not below the outer's %#lx",
		    nested_inner.handler_sp, exc_log.handler_sp);
	return ok;
}

static void in_nested_irq(void)
{
	idt_install(VEC_NESTED_IRQ, nested_irq_handler);
}

/*
 * int $0x30 with IF=0 -> nested_irq_handler enables interrupts and waits
 * for `ticks` IRQ0s, each handled by isr_timer on top of it.
 */
static int sc_nested_irq(void)
{
	int ok;

	pit_set_hz(config.hz);
	timer_ticks = 0;
	nested_irq_ticks = 0;
	canary_reset();
	pic_set_mask((uint16_t)~(1u << 0)); /* IRQ0 only */
	ok = run_case(SOFT_INT_CASE(nested_irq, VEC_NESTED_IRQ));
	pic_mask_all();

	kprintf("nested-irq: %lu timer interrupts inside the handler, %lu in "
		"all\n", nested_irq_ticks, timer_ticks);
	ok &= check(nested_irq_ticks >= config.ticks,
		    "only %lu of %u timer interrupts inside the handler",
		    nested_irq_ticks, config.ticks);
	/* IF=1 only inside the handler, so no tick can have come elsewhere
	 * (one left pending at its cli would be dropped by the masking). */
	ok &= check_eq("timer interrupts outside the handler",
		       timer_ticks - nested_irq_ticks, 0);
	return ok;
}

static void in_task_switch(void)
{
	task_switch_init();
	idt_install(VEC_TIMER, isr_task_switch);
}

/*
 * Thread A (the harness, all GPRs canaries, R_CX = ticks) halts until it
 * has been switched back in `ticks` times; thread B runs in between.
 */
static int sc_task_switch(void)
{
	int ok;

	pit_set_hz(config.hz);
	canary_reset();
	canary_set(CANARY_CX, config.ticks);
	pic_set_mask((uint16_t)~(1u << 0)); /* IRQ0 only */
	canary_task_switch();               /* sti; hlt until runs; cli */
	pic_mask_all();

	kprintf("task-switch: %lu stack switches; thread A switched in %lu "
		"times, thread B %lu\n", task_switches, task_a_runs,
		task_b_runs);
	ok = check(task_a_runs >= config.ticks,
		   "thread A switched in only %lu of %u times", task_a_runs,
		   config.ticks);
	ok &= check(task_b_runs >= task_a_runs,
		    "thread B switched in %lu times, A %lu", task_b_runs,
		    task_a_runs);
	ok &= check(canary_check() == 0,
		    "thread A's registers changed across the switches");
	ok &= check(canary_compare("thread B ", task_b_expected,
				   task_b_actual) == 0,
		    "thread B's registers changed across the switches");
	ok &= check_eq("thread B stack pointer", task_b_sp_actual,
		       task_b_sp_expected);
	if (ok)
		kprintf("thread B canaries ok\n");
	return ok;
}

const struct scenario nesting_scenarios[] = {
	{ "nested-exception", sc_nested_exception, in_nested_exception },
	{ "nested-irq", sc_nested_irq, in_nested_irq },
	{ "task-switch", sc_task_switch, in_task_switch },
	{ NULL, NULL, NULL },
};
