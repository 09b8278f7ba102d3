#include "hooks.h"

/*
 * noipa (not just noinline): GCC would otherwise prove the functions have no
 * side effects and delete the calls, or fold the two identical bodies into
 * one symbol. The asm keeps each body non-empty for the same reason.
 */
__attribute__((noinline, noipa)) void scenario_start(void)
{
	__asm__ volatile("" : : : "memory");
}

__attribute__((noinline, noipa)) void scenario_done(int ok)
{
	__asm__ volatile("" : : "r"(ok) : "memory");
}
