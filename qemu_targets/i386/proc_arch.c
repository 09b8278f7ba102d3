/* i386 parts of the process model (common/proc.h): address spaces and the
 * data segments ring 3 runs with. */
#include "memmap.h"
#include "proc.h"
#include "segments.h"
#include "string.h"

#define ENTRIES 1024

extern uint32_t kernel_page_directory[ENTRIES]; /* paging.c */

/* Each process's page directory: a copy of the kernel's (the page table
 * of the first 4 MiB is shared), so every process has a CR3 of its own. */
uint32_t proc_page_directories[NPROC][ENTRIES]
	__attribute__((aligned(PAGE_SIZE)));

ureg_t proc_kernel_space(void)
{
	return (ureg_t)kernel_page_directory;
}

ureg_t proc_copy_space(unsigned pid)
{
	memcpy(proc_page_directories[pid], kernel_page_directory,
	       sizeof(proc_page_directories[pid]));
	return (ureg_t)proc_page_directories[pid];
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
