/* Which handler serves which vector; the gate encoding is per arch. */
#include "cpu.h"
#include "isr.h"
#include "idt.h"
#include "pic.h"

#define IDT_VECTORS 256
#define SYSCALL_VECTOR 0x80

void idt_init(void)
{
	const struct exc_stub *s;
	unsigned v;

	/* One shared handler first, so every vector not named below forms
	 * runs of identical gates. */
	for (v = 0; v < IDT_VECTORS; v++)
		idt_set_gate(v, isr_default, GATE_INTERRUPT, 0, 0);
	for (s = isr_exc_table; s < isr_exc_table_end; s++)
		idt_set_gate((unsigned)s->vector, s->entry, GATE_INTERRUPT, 0, 0);

	idt_set_gate(0, isr_divide_error, GATE_INTERRUPT, 0, 0);
	idt_set_gate(1, isr_debug, GATE_INTERRUPT, 0, 0);
	idt_set_gate(2, isr_nmi, GATE_INTERRUPT, 0, IST_NMI);
	/* #BP and #OF: trap gates (IF stays as it was), callable from ring 3. */
	idt_set_gate(3, isr_breakpoint, GATE_TRAP, 3, 0);
	idt_set_gate(4, isr_overflow, GATE_TRAP, 3, 0);
	idt_set_gate(6, isr_invalid_opcode, GATE_INTERRUPT, 0, 0);
	arch_install_double_fault_gate();
	idt_set_gate(11, isr_segment_not_present, GATE_INTERRUPT, 0, 0);
	idt_set_gate(13, isr_general_protection, GATE_INTERRUPT, 0, 0);
	idt_set_gate(14, isr_page_fault, GATE_INTERRUPT, 0, 0);
	idt_set_gate(IRQ_BASE + 0, isr_timer, GATE_INTERRUPT, 0, 0);
	idt_set_gate(SYSCALL_VECTOR, isr_syscall, GATE_INTERRUPT, 3, 0);

	idt_load();
}

void idt_install(unsigned vector, const void *handler)
{
	if (handler)
		idt_set_gate(vector, handler, GATE_INTERRUPT, 0, 0);
}
