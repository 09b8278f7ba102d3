/*
 * isrdbg's /init for a real Linux kernel: a static x86_64 program without
 * libc (raw syscalls) that keeps the kernel's interrupt paths busy, forever:
 *
 *   pf       user-mode page faults on fresh mmap memory (munmap + mmap again)
 *   int80    `int $0x80` getpid (32-bit ABI, eax = 20) from this 64-bit process
 *   syscall  ordinary syscalls (getpid, getppid, sched_yield, getcpu)
 *   signal   a SIGSEGV whose SA_SIGINFO handler fixes up the faulting context
 *            (the kernel rewrites the user frame twice: delivery, sigreturn)
 *   fork     a child that touches memory (COW faults) and exits; wait4
 *   busy     2 spinning processes: more runnable work than CPUs
 *   hop      at each progress line the worker pins itself to the next CPU
 *            and unpins: the kernel migrates it (busy alone rarely does)
 *
 * The kernel passes unknown `name=value` command-line words to init as
 * environment (words with a dot are dropped, hence `_`):
 *   isrdbg_mode=pf,int80,...   which of the above (default: all)
 *   isrdbg_every=K             print a progress line every K loops
 *
 * Serial console lines (tests parse them; keep the words stable):
 *   isrdbg-init: started mode=<mode> every=<K>
 *   isrdbg-init: loop <N> cpu <C> migrations <M>
 *   isrdbg-init: FAIL <what>          a check failed (the loop goes on)
 *
 * pid 1 only starts the worker and busy processes and reaps: if pid 1 died
 * the kernel would panic, so nothing risky runs in it.
 */

#define SYS_write         1
#define SYS_open          2
#define SYS_mmap          9
#define SYS_munmap        11
#define SYS_rt_sigaction  13
#define SYS_rt_sigreturn  15
#define SYS_sched_yield   24
#define SYS_dup2          33
#define SYS_getpid        39
#define SYS_fork          57
#define SYS_exit          60
#define SYS_wait4         61
#define SYS_getppid       110
#define SYS_getcpu        309
#define SYS_sched_setaffinity 203
#define SYS_sched_getaffinity 204

#define IA32_SYS_getpid   20

#define O_RDWR     2
#define O_NOCTTY   0400
#define PROT_READ  1
#define PROT_WRITE 2
#define MAP_PRIVATE   0x02
#define MAP_ANONYMOUS 0x20
#define SIGSEGV    11
#define SA_SIGINFO  0x00000004
#define SA_RESTORER 0x04000000
#define PAGE 4096

/* struct ucontext (x86_64): uc_flags, uc_link, stack_t (24 bytes), then
 * struct sigcontext, whose general registers start r8..r15, rdi, rsi, rbp,
 * rbx, rdx, rax, rcx, rsp, rip. */
#define UC_GREGS   40
#define GREG_RAX   13
#define GREG_RIP   16
#define SI_ADDR    16   /* siginfo_t: signo, errno, code, pad, then si_addr */

typedef unsigned long ulong;

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define sys0(n)             sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a)          sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b)       sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c)    sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* GCC may emit calls to these even without libc. */
void *memset(void *dst, int c, ulong n)
{
    unsigned char *p = dst;
    while (n--)
        *p++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, ulong n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

/* ---- output ---------------------------------------------------------- */

static int console_fd = 1;

static ulong str_len(const char *s)
{
    ulong n = 0;
    while (s[n])
        n++;
    return n;
}

static int str_eq_prefix(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

struct line {
    char buf[160];
    ulong len;
};

static void put_str(struct line *l, const char *s)
{
    while (*s && l->len < sizeof(l->buf) - 1)
        l->buf[l->len++] = *s++;
}

static void put_num(struct line *l, ulong v)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && l->len < sizeof(l->buf) - 1)
        l->buf[l->len++] = digits[--n];
}

/* One write per line, so lines of different processes do not interleave. */
static void emit(struct line *l)
{
    l->buf[l->len++] = '\n';
    sys3(SYS_write, console_fd, l->buf, l->len);
}

static void fail(const char *what)
{
    struct line l = { .len = 0 };
    put_str(&l, "isrdbg-init: FAIL ");
    put_str(&l, what);
    emit(&l);
}

/* ---- settings from the kernel command line ---------------------------- */

static const char *mode = "all";
static ulong every = 50;

