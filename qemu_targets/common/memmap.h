/* Symbols placed by the linker script, stacks.S and pages.c. */
#ifndef MEMMAP_H
#define MEMMAP_H

#define PAGE_SIZE 4096

extern char _kernel_start[], _kernel_end[];

/* stacks.S */
extern char boot_stack[], boot_stack_top[];     /* kmain */
extern char kernel_stack[], kernel_stack_top[]; /* TSS RSP0/ESP0 */
extern char user_stack[], user_stack_top[];     /* ring 3 */
extern char thread_b_stack[], thread_b_stack_top[]; /* task-switch */
extern char ist1_stack[], ist1_stack_top[];     /* x86_64 #DF */
extern char ist2_stack[], ist2_stack_top[];     /* x86_64 NMI */
extern char double_fault_stack[], double_fault_stack_top[]; /* i386 #DF task */

/* pages.c: mapped specially by <arch>/paging.c */
extern unsigned char pf_not_present_page[PAGE_SIZE]; /* not present */
extern unsigned char pf_readonly_page[PAGE_SIZE];    /* P, read-only, user */
extern unsigned char pf_supervisor_page[PAGE_SIZE];  /* P, writable, kernel */
extern unsigned char pf_nx_page[PAGE_SIZE];          /* x86_64: P, NX */
extern unsigned char pf_reserved_page[PAGE_SIZE];    /* x86_64: bit 51 set */

#endif
