#include "asm.h"

/* void gdt_load(const struct dtr *gdtr): lgdt, then reload every segment
 * register, CS through a far jump. */
	.text
FUNC(gdt_load)
	mov 4(%esp), %eax
	lgdt (%eax)
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	mov %eax, %ss
	ljmp $SEL_KCODE, $1f
1:	ret
ENDF(gdt_load)