static int mode_has(const char *what)
{
    if (str_eq_prefix(mode, "all") && mode[3] == 0)
        return 1;
    ulong n = str_len(what);
    for (const char *p = mode; *p;) {
        if (str_eq_prefix(p, what) && (p[n] == 0 || p[n] == ','))
            return 1;
        while (*p && *p != ',')
            p++;
        if (*p == ',')
            p++;
    }
    return 0;
}

static ulong parse_num(const char *s)
{
    ulong v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (ulong)(*s++ - '0');
    return v;
}

static void read_settings(char **envp)
{
    for (; *envp; envp++) {
        if (str_eq_prefix(*envp, "isrdbg_mode="))
            mode = *envp + 12;
        else if (str_eq_prefix(*envp, "isrdbg_every=")) {
            ulong v = parse_num(*envp + 13);
            if (v)
                every = v;
        }
    }
}

/* ---- the exercises ------------------------------------------------------ */

/* Tests break at the exercises by address (nm build/linux/init), so each is
 * a real, global function. */
#define EXERCISE __attribute__((noinline, used))

/* Touches fresh anonymous pages: each first write is a user-mode #PF. */
EXERCISE void exercise_page_faults(void)
{
    enum { PAGES = 4 };
    long mem = sys6(SYS_mmap, 0, PAGES * PAGE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem < 0 && mem > -4096) {
        fail("mmap");
        return;
    }
    volatile char *p = (volatile char *)mem;
    for (int i = 0; i < PAGES; i++)
        p[i * PAGE] = (char)i;
    if (p[PAGE] != 1)
        fail("page contents");
    sys2(SYS_munmap, mem, PAGES * PAGE);
}

EXERCISE void exercise_int80(void)
{
    long pid = sys0(SYS_getpid);
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(IA32_SYS_getpid)
                     : "memory");
    if (ret != pid)
        fail("int $0x80 getpid");
}

static unsigned current_cpu(void)
{
    unsigned cpu = 0;
    sys3(SYS_getcpu, &cpu, 0, 0);
    return cpu;
}

EXERCISE void exercise_syscalls(void)
{
    if (sys0(SYS_getppid) < 0)
        fail("getppid");
    sys0(SYS_sched_yield);
}

/* The SIGSEGV: store_to_bad_address stores to its argument; the handler
 * checks the fault, moves the saved rip past the store and sets rax = 1, which
 * the function then returns. restore_rt is the sa_restorer (rt_sigreturn). */
extern char bad_store[], bad_store_resume[];
long store_to_bad_address(volatile char *addr);
void restore_rt(void);
__asm__(".text\n"
        ".globl store_to_bad_address\n"
        "store_to_bad_address:\n"
        "    xor %eax, %eax\n"
        ".globl bad_store\n"
        "bad_store:\n"
        "    movb $1, (%rdi)\n"
        ".globl bad_store_resume\n"
        "bad_store_resume:\n"
        "    ret\n"
        ".globl restore_rt\n"
        "restore_rt:\n"
        "    mov $15, %eax\n"       /* SYS_rt_sigreturn */
        "    syscall\n"
        "    hlt\n");

#define BAD_ADDRESS ((volatile char *)0x10)

static void on_segv(int sig, void *info, void *ucontext)
{
    ulong *gregs = (ulong *)((char *)ucontext + UC_GREGS);
    void *addr = *(void **)((char *)info + SI_ADDR);
    if (sig == SIGSEGV && addr == (void *)BAD_ADDRESS && gregs[GREG_RIP] == (ulong)bad_store) {
        gregs[GREG_RIP] = (ulong)bad_store_resume;
        gregs[GREG_RAX] = 1;
        return;
    }
    /* Not our fault: say so and leave (returning would fault again). */
    fail("unexpected SIGSEGV");
    sys1(SYS_exit, 3);
}

struct kernel_sigaction {
    void (*handler)(int, void *, void *);
    ulong flags;
    void (*restorer)(void);
    ulong mask;
};

static void install_segv_handler(void)
{
    struct kernel_sigaction act = {
        .handler = on_segv,
        .flags = SA_SIGINFO | SA_RESTORER,
        .restorer = restore_rt,
        .mask = 0,
    };
    if (sys4(SYS_rt_sigaction, SIGSEGV, &act, 0, sizeof(act.mask)) != 0)
        fail("rt_sigaction");
}

