#include "double_fault.h"
#include "printf.h"
#include "report.h"
#include "scenario.h"
#include "segments.h"

DECLARE_TRIGGER(double_fault);

volatile int double_fault_expected;

int double_fault_check(ureg_t ip, ureg_t cs, ureg_t error)
{
	int ok = 1;

	kprintf("#DF: vector=8 error=%#lx ip=%#lx cs=%#lx\n", error, ip, cs);
	if (!double_fault_expected)
		panic("unexpected double fault at ip %#lx", ip);
	ok &= check_eq("#DF error code", error, 0);
	/* The SDM leaves the saved ip undefined for #DF; QEMU reports the
	 * instruction whose #GP could not be delivered. */
	ok &= check_eq("#DF ip", ip, (ureg_t)fault_insn_double_fault);
	ok &= check_eq("#DF cs", cs, SEL_KCODE);
	return ok;
}
