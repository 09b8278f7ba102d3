/*
 * IRQ0 during task-switch (task_switch.h): the timer stub switches stacks.
 * It saves the interrupted thread's GPRs on that thread's stack, gets the
 * other thread's saved esp from task_switch_tick(), and restores that
 * thread from its own stack: the iret returns into the other thread.
 */
#include "asm.h"
#include "pic.h"

	.text
FUNC(isr_task_switch)
	pushal
	push %esp
	call task_switch_tick
	mov %eax, %esp			/* now on the other thread's stack */
LABEL(task_switch_switched)
	mov $PIC_EOI, %al		/* eax is restored below */
	out %al, $PIC1_CMD
	popal
	iret
ENDF(isr_task_switch)
