#include "canary.h"
#include "printf.h"
#include "string.h"

ureg_t canary_expected[CANARY_NREGS];
ureg_t canary_actual[CANARY_NREGS];
ureg_t canary_sp_before, canary_sp_after;
uint16_t canary_ds_before, canary_ds_after;
uint16_t canary_es_before, canary_es_after;
uint8_t canary_xmm_expected[CANARY_NXMM][16];
uint8_t canary_xmm_actual[CANARY_NXMM][16];

/* Indexed by CANARY_xx so the table order cannot drift from the asm. */
#define PATTERN(idx, name, value) [idx] = value,
#define NAME(idx, name, value) [idx] = name,
static const ureg_t canary_patterns[CANARY_NREGS] = { CANARY_REGS(PATTERN) };
static const char *const canary_names[CANARY_NREGS] = { CANARY_REGS(NAME) };

ureg_t canary_pattern(unsigned reg)
{
	return canary_patterns[reg];
}

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
	canary_ds_before = canary_es_before = 0;
	canary_ds_after = canary_es_after = 0xffff;
}

void canary_set(unsigned reg, ureg_t value)
{
	canary_expected[reg] = value;
	canary_actual[reg] = ~value;
}

ureg_t canary_compare(const char *who, const ureg_t *want, const ureg_t *got)
{
	ureg_t mask = 0;
	unsigned i;

	for (i = 0; i < CANARY_NREGS; i++) {
		if (got[i] == want[i])
			continue;
		mask |= 1UL << i;
		kprintf("canary FAIL %s%s changed %#lx -> %#lx\n", who,
			canary_names[i], want[i], got[i]);
	}
	return mask;
}

static ureg_t check_seg(const char *name, uint16_t before, uint16_t after,
			ureg_t bit)
{
	if (before == after)
		return 0;
	kprintf("canary FAIL %s changed %#x -> %#x\n", name, before, after);
	return bit;
}

ureg_t canary_check(void)
{
	ureg_t mask = canary_compare("", canary_expected, canary_actual);

	if (canary_sp_after != canary_sp_before) {
		int down = canary_sp_after < canary_sp_before;

		mask |= CANARY_SP_BIT;
		kprintf("canary FAIL %s changed %#lx -> %#lx (%c%#lx)\n",
			CANARY_SP_NAME, canary_sp_before, canary_sp_after,
			down ? '-' : '+',
			down ? canary_sp_before - canary_sp_after
			     : canary_sp_after - canary_sp_before);
	}
	mask |= check_seg("ds", canary_ds_before, canary_ds_after,
			  CANARY_DS_BIT);
	mask |= check_seg("es", canary_es_before, canary_es_after,
			  CANARY_ES_BIT);
	if (!mask)
		kprintf("canary ok\n");
	return mask;
}

void canary_xmm_reset(void)
{
	unsigned i;

	for (i = 0; i < CANARY_NXMM; i++) {
		memset(canary_xmm_expected[i], 0xe0 + i, 16);
		memset(canary_xmm_actual[i], ~(0xe0 + i), 16);
	}
}

static void print_xmm(const uint8_t *v)
{
	unsigned i;

	for (i = 0; i < 16; i++)
		kprintf("%02x", v[i]);
}

unsigned canary_xmm_check(void)
{
	unsigned i, mask = 0;

	for (i = 0; i < CANARY_NXMM; i++) {
		if (!memcmp(canary_xmm_expected[i], canary_xmm_actual[i], 16))
			continue;
		mask |= 1u << i;
		kprintf("canary FAIL xmm%u changed ", i);
		print_xmm(canary_xmm_expected[i]);
		kprintf(" -> ");
		print_xmm(canary_xmm_actual[i]);
		kprintf("\n");
	}
	if (!mask)
		kprintf("canary xmm ok\n");
	return mask;
}
