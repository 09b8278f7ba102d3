#include "scenario.h"
#include "printf.h"
#include "string.h"

const struct scenario common_scenarios[] = {
	{ "idle", sc_idle, NULL },
	{ "divide-error", sc_divide_error, NULL },
	{ "breakpoint", sc_breakpoint, NULL },
	{ "invalid-opcode", sc_invalid_opcode, NULL },
	{ "gp-selector", sc_gp_selector, NULL },
	{ "np-gate", sc_np_gate, NULL },
	{ "pf-read-not-present", sc_pf_read_not_present, NULL },
	{ "pf-write-not-present", sc_pf_write_not_present, NULL },
	{ "pf-write-readonly", sc_pf_write_readonly, NULL },
	{ "pf-user-read-supervisor", sc_pf_user_read_supervisor, NULL },
	{ "pf-user-write-readonly", sc_pf_user_write_readonly, NULL },
	{ "pf-user-read-not-present", sc_pf_user_read_not_present, NULL },
	{ "user-breakpoint", sc_user_breakpoint, NULL },
	{ "int14", sc_int14, NULL },
	{ "nmi", sc_nmi, NULL },
	{ "double-fault", sc_double_fault, NULL },
	{ "triple-fault", sc_triple_fault, NULL },
	{ "timer", sc_timer, NULL },
	{ NULL, NULL, NULL },
};

static const struct scenario *const tables[] = {
	common_scenarios, bad_scenarios, style_scenarios, nesting_scenarios,
	arch_scenarios, proc_scenarios, smp_scenarios,
};

const struct scenario *scenario_find(const char *name)
{
	const struct scenario *s;
	size_t t;

	for (t = 0; t < ARRAY_SIZE(tables); t++)
		for (s = tables[t]; s->name; s++)
			if (!strcmp(s->name, name))
				return s;
	return NULL;
}

/* One line, so scripts can parse it: "known scenarios: a b c". */
void scenario_print_known(void)
{
	const struct scenario *s;
	size_t t;

	kprintf("known scenarios:");
	for (t = 0; t < ARRAY_SIZE(tables); t++)
		for (s = tables[t]; s->name; s++)
			kprintf(" %s", s->name);
	kprintf("\n");
}
