/*
 * The process model (proc.h): process table, scheduler, syscalls, exec and
 * signal delivery. Kernel code runs with interrupts disabled (every gate is
 * an interrupt gate); only the idle loop enables them. proc_lock guards the
 * process table and every process's state, as xv6's ptable.lock does: it is
 * held across swtch, taken by the side that switches away and released by
 * the side that resumes.
 */
#include "proc.h"
#include "canary.h"
#include "cpu.h"
#include "memmap.h"
#include "pic.h"
#include "printf.h"
#include "report.h"
#include "segments.h"
#include "smp.h"
#include "string.h"
#include "x86.h"

#define FIRST_PID 2              /* pids 2..: never equal to SYS_GETPID (1) */
#define ITERATIONS 6             /* rounds of each user program */
#define EXEC_AFTER 2             /* process 2 execs after this many rounds */
#define EXEC_PROC 2
#define SIGNAL_PROC 1
#define SIGNAL_EVERY 2           /* preemptions of SIGNAL_PROC per signal */
#define EFLAGS_RESERVED 0x2
#define STR_(x) #x
#define STR(x) STR_(x)
#ifdef __x86_64__
#define RED_ZONE 128             /* the SysV ABI's, kept free below user SP */
#define SWTCH_SAVED 6            /* rbx rbp r12 r13 r14 r15 */
#else
#define RED_ZONE 0
#define SWTCH_SAVED 4            /* ebp ebx esi edi */
#endif

/* Kernel stacks side by side, 4 KiB each, as xv6 allocates them: an entry
 * from ring 3 lands at the top of one, right below the next one's bottom. */
uint8_t proc_kstacks[NPROC][PROC_KSTACK_SIZE]
	__attribute__((aligned(PROC_KSTACK_SIZE)));
uint8_t proc_ustacks[NPROC][PROC_USTACK_SIZE] __attribute__((aligned(16)));
uint8_t proc_exec_ustacks[NPROC][PROC_USTACK_SIZE] __attribute__((aligned(16)));
/* x86_64 entry-stack variant: TSS RSP0 of each CPU (Linux's cpu_entry_area). */
uint8_t proc_entry_stacks[SMP_MAX_CPUS][PROC_ENTRY_STACK_SIZE]
	__attribute__((aligned(16)));

struct proc proc_table[NPROC];
struct cpu proc_cpus[SMP_MAX_CPUS];
struct proc_variant proc_variant;
volatile ureg_t proc_ticks;
volatile unsigned proc_live;
volatile unsigned proc_migrations; /* switch-ins on another CPU than before */

/* Read and written by the user programs (proc_user.S), one per image. */
struct proc_user_data proc_user_data[PROC_NIMAGES];
/* proc-same-va: each process's data page and user stack page, which its
 * address space maps at PROC_USER_VA (the kernel reaches them here). */
