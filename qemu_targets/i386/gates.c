/* 8-byte protected-mode IDT gates, including the #DF task gate. */
#include "arch.h"
#include "cpu.h"
#include "segments.h"
#include "x86.h"

struct gate32 {
	uint16_t offset_lo;
	uint16_t selector; /* code segment, or the TSS for a task gate */
	uint8_t reserved;
	uint8_t type_attr; /* P | DPL | type */
	uint16_t offset_hi;
} __attribute__((packed));

#define GATE_P 0x80
#define GATE_TYPE_TASK 0x05
#define GATE_TYPE_INTERRUPT 0x0e
#define GATE_TYPE_TRAP 0x0f

struct gate32 idt[256] __attribute__((aligned(16)));

void idt_set_gate(unsigned vector, const void *handler, enum gate_type type,
		  unsigned dpl, unsigned ist)
{
	uint32_t off = (uint32_t)handler;
	struct gate32 *g = &idt[vector];

	(void)ist; /* long mode only */
	g->offset_lo = (uint16_t)off;
	g->selector = SEL_KCODE;
	g->reserved = 0;
	g->type_attr = (uint8_t)(GATE_P | dpl << 5 |
		(type == GATE_TRAP ? GATE_TYPE_TRAP : GATE_TYPE_INTERRUPT));
	g->offset_hi = (uint16_t)(off >> 16);
}

void idt_set_present(unsigned vector, int present)
{
	if (present)
		idt[vector].type_attr |= GATE_P;
	else
		idt[vector].type_attr &= (uint8_t)~GATE_P;
}

void idt_load(void)
{
	struct dtr idtr = { sizeof(idt) - 1, (ureg_t)idt };
	lidt(&idtr);
}

/* A task gate: #DF switches to df_tss, so it runs on a known-good stack
 * with known-good registers however broken the faulting context is. */
void arch_install_double_fault_gate(void)
{
	struct gate32 *g = &idt[8];

	g->offset_lo = g->offset_hi = 0; /* unused by task gates */
	g->selector = SEL_DF_TSS;
	g->reserved = 0;
	g->type_attr = GATE_P | GATE_TYPE_TASK;
}
