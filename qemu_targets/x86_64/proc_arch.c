/* x86_64 parts of the process model (common/proc.h): address spaces. */
#include "memmap.h"
#include "proc.h"
#include "string.h"

#define ENTRIES 512

extern uint64_t kernel_pml4[ENTRIES]; /* paging.c */

/* Each process's PML4: a copy of the kernel's (the lower levels are
 * shared), so every process has a CR3 of its own, as on a real kernel. */
uint64_t proc_pml4[NPROC][ENTRIES] __attribute__((aligned(PAGE_SIZE)));

ureg_t proc_kernel_space(void)
{
	return (ureg_t)kernel_pml4;
}

ureg_t proc_copy_space(unsigned pid)
{
	memcpy(proc_pml4[pid], kernel_pml4, sizeof(proc_pml4[pid]));
	return (ureg_t)proc_pml4[pid];
}

/* Long mode ignores DS/ES for addressing: nothing to set up. */
void proc_arch_cpu_init(void)
{
}