uint8_t proc_va_pages[NPROC][2][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
/* The symbol proc_user_S uses for PROC_USER_VA (see there why here). */
__asm__(".globl proc_user_va\n\t.set proc_user_va, " STR(PROC_USER_VA));

_Static_assert(offsetof(struct proc_user_data, actual) == UD_ACTUAL, "UD_ACTUAL");
_Static_assert(offsetof(struct proc_user_data, mismatches) == UD_MISMATCHES,
	       "UD_MISMATCHES");
_Static_assert(offsetof(struct proc_user_data, pid) == UD_PID, "UD_PID");
_Static_assert(offsetof(struct proc_user_data, seen) == UD_SEEN, "UD_SEEN");
_Static_assert(sizeof(struct proc_user_data) == UD_SIZE, "UD_SIZE");
volatile ureg_t proc_signals_handled, proc_bad_signals, proc_signals_sent;
ureg_t proc_signal_junk[CANARY_NREGS];
volatile ureg_t proc_other_trapframe_writes; /* bad-proc-other-trapframe */

static char *const proc_images[PROC_NIMAGES] = {
	proc_user_0, proc_user_1, proc_user_2, proc_user_3,
};

struct spinlock {
	volatile uint32_t locked;
};

static struct spinlock proc_lock;

/*
 * Interrupts off while a CPU holds a lock (or reads its struct cpu), nested
 * (xv6's push_off/pop_off): only proc-preemptible runs kernel code with
 * interrupts on, and there a timer must not interrupt a holder of proc_lock
 * on its own CPU, nor move a process to another CPU between cpu_index() and
 * the use of its struct cpu.
 */
static int interrupts_on(void)
{
	ureg_t flags;

	__asm__ volatile("pushf\n\tpop %0" : "=r"(flags));
	return (flags & EFLAGS_IF) != 0;
}

static void push_off(void)
{
	int on = interrupts_on();
	struct cpu *c;

	cli();
	c = &proc_cpus[cpu_index()];
	if (c->ncli++ == 0)
		c->intena = on;
}

static void pop_off(void)
{
	struct cpu *c = &proc_cpus[cpu_index()];

	if (c->ncli == 0 || interrupts_on())
		panic("pop_off: ncli %u, IF %d", c->ncli, interrupts_on());
	if (--c->ncli == 0 && c->intena)
		sti();
}

static void acquire(struct spinlock *l)
{
	push_off();
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		__asm__ volatile("pause");
}

static void release(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	pop_off();
}

static ureg_t stack_top(uint8_t (*stacks)[PROC_USTACK_SIZE], unsigned i)
{
	return (ureg_t)stacks[i] + PROC_USTACK_SIZE;
}

/* The data of a program with canary set `pattern`, run by process `proc`
 * with its stack at `sp`. */
static void data_setup(struct proc_user_data *d, unsigned pattern,
		       unsigned proc, ureg_t sp, unsigned exec_after)
{
	unsigned i;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < CANARY_NREGS; i++) {
		/* Unlike every other program's, so a register carried from
		 * one process to another shows. */
		d->expected[i] = canary_pattern(i) ^ ((ureg_t)pattern << 8);
		d->actual[i] = d->expected[i];
	}
	d->expected[CANARY_NREGS] = d->actual[CANARY_NREGS] = sp;
	d->iters = ITERATIONS;
	d->exec_countdown = exec_after; /* 0: never (it wraps) */
	d->pid = FIRST_PID + proc;
}

/* Where process p starts image `image`: entry point and stack top. */
static ureg_t image_entry(unsigned image)
{
	return (ureg_t)(proc_variant.same_va ? proc_user_shared
					     : proc_images[image]);
}

static ureg_t image_stack(struct proc *p, unsigned image)
{
	unsigned i = (unsigned)(p - proc_table);

	if (proc_variant.same_va)
		return PROC_USER_STACK_TOP;
	return image == PROC_IMAGE_EXEC ? stack_top(proc_exec_ustacks, i)
					: stack_top(proc_ustacks, i);
}

/* The first frame of process p: proc_trapret pops the trapframe (ring 3,
 * its image, IF=1); swtch's first return goes to proc_forkret. */
static void proc_build(struct proc *p, unsigned i)
{
	struct trapframe *tf;
	ureg_t *sp;
	unsigned k;

	p->pid = FIRST_PID + i;
	p->state = PROC_RUNNABLE;
	p->image = i;
	p->kstack_top = (ureg_t)proc_kstacks[i] + PROC_KSTACK_SIZE;
	tf = (struct trapframe *)(p->kstack_top - sizeof(*tf));
	memset(tf, 0, sizeof(*tf));
	tf->f.ip = image_entry(i);
	tf->f.cs = SEL_UCODE;
	tf->f.flags = EFLAGS_RESERVED | EFLAGS_IF;
	tf->f.sp = image_stack(p, i);
	tf->f.ss = SEL_UDATA;
	p->tf = tf;

	sp = (ureg_t *)tf;
	*--sp = (ureg_t)proc_trapret;
	*--sp = (ureg_t)proc_forkret;
	for (k = 0; k < SWTCH_SAVED; k++)
		*--sp = 0;
	p->context_sp = (ureg_t)sp;
	if (proc_variant.same_va) {
		p->data = (struct proc_user_data *)proc_va_pages[i][0];
		p->cr3 = proc_copy_space(i, proc_va_pages[i][0],
					 proc_va_pages[i][1]);
	} else {
		p->data = &proc_user_data[i];
		p->cr3 = proc_variant.own_cr3 ? proc_copy_space(i, NULL, NULL)
					      : proc_kernel_space();
	}
}

