/*
 * task-switch: two kernel threads, preempted by the timer xv6-style
 * (README "Nesting and task switching"). Thread A is the scenario's canary
 * harness on boot_stack; thread B (task_thread.S) runs on thread_b_stack
 * with its own canaries. isr_task_switch (<arch>/task_switch.S), on the
 * timer vector, saves the interrupted thread's registers on its own stack,
 * asks task_switch_tick() for the other thread's saved stack pointer, and
 * pops/irets into that thread. So an IRQ taken on A returns only after B
 * ran and was preempted in turn.
 */
#ifndef TASK_SWITCH_H
#define TASK_SWITCH_H

#include "arch.h"
#include "types.h"

extern char isr_task_switch[], task_thread_b[];

/* Returns the stack pointer to switch to, given the current one. */
ureg_t task_switch_tick(ureg_t sp);
/* Builds thread B's first frame; resets the counters. */
void task_switch_init(void);

extern ureg_t task_saved_sp[2];     /* [0] A, [1] B, while switched out */
extern volatile ureg_t task_switches; /* stack switches done */
extern volatile ureg_t task_a_runs, task_b_runs; /* times switched in */
/* Thread B's canaries: its GPRs are loaded from task_b_expected and stored
 * into task_b_actual (with its stack pointer) every time it runs. */
extern ureg_t task_b_expected[CANARY_NREGS], task_b_actual[CANARY_NREGS];
extern ureg_t task_b_sp_expected, task_b_sp_actual;

#endif
