/* Check helpers and the single way a run ends (PASS/FAIL + debug-exit). */
#ifndef REPORT_H
#define REPORT_H

#include "types.h"

/* isa-debug-exit (iobase 0xf4): QEMU exits with status (value << 1) | 1. */
#define DEBUG_EXIT_PORT 0xf4
#define EXIT_PASS 0 /* QEMU exit status 1 */
#define EXIT_FAIL 1 /* QEMU exit status 3 */

/* Prints the banner and names the scenario used in the final line. */
void report_begin(const char *scenario);

/* Records a failed check (the first reason ends up in the FAIL line). */
void fail(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Return 1 when the check holds; otherwise fail() and return 0. */
int check(int cond, const char *fmt, ...) PRINTF_LIKE(2, 3);
int check_eq(const char *what, ureg_t got, ureg_t want);
int check_range(const char *what, ureg_t v, const void *lo, const void *hi);

/* scenario_done(ok), "PASS name" / "FAIL name: reason", debug-exit. */
NORETURN void finish(int ok);
/* fail() + finish(0): for handlers that see something they must not. */
NORETURN void panic(const char *fmt, ...) PRINTF_LIKE(1, 2);
NORETURN void qemu_exit(unsigned code);

#endif
