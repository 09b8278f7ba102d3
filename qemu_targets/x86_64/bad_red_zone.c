/*
 * bad-red-zone. This file is built WITHOUT -mno-red-zone (Makefile
 * NO_FLAGS), the flag arch.mk calls required. This leaf handler's locals
 * then live in the 128 bytes below rsp and rsp never moves: exactly where a
 * nested interrupt, exception or NMI on this stack would push its frame.
 * The Makefile labels the first store below rsp bug_red_zone (and the
 * build fails if GCC stops using the red zone here).
 *
 * Nothing nests in the scenario, so at run time the handler works and the
 * scenario PASSes: the bug is for static checks.
 */
#include "bad.h"
#include "exc.h"
#include "vectors.h"

ISR void bad_red_zone_handler(struct iframe *f)
{
	volatile struct iframe copy; /* in the red zone */

	copy.ip = f->ip;
	copy.cs = f->cs;
	copy.flags = f->flags;
	copy.sp = f->sp;
	copy.ss = f->ss;
	/* exc_log_event() by hand: a call would end the red zone's use. */
	exc_log.count++;
	exc_log.vector = VEC_BAD_RED_ZONE;
	exc_log.ip = copy.ip;
	exc_log.cs = copy.cs;
	exc_log.flags = copy.flags;
	exc_log.sp = copy.sp;
	exc_log.ss = copy.ss;
	exc_log.handler_sp = (ureg_t)&copy;
}
