/* GDT and the 64-bit TSS (RSP0 for ring-3 entries, IST1/IST2). */
#include "arch.h"
#include "cpu.h"
#include "memmap.h"
#include "segments.h"
#include "smp.h"
#include "string.h"
#include "x86.h"

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3]; /* stack for entries from ring 3 is rsp[0] */
	uint64_t reserved1;
	uint64_t ist[7]; /* ist[n - 1] is ISTn */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS layout");

/* null, kcode, kdata, ucode, udata, TSS (two slots). */
uint64_t gdt[7] __attribute__((aligned(16)));
struct tss64 tss __attribute__((aligned(16)));
/* CPUs 1.. (smp.c): the same segments, a TSS each. */
uint64_t ap_gdt[SMP_MAX_CPUS - 1][7] __attribute__((aligned(16)));
struct tss64 ap_tss[SMP_MAX_CPUS - 1] __attribute__((aligned(16)));

void gdt_load(const struct dtr *gdtr); /* gdt_load.S */

static void set_tss_desc(uint64_t *g, struct tss64 *t)
{
	uint64_t base = (uint64_t)(ureg_t)t;

	/* A long-mode system descriptor is 16 bytes: base bits 63..32 next. */
	g[GDT_INDEX(SEL_TSS)] = seg_desc((uint32_t)base, sizeof(*t) - 1,
					 DESC_P | DESC_TSS_AVAIL, 0);
	g[GDT_INDEX(SEL_TSS) + 1] = base >> 32;
}

void gdt_init(void)
{
	struct dtr gdtr = { sizeof(gdt) - 1, (ureg_t)gdt };

	gdt[GDT_INDEX(SEL_KCODE)] = seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(0) | DESC_S | DESC_CODE, DESC_G | DESC_L);
	gdt[GDT_INDEX(SEL_KDATA)] = seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(0) | DESC_S | DESC_DATA, DESC_G | DESC_DB);
	gdt[GDT_INDEX(SEL_UCODE)] = seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(3) | DESC_S | DESC_CODE, DESC_G | DESC_L);
	gdt[GDT_INDEX(SEL_UDATA)] = seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(3) | DESC_S | DESC_DATA, DESC_G | DESC_DB);

	tss.rsp[0] = (ureg_t)kernel_stack_top;
	tss.ist[IST_DOUBLE_FAULT - 1] = (ureg_t)ist1_stack_top;
	tss.ist[IST_NMI - 1] = (ureg_t)ist2_stack_top;
	tss.iomap_base = sizeof(tss); /* no I/O bitmap: ring 3 gets no ports */
	set_tss_desc(gdt, &tss);

	gdt_load(&gdtr);
	ltr(SEL_TSS);
}

/* CPU 0's descriptors are copied after its ltr marked its TSS busy; the
 * copy gets a fresh (available) descriptor for its own TSS. */
void gdt_init_ap(unsigned cpu, ureg_t kernel_top, ureg_t ist1_top,
		 ureg_t ist2_top)
{
	uint64_t *g = ap_gdt[cpu - 1];
	struct tss64 *t = &ap_tss[cpu - 1];
	struct dtr gdtr = { sizeof(gdt) - 1, (ureg_t)g };

	memcpy(g, gdt, sizeof(gdt));
	t->rsp[0] = kernel_top;
	t->ist[IST_DOUBLE_FAULT - 1] = ist1_top;
	t->ist[IST_NMI - 1] = ist2_top;
	t->iomap_base = sizeof(*t);
	set_tss_desc(g, t);
	gdt_load(&gdtr);
	ltr(SEL_TSS);
}

void cpu_set_kernel_stack(ureg_t top)
{
	unsigned cpu = cpu_index();

	(cpu ? &ap_tss[cpu - 1] : &tss)->rsp[0] = top;
}
