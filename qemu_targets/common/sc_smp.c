/* Scenarios on more than one CPU (smp.h): started by the scenario itself,
 * after scenario_start(), so a debugger armed there sees every CPU's runs. */
#include "config.h"
#include "lapic.h"
#include "printf.h"
#include "report.h"
#include "scenario.h"
#include "smp.h"
#include "vectors.h"
#include "x86.h"

#define DONE_TIMEOUT_US 10000000

static volatile unsigned timer_cpus_done;

/*
 * Every CPU: its own LAPIC timer on vector 32 (the same gate and handler,
 * isr_timer, as the PIT's), halting between interrupts until it took
 * ticks= of them. Each interrupt arrives on this CPU's boot stack, where it
 * halts.
 */
static void timer_cpu(void)
{
	unsigned cpu = cpu_index();

	lapic_timer_start(VEC_TIMER, config.hz);
	while (cpu_timer_ticks[cpu] < config.ticks)
		__asm__ volatile("sti; hlt; cli" : : : "memory");
	lapic_timer_stop();
	__atomic_add_fetch(&timer_cpus_done, 1, __ATOMIC_SEQ_CST);
}

static int sc_smp_timer(void)
{
	unsigned cpus, cpu;
	int ok;

	smp_lapic_timers = 1;
	cpus = smp_start(timer_cpu);
	if (!check(cpus >= 2, "smp-timer needs 2 CPUs, %u online "
		   "(QEMU: -smp 2,sockets=2)", cpus))
		return 0; /* one CPU: its LAPIC is not enabled, no timer */
	ok = 1;
	timer_cpu();
	lapic_clock_start(); /* this CPU's timer is stopped: a clock again */
	while (timer_cpus_done < cpus && lapic_clock_us() < DONE_TIMEOUT_US)
		__asm__ volatile("pause");
	ok &= check(timer_cpus_done == cpus, "only %u of %u CPUs finished",
		    timer_cpus_done, cpus);
	smp_lapic_timers = 0;

	for (cpu = 0; cpu < cpus; cpu++) {
		const void *lo = cpu_boot_stack(cpu), *hi = cpu_boot_stack_top(cpu);

		kprintf("smp-timer: CPU %u handled %lu interrupts, handler sp "
			"%#lx..%#lx (its stack %p..%p)\n", cpu,
			cpu_timer_ticks[cpu], cpu_timer_sp_lo[cpu],
			cpu_timer_sp_hi[cpu], lo, hi);
		ok &= check(cpu_timer_ticks[cpu] >= config.ticks,
			    "CPU %u: only %lu of %u timer interrupts", cpu,
			    cpu_timer_ticks[cpu], config.ticks);
		ok &= check_range("handler sp (lowest)", cpu_timer_sp_lo[cpu], lo, hi);
		ok &= check_range("handler sp (highest)", cpu_timer_sp_hi[cpu], lo, hi);
	}
	return ok;
}

const struct scenario smp_scenarios[] = {
	{ "smp-timer", sc_smp_timer, NULL },
	{ NULL, NULL, NULL },
};
