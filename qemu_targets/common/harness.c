/* run_case(): drive one trigger and compare everything with expectations. */
#include "canary.h"
#include "exc.h"
#include "memmap.h"
#include "printf.h"
#include "report.h"
#include "scenario.h"
#include "segments.h"
#include "user.h"

static void print_event(const struct fault_case *c)
{
	if (!exc_log.count) {
		kprintf("%s: no exception was delivered\n", exc_name(c->vector));
		return;
	}
	kprintf("%s: vector=%u", exc_name(exc_log.vector), exc_log.vector);
	if (exc_log.has_error)
		kprintf(" error=%#lx", exc_log.error);
	else
		kprintf(" (no error code)");
	if (exc_log.vector == 14 && exc_log.has_error)
		kprintf(" cr2=%#lx (%s)", exc_log.cr2,
			c->cr2_name ? c->cr2_name : "?");
	kprintf(" ip=%#lx cs=%#lx", exc_log.ip, exc_log.cs);
	if (exc_log.ss || exc_log.sp)
		kprintf(" sp=%#lx ss=%#lx", exc_log.sp, exc_log.ss);
	kprintf(" handler_sp=%#lx\n", exc_log.handler_sp);
}

int run_case(const struct fault_case *c)
{
	ureg_t want_ip = c->kind == CASE_FAULT
				 ? (ureg_t)(c->fault_ip ? c->fault_ip : c->insn)
				 : (ureg_t)c->resume; /* traps return past insn */
	int ok = 1;

	exc_log_reset();
	syscall_cs = syscall_ip = 0;
	if (c->kind == CASE_FAULT) {
		fault_resume_rip = (ureg_t)c->resume;
		expected_fault_rip = want_ip;
	}
	if (c->xmm)
		canary_xmm_reset();
	if (c->user)
		run_user(c->harness);
	else
		c->harness();
	expected_fault_rip = 0;

	print_event(c);
	ok &= check_eq("events handled", exc_log.count,
		       c->events ? c->events : 1);
	ok &= check_eq("vector", exc_log.vector, c->vector);
	ok &= check(exc_log.has_error == c->has_error,
		    c->has_error ? "no error code recorded"
				 : "unexpected error code recorded");
	if (c->error_qemu && exc_log.error == c->error_qemu &&
	    c->error_qemu != c->error)
		kprintf("note: error code %#lx is QEMU TCG's; the SDM value is "
			"%#lx (both accepted)\n", c->error_qemu, c->error);
	else
		ok &= check_eq("error code", exc_log.error, c->error);
	ok &= check_eq("frame ip", exc_log.ip, want_ip);
	ok &= check_eq("frame cs", exc_log.cs, c->user ? SEL_UCODE : SEL_KCODE);
	if (c->user) {
		ok &= check_eq("frame ss", exc_log.ss, SEL_UDATA);
		ok &= check_eq("int $0x80 came from cs", syscall_cs, SEL_UCODE);
	}
	/* The CPU saved the stack pointer: it must be the trigger's. */
	if (exc_log.ss || exc_log.sp)
		ok &= check_eq("frame sp", exc_log.sp,
			       canary_sp_before - c->sp_pushed);
	if (c->cr2)
		ok &= check_eq("cr2", exc_log.cr2, (ureg_t)c->cr2);
	if (c->stack_lo)
		ok &= check_range("handler stack", exc_log.handler_sp,
				  c->stack_lo, c->stack_hi);
	ok &= check(canary_check() == 0, "registers changed across the %s",
		    exc_name(c->vector));
	if (c->xmm)
		ok &= check(canary_xmm_check() == 0,
			    "xmm registers changed across the %s",
			    exc_name(c->vector));
	return ok;
}

int run_pf_case(const struct fault_case *c)
{
	canary_reset();
	canary_set(CANARY_AX, (ureg_t)c->cr2);
	return run_case(c);
}

int run_int_case(const struct fault_case *c)
{
	canary_reset();
	return run_case(c);
}

int run_gp_case(const struct fault_case *c)
{
	canary_reset();
	canary_set(CANARY_AX, BAD_SELECTOR); /* mov %ax, %ds */
	return run_case(c);
}
