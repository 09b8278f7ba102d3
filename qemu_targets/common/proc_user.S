/*
 * The ring-3 programs of the process model (proc.h), written once for both
 * arches. Each image keeps canaries in EVERY general register (its row of
 * proc_expected[], stack pointer in the last slot) while it spins, makes
 * syscalls and is preempted, and checks them after each step using flags
 * and memory only: a mismatch stores all its registers into proc_actual[],
 * counts itself in proc_mismatches[], reloads the canaries and goes on. A
 * syscall result or argument that is wrong counts in proc_bad_results[].
 * The kernel reads the counters at the end (proc_report).
 */
#include "asm.h"
#include "proc.h"
#include "vectors.h"

#ifdef __x86_64__
#define W(insn) insn##q
#define R_DX %rdx
#define R_SI %rsi
#define R_DI %rdi
#define R_BP %rbp
#else
#define W(insn) insn##l
#define R_DX %edx
#define R_SI %esi
#define R_DI %edi
#define R_BP %ebp
#endif
/* Written without spaces: they are arguments of assembler macros, which
 * a space would split. n and reg are plain numbers. */
#define ROW (WSIZE*(CANARY_NREGS+1))	/* proc_expected[] row */
#define ROW_OF(table,n) table+ROW*n
#define SLOT(table,n,reg) MEM(table+ROW*n+WSIZE*reg)
#define COUNTER(table,n) MEM(table+WSIZE*n)

#define SPIN 50	/* checks per round at least (then on until preempted) */
#define SLEEP_TICKS 2

/* cmp one register with its canary; jne to the mismatch path 8. */
.macro CHECK_REG n, reg, idx
	cmp SLOT(proc_expected,\n,\idx), \reg
	jne 8f
.endm

/* Every GPR and the stack pointer against image n's canaries. Flags only. */
.macro PROC_CHECK n
	CHECK_REG \n, R_AX, CANARY_AX
	CHECK_REG \n, R_BX, CANARY_BX
	CHECK_REG \n, R_CX, CANARY_CX
	CHECK_REG \n, R_DX, CANARY_DX
	CHECK_REG \n, R_SI, CANARY_SI
	CHECK_REG \n, R_DI, CANARY_DI
	CHECK_REG \n, R_BP, CANARY_BP
#ifdef __x86_64__
	CHECK_REG \n, %r8, CANARY_R8
	CHECK_REG \n, %r9, CANARY_R9
	CHECK_REG \n, %r10, CANARY_R10
	CHECK_REG \n, %r11, CANARY_R11
	CHECK_REG \n, %r12, CANARY_R12
	CHECK_REG \n, %r13, CANARY_R13
	CHECK_REG \n, %r14, CANARY_R14
	CHECK_REG \n, %r15, CANARY_R15
#endif
	CHECK_REG \n, R_SP, CANARY_NREGS
	jmp 9f
8:	CANARY_STORE ROW_OF(proc_actual,\n)
	mov R_SP, SLOT(proc_actual,\n,CANARY_NREGS)
	W(inc) COUNTER(proc_mismatches,\n)
	CANARY_LOAD ROW_OF(proc_expected,\n)
	mov SLOT(proc_expected,\n,CANARY_NREGS), R_SP
9:
.endm

/* Syscall: number in A, argument in B. Afterwards A must equal `result`
 * (a memory operand) and B the argument; both are then reloaded. */
.macro SYSCALL n, number, arg, result
	mov $\number, R_AX
	mov $\arg, R_BX
	int $VEC_PROC_SYSCALL
	cmp \result, R_AX
	je 6f
	W(inc) COUNTER(proc_bad_results,\n)
6:	cmp $\arg, R_BX
	je 7f
	W(inc) COUNTER(proc_bad_results,\n)
7:	mov SLOT(proc_expected,\n,CANARY_AX), R_AX
	mov SLOT(proc_expected,\n,CANARY_BX), R_BX
	PROC_CHECK \n
.endm

/*
 * Image n: proc_iters[n] rounds of: spin (checking) until preempted, getpid, sleep, yield,
 * and, when proc_exec_countdown[n] reaches 0, exec (which never returns
 * here). Then exit.
 */
.macro PROC_PROGRAM n
	.text
FUNC(proc_user_\n)
	CANARY_LOAD ROW_OF(proc_expected,\n)
1:	W(mov) $SPIN, COUNTER(proc_spin,\n)
	mov COUNTER(proc_preempted,\n), R_AX
	mov R_AX, COUNTER(proc_seen,\n)
	mov SLOT(proc_expected,\n,CANARY_AX), R_AX
2:	PROC_CHECK \n
	W(dec) COUNTER(proc_spin,\n)
	jnz 2b
	/* Spin on until the timer has preempted this image once in this
	 * round, however fast or slow the machine: every round is preempted.
	 * (mov leaves the flags of the cmp alone.) */
	mov COUNTER(proc_preempted,\n), R_AX
	cmp R_AX, COUNTER(proc_seen,\n)
	mov SLOT(proc_expected,\n,CANARY_AX), R_AX
	jne 4f
	W(inc) COUNTER(proc_spin,\n)
	jmp 2b
4:
	SYSCALL \n, SYS_GETPID, 0, COUNTER(proc_pid_value,\n)
	SYSCALL \n, SYS_SLEEP, SLEEP_TICKS, $0
	SYSCALL \n, SYS_YIELD, 0, $0
	W(dec) COUNTER(proc_exec_countdown,\n)
	jnz 3f
	mov $SYS_EXEC, R_AX
	mov $PROC_IMAGE_EXEC, R_BX
	int $VEC_PROC_SYSCALL
	ud2				/* exec does not return */
3:	W(dec) COUNTER(proc_iters,\n)
	jnz 1b
	mov $SYS_EXIT, R_AX
	int $VEC_PROC_SYSCALL
	ud2				/* exit does not return */
ENDF(proc_user_\n)
.endm

PROC_PROGRAM 0
PROC_PROGRAM 1
PROC_PROGRAM 2
PROC_PROGRAM 3				/* PROC_IMAGE_EXEC: what exec starts */

/*
 * Signal handler, entered by the kernel's rewrite of a user frame on the
 * way back from a timer interrupt (signal number in A, the interrupted
 * context saved on the user stack at SP). It counts itself, overwrites
 * every register, and asks for the saved context back.
 */
FUNC(proc_user_signal)
	cmp $PROC_SIGNAL, R_AX
	je 1f
	W(inc) MEM(proc_bad_signals)
1:	W(inc) MEM(proc_signals_handled)
	CANARY_LOAD proc_signal_junk
	mov $SYS_SIGRETURN, R_AX
	int $VEC_PROC_SYSCALL
	ud2				/* sigreturn does not return here */
ENDF(proc_user_signal)
