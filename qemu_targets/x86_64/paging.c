/*
 * Final x86_64 page tables: 4-level, identity map of the first 1 GiB with
 * U/S set at every level (ring-3 code in the kernel image can run). The
 * first 2 MiB use 4 KiB pages so single pages can differ: page 0 (NULL
 * guard) and the pf_* pages. The rest are 2 MiB pages. Outside that map:
 * the local APIC's registers (one uncached 2 MiB page, kernel only).
 */
#include "cpu.h"
#include "lapic.h"
#include "memmap.h"
#include "report.h"
#include "x86.h"

#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_US (1ULL << 2)
#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)
#define PTE_PS (1ULL << 7)
#define PTE_RSVD51 (1ULL << 51) /* above any MAXPHYADDR < 52: reserved */
#define PTE_NX (1ULL << 63)
#define PTE_NORMAL (PTE_P | PTE_RW | PTE_US)
#define CPUID_EXT2_NX (1u << 20)

#define ENTRIES 512
#define TABLE __attribute__((aligned(PAGE_SIZE)))

/* Global so the debugger can walk them. */
uint64_t kernel_pml4[ENTRIES] TABLE;
uint64_t kernel_pdpt[ENTRIES] TABLE;
uint64_t kernel_pd[ENTRIES] TABLE;
uint64_t kernel_pt[ENTRIES] TABLE; /* 0 .. 2 MiB */
uint64_t kernel_pd_mmio[ENTRIES] TABLE; /* 3 .. 4 GiB: the LAPIC */

/* Long-mode-only special pages (the others are in common/pages.c). */
unsigned char pf_nx_page[PAGE_SIZE] TABLE = { [0 ... PAGE_SIZE - 1] = 0xc3 };
unsigned char pf_reserved_page[PAGE_SIZE] TABLE;

static void set_pte(const void *page, uint64_t flags)
{
	ureg_t addr = (ureg_t)page;

	if (addr >= ENTRIES * PAGE_SIZE)
		panic("%p is outside the 4 KiB-mapped first 2 MiB", page);
	kernel_pt[addr / PAGE_SIZE] = addr | flags;
}

static int cpu_has_nx(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000, &a, &b, &c, &d);
	if (a < 0x80000001)
		return 0;
	cpuid(0x80000001, &a, &b, &c, &d);
	return (d & CPUID_EXT2_NX) != 0;
}

void paging_init(void)
{
	uint64_t i;
	int nx = cpu_has_nx();

	for (i = 0; i < ENTRIES; i++) {
		kernel_pt[i] = (i * PAGE_SIZE) | PTE_NORMAL;
		kernel_pd[i] = (i << 21) | PTE_NORMAL | PTE_PS;
	}
	kernel_pd[0] = (ureg_t)kernel_pt | PTE_NORMAL;
	kernel_pdpt[0] = (ureg_t)kernel_pd | PTE_NORMAL;
	kernel_pml4[0] = (ureg_t)kernel_pdpt | PTE_NORMAL;
	kernel_pdpt[LAPIC_BASE >> 30] = (ureg_t)kernel_pd_mmio | PTE_P | PTE_RW;
	kernel_pd_mmio[(LAPIC_BASE >> 21) & (ENTRIES - 1)] =
		LAPIC_BASE | PTE_P | PTE_RW | PTE_PS | PTE_PCD | PTE_PWT;

	kernel_pt[0] = 0; /* NULL dereferences fault */
	/* Same address and bits as a normal page, just not present. */
	set_pte(pf_not_present_page, PTE_RW | PTE_US);
	set_pte(pf_readonly_page, PTE_P | PTE_US);
	set_pte(pf_supervisor_page, PTE_P | PTE_RW);
	set_pte(pf_reserved_page, PTE_NORMAL | PTE_RSVD51);
	/* Without NX support the bit would itself be reserved; leave the
	 * page executable so pf-instruction-fetch fails with a clear reason. */
	set_pte(pf_nx_page, PTE_NORMAL | (nx ? PTE_NX : 0));

	if (nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr3((ureg_t)kernel_pml4); /* also flushes the TLB */
	write_cr0(read_cr0() | CR0_WP);
}
