/*
 * What the handlers record, and the fault-recovery protocol.
 *
 * A scenario that expects a fault sets expected_fault_rip to the address the
 * CPU will report and fault_resume_rip to a fixup label. The fault handler
 * logs the event, and, only if the frame's ip matches, rewrites it to the
 * fixup and returns; anything else is reported and ends the run FAIL.
 * Trap-style handlers (#DB, NMI, #BP, #OF, software int $14) just log.
 */
#ifndef EXC_H
#define EXC_H

#include "frame.h"

/* #PF error code bits */
#define PF_P 0x01    /* protection violation (0: page not present) */
#define PF_W 0x02    /* write */
#define PF_U 0x04    /* CPL 3 */
#define PF_RSVD 0x08 /* reserved bit set in a paging entry */
#define PF_ID 0x10   /* instruction fetch */

/* Error code naming an IDT entry (#NP/#GP raised by a gate). */
#define IDT_ERROR(vector) (((vector) << 3) | 2)
/* QEMU TCG pushes vector * 16 + 2 in long mode (do_interrupt64 scales by
 * the 16-byte gate size); see arch.h for the per-arch value. */
#define IDT_ERROR_QEMU(vector) ((vector) * IDT_GATE_SIZE + 2)

extern volatile ureg_t expected_fault_rip; /* 0: no fault expected */
extern volatile ureg_t fault_resume_rip;
/* Set only around the int14 scenario's `int $14`: tells isr_page_fault that
 * the CPU pushed no error code. Byte-sized because the stub tests it. */
extern volatile unsigned char soft_int14_expected;
/* Bumped by timer_tick(); word-sized because the timer harness compares it. */
extern volatile ureg_t timer_ticks;

struct exc_log {
	unsigned count;  /* events since exc_log_reset() */
	unsigned vector; /* of the last event */
	int has_error;   /* the CPU pushed an error code */
	ureg_t error;
	ureg_t cr2;      /* #PF only */
	/* the CPU frame as the handler found it (before any fixup) */
	ureg_t ip, cs, flags, sp, ss; /* sp/ss 0 when not pushed (i386) */
	ureg_t handler_sp; /* where the handler ran: stack-switch checks */
};
extern volatile struct exc_log exc_log;

void exc_log_reset(void);
void exc_log_event(unsigned vector, const struct iframe *f, int has_error,
		   ureg_t error, ureg_t cr2, ureg_t handler_sp);
/* Log + redirect to fault_resume_rip, or panic if the fault is unexpected. */
void fault_fixup(unsigned vector, struct iframe *f, int has_error,
		 ureg_t error, ureg_t cr2);
NORETURN void unexpected_event(unsigned vector, const struct iframe *f,
			       int has_error, ureg_t error, ureg_t cr2);
const char *exc_name(unsigned vector);

#endif
