/*
 * i386 page tables: classic 2-level 32-bit paging, identity map of the
 * first 1 GiB with U/S set on every level (ring-3 code in the kernel image
 * can run). The first 4 MiB use a 4 KiB page table so single pages can
 * differ: page 0 (NULL guard) and the pf_* pages; the rest are 4 MiB (PSE)
 * pages. No NX or reserved-bit pages: those need PAE / long mode. Outside
 * that map: the local APIC's registers (one uncached 4 MiB page, kernel only).
 */
#include "cpu.h"
#include "lapic.h"
#include "memmap.h"
#include "report.h"
#include "x86.h"

#define PTE_P (1u << 0)
#define PTE_RW (1u << 1)
#define PTE_US (1u << 2)
#define PTE_PWT (1u << 3)
#define PTE_PCD (1u << 4)
#define PTE_PS (1u << 7)
#define PTE_NORMAL (PTE_P | PTE_RW | PTE_US)
#define CPUID_1_EDX_PSE (1u << 3)

#define ENTRIES 1024
#define MAPPED_4M_PAGES 256 /* 1 GiB */
#define TABLE __attribute__((aligned(PAGE_SIZE)))

/* Global so the debugger can walk them. */
uint32_t kernel_page_directory[ENTRIES] TABLE;
uint32_t kernel_pt[ENTRIES] TABLE; /* 0 .. 4 MiB */

static void set_pte(const void *page, uint32_t flags)
{
	uint32_t addr = (uint32_t)page;

	if (addr >= ENTRIES * PAGE_SIZE)
		panic("%p is outside the 4 KiB-mapped first 4 MiB", page);
	kernel_pt[addr / PAGE_SIZE] = addr | flags;
}

void paging_init(void)
{
	uint32_t a, b, c, d, i;

	cpuid(1, &a, &b, &c, &d);
	if (!(d & CPUID_1_EDX_PSE))
		panic("CPU lacks PSE (4 MiB pages)");

	for (i = 0; i < ENTRIES; i++)
		kernel_pt[i] = (i * PAGE_SIZE) | PTE_NORMAL;
	kernel_page_directory[0] = (uint32_t)kernel_pt | PTE_NORMAL;
	for (i = 1; i < MAPPED_4M_PAGES; i++)
		kernel_page_directory[i] = (i << 22) | PTE_NORMAL | PTE_PS;
	kernel_page_directory[LAPIC_BASE >> 22] = (LAPIC_BASE & ~0x3fffffu) |
		PTE_P | PTE_RW | PTE_PS | PTE_PCD | PTE_PWT;

	kernel_pt[0] = 0; /* NULL dereferences fault */
	/* Same address and bits as a normal page, just not present. */
	set_pte(pf_not_present_page, PTE_RW | PTE_US);
	set_pte(pf_readonly_page, PTE_P | PTE_US);
	set_pte(pf_supervisor_page, PTE_P | PTE_RW);

	write_cr4(read_cr4() | CR4_PSE);
	write_cr3((ureg_t)kernel_page_directory);
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
}
