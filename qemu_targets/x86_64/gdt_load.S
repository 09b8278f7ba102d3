#include "asm.h"

/*
 * void gdt_load(const struct dtr *gdtr): lgdt, then reload every segment
 * register. CS needs a far return: long mode has no far jmp to an immediate.
 */
	.text
FUNC(gdt_load)
	lgdt (%rdi)
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	mov %eax, %ss
	pushq $SEL_KCODE
	lea 1f(%rip), %rax
	push %rax
	lretq
1:	ret
ENDF(gdt_load)