void proc_setup(void)
{
	unsigned i;
	int extras = proc_variant.exec_and_signals;

	for (i = 0; i < NPROC; i++) {
		unsigned exec_after = extras && i == EXEC_PROC ? EXEC_AFTER : 0;

		proc_build(&proc_table[i], i);
		data_setup(proc_table[i].data, i, i,
			   image_stack(&proc_table[i], i), exec_after);
	}
	data_setup(&proc_user_data[PROC_IMAGE_EXEC], PROC_IMAGE_EXEC, EXEC_PROC,
		   image_stack(&proc_table[EXEC_PROC], PROC_IMAGE_EXEC), 0);
	for (i = 0; i < CANARY_NREGS; i++)
		proc_signal_junk[i] = 0x5151515151515151UL ^ i;
	proc_live = NPROC;
	proc_ticks = 0;
}

/* Switches from process p (proc_lock held, p->state already changed) to
 * this CPU's scheduler; returns when a scheduler switches p back in. */
static void sched(struct proc *p)
{
	/* Whether interrupts were on before acquire() belongs to this
	 * process, not to the CPU it resumes on (xv6's intena). */
	int intena = proc_cpus[cpu_index()].intena;

	swtch(&p->context_sp, proc_cpus[cpu_index()].scheduler_sp);
	proc_cpus[cpu_index()].intena = intena;
}

static void yield(struct proc *p)
{
	acquire(&proc_lock);
	p->state = PROC_RUNNABLE;
	sched(p);
	release(&proc_lock);
}

/* A new process's first return from swtch: the scheduler's lock is ours. */
void proc_forkret(void)
{
	release(&proc_lock);
}

static struct proc *pick(unsigned *next)
{
	unsigned i;

	for (i = 0; i < NPROC; i++) {
		struct proc *p = &proc_table[(*next + i) % NPROC];
		if (p->state == PROC_RUNNABLE) {
			*next = (*next + i + 1) % NPROC;
			return p;
		}
	}
	return NULL;
}

void proc_cpu_main(void)
{
	unsigned me = cpu_index(), next = me;
	struct cpu *c = &proc_cpus[me];

	proc_arch_cpu_init();
	if (proc_variant.entry_stack)
		cpu_set_kernel_stack((ureg_t)proc_entry_stacks[me] +
				     PROC_ENTRY_STACK_SIZE);
	for (;;) {
		struct proc *p;

		acquire(&proc_lock);
		if (!proc_live) {
			release(&proc_lock);
			return;
		}
		p = pick(&next);
		if (!p) {
			/* Everyone sleeps: wait for the timer (sti's shadow
			 * covers the hlt, so no tick is missed). */
			release(&proc_lock);
			__asm__ volatile("sti\n\t"
					 ".globl proc_idle_hlt\n"
					 "proc_idle_hlt:\n\t"
					 "hlt\n\t"
					 "cli" ::: "memory");
			continue;
		}
		p->state = PROC_RUNNING;
		p->switched_away = c->last != p;
		if (p->ran && p->last_cpu != me)
			proc_migrations++;
		p->ran = 1;
		p->last_cpu = me;
		c->current = c->last = p;
		c->switches++;
		if (!proc_variant.entry_stack)
			cpu_set_kernel_stack(p->kstack_top);
		if (proc_variant.own_cr3)
			write_cr3(p->cr3);
		swtch(&c->scheduler_sp, p->context_sp);
		if (proc_variant.own_cr3)
			write_cr3(proc_kernel_space());
		c->current = NULL;
		release(&proc_lock);
	}
}

static struct proc *current(struct trapframe *tf)
{
	struct proc *p;

	push_off();
	p = proc_cpus[cpu_index()].current;
	pop_off();
	if (!p)
		panic("entry from ring 3 with no current process");
	if ((tf->f.cs & 3) && tf != p->tf)
		panic("pid %u: trapframe at %p, expected %p", p->pid, (void *)tf,
		      (void *)p->tf);
	return p;
}

/* exec: the process starts image `image` afresh, as a real exec does:
 * entry point, empty stack, every register zero. */
static void proc_exec(struct proc *p, struct trapframe *tf, ureg_t image)
{
	if (image >= PROC_NIMAGES)
		panic("exec of image %lu", image);
	memset(&tf->r, 0, sizeof(tf->r));
	tf->f.ip = image_entry((unsigned)image);
	tf->f.sp = image_stack(p, (unsigned)image);
	tf->f.flags = EFLAGS_RESERVED | EFLAGS_IF;
	p->image = (unsigned)image;
	if (!proc_variant.same_va) /* same-va: the process keeps its data */
		p->data = &proc_user_data[image];
}

