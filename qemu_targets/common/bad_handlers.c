/*
 * The deliberately broken handlers that are (partly) C. See bad.h and
 * README "Broken handlers".
 */
#include "bad.h"
#include "exc.h"
#include "vectors.h"

/*
 * bad-clobber-rbx: GCC saves, in an interrupt handler, the registers it
 * knows the body changes: here the caller-saved ones, for the call. rbx is
 * callee-saved in the C ABI, and the inline asm changes it without listing
 * the clobber, so nothing saves it: rbx comes back as 0xdead (ebx on i386).
 */
ISR void bad_clobber_rbx_handler(struct iframe *f)
{
	exc_log_event(VEC_BAD_CLOBBER_RBX, f, 0, 0, 0, HANDLER_SP);
	__asm__ volatile(".globl bug_clobber_rbx\n"
			 "bug_clobber_rbx:\n\t"
			 "mov $0xdead, %%ebx" /* missing: "rbx" clobber */
			 : : : "memory");
}

/*
 * Called by bad_scratch_not_saved_handler, a stub that saved only the
 * callee-saved registers. Like any C function it may change the scratch
 * registers, and it really does, with values that make the damage exact:
 * 0xdead0000 + n for the n-th scratch register of the ABI (rax rcx rdx rsi
 * rdi r8 r9 r10 r11; i386: eax ecx edx).
 */
void bad_scratch_not_saved_c(ureg_t vector, struct iframe *f)
{
	stub_log_trap(vector, f);
#ifdef __x86_64__
	__asm__ volatile("mov $0xdead0000, %%eax\n\t"
			 "mov $0xdead0001, %%ecx\n\t"
			 "mov $0xdead0002, %%edx\n\t"
			 "mov $0xdead0003, %%esi\n\t"
			 "mov $0xdead0004, %%edi\n\t"
			 "mov $0xdead0005, %%r8d\n\t"
			 "mov $0xdead0006, %%r9d\n\t"
			 "mov $0xdead0007, %%r10d\n\t"
			 "mov $0xdead0008, %%r11d"
			 : : : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
			   "r10", "r11");
#else
	__asm__ volatile("mov $0xdead0000, %%eax\n\t"
			 "mov $0xdead0001, %%ecx\n\t"
			 "mov $0xdead0002, %%edx"
			 : : : "eax", "ecx", "edx");
#endif
}
