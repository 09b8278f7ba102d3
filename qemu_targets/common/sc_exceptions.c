/* Scenarios for the non-paging exceptions and software interrupts. */
#include "canary.h"
#include "cpu.h"
#include "exc.h"
#include "memmap.h"
#include "report.h"
#include "scenario.h"

/* A vector whose gate np-gate marks not present. */
#define NP_VECTOR 0x41

DECLARE_TRIGGER(divide_error);
DECLARE_TRIGGER(breakpoint);
DECLARE_TRIGGER(invalid_opcode);
DECLARE_TRIGGER(gp_selector);
DECLARE_TRIGGER(np_gate);
DECLARE_TRIGGER(int14);
DECLARE_TRIGGER(nmi);
DECLARE_TRIGGER(user_breakpoint);

int sc_divide_error(void)
{
	canary_reset();
	canary_set(CANARY_CX, 0); /* the divisor */
	return run_case(&(struct fault_case){ CASE_TRIGGER(divide_error),
					      .vector = 0 });
}

int sc_breakpoint(void)
{
	canary_reset();
	return run_case(&(struct fault_case){ CASE_TRIGGER(breakpoint),
					      .kind = CASE_TRAP, .vector = 3 });
}

int sc_invalid_opcode(void)
{
	canary_reset();
	return run_case(&(struct fault_case){ CASE_TRIGGER(invalid_opcode),
					      .vector = 6 });
}

int sc_gp_selector(void)
{
	canary_reset();
	canary_set(CANARY_AX, BAD_SELECTOR); /* mov %ax, %ds */
	/* The load faults before DS changes: nothing to restore. */
	return run_case(&(struct fault_case){ CASE_TRIGGER(gp_selector),
					      .vector = 13, .has_error = 1,
					      .error = BAD_SELECTOR });
}

int sc_np_gate(void)
{
	int ok;

	idt_set_present(NP_VECTOR, 0);
	canary_reset();
	ok = run_case(&(struct fault_case){ CASE_TRIGGER(np_gate),
					    .vector = 11, .has_error = 1,
					    .error = IDT_ERROR(NP_VECTOR),
					    .error_qemu = IDT_ERROR_QEMU(NP_VECTOR) });
	idt_set_present(NP_VECTOR, 1);
	return ok;
}

int sc_int14(void)
{
	int ok;

	canary_reset();
	soft_int14_expected = 1;
	ok = run_case(&(struct fault_case){ CASE_TRIGGER(int14),
					    .kind = CASE_TRAP, .vector = 14 });
	ok &= check(!soft_int14_expected,
		    "#PF handler did not consume soft_int14_expected");
	soft_int14_expected = 0;
	return ok;
}

int sc_nmi(void)
{
	struct fault_case c = { CASE_TRIGGER(nmi), .kind = CASE_TRAP,
				.vector = 2 };
#if IST_NMI
	/* The gate names an IST slot: the CPU must have switched stacks. */
	c.stack_lo = ist2_stack;
	c.stack_hi = ist2_stack_top;
#endif
	canary_reset();
	return run_case(&c);
}

int sc_user_breakpoint(void)
{
	canary_reset();
	return run_case(&(struct fault_case){ CASE_TRIGGER(user_breakpoint),
					      .kind = CASE_TRAP, .user = 1,
					      .vector = 3 });
}
