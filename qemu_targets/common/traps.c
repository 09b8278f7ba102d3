/* C halves of the assembly stubs (see <arch>/isr.S for the frame layouts). */
#include "cpu.h"
#include "exc.h"
#include "isr.h"
#include "printf.h"
#include "report.h"
#include "segments.h"
#include "smp.h"
#include "x86.h"

volatile ureg_t timer_ticks;

/* The stubs push the GPRs right below the CPU frame. */
static struct iframe *frame_after(struct regs *r)
{
	return (struct iframe *)(r + 1);
}

void page_fault_handler(struct regs *r, struct iframe *f, ureg_t error,
			int has_error)
{
	ureg_t cr2 = read_cr2(); /* first, before anything can fault again */

	(void)r;
	if (!has_error) {
		/* The stub saw soft_int14_expected: this is `int $14`, a
		 * software interrupt that returns to the next instruction. */
		soft_int14_expected = 0;
		exc_log_event(14, f, 0, 0, cr2, (ureg_t)r);
		return;
	}
	fault_fixup(14, f, 1, error, cr2);
}

/* EOI is sent by the stub, after this returns; with a local APIC timer on
 * every CPU (smp.h) the LAPIC's EOI is sent here. */
void timer_tick(void)
{
	__atomic_add_fetch(&timer_ticks, 1, __ATOMIC_RELAXED); /* any CPU */
	if (smp_lapic_timers)
		smp_timer_tick();
}

void nmi_handler(struct regs *r)
{
	exc_log_event(2, frame_after(r), 0, 0, 0, (ureg_t)r);
}

/* Trap after single-step or `int1`: log, and stop single-stepping. */
void debug_handler(struct regs *r)
{
	struct iframe *f = frame_after(r);

	exc_log_event(1, f, 0, 0, 0, (ureg_t)r);
	f->flags &= ~EFLAGS_TF;
}

void stub_log_trap(ureg_t vector, struct iframe *f)
{
	exc_log_event((unsigned)vector, f, 0, 0, 0, HANDLER_SP);
}

void stub_fault(ureg_t vector, struct iframe *f, ureg_t error)
{
	fault_fixup((unsigned)vector, f, 1, error, vector == 14 ? read_cr2() : 0);
}

static int is_code_selector(ureg_t sel)
{
	return sel == SEL_KCODE || sel == SEL_UCODE;
}

static int exc_has_error_code(unsigned vector)
{
	switch (vector) {
	case 8: case 10: case 11: case 12: case 13: case 14:
	case 17: case 21: case 29: case 30:
		return 1;
	default:
		return 0;
	}
}

void unexpected_exception(struct exc_frame *e)
{
	unsigned vector = (unsigned)e->vector;
	struct iframe *f = &e->f;
	int has_error = exc_has_error_code(vector);

	/* A software `int $N` to an error-code vector pushes no error code,
	 * so the CPU frame starts where the stub expected the error code. */
	if (has_error && !is_code_selector(f->cs) && is_code_selector(f->ip)) {
		kprintf("isr_exc%u: no error code on the stack (software int?)\n",
			vector);
		f = (struct iframe *)&e->error;
		has_error = 0;
	}
	regs_dump(&e->r);
	unexpected_event(vector, f, has_error, e->error, read_cr2());
}

/* isr_default serves ~220 vectors and cannot know which one fired; for a
 * software interrupt the `int imm8` just before the return address tells. */
void unexpected_interrupt(struct regs *r)
{
	struct iframe *f = frame_after(r);
	const uint8_t *insn = (const uint8_t *)f->ip - 2;

	regs_dump(r);
	if (insn[0] == 0xcd)
		kprintf("isr_default: looks like software `int $%#x`\n",
			insn[1]);
	kprintf("unexpected interrupt (shared isr_default): ip=%p cs=%#lx "
		"flags=%#lx\n", (void *)f->ip, f->cs, f->flags);
	panic("unexpected interrupt in isr_default at ip %p", (void *)f->ip);
}
