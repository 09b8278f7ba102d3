#include "report.h"
#include "arch.h"
#include "hooks.h"
#include "pic.h"
#include "printf.h"
#include "string.h"
#include "x86.h"

static const char *scenario_name = "?";
static char first_failure[192];
static int failed;

void report_begin(const char *scenario)
{
	scenario_name = scenario;
	kprintf("isrdbg-kernel %s scenario=%s\n", ARCH_NAME, scenario);
}

static void vfail(const char *fmt, va_list ap)
{
	char msg[sizeof(first_failure)];

	kvsnprintf(msg, sizeof(msg), fmt, ap);
	kprintf("check failed: %s\n", msg);
	if (!failed)
		strlcpy(first_failure, msg, sizeof(first_failure));
	failed = 1;
}

void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(fmt, ap);
	va_end(ap);
}

int check(int cond, const char *fmt, ...)
{
	va_list ap;
	if (cond)
		return 1;
	va_start(ap, fmt);
	vfail(fmt, ap);
	va_end(ap);
	return 0;
}

int check_eq(const char *what, ureg_t got, ureg_t want)
{
	return check(got == want, "%s is %#lx, expected %#lx", what, got, want);
}

int check_range(const char *what, ureg_t v, const void *lo, const void *hi)
{
	return check(v >= (ureg_t)lo && v < (ureg_t)hi,
		     "%s %#lx is outside [%p, %p)", what, v, lo, hi);
}

void qemu_exit(unsigned code)
{
	volatile unsigned long spin;

	outb(DEBUG_EXIT_PORT, (uint8_t)code);
	/*
	 * QEMU 10 does not exit inside the port write: it asks its main loop
	 * to, and this CPU runs on for a moment.  Give it time (about a second
	 * under TCG) before concluding that there is no isa-debug-exit device.
	 */
	for (spin = 0; spin < 100000000UL; spin++)
		;
	kprintf("isa-debug-exit device missing: halting\n");
	for (;;) {
		cli();
		hlt();
	}
}

void finish(int ok)
{
	static int finishing;

	cli();
	if (finishing) /* a fault while reporting: don't recurse */
		qemu_exit(EXIT_FAIL);
	finishing = 1;
	pic_mask_all();

	if (failed)
		ok = 0;
	scenario_done(ok);
	if (ok)
		kprintf("PASS %s\n", scenario_name);
	else
		kprintf("FAIL %s: %s\n", scenario_name,
			failed ? first_failure : "scenario reported failure");
	qemu_exit(ok ? EXIT_PASS : EXIT_FAIL);
}

void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(fmt, ap);
	va_end(ap);
	finish(0);
}
