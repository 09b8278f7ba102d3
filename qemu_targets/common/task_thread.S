/*
 * Thread B of task-switch (task_switch.h), written once for both arches.
 * Entered by the first switch with IF=0: loads its own canaries into every
 * GPR, then records its registers and stack pointer and halts with
 * interrupts on, forever. The timer preempts it only at the hlt (sti's
 * shadow), and every time it is switched back in it records again, so
 * task_b_actual shows any damage a switch did.
 */
#include "asm.h"

	.text
FUNC(task_thread_b)
	CANARY_LOAD task_b_expected
1:	CANARY_STORE task_b_actual
	mov R_SP, MEM(task_b_sp_actual)
	sti
LABEL(task_thread_b_hlt)
	hlt
	cli
	jmp 1b
ENDF(task_thread_b)
