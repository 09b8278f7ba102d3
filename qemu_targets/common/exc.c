/* Exception bookkeeping shared by every handler style. */
#include "exc.h"
#include "printf.h"
#include "report.h"

volatile ureg_t expected_fault_rip;
volatile ureg_t fault_resume_rip;
volatile unsigned char soft_int14_expected;
volatile struct exc_log exc_log;

static const char *const names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "exception 15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "exception 22",
	"exception 23", "exception 24", "exception 25", "exception 26",
	"exception 27", "#HV", "#VC", "#SX", "exception 31",
};

const char *exc_name(unsigned vector)
{
	return vector < ARRAY_SIZE(names) ? names[vector] : "interrupt";
}

void exc_log_reset(void)
{
	exc_log.count = 0;
	exc_log.vector = ~0u;
	exc_log.has_error = 0;
	exc_log.error = exc_log.cr2 = 0;
	exc_log.ip = exc_log.cs = exc_log.flags = exc_log.sp = exc_log.ss = 0;
	exc_log.handler_sp = 0;
}

void exc_log_event(unsigned vector, const struct iframe *f, int has_error,
		   ureg_t error, ureg_t cr2, ureg_t handler_sp)
{
	exc_log.count++;
	exc_log.vector = vector;
	exc_log.has_error = has_error;
	exc_log.error = error;
	exc_log.cr2 = cr2;
	exc_log.ip = f->ip;
	exc_log.cs = f->cs;
	exc_log.flags = f->flags;
	exc_log.sp = iframe_has_stack(f) ? f->sp : 0;
	exc_log.ss = iframe_has_stack(f) ? f->ss : 0;
	exc_log.handler_sp = handler_sp;
}

void unexpected_event(unsigned vector, const struct iframe *f, int has_error,
		      ureg_t error, ureg_t cr2)
{
	kprintf("unexpected %s (vector %u): ip=%p cs=%#lx flags=%#lx",
		exc_name(vector), vector, (void *)f->ip, f->cs, f->flags);
	if (iframe_has_stack(f))
		kprintf(" sp=%p ss=%#lx", (void *)f->sp, f->ss);
	if (has_error)
		kprintf(" error=%#lx", error);
	if (vector == 14)
		kprintf(" cr2=%p", (void *)cr2);
	kprintf("\n");
	panic("unexpected %s (vector %u) at ip %p", exc_name(vector), vector,
	      (void *)f->ip);
}

void fault_fixup(unsigned vector, struct iframe *f, int has_error,
		 ureg_t error, ureg_t cr2)
{
	if (!expected_fault_rip || f->ip != expected_fault_rip)
		unexpected_event(vector, f, has_error, error, cr2);
	exc_log_event(vector, f, has_error, error, cr2,
		      (ureg_t)__builtin_frame_address(0));
	expected_fault_rip = 0; /* one-shot: a repeat fault is a bug */
	f->ip = fault_resume_rip;
}
