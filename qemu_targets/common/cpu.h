/* What each architecture directory implements for the shared code. */
#ifndef CPU_H
#define CPU_H

#include "arch.h"
#include "types.h"

enum gate_type { GATE_INTERRUPT, GATE_TRAP };

/* Identity map with the special pf_* pages, CR0.WP (<arch>/paging.c). */
void paging_init(void);
/* GDT, TSS(es), ltr (<arch>/gdt.c). */
void gdt_init(void);
/* Another CPU's own GDT (a copy of CPU 0's) and TSS, loaded on that CPU
 * (smp.c). kernel_top: RSP0/ESP0; ist1/ist2: x86_64 only. */
void gdt_init_ap(unsigned cpu, ureg_t kernel_top, ureg_t ist1_top,
		 ureg_t ist2_top);
/* The ring-3 entry stack (RSP0/ESP0) of the CPU this runs on. */
void cpu_set_kernel_stack(ureg_t top);

/* IDT gate encoding. ist is ignored on i386 (pass 0). */
void idt_set_gate(unsigned vector, const void *handler, enum gate_type type,
		  unsigned dpl, unsigned ist);
void idt_set_present(unsigned vector, int present);
void idt_load(void);
/* x86_64: interrupt gate on IST1; i386: task gate to the #DF TSS. */
void arch_install_double_fault_gate(void);

/* Prints every field of the stub's saved-register block. */
void regs_dump(const struct regs *r);

#endif
