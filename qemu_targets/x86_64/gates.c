/* 16-byte long-mode IDT gates. */
#include "arch.h"
#include "cpu.h"
#include "isr.h"
#include "segments.h"
#include "x86.h"

struct gate64 {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;       /* bits 0..2 */
	uint8_t type_attr; /* P | DPL | type */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

#define GATE_P 0x80
#define GATE_TYPE_INTERRUPT 0x0e
#define GATE_TYPE_TRAP 0x0f

struct gate64 idt[256] __attribute__((aligned(16)));

ISR void isr_double_fault(struct iframe *f, uword_t error); /* double_fault.c */

void idt_set_gate(unsigned vector, const void *handler, enum gate_type type,
		  unsigned dpl, unsigned ist)
{
	uint64_t off = (uint64_t)(ureg_t)handler;
	struct gate64 *g = &idt[vector];

	g->offset_lo = (uint16_t)off;
	g->selector = SEL_KCODE;
	g->ist = (uint8_t)ist;
	g->type_attr = (uint8_t)(GATE_P | dpl << 5 |
		(type == GATE_TRAP ? GATE_TYPE_TRAP : GATE_TYPE_INTERRUPT));
	g->offset_mid = (uint16_t)(off >> 16);
	g->offset_hi = (uint32_t)(off >> 32);
	g->reserved = 0;
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

/* #DF always gets a known-good stack, whatever state rsp was in. */
void arch_install_double_fault_gate(void)
{
	idt_set_gate(8, isr_double_fault, GATE_INTERRUPT, 0, IST_DOUBLE_FAULT);
}
