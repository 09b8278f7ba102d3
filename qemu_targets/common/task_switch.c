/* C half of task-switch (task_switch.h). */
#include "canary.h"
#include "frame.h"
#include "memmap.h"
#include "segments.h"
#include "string.h"
#include "task_switch.h"

#define TASK_A 0
#define TASK_B 1
#define EFLAGS_RESERVED 0x2 /* bit 1 is always set; IF=0 */

ureg_t task_saved_sp[2];
static unsigned task_current;
volatile ureg_t task_switches, task_a_runs, task_b_runs;
ureg_t task_b_expected[CANARY_NREGS], task_b_actual[CANARY_NREGS];
ureg_t task_b_sp_expected, task_b_sp_actual;

ureg_t task_switch_tick(ureg_t sp)
{
	task_saved_sp[task_current] = sp;
	task_current ^= 1;
	task_switches++;
	if (task_current == TASK_A)
		task_a_runs++;
	else
		task_b_runs++;
	return task_saved_sp[task_current];
}

/*
 * Thread B starts as if it had been interrupted at task_thread_b: at the
 * top of its stack the CPU frame, below it what the stub's POP_GPRS pops.
 * x86_64 iretq also pops RSP/SS (B starts at the stack top); a ring-0 iret
 * on i386 does not (B starts where the frame's sp field is).
 */
void task_switch_init(void)
{
	/* (addresses as integers: thread_b_stack_top is a zero-size symbol) */
	ureg_t top = (ureg_t)thread_b_stack_top;
	struct iframe *f = (struct iframe *)(top - sizeof(struct iframe));
	struct regs *r = (struct regs *)((ureg_t)f - sizeof(struct regs));
	unsigned i;

	memset(r, 0, sizeof(*r));
	f->ip = (ureg_t)task_thread_b;
	f->cs = SEL_KCODE;
	f->flags = EFLAGS_RESERVED; /* B loads its canaries, then enables */
	f->sp = top;
	f->ss = SEL_KDATA;
	task_b_sp_expected = IFRAME_ALWAYS_HAS_STACK ? f->sp : (ureg_t)&f->sp;
	task_b_sp_actual = ~task_b_sp_expected;

	for (i = 0; i < CANARY_NREGS; i++) {
		task_b_expected[i] = ~canary_pattern(i); /* unlike A's */
		task_b_actual[i] = canary_pattern(i);
	}
	task_saved_sp[TASK_A] = 0;
	task_saved_sp[TASK_B] = (ureg_t)r;
	task_current = TASK_A;
	task_switches = task_a_runs = task_b_runs = 0;
}
