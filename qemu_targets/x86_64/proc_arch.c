/* x86_64 parts of the process model (common/proc.h): address spaces. */
#include "memmap.h"
#include "proc.h"
#include "string.h"

#define ENTRIES 512
#define PTE_USER 0x7 /* P, RW, US */

extern uint64_t kernel_pml4[ENTRIES], kernel_pdpt[ENTRIES]; /* paging.c */

#define TABLE __attribute__((aligned(PAGE_SIZE)))

/* Each process's PML4: a copy of the kernel's (the lower levels are
 * shared), so every process has a CR3 of its own, as on a real kernel.
 * proc-same-va adds a PDPT copy whose slot 1 (1 GiB) leads through a PD
 * and a PT of the process's own to its data and stack pages. */
uint64_t proc_pml4[NPROC][ENTRIES] TABLE;
uint64_t proc_pdpt[NPROC][ENTRIES] TABLE;
uint64_t proc_pd[NPROC][ENTRIES] TABLE;
uint64_t proc_pt[NPROC][ENTRIES] TABLE;

_Static_assert(PROC_USER_VA == 1UL << 30, "PROC_USER_VA is PDPT slot 1");

ureg_t proc_kernel_space(void)
{
	return (ureg_t)kernel_pml4;
}

ureg_t proc_copy_space(unsigned pid, const void *data, const void *stack)
{
	memcpy(proc_pml4[pid], kernel_pml4, sizeof(proc_pml4[pid]));
	if (data) {
		memcpy(proc_pdpt[pid], kernel_pdpt, sizeof(proc_pdpt[pid]));
		memset(proc_pd[pid], 0, sizeof(proc_pd[pid]));
		memset(proc_pt[pid], 0, sizeof(proc_pt[pid]));
		proc_pt[pid][0] = (ureg_t)data | PTE_USER;
		proc_pt[pid][1] = (ureg_t)stack | PTE_USER;
		proc_pd[pid][0] = (ureg_t)proc_pt[pid] | PTE_USER;
		proc_pdpt[pid][1] = (ureg_t)proc_pd[pid] | PTE_USER;
		proc_pml4[pid][0] = (ureg_t)proc_pdpt[pid] | PTE_USER;
	}
	return (ureg_t)proc_pml4[pid];
}

/* Long mode ignores DS/ES for addressing: nothing to set up. */
void proc_arch_cpu_init(void)
{
}