/* Signal delivery on a return to ring 3: the interrupted context goes onto
 * the user stack and the process resumes in its handler (A = the signal).
 * The signal stays blocked until sigreturn, as sigaction's mask does. */
static void deliver_signal(struct proc *p, struct trapframe *tf)
{
	ureg_t sp = (tf->f.sp - RED_ZONE - sizeof(*tf)) & ~15UL;

	memcpy((void *)sp, tf, sizeof(*tf));
	tf->f.sp = sp;
	tf->f.ip = (ureg_t)proc_user_signal;
	TF_AX(tf) = PROC_SIGNAL;
	p->in_signal = 1;
	proc_signals_sent++;
}

/* sigreturn: the handler left SP at the saved context; back to it (ring 3
 * and IF=1 whatever the user stack says). */
static void sigreturn(struct proc *p, struct trapframe *tf)
{
	const struct trapframe *saved = (const struct trapframe *)tf->f.sp;

	if (saved->f.cs != SEL_UCODE || saved->f.ss != SEL_UDATA)
		panic("sigreturn: saved cs %#lx ss %#lx", saved->f.cs,
		      saved->f.ss);
	tf->r = saved->r;
	tf->f.ip = saved->f.ip;
	tf->f.sp = saved->f.sp;
	tf->f.flags = saved->f.flags | EFLAGS_IF;
	p->in_signal = 0;
}

/* bad-proc-other-trapframe: getpid "also" writes B of the first other
 * process that waits in a syscall, whose context is in its trapframe. Once. */
static void bug_other_trapframe(struct proc *me)
{
	unsigned i;

	if (proc_other_trapframe_writes)
		return;
	for (i = 0; i < NPROC; i++) {
		struct proc *q = &proc_table[i];
		if (q == me || q->state != PROC_SLEEPING)
			continue;
		__asm__ volatile(".globl bug_proc_other_trapframe\n"
				 "bug_proc_other_trapframe:\n\t"
				 "mov %1, %0"
				 : "=m"(TF_BX(q->tf))
				 : "r"((ureg_t)0xdead));
		proc_other_trapframe_writes++;
		return;
	}
}

void proc_syscall(struct trapframe *tf)
{
	struct proc *p = current(tf);

	switch (TF_AX(tf)) {
	case SYS_GETPID:
		TF_AX(tf) = p->pid;
		if (proc_variant.bug_other_trapframe)
			bug_other_trapframe(p);
		break;
	case SYS_SLEEP:
		if (proc_variant.preemptible) {
			/* Waits with interrupts on: the timer preempts
			 * this syscall, and other processes run meanwhile. */
			ureg_t wake = proc_ticks + TF_BX(tf);
			while (proc_ticks < wake)
				__asm__ volatile("pause");
			TF_AX(tf) = 0;
			break;
		}
		acquire(&proc_lock);
		p->wake_tick = proc_ticks + TF_BX(tf);
		p->state = PROC_SLEEPING;
		sched(p);
		release(&proc_lock);
		TF_AX(tf) = 0;
		break;
	case SYS_YIELD:
		yield(p);
		TF_AX(tf) = 0;
		break;
	case SYS_EXEC:
		proc_exec(p, tf, TF_BX(tf));
		break;
	case SYS_EXIT:
		acquire(&proc_lock);
		p->state = PROC_UNUSED;
		proc_live--;
		sched(p);
		panic("pid %u ran after exit", p->pid);
	case SYS_SIGRETURN:
		sigreturn(p, tf);
		break;
	default:
		TF_AX(tf) = (ureg_t)-1;
	}
}

static void wake_sleepers(void)
{
	unsigned i;

	acquire(&proc_lock);
	proc_ticks++;
	for (i = 0; i < NPROC; i++) {
		struct proc *q = &proc_table[i];
		if (q->state == PROC_SLEEPING && proc_ticks >= q->wake_tick)
			q->state = PROC_RUNNABLE;
	}
	release(&proc_lock);
}

