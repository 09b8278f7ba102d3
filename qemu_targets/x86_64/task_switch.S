/*
 * IRQ0 during task-switch (task_switch.h): the timer stub switches stacks.
 * It saves the interrupted thread's GPRs on that thread's stack, gets the
 * other thread's saved rsp from task_switch_tick(), and restores that
 * thread from its own stack: the iretq returns into the other thread.
 */
#include "asm.h"
#include "pic.h"

	.text
FUNC(isr_task_switch)
	PUSH_GPRS
	mov %rsp, %rdi
	CALL_ALIGNED task_switch_tick
	mov %rax, %rsp			/* now on the other thread's stack */
LABEL(task_switch_switched)
	mov $PIC_EOI, %al		/* rax is restored below */
	out %al, $PIC1_CMD
	POP_GPRS
	iretq
ENDF(isr_task_switch)
