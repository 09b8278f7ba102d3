/*
 * Every stack, each with <name> and <name>_top symbols (stacks grow down,
 * so _top is the initial stack pointer). Separate stacks are what make the
 * stack switches observable: kmain runs on boot_stack, so a ring-3 -> ring-0
 * entry on kernel_stack (TSS RSP0/ESP0) never lands on live kernel frames.
 */
	.section .note.GNU-stack, "", @progbits

/* (parameter not called "size": it would also replace the .size directive) */
#define STACK(name, bytes)      \
	.balign 16;             \
	.globl name;            \
	.type name, @object;    \
name:                           \
	.skip bytes;            \
	.size name, bytes;      \
	.globl name##_top;      \
name##_top:

	.bss
	.balign 4096
STACK(boot_stack, 16384)
STACK(kernel_stack, 16384)
STACK(user_stack, 16384)
STACK(thread_b_stack, 16384)    /* task-switch's second thread */
#ifdef __x86_64__
STACK(ist1_stack, 8192)         /* #DF */
STACK(ist2_stack, 8192)         /* NMI */
#else
STACK(double_fault_stack, 8192) /* #DF task (second TSS) */
#endif
