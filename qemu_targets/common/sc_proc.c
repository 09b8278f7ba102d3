/*
 * The process-model scenarios (proc.h, README "Process model"). Each
 * install hook picks the variant and the gates and builds the processes;
 * the scenario runs them with the timer on until all have exited and then
 * checks what the user programs counted.
 */
#include "cpu.h"
#include "idt.h"
#include "pic.h"
#include "proc.h"
#include "scenario.h"
#include "smp.h"
#include "vectors.h"

static void install(const struct proc_variant *v, const void *syscall_entry,
		    const void *timer_entry)
{
	proc_variant = *v;
	proc_setup();
	/* A trap gate leaves IF as ring 3 had it (on): the syscall runs
	 * preemptible, as xv6's do. */
	idt_set_gate(VEC_PROC_SYSCALL, syscall_entry,
		     v->preemptible ? GATE_TRAP : GATE_INTERRUPT, 3, 0);
	idt_install(VEC_TIMER, timer_entry);
}

static void in_proc_one_space(void)
{
	install(&(struct proc_variant){ .exec_and_signals = 1 },
		isr_proc_syscall, isr_proc_timer);
}

static void in_proc_own_cr3(void)
{
	install(&(struct proc_variant){ .own_cr3 = 1, .exec_and_signals = 1 },
		isr_proc_syscall, isr_proc_timer);
}

/* Every process runs the same program with its data and stack at the same
 * addresses (PROC_USER_VA) in an address space of its own, as processes of
 * a real kernel do: only CR3 tells their contexts apart. */
static void in_proc_same_va(void)
{
	install(&(struct proc_variant){ .own_cr3 = 1, .same_va = 1,
					.exec_and_signals = 1 },
		isr_proc_syscall, isr_proc_timer);
}

/* Syscalls run with interrupts on (a trap gate), and the timer preempts
 * them: timer runs nest in syscall runs, on the per-process kernel stacks,
 * and switch processes from there. */
static void in_proc_preemptible(void)
{
	install(&(struct proc_variant){ .own_cr3 = 1, .preemptible = 1,
					.exec_and_signals = 1 },
		isr_proc_syscall, isr_proc_timer);
}

#ifdef __x86_64__
static void in_proc_entry_stack(void)
{
	install(&(struct proc_variant){ .own_cr3 = 1, .entry_stack = 1,
					.exec_and_signals = 1 },
		isr_proc_entry_syscall, isr_proc_entry_timer);
}
#endif

/* The broken variants run without exec and signals: every process makes
 * the same syscalls every round. */
static void in_bad_proc_syscall_rbx(void)
{
	install(&(struct proc_variant){ 0 }, bad_proc_syscall_rbx_handler,
		isr_proc_timer);
}

static void in_bad_proc_switch(void)
{
	install(&(struct proc_variant){ 0 }, isr_proc_syscall,
		bad_proc_switch_handler);
}

static void in_bad_proc_other_trapframe(void)
{
	install(&(struct proc_variant){ .bug_other_trapframe = 1 },
		isr_proc_syscall, isr_proc_timer);
}

/*
 * The timer rate of the proc scenarios. Slower than the others' 1 kHz: a
 * debugger that stops at every handler entry and exit leaves the guest so
 * little running time per tick at 1 kHz that the next tick is pending at
 * almost every return to ring 3, and the processes hardly advance.
 */
#define PROC_HZ 100

static int sc_proc(void)
{
	int ok;

	/* Every CPU QEMU has: one takes the PIT on IRQ0 as before; with
	 * more, each its LAPIC timer, same vector and handler (smp.h). */
	smp_run_timed(proc_cpu_main, PROC_HZ);
	ok = proc_report();
	return ok;
}

#ifdef __x86_64__
#define BAD_SWITCH "bad-proc-switch-r11"
#else
#define BAD_SWITCH "bad-proc-switch-ecx"
#endif

const struct scenario proc_scenarios[] = {
	{ "proc-one-space", sc_proc, in_proc_one_space },
	{ "proc-own-cr3", sc_proc, in_proc_own_cr3 },
	{ "proc-same-va", sc_proc, in_proc_same_va },
	{ "proc-preemptible", sc_proc, in_proc_preemptible },
#ifdef __x86_64__
	{ "proc-entry-stack", sc_proc, in_proc_entry_stack },
#endif
	{ "bad-proc-syscall-rbx", sc_proc, in_bad_proc_syscall_rbx },
	{ BAD_SWITCH, sc_proc, in_bad_proc_switch },
	{ "bad-proc-other-trapframe", sc_proc, in_bad_proc_other_trapframe },
	{ NULL, NULL, NULL },
};
