/* Stack frames the CPU (and our stubs) build on interrupt entry. */
#ifndef FRAME_H
#define FRAME_H

#include "arch.h" /* struct regs: the stub's saved-GPR block */
#include "types.h"

/*
 * What the CPU pushes, read upwards from the return address (any error code
 * sits just below it).  sp/ss are always pushed in long mode; in protected
 * mode only when the interrupt changed privilege, see iframe_has_stack().
 */
struct iframe {
	ureg_t ip;
	ureg_t cs;
	ureg_t flags;
	ureg_t sp;
	ureg_t ss;
};

static inline int iframe_has_stack(const struct iframe *f)
{
	return IFRAME_ALWAYS_HAS_STACK || (f->cs & 3) != 0;
}

/* Layout built by the isr_exc<N> stubs: GPRs, vector, error code (0 if the
 * CPU pushed none), then the CPU frame. */
struct exc_frame {
	struct regs r;
	ureg_t vector;
	ureg_t error;
	struct iframe f;
};

#endif
