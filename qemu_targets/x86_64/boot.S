/*
 * Multiboot entry: QEMU starts us in 32-bit protected mode, paging off,
 * eax = multiboot magic, ebx = multiboot info. Do the minimum to reach long
 * mode (throw-away 1 GiB identity map with 2 MiB pages, temporary GDT), then
 * call kmain(magic, mbi); paging.c and gdt.c build the real tables in C.
 */
#include "asm.h"
#include "multiboot.h"

#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_PS 0x80
#define EFER_LME (1 << 8)
#define CPUID_EXT2_LM (1 << 29)
#define COM1 0x3f8
#define MSR_EFER_NUM 0xc0000080

	.section .multiboot, "a"
	.balign 4
	.long MB_HEADER_MAGIC
	.long MB_HEADER_FLAGS
	.long -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

	.bss
	.balign 4096
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4096

	.section .rodata
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit ring-0 code */
	.quad 0x00cf92000000ffff	/* 0x10: ring-0 data */
boot_gdt_end:
boot_gdtr:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt
msg_no_long_mode:
	.asciz "FAIL boot: CPU has no long mode\n"

	.text
	.code32
FUNC(_start)
	cli
	cld
	mov $boot_stack_top, %esp
	mov %eax, %ebp			/* magic */
	mov %ebx, %esi			/* mbi (cpuid below clobbers ebx) */

	/* Zero .bss ourselves: cheap, and not every loader (or a reset
	 * under a debugger) guarantees it. */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb

	mov $0x80000000, %eax
	cpuid
	cmp $0x80000001, %eax
	jb no_long_mode
	mov $0x80000001, %eax
	cpuid
	test $CPUID_EXT2_LM, %edx
	jz no_long_mode

	/* PML4[0] -> PDPT[0] -> PD: 512 x 2 MiB = first 1 GiB. */
	movl $boot_pdpt + PTE_P + PTE_RW, boot_pml4
	movl $boot_pd + PTE_P + PTE_RW, boot_pdpt
	mov $boot_pd, %edi
	mov $PTE_P + PTE_RW + PTE_PS, %eax
	mov $512, %ecx
1:	mov %eax, (%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 1b

	mov %cr4, %eax
	or $0x20, %eax			/* CR4.PAE */
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER_NUM, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax		/* CR0.PG | CR0.PE: long mode active */
	mov %eax, %cr0

	lgdt boot_gdtr
	ljmp $SEL_KCODE, $long_mode_entry

no_long_mode:			/* print and exit FAIL; mbi is not needed */
	mov $msg_no_long_mode, %esi
	mov $COM1, %dx
2:	lodsb
	test %al, %al
	jz 3f
	out %al, %dx
	jmp 2b
3:	mov $1, %al			/* debug-exit: FAIL */
	out %al, $0xf4
4:	hlt
	jmp 4b
ENDF(_start)

	.code64
long_mode_entry:
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov %ebp, %edi			/* kmain(magic, mbi); 32-bit movs */
	mov %esi, %esi			/* zero-extend both */
	call kmain
5:	cli				/* kmain never returns */
	hlt
	jmp 5b
