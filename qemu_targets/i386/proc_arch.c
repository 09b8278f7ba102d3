/* i386 parts of the process model (common/proc.h): address spaces and the
 * data segments ring 3 runs with. */
#include "memmap.h"
#include "proc.h"
#include "segments.h"
#include "string.h"

#define ENTRIES 1024
#define PTE_USER 0x7 /* P, RW, US */
#define TABLE __attribute__((aligned(PAGE_SIZE)))

extern uint32_t kernel_page_directory[ENTRIES]; /* paging.c */

/* Each process's page directory: a copy of the kernel's (the page table
 * of the first 4 MiB is shared), so every process has a CR3 of its own.
 * proc-same-va adds a page table of the process's own in slot 256
 * (1 GiB, just above the kernel's map) for its data and stack pages. */
uint32_t proc_page_directories[NPROC][ENTRIES] TABLE;
uint32_t proc_page_tables[NPROC][ENTRIES] TABLE;

_Static_assert(PROC_USER_VA >> 22 == 256, "PROC_USER_VA is PDE 256");

ureg_t proc_kernel_space(void)
{
	return (ureg_t)kernel_page_directory;
}

ureg_t proc_copy_space(unsigned pid, const void *data, const void *stack)
{
	uint32_t *pd = proc_page_directories[pid], *pt = proc_page_tables[pid];

	memcpy(pd, kernel_page_directory, sizeof(proc_page_directories[pid]));
	if (data) {
		memset(pt, 0, sizeof(proc_page_tables[pid]));
		pt[0] = (uint32_t)data | PTE_USER;
		pt[1] = (uint32_t)stack | PTE_USER;
		pd[PROC_USER_VA >> 22] = (uint32_t)pt | PTE_USER;
	}
	return (ureg_t)pd;
}

/*
 * An iret to ring 3 nulls DS/ES/FS/GS holding a DPL-0 selector. The user
 * data segment is flat like the kernel's, so the kernel runs with it too
 * (as run_user does): the registers are the same at every entry and exit.
 */
void proc_arch_cpu_init(void)
{
	__asm__ volatile("mov %0, %%ds\n\t"
			 "mov %0, %%es\n\t"
			 "mov %0, %%fs\n\t"
			 "mov %0, %%gs"
			 : : "r"(SEL_UDATA));
}
