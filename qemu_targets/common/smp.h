/*
 * More than one CPU: which CPUs there are (the BIOS MP table), starting the
 * others (INIT-SIPI-SIPI into <arch>/ap_boot.S), and which CPU is running
 * (cpu_index()). Nothing here runs unless a scenario calls smp_start(): a
 * boot that does not stays on one CPU even under `-smp 2`, exactly as
 * before, and the other CPUs wait for a STARTUP IPI that never comes.
 *
 * For code that runs on every CPU (the process model's scheduler, timer
 * handlers): cpu_index() is 0 on the boot CPU and 1..smp_cpus-1 on the
 * others, in any context (ring 0, any stack, interrupts on or off); it reads
 * the local APIC's ID register (one uncached load) and needs nothing from
 * the entry stubs: no GS base to swap, no per-CPU segment to load.
 * Assembly-safe constants.
 */
#ifndef SMP_H
#define SMP_H

#define SMP_MAX_CPUS 4      /* CPUs beyond this are left halted */
#define AP_BOOT_ADDR 0x8000 /* the real-mode trampoline (below 1 MiB) */

#ifndef __ASSEMBLER__
#include "types.h"

/* CPUs running: 1 until smp_start(), then every CPU that checked in. */
extern volatile unsigned smp_cpus;

/* 0 = the boot CPU; valid on any CPU at any time. */
unsigned cpu_index(void);

/*
 * Finds the CPUs in the MP table, enables the local APICs and starts every
 * other CPU, one at a time. Each gets its own GDT + TSS (RSP0/ESP0, and on
 * x86_64 IST1/IST2 stacks), boot stack, the shared IDT and page tables, and
 * then calls ap_main() on its boot stack with interrupts off; if ap_main
 * returns, the CPU halts for good. Returns the number of CPUs online (1 if
 * the MP table lists one CPU or none: QEMU's SeaBIOS lists one per socket,
 * so `-smp 2,sockets=2`, which isrdbg's launcher passes for --smp 2).
 * A CPU that does not check in within a second FAILs the run. Once per
 * boot: a second call returns smp_cpus and starts nothing.
 */
unsigned smp_start(void (*ap_main)(void));

/*
 * Runs fn() on every CPU, each with a timer on vector 32 at about hz:
 * on one CPU the PIT through the PIC (IRQ0 unmasked, everything masked
 * again after), exactly as a one-CPU scenario does; on more, every CPU's
 * LAPIC timer (smp_lapic_timers). Interrupts are off when fn() starts; it
 * enables them as it likes. Returns once fn() returned on every CPU (each
 * other CPU then halts), with the number of CPUs it ran on.
 */
unsigned smp_run_timed(void (*fn)(void), unsigned hz);

/* Each CPU's stacks, for checks ("did this CPU's interrupt land on its own
 * stack?"). CPU 0's are boot_stack and kernel_stack (stacks.S). */
const void *cpu_boot_stack(unsigned cpu);
const void *cpu_boot_stack_top(unsigned cpu);

/*
 * Timers on every CPU: once smp_lapic_timers is set, timer_tick() (the
 * vector-32 handler's C half) counts per CPU and sends the EOI to the local
 * APIC; the stub's PIC EOI finds nothing in service (the PIT line stays
 * masked) and changes nothing. Start each CPU's timer with
 * lapic_timer_start(VEC_TIMER, hz) on that CPU. A handler of your own on
 * the timer vector calls timer_eoi() instead of writing the PIC.
 */
extern volatile int smp_lapic_timers;
extern volatile ureg_t cpu_timer_ticks[SMP_MAX_CPUS];
extern volatile ureg_t cpu_timer_sp_lo[SMP_MAX_CPUS], cpu_timer_sp_hi[SMP_MAX_CPUS];
void smp_timer_tick(void);
/* The EOI for whichever timer raised vector 32: LAPIC or PIC. */
void timer_eoi(void);
#endif

#endif