EXERCISE void exercise_signal(void)
{
    if (store_to_bad_address(BAD_ADDRESS) != 1)
        fail("SIGSEGV fix-up");
}

volatile ulong fork_child_iteration; /* a data page the child writes */

EXERCISE void exercise_fork(ulong iteration)
{
    long pid = sys0(SYS_fork);
    if (pid == 0) {
        /* Writes to the inherited stack and data: copy-on-write faults. */
        volatile char stack[2 * PAGE];
        stack[0] = stack[PAGE] = 1;
        fork_child_iteration = iteration;
        sys1(SYS_exit, (long)(iteration & 0x7f));
    }
    if (pid < 0) {
        fail("fork");
        return;
    }
    int status = 0;
    if (sys4(SYS_wait4, pid, &status, 0, 0) != pid || status != (int)((iteration & 0x7f) << 8))
        fail("wait4 status");
}

/* Moves the worker to the next CPU it may run on, then lets it run anywhere
 * again. */
static void hop_to_next_cpu(unsigned cpu)
{
    ulong allowed = 0;
    if (sys3(SYS_sched_getaffinity, 0, sizeof(allowed), &allowed) <= 0)
        return;
    for (unsigned i = 1; i < 64; i++) {
        unsigned next = (cpu + i) % 64;
        if (allowed & (1UL << next)) {
            ulong only = 1UL << next;
            sys3(SYS_sched_setaffinity, 0, sizeof(only), &only);
            sys3(SYS_sched_setaffinity, 0, sizeof(allowed), &allowed);
            return;
        }
    }
}

static void busy_forever(void)
{
    volatile ulong x = 0;
    for (;;)
        for (ulong i = 0; i < 1000000; i++)
            x = x * 33 + i;
}

static void worker_forever(void)
{
    install_segv_handler();
    unsigned cpu = current_cpu();
    ulong migrations = 0;
    for (ulong n = 1;; n++) {
        if (mode_has("pf"))
            exercise_page_faults();
        if (mode_has("int80"))
            exercise_int80();
        if (mode_has("syscall"))
            exercise_syscalls();
        if (mode_has("signal"))
            exercise_signal();
        if (mode_has("fork"))
            exercise_fork(n);
        unsigned now = current_cpu();
        if (now != cpu)
            migrations++;
        cpu = now;
        if (n % every == 0) {
            struct line l = { .len = 0 };
            put_str(&l, "isrdbg-init: loop ");
            put_num(&l, n);
            put_str(&l, " cpu ");
            put_num(&l, cpu);
            put_str(&l, " migrations ");
            put_num(&l, migrations);
            emit(&l);
            if (mode_has("hop"))
                hop_to_next_cpu(cpu);
        }
    }
}

/* Runs body in a new process; returns its pid. */
static long spawn(void (*body)(void))
{
    long pid = sys0(SYS_fork);
    if (pid == 0) {
        body();
        sys1(SYS_exit, 0);
    }
    return pid;
}

static void start_console(void)
{
    long fd = sys3(SYS_open, "/dev/console", O_RDWR | O_NOCTTY, 0);
    if (fd < 0)
        return; /* keep whatever the kernel gave us as fd 1 */
    for (int i = 0; i < 3; i++)
        if (fd != i)
            sys2(SYS_dup2, fd, i);
    console_fd = 1;
}

__attribute__((noreturn)) void start_c(long *sp)
{
    long argc = sp[0];
    char **envp = (char **)(sp + argc + 2);
    start_console();
    read_settings(envp);

    struct line l = { .len = 0 };
    put_str(&l, "isrdbg-init: started mode=");
    put_str(&l, mode);
    put_str(&l, " every=");
    put_num(&l, every);
    emit(&l);

    long worker = spawn(worker_forever);
    if (mode_has("busy")) {
        spawn(busy_forever);
        spawn(busy_forever);
    }
    /* Reap everything (orphans become ours); restart the worker if it dies. */
    for (;;) {
        int status;
        long pid = sys4(SYS_wait4, -1, &status, 0, 0);
        if (pid == worker) {
            fail("worker died; restarting it");
            worker = spawn(worker_forever);
        } else if (pid < 0) {
            sys0(SYS_sched_yield);
        }
    }
}

__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call start_c\n"
        "    hlt\n");
