/*
 * The ring-3 programs of the process model (proc.h), written once for both
 * arches. Each program keeps canaries in EVERY general register (the
 * `expected` of its struct proc_user_data, stack pointer in the last slot)
 * while it spins, makes syscalls and is preempted, and checks them after
 * each step using flags and memory only: a mismatch stores all its
 * registers into `actual`, counts itself in `mismatches`, reloads the
 * canaries and goes on. A syscall result or argument that is wrong counts
 * in `bad_results`. The kernel reads the counters at the end (proc_report).
 * Images 0..3 have their data in proc_user_data[n]; proc_user_shared, run
 * by every process of proc-same-va, finds its own at PROC_USER_VA.
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
 * a space would split. base is the program's struct proc_user_data. */
#define SLOT(base,field,reg) MEM(base+field+WSIZE*reg)
#define FIELD(base,field) MEM(base+field)

#define SPIN 50	/* checks per round at least (then on until preempted) */
#define SLEEP_TICKS 2

/* cmp one register with its canary; jne to the mismatch path 8. */
.macro CHECK_REG b, reg, idx
	cmp SLOT(\b,UD_EXPECTED,\idx), \reg
	jne 8f
.endm

/* Every GPR and the stack pointer against the canaries at b. Flags only. */
.macro PROC_CHECK b
	CHECK_REG \b, R_AX, CANARY_AX
	CHECK_REG \b, R_BX, CANARY_BX
	CHECK_REG \b, R_CX, CANARY_CX
	CHECK_REG \b, R_DX, CANARY_DX
	CHECK_REG \b, R_SI, CANARY_SI
	CHECK_REG \b, R_DI, CANARY_DI
	CHECK_REG \b, R_BP, CANARY_BP
#ifdef __x86_64__
	CHECK_REG \b, %r8, CANARY_R8
	CHECK_REG \b, %r9, CANARY_R9
	CHECK_REG \b, %r10, CANARY_R10
	CHECK_REG \b, %r11, CANARY_R11
	CHECK_REG \b, %r12, CANARY_R12
	CHECK_REG \b, %r13, CANARY_R13
	CHECK_REG \b, %r14, CANARY_R14
	CHECK_REG \b, %r15, CANARY_R15
#endif
	CHECK_REG \b, R_SP, CANARY_NREGS
	jmp 9f
8:	CANARY_STORE \b+UD_ACTUAL
	mov R_SP, SLOT(\b,UD_ACTUAL,CANARY_NREGS)
	W(inc) FIELD(\b,UD_MISMATCHES)
	CANARY_LOAD \b+UD_EXPECTED
	mov SLOT(\b,UD_EXPECTED,CANARY_NREGS), R_SP
9:
.endm

/* Syscall: number in A, argument in B. Afterwards A must equal `result`
 * (a memory operand) and B the argument; both are then reloaded. */
.macro SYSCALL b, number, arg, result
	mov $\number, R_AX
	mov $\arg, R_BX
	int $VEC_PROC_SYSCALL
	cmp \result, R_AX
	je 6f
	W(inc) FIELD(\b,UD_BAD_RESULTS)
6:	cmp $\arg, R_BX
	je 7f
	W(inc) FIELD(\b,UD_BAD_RESULTS)
7:	mov SLOT(\b,UD_EXPECTED,CANARY_AX), R_AX
	mov SLOT(\b,UD_EXPECTED,CANARY_BX), R_BX
	PROC_CHECK \b
.endm

/*
 * A program whose data is at b: `iters` rounds of: spin (checking) until
 * preempted, getpid, sleep, yield, and, when `exec_countdown` reaches 0,
 * exec (which never returns here). Then exit.
 */
.macro PROC_PROGRAM name, b
	.text
FUNC(proc_user_\name)
	CANARY_LOAD \b+UD_EXPECTED
1:	W(mov) $SPIN, FIELD(\b,UD_SPIN)
	mov FIELD(\b,UD_PREEMPTED), R_AX
	mov R_AX, FIELD(\b,UD_SEEN)
	mov SLOT(\b,UD_EXPECTED,CANARY_AX), R_AX
2:	PROC_CHECK \b
	W(dec) FIELD(\b,UD_SPIN)
	jnz 2b
	/* Spin on until the timer has preempted this program once in this
	 * round, however fast or slow the machine: every round is preempted.
	 * (mov leaves the flags of the cmp alone.) */
	mov FIELD(\b,UD_PREEMPTED), R_AX
	cmp R_AX, FIELD(\b,UD_SEEN)
	mov SLOT(\b,UD_EXPECTED,CANARY_AX), R_AX
	jne 4f
	W(inc) FIELD(\b,UD_SPIN)
	jmp 2b
4:	SYSCALL \b, SYS_GETPID, 0, FIELD(\b,UD_PID)
	SYSCALL \b, SYS_SLEEP, SLEEP_TICKS, $0
	SYSCALL \b, SYS_YIELD, 0, $0
	W(dec) FIELD(\b,UD_EXEC_COUNTDOWN)
	jnz 3f
	mov $SYS_EXEC, R_AX
	mov $PROC_IMAGE_EXEC, R_BX
	int $VEC_PROC_SYSCALL
	ud2				/* exec does not return */
3:	W(dec) FIELD(\b,UD_ITERS)
	jnz 1b
	mov $SYS_EXIT, R_AX
	int $VEC_PROC_SYSCALL
	ud2				/* exit does not return */
ENDF(proc_user_\name)
.endm

PROC_PROGRAM 0, proc_user_data
PROC_PROGRAM 1, proc_user_data+UD_SIZE
PROC_PROGRAM 2, proc_user_data+2*UD_SIZE
PROC_PROGRAM 3, proc_user_data+3*UD_SIZE	/* PROC_IMAGE_EXEC: what exec starts */
/* proc_user_va is PROC_USER_VA, defined in proc.c: an absolute symbol
 * from another object, so x86_64's RIP-relative MEM() gets a relocation to
 * the address itself (a number, or a symbol set here, would be taken as an
 * offset from RIP). */
PROC_PROGRAM shared, proc_user_va	/* PROC_IMAGE_SHARED: proc-same-va */

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
