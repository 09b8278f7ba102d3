/* Register dump for the "unexpected" reports. */
#include "cpu.h"
#include "printf.h"

void regs_dump(const struct regs *r)
{
	kprintf("eax=%08lx ebx=%08lx ecx=%08lx edx=%08lx\n"
		"esi=%08lx edi=%08lx ebp=%08lx\n",
		r->eax, r->ebx, r->ecx, r->edx, r->esi, r->edi, r->ebp);
}
