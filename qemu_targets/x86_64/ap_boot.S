/*
 * The other CPUs' first instructions. smp.c copies ap_boot_start ..
 * ap_boot_end to AP_BOOT_ADDR (0x8000) and sends STARTUP with page 8, so a
 * CPU starts here in real mode at CS:IP = 0x0800:0000. It goes to 32-bit
 * protected mode with a flat GDT of its own, takes the boot CPU's CR4 (PAE),
 * CR3 (the kernel's page tables: the identity map keeps this code where it
 * is), EFER (LME, NXE) and CR0 (PG: long mode), far-jumps to 64-bit code
 * and calls smp_ap_entry() on the stack in ap_boot_stack. The code runs as
 * a copy: REL() gives a label's address in the copy, and the kernel's own
 * symbols are reached by absolute address, never RIP-relatively.
 */
#include "asm.h"
#include "smp.h"

#define REL(label) ((label) - ap_boot_start + AP_BOOT_ADDR)
#define TRAMP_CODE32 0x08
#define TRAMP_DATA 0x10
#define TRAMP_CODE64 0x18
#define MSR_EFER_NUM 0xc0000080

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
	mov ap_boot_cr4, %eax		/* PAE */
	mov %eax, %cr4
	mov ap_boot_cr3, %eax		/* below 4 GiB: the low half is all */
	mov %eax, %cr3
	mov $MSR_EFER_NUM, %ecx
	mov ap_boot_efer, %eax
	xor %edx, %edx
	wrmsr
	mov ap_boot_cr0, %eax		/* PG with EFER.LME: long mode */
	mov %eax, %cr0
	ljmp $TRAMP_CODE64, $REL(ap_boot_lm)

	.code64
ap_boot_lm:
	mov ap_boot_stack, %rsp		/* absolute (disp32): below 2 GiB */
	xor %ebp, %ebp			/* the end of every backtrace */
	movabs $smp_ap_entry, %rax
	call *%rax			/* never returns */
1:	cli
	hlt
	jmp 1b

	.balign 8
ap_boot_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit ring-0 code */
	.quad 0x00cf92000000ffff	/* 0x10: ring-0 data */
	.quad 0x00af9a000000ffff	/* 0x18: 64-bit ring-0 code */
ap_boot_gdtr:
	.word ap_boot_gdtr - ap_boot_gdt - 1
	.long REL(ap_boot_gdt)
LABEL(ap_boot_end)
