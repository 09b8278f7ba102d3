/*
 * The other CPUs' first instructions. smp.c copies ap_boot_start ..
 * ap_boot_end to AP_BOOT_ADDR (0x8000) and sends STARTUP with page 8, so a
 * CPU starts here in real mode at CS:IP = 0x0800:0000. It goes to 32-bit
 * protected mode with a flat GDT of its own, takes the boot CPU's CR4, CR3
 * (the kernel's page tables: the identity map keeps this code where it is)
 * and CR0, and calls smp_ap_entry() on the stack in ap_boot_stack. The
 * code runs as a copy: REL() gives a label's address in the copy, and the
 * kernel's own symbols are reached by absolute address, never relatively.
 */
#include "asm.h"
#include "smp.h"

#define REL(label) ((label) - ap_boot_start + AP_BOOT_ADDR)
#define TRAMP_CODE32 0x08
#define TRAMP_DATA 0x10

	.text
	.code16
LABEL(ap_boot_start)
	cli
	cld
	xor %ax, %ax
	mov %ax, %ds			/* REL() addresses are below 64 KiB */
	lgdtl REL(ap_boot_gdtr)
	mov %cr0, %eax
	or $1, %eax			/* CR0.PE */
	mov %eax, %cr0
	ljmpl $TRAMP_CODE32, $REL(ap_boot_pm)

	.code32
ap_boot_pm:
	mov $TRAMP_DATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	mov %ax, %gs
	mov %ax, %ss
	mov ap_boot_cr4, %eax		/* PSE before paging uses 4 MiB pages */
	mov %eax, %cr4
	mov ap_boot_cr3, %eax
	mov %eax, %cr3
	mov ap_boot_cr0, %eax		/* PG, WP, ... as on the boot CPU */
	mov %eax, %cr0
	mov ap_boot_stack, %esp
	xor %ebp, %ebp			/* the end of every backtrace */
	mov $smp_ap_entry, %eax
	call *%eax			/* never returns */
1:	cli
	hlt
	jmp 1b

	.balign 8
ap_boot_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit ring-0 code */
	.quad 0x00cf92000000ffff	/* 0x10: ring-0 data */
ap_boot_gdtr:
	.word ap_boot_gdtr - ap_boot_gdt - 1
	.long REL(ap_boot_gdt)
LABEL(ap_boot_end)
