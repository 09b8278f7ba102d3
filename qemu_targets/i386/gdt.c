/* GDT and the two TSSes: the kernel's (ESP0) and the #DF task's. */
#include "arch.h"
#include "cpu.h"
#include "memmap.h"
#include "segments.h"
#include "smp.h"
#include "string.h"
#include "tss.h"
#include "x86.h"

/* null, kcode, kdata, ucode, udata, TSS, #DF TSS. */
uint64_t gdt[7] __attribute__((aligned(16)));
struct tss32 tss __attribute__((aligned(16)));
struct tss32 df_tss __attribute__((aligned(16)));
/* CPUs 1.. (smp.c): the same segments, a TSS each; they share df_tss (a
 * #DF on two CPUs at once would find it busy: only double-fault uses it). */
uint64_t ap_gdt[SMP_MAX_CPUS - 1][7] __attribute__((aligned(16)));
struct tss32 ap_tss[SMP_MAX_CPUS - 1] __attribute__((aligned(16)));

void gdt_load(const struct dtr *gdtr); /* gdt_load.S */
extern char isr_double_fault[];        /* isr.S: the #DF task's entry */

static uint64_t tss_desc(struct tss32 *t)
{
	return seg_desc((uint32_t)t, sizeof(*t) - 1, DESC_P | DESC_TSS_AVAIL, 0);
}

void gdt_init(void)
{
	struct dtr gdtr = { sizeof(gdt) - 1, (ureg_t)gdt };

	gdt[GDT_INDEX(SEL_KCODE)] = seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(0) | DESC_S | DESC_CODE, DESC_G | DESC_DB);
	gdt[GDT_INDEX(SEL_KDATA)] = seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(0) | DESC_S | DESC_DATA, DESC_G | DESC_DB);
	gdt[GDT_INDEX(SEL_UCODE)] = seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(3) | DESC_S | DESC_CODE, DESC_G | DESC_DB);
	gdt[GDT_INDEX(SEL_UDATA)] = seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(3) | DESC_S | DESC_DATA, DESC_G | DESC_DB);

	tss.ss0 = SEL_KDATA;
	tss.esp0 = (uint32_t)kernel_stack_top;
	tss.iomap_base = sizeof(tss); /* no I/O bitmap: ring 3 gets no ports */
	gdt[GDT_INDEX(SEL_TSS)] = tss_desc(&tss);

	/* The #DF task starts fresh at isr_double_fault on its own stack,
	 * whatever state the faulting context was in. */
	df_tss.eip = (uint32_t)isr_double_fault;
	df_tss.esp = (uint32_t)double_fault_stack_top;
	df_tss.eflags = 0x2; /* IF=0 */
	df_tss.cr3 = (uint32_t)read_cr3();
	df_tss.cs = SEL_KCODE;
	df_tss.ss = df_tss.ds = df_tss.es = df_tss.fs = df_tss.gs = SEL_KDATA;
	df_tss.iomap_base = sizeof(df_tss);
	gdt[GDT_INDEX(SEL_DF_TSS)] = tss_desc(&df_tss);

	gdt_load(&gdtr);
	ltr(SEL_TSS);
}

/* CPU 0's descriptors are copied after its ltr marked its TSS busy; the
 * copy gets a fresh (available) descriptor for its own TSS. */
void gdt_init_ap(unsigned cpu, ureg_t kernel_top, ureg_t ist1_top,
		 ureg_t ist2_top)
{
	uint64_t *g = ap_gdt[cpu - 1];
	struct tss32 *t = &ap_tss[cpu - 1];
	struct dtr gdtr = { sizeof(gdt) - 1, (ureg_t)g };

	(void)ist1_top;
	(void)ist2_top;
	memcpy(g, gdt, sizeof(gdt));
	t->ss0 = SEL_KDATA;
	t->esp0 = kernel_top;
	t->iomap_base = sizeof(*t);
	g[GDT_INDEX(SEL_TSS)] = tss_desc(t);
	gdt_load(&gdtr);
	ltr(SEL_TSS);
}

void cpu_set_kernel_stack(ureg_t top)
{
	unsigned cpu = cpu_index();

	(cpu ? &ap_tss[cpu - 1] : &tss)->esp0 = top;
}
