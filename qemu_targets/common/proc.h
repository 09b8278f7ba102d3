/*
 * A small process model, built like a real kernel's (README "Process
 * model"): NPROC ring-3 processes with 4 KiB kernel stacks side by side in
 * one array (proc_kstacks, as xv6 places them), a trapframe at the top of
 * each, a DPL-3 syscall gate, timer preemption with an xv6-style swtch
 * between kernel stacks, sleep, yield, exec and a signal-like rewrite of the
 * user frame on the way back from the timer.
 *
 * Written for SMP from the start: the run queue (proc_table) is protected
 * by one spinlock, every CPU has its own struct cpu (current process,
 * scheduler context) indexed by cpu_index() (smp.h), and a CPU joins by
 * calling proc_cpu_main(). The timer vector and handler are the same on every CPU.
 *
 * Syscall ABI (int $PROC_SYSCALL_VECTOR from ring 3): number in rax/eax,
 * argument in rbx/ebx, result in rax/eax; every other register is returned
 * unchanged. Assembly-safe part first.
 */
#ifndef PROC_H
#define PROC_H

#define NPROC 3                 /* processes started by every proc scenario */
#define PROC_KSTACK_SIZE 4096   /* per process, side by side */
#define PROC_USTACK_SIZE 4096
#define PROC_ENTRY_STACK_SIZE 1024 /* x86_64 Linux-like per-CPU entry stack */

#define SYS_GETPID 1    /* -> pid (never the number the caller put in rax) */
#define SYS_SLEEP 2     /* rbx = ticks to sleep -> 0 */
#define SYS_YIELD 3     /* -> 0 */
#define SYS_EXEC 4      /* rbx = image index: the process starts over */
#define SYS_EXIT 5      /* never returns */
#define SYS_SIGRETURN 6 /* restores the context the signal frame saved */

#define PROC_SIGNAL 10  /* the one signal: rax/eax at the handler */

/* Images a process can run (proc_images[]): its own program, or the one
 * exec starts. Each has its own canary row in proc_expected[]. */
#define PROC_IMAGE_EXEC NPROC
#define PROC_NIMAGES (NPROC + 1)

#ifndef __ASSEMBLER__
#include "arch.h"
#include "frame.h"
#include "smp.h"  /* cpu_index(), SMP_MAX_CPUS */
#include "types.h"

/* What the entry stubs save at the top of the kernel stack: the stub's
 * GPRs (struct regs, lowest address first), then what the CPU pushed. */
struct trapframe {
	struct regs r;
	struct iframe f;
};

#ifdef __x86_64__
#define TF_AX(tf) ((tf)->r.rax)
#define TF_BX(tf) ((tf)->r.rbx)
#else
#define TF_AX(tf) ((tf)->r.eax)
#define TF_BX(tf) ((tf)->r.ebx)
#endif

enum proc_state { PROC_UNUSED, PROC_RUNNABLE, PROC_RUNNING, PROC_SLEEPING };

struct proc {
	unsigned pid;
	enum proc_state state;
	ureg_t kstack_top;        /* its slice of proc_kstacks */
	struct trapframe *tf;     /* at kstack_top, valid while in the kernel */
	ureg_t context_sp;        /* swtch's saved stack pointer when off CPU */
	ureg_t cr3;               /* its address space (the kernel's if shared) */
	ureg_t wake_tick;         /* SLEEPING until proc_ticks reaches it */
	unsigned image;           /* proc_images[] index it runs */
	unsigned preemptions;     /* timer interrupts taken in ring 3 */
	unsigned switched_away;   /* another process ran since it last ran */
	unsigned last_cpu;        /* the CPU it last ran on */
	int ran;                  /* has been switched in before */
	int in_signal;            /* in its signal handler: no new signal */
};

struct cpu {
	struct proc *current;     /* NULL while the scheduler runs */
	struct proc *last;        /* the process it ran last */
	ureg_t scheduler_sp;      /* the scheduler's swtch context */
	unsigned switches;        /* processes switched in on this CPU */
	unsigned timer_ticks;     /* timer interrupts on this CPU */
};

/* Which variant proc_setup() builds (set by the scenario's install hook). */
struct proc_variant {
	int own_cr3;       /* every process gets a copy of the top-level table */
	int entry_stack;   /* x86_64: Linux-like per-CPU entry stack + copy */
	int exec_and_signals; /* process 2 execs, process 1 takes signals */
	int bug_other_trapframe; /* bad-proc-other-trapframe's C bug */
};

extern struct proc proc_table[NPROC];
extern struct cpu proc_cpus[SMP_MAX_CPUS];
extern struct proc_variant proc_variant;
extern volatile ureg_t proc_ticks;       /* counted by CPU 0's timer */
extern volatile unsigned proc_live;      /* processes that have not exited */
extern volatile unsigned proc_migrations; /* resumed on another CPU */

/* Builds the processes (stacks, first frames, address spaces) and the
 * gates; the install hook of every proc scenario calls it. */
void proc_setup(void);
/* A CPU runs processes until every process has exited, then returns. The
 * caller must have the timer running; every CPU calls this. */
void proc_cpu_main(void);
/* After every CPU returned from proc_cpu_main(): prints the per-process
 * results and checks the user programs' canaries. Returns 1 on PASS. */
int proc_report(void);

/* C halves of the entry stubs (<arch>/proc_entry.S). proc_timer returns 1
 * when the process was switched out and another process ran meanwhile. */
void proc_syscall(struct trapframe *tf);
int proc_timer(struct trapframe *tf);
/* x86_64 entry-stack variant: copies the frame the stub saved on the
 * per-CPU entry stack to the current process's trapframe; returns it. */
struct trapframe *proc_sync_regs(struct trapframe *entry);

/* <arch>/proc_entry.S */
extern char isr_proc_syscall[], isr_proc_timer[], proc_trapret[];
extern char isr_proc_entry_syscall[], isr_proc_entry_timer[]; /* x86_64 */
extern char bad_proc_syscall_rbx_handler[], bad_proc_switch_handler[];
/* Saves the callee-saved registers and the stack pointer in *save, then
 * continues on the stack new_sp (whose swtch frame was saved likewise). */
void swtch(ureg_t *save, ureg_t new_sp);
void proc_forkret(void); /* a new process's first return from swtch */

/* <arch>/proc_arch.c */
ureg_t proc_kernel_space(void);          /* the kernel's CR3 */
ureg_t proc_copy_space(unsigned pid);    /* a copy of its top-level table */
void proc_arch_cpu_init(void);           /* i386: user data segments */

/* common/proc_user.S: the ring-3 programs and the signal handler. */
extern char proc_user_0[], proc_user_1[], proc_user_2[], proc_user_3[];
extern char proc_user_signal[];
#endif

#endif
