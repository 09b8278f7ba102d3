/*
 * Multiboot entry: QEMU starts us in 32-bit protected mode with flat
 * segments, paging off, eax = magic, ebx = multiboot info. That is already
 * the mode this kernel runs in: zero .bss and call kmain(magic, mbi); C
 * sets up paging, the GDT and the TSSes.
 */
#include "asm.h"
#include "multiboot.h"

	.section .multiboot, "a"
	.balign 4
	.long MB_HEADER_MAGIC
	.long MB_HEADER_FLAGS
	.long -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

	.text
FUNC(_start)
	cli
	cld
	mov $boot_stack_top, %esp
	mov %eax, %edx			/* magic; rep stosb uses eax/ecx/edi */

	/* Zero .bss ourselves: cheap, and not every loader (or a reset
	 * under a debugger) guarantees it. */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb

	push %ebx			/* kmain(magic, mbi) */
	push %edx
	call kmain
1:	cli				/* kmain never returns */
	hlt
	jmp 1b
ENDF(_start)
