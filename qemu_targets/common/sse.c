#include "sse.h"
#include "x86.h"

#define CR0_MP (1UL << 1) /* wait/fwait honour TS */
#define CR0_EM (1UL << 2) /* x87/SSE instructions raise #UD */
#define CR4_OSFXSR (1UL << 9)
#define CR4_OSXMMEXCPT (1UL << 10)
#define CPUID_1_EDX_SSE2 (1u << 26)

int sse_enable(void)
{
	uint32_t a, b, c, d;

	cpuid(1, &a, &b, &c, &d);
	if (!(d & CPUID_1_EDX_SSE2))
		return 0;
	write_cr0((read_cr0() & ~CR0_EM) | CR0_MP);
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
	return 1;
}
