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
 * exec starts; PROC_IMAGE_SHARED is the one program every process runs in
 * proc-same-va. */
#define PROC_IMAGE_EXEC NPROC
#define PROC_NIMAGES (NPROC + 1)
#define PROC_IMAGE_SHARED PROC_NIMAGES

/* proc-same-va: where every process sees its own data page (struct
 * proc_user_data) and, right above it, its own user stack page (the first
 * address above the kernel's 1 GiB identity map). */
#define PROC_USER_VA 0x40000000
#define PROC_USER_STACK_TOP (PROC_USER_VA + 2 * 4096)

/* struct proc_user_data, for the assembly: byte offsets of its fields. */
#ifdef __x86_64__
#define PROC_W 8
#else
#define PROC_W 4
#endif
/* (no spaces: assembler macros take them as arguments, which spaces split) */
#define UD_EXPECTED 0                       /* [CANARY_NREGS + 1] */
#define UD_ACTUAL (PROC_W*(CANARY_NREGS+1)) /* [CANARY_NREGS + 1] */
#define UD_MISMATCHES (2*UD_ACTUAL)
#define UD_BAD_RESULTS (UD_MISMATCHES+PROC_W)
#define UD_SPIN (UD_MISMATCHES+2*PROC_W)
#define UD_ITERS (UD_MISMATCHES+3*PROC_W)
#define UD_EXEC_COUNTDOWN (UD_MISMATCHES+4*PROC_W)
#define UD_PID (UD_MISMATCHES+5*PROC_W)
#define UD_PREEMPTED (UD_MISMATCHES+6*PROC_W)
#define UD_SEEN (UD_MISMATCHES+7*PROC_W)
#define UD_SIZE (UD_MISMATCHES+8*PROC_W)

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

/* What a user program reads and writes (proc_user.S): its canaries (stack
 * pointer last), its registers at the last mismatch, and counters. */
struct proc_user_data {
	ureg_t expected[CANARY_NREGS + 1];
	ureg_t actual[CANARY_NREGS + 1];
	volatile ureg_t mismatches;    /* registers found changed */
	volatile ureg_t bad_results;   /* wrong syscall results or arguments */
	ureg_t spin;                   /* checks left in this round's spin */
	ureg_t iters;                  /* rounds left */
	ureg_t exec_countdown;         /* rounds before exec (0: never) */
	ureg_t pid;                    /* what getpid must return */
	volatile ureg_t preempted;     /* timer preemptions (the kernel counts) */
	ureg_t seen;                   /* preempted at the round's start */
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
	struct proc_user_data *data; /* its program's, as the kernel sees it */
	int in_signal;            /* in its signal handler: no new signal */
	unsigned kernel_preemptions; /* timer switches inside its syscalls */
};

struct cpu {
	struct proc *current;     /* NULL while the scheduler runs */
	struct proc *last;        /* the process it ran last */
	ureg_t scheduler_sp;      /* the scheduler's swtch context */
	unsigned switches;        /* processes switched in on this CPU */
	unsigned timer_ticks;     /* timer interrupts on this CPU */
	unsigned ncli;            /* push_off depth */
	int intena;               /* interrupts were on at the first push_off */
};

/* Which variant proc_setup() builds (set by the scenario's install hook). */
struct proc_variant {
	int own_cr3;       /* every process gets a copy of the top-level table */
	int entry_stack;   /* x86_64: Linux-like per-CPU entry stack + copy */
	int exec_and_signals; /* process 2 execs, process 1 takes signals */
	int bug_other_trapframe; /* bad-proc-other-trapframe's C bug */
	int same_va;       /* one program, data and stack at PROC_USER_VA in
			    * every process (needs own_cr3) */
	int preemptible;   /* syscalls through a trap gate run with IF=1 and
			    * the timer preempts them (xv6) */
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
/* A copy of the kernel's top-level table for process pid; with data and
 * stack pages, also mapping them at PROC_USER_VA (user, writable). */
ureg_t proc_copy_space(unsigned pid, const void *data, const void *stack);
void proc_arch_cpu_init(void);           /* i386: user data segments */

/* common/proc_user.S: the ring-3 programs and the signal handler. */
extern char proc_user_0[], proc_user_1[], proc_user_2[], proc_user_3[];
extern char proc_user_shared[];
extern char proc_user_signal[];
#endif

#endif
