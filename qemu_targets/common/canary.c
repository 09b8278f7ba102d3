#include "canary.h"
#include "printf.h"

ureg_t canary_expected[CANARY_NREGS];
ureg_t canary_actual[CANARY_NREGS];
ureg_t canary_sp_before, canary_sp_after;

/* Indexed by CANARY_xx so the table order cannot drift from the asm. */
#define PATTERN(idx, name, value) [idx] = value,
#define NAME(idx, name, value) [idx] = name,
static const ureg_t canary_patterns[CANARY_NREGS] = { CANARY_REGS(PATTERN) };
static const char *const canary_names[CANARY_NREGS] = { CANARY_REGS(NAME) };

void canary_reset(void)
{
	unsigned i;

	for (i = 0; i < CANARY_NREGS; i++) {
		canary_expected[i] = canary_patterns[i];
		/* Poisoned, so a harness that never reaches its store shows. */
		canary_actual[i] = ~canary_patterns[i];
	}
	canary_sp_before = 0;
	canary_sp_after = 1;
}

void canary_set(unsigned reg, ureg_t value)
{
	canary_expected[reg] = value;
	canary_actual[reg] = ~value;
}

ureg_t canary_check(void)
{
	ureg_t mask = 0;
	unsigned i;

	for (i = 0; i < CANARY_NREGS; i++) {
		if (canary_actual[i] == canary_expected[i])
			continue;
		mask |= 1UL << i;
		kprintf("canary FAIL %s changed %#lx -> %#lx\n", canary_names[i],
			canary_expected[i], canary_actual[i]);
	}
	if (canary_sp_after != canary_sp_before) {
		mask |= 1UL << CANARY_NREGS;
		kprintf("canary FAIL %s changed %#lx -> %#lx\n", CANARY_SP_NAME,
			canary_sp_before, canary_sp_after);
	}
	if (!mask)
		kprintf("canary ok\n");
	return mask;
}
