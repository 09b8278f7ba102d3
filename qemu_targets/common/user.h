/*
 * Ring-3 excursions. run_user(fn) saves the kernel's callee-saved registers
 * and stack pointer, irets to ring 3 (CS 0x1b, SS 0x23, user_stack_top, IF=0)
 * where a trampoline calls fn() and then executes int $0x80. isr_syscall
 * records the caller's frame, restores the saved kernel context and returns
 * from run_user() (a longjmp through the IDT). See <arch>/user.S.
 */
#ifndef USER_H
#define USER_H

#include "types.h"

void run_user(void (*fn)(void));

extern volatile ureg_t syscall_cs, syscall_ip; /* frame of the int $0x80 */

#endif