int proc_timer(struct trapframe *tf)
{
	struct cpu *c = &proc_cpus[cpu_index()];
	struct proc *p = c->current;
	int switched;

	c->timer_ticks++;
	if (cpu_index() == 0)
		wake_sleepers();
	timer_eoi(); /* before any switch: the next process needs its ticks */
	if (!p)
		return 0; /* the idle loop: nothing to preempt */
	if (!(tf->f.cs & 3)) {
		/* Kernel code with interrupts on: a syscall of
		 * proc-preemptible. Preempted there too, as in xv6. */
		p->kernel_preemptions++;
		yield(p);
		return (int)p->switched_away;
	}
	current(tf);
	p->preemptions++;
	p->data->preempted++; /* the user program waits for this */
	yield(p);
	switched = (int)p->switched_away;
	if (proc_variant.exec_and_signals && p == &proc_table[SIGNAL_PROC] &&
	    !p->in_signal && p->preemptions % SIGNAL_EVERY == 0)
		deliver_signal(p, tf);
	return switched;
}

struct trapframe *proc_sync_regs(struct trapframe *entry)
{
	struct proc *p = proc_cpus[cpu_index()].current;

	if (!p)
		panic("entry from ring 3 with no current process");
	*p->tf = *entry;
	return p->tf;
}

/* What one program's data says: "canary FAIL <kind> <i> <reg> ..." lines
 * for the registers of its last mismatch, and the checks. */
static int check_data(const char *kind, unsigned i,
		      const struct proc_user_data *d, int all_rounds)
{
	char who[16];
	int ok = 1;

	ksnprintf(who, sizeof(who), "%s %u ", kind, i);
	if (d->mismatches) {
		canary_compare(who, d->expected, d->actual);
		if (d->actual[CANARY_NREGS] != d->expected[CANARY_NREGS])
			kprintf("canary FAIL %s" CANARY_SP_NAME
				" changed %#lx -> %#lx\n", who,
				d->expected[CANARY_NREGS], d->actual[CANARY_NREGS]);
	}
	ok &= check(!d->mismatches, "%s %u: %lu register mismatches", kind, i,
		    d->mismatches);
	ok &= check(!d->bad_results,
		    "%s %u: %lu wrong syscall results or arguments", kind, i,
		    d->bad_results);
	if (all_rounds)
		ok &= check(d->iters == 0, "%s %u stopped with %lu rounds left",
			    kind, i, d->iters);
	return ok;
}

int proc_report(void)
{
	unsigned i, switches = 0, kernel_preemptions = 0;
	int ok = 1;

	for (i = 0; i < SMP_MAX_CPUS; i++)
		switches += proc_cpus[i].switches;
	for (i = 0; i < NPROC; i++)
		kernel_preemptions += proc_table[i].kernel_preemptions;
	kprintf("proc: %u processes, %lu ticks, %u switches, %u migrations, "
		"%lu signals (%lu handled), exec %s\n", NPROC, proc_ticks,
		switches, proc_migrations, proc_signals_sent, proc_signals_handled,
		proc_table[EXEC_PROC].image == PROC_IMAGE_EXEC ? "done" : "none");
	if (proc_variant.preemptible)
		kprintf("proc: %u preemptions in kernel code\n",
			kernel_preemptions);
	if (proc_variant.same_va) {
		for (i = 0; i < NPROC; i++)
			ok &= check_data("process", i, proc_table[i].data, 1);
	} else {
		/* exec leaves its image with rounds left; the exec image runs
		 * only if exec happened. */
		for (i = 0; i < PROC_NIMAGES; i++)
			ok &= check_data("image", i, &proc_user_data[i],
					 i != EXEC_PROC && i != PROC_IMAGE_EXEC);
	}
	ok &= check(!proc_bad_signals, "%lu signals with a wrong number",
		    proc_bad_signals);
	ok &= check(proc_signals_handled == proc_signals_sent,
		    "%lu signals sent, %lu handled", proc_signals_sent,
		    proc_signals_handled);
	if (proc_variant.exec_and_signals) {
		ok &= check(proc_table[EXEC_PROC].image == PROC_IMAGE_EXEC,
			    "process %u never ran exec", EXEC_PROC);
		ok &= check(proc_signals_sent > 0, "no signal was delivered");
	}
	if (proc_variant.bug_other_trapframe)
		ok &= check(proc_other_trapframe_writes == 1,
			    "the other-trapframe bug wrote %lu times",
			    proc_other_trapframe_writes);
	return ok;
}
