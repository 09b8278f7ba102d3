/*
 * Scenarios: a name on the kernel command line -> a function returning 1 on
 * PASS. To add one: write int sc_<name>(void) (usually a struct fault_case
 * and run_case()), add its trigger to triggers.S, and a row to a table
 * (scenario.c's, one of the sc_*.c ones, or <arch>/scenarios.c when it only
 * exists on one arch). A scenario that brings its own handler installs it
 * in its install hook, with idt_set_gate(): kmain runs the hook before
 * scenario_start(), so the debugger finds the final IDT there. The IDT is
 * rebuilt on every boot, so there is nothing to undo.
 */
#ifndef SCENARIO_H
#define SCENARIO_H

#include "types.h"

struct scenario {
	const char *name;
	int (*run)(void);
	void (*install)(void); /* optional: set gates etc. before scenario_start */
};

/* NULL-terminated tables, listed in this order: scenario.c, sc_bad.c,
 * sc_style.c, sc_nesting.c, <arch>/scenarios.c, sc_proc.c, sc_smp.c. */
extern const struct scenario common_scenarios[];
extern const struct scenario bad_scenarios[];
extern const struct scenario style_scenarios[];
extern const struct scenario nesting_scenarios[];
extern const struct scenario arch_scenarios[];
extern const struct scenario proc_scenarios[]; /* sc_proc.c */
extern const struct scenario smp_scenarios[];   /* sc_smp.c */

const struct scenario *scenario_find(const char *name);
void scenario_print_known(void);

/* GDT index 10: past the limit of both kernels' GDTs (7 entries), so
 * loading it into a segment register raises #GP(0x50). */
#define BAD_SELECTOR 0x50

/* Declares the symbols triggers.S generates for one trigger. */
#define DECLARE_TRIGGER(name)                                                  \
	void canary_##name(void);                                              \
	extern const char fault_insn_##name[], fault_resume_##name[]

/* The expected outcome of running one trigger. */
enum case_kind {
	CASE_FAULT, /* reported at the trigger; handler resumes at the fixup */
	CASE_TRAP,  /* returns by itself to the next instruction */
};

struct fault_case {
	void (*harness)(void);    /* canary_<name> */
	const char *insn, *resume; /* fault_insn_<name>, fault_resume_<name> */
	enum case_kind kind;
	int user;                 /* run the trigger in ring 3 */
	unsigned vector;
	int has_error;            /* the CPU pushes an error code */
	ureg_t error;             /* the architectural (SDM) value */
	/* Also accepted, with a note: what QEMU's TCG emulation pushes where
	 * it deviates from the SDM (see README "QEMU deviations"). 0: none. */
	ureg_t error_qemu;
	const void *fault_ip;     /* reported ip if not insn (NX fetch) */
	ureg_t sp_pushed;         /* bytes the trigger pushed before faulting */
	const void *cr2;          /* #PF: expected CR2 */
	const char *cr2_name;
	const void *stack_lo, *stack_hi; /* the handler must run here (IST) */
	unsigned events;          /* events the handlers log; 0 means 1 */
	int xmm;                  /* a CANARY_XMM_TRIGGER harness: check xmm */
};

#define CASE_TRIGGER(name)                                                     \
	.harness = canary_##name, .insn = fault_insn_##name,                   \
	.resume = fault_resume_##name

/* Runs the case with the current canary_expected[]; checks the handler's
 * record, the frame, the canaries. Returns 1 if everything matched. */
int run_case(const struct fault_case *c);
/* #PF case: the address register (CANARY_AX) is the faulting address. */
int run_pf_case(const struct fault_case *c);
/* #GP case: `mov %ax, %ds` with A = BAD_SELECTOR (see GP_CASE). */
int run_gp_case(const struct fault_case *c);
/* Software-interrupt case (see SOFT_INT_CASE): all canaries default. */
int run_int_case(const struct fault_case *c);

/* `int $vector` through harness <name>: a trap, no error code. */
#define SOFT_INT_CASE(name, vec)                                               \
	(&(struct fault_case){ CASE_TRIGGER(name), .kind = CASE_TRAP,          \
			       .vector = (vec) })
/* #GP(BAD_SELECTOR) from `mov %ax, %ds` in harness <name>; for run_gp_case. */
#define GP_CASE(name)                                                          \
	(&(struct fault_case){ CASE_TRIGGER(name), .vector = 13,               \
			       .has_error = 1, .error = BAD_SELECTOR })

/* Every scenario function. */
int sc_idle(void);
int sc_divide_error(void);
int sc_breakpoint(void);
int sc_invalid_opcode(void);
int sc_gp_selector(void);
int sc_np_gate(void);
int sc_int14(void);
int sc_nmi(void);
int sc_user_breakpoint(void);
int sc_pf_read_not_present(void);
int sc_pf_write_not_present(void);
int sc_pf_write_readonly(void);
int sc_pf_user_read_supervisor(void);
int sc_pf_user_write_readonly(void);
int sc_pf_user_read_not_present(void);
int sc_double_fault(void);
int sc_triple_fault(void);
int sc_timer(void);

#endif
