/* Register dump for the "unexpected" reports. */
#include "cpu.h"
#include "printf.h"

void regs_dump(const struct regs *r)
{
	kprintf("rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n"
		"rsi=%016lx rdi=%016lx rbp=%016lx r8 =%016lx\n"
		"r9 =%016lx r10=%016lx r11=%016lx r12=%016lx\n"
		"r13=%016lx r14=%016lx r15=%016lx\n",
		r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->r8,
		r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15);
}
