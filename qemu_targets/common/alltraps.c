/* C half of the xv6-style alltraps (<arch>/alltraps.S). */
#include "exc.h"
#include "style.h"
#include "vectors.h"

/*
 * slot[0] is the vector the entry stub pushed, slot[1] the error code (the
 * CPU's, or the stub's dummy 0), and the CPU frame follows: the same on
 * both arches, whatever alltraps saved below it.
 */
void alltraps_trap(ureg_t *slot)
{
	struct iframe *f = (struct iframe *)(slot + 2);

	if (slot[0] == VEC_GP)
		fault_fixup(VEC_GP, f, 1, slot[1], 0);
	else
		exc_log_event((unsigned)slot[0], f, 0, 0, 0, (ureg_t)slot);
}
