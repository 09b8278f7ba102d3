/*
 * isrdbg's trace plugin for QEMU (TCG, plugin API version 4: QEMU 9.2+).
 *
 * Records, at instructions GDB names at run time (handler entries and exit
 * instructions), the vCPU's registers and the stack around RSP into a ring
 * file (ring.h) that isrdbg reads inside GDB without stopping the guest.
 * All judging happens on the GDB side; this file only observes.
 *
 *   -plugin libisrdbg-trace.so,ring=PATH[,slots=N]
 *
 * GDB changes the watched addresses while the guest is stopped (it writes
 * the table, then bumps the generation) and writes the bytes of each added
 * address back, which makes QEMU drop the blocks translated from them.  The
 * plugin copies the new table at the next resume or translation, whichever
 * comes first, so those blocks are translated anew with their callbacks.
 * Blocks of addresses no longer watched keep a callback that finds nothing
 * to do; when nothing is watched any more GDB asks for a reset, which
 * flushes every translated block (catch_up, vcpu_resume).
 *
 * Folding (ring.h): most handler runs change nothing the judge compares, and
 * GDB's cost is per record.  An entry GDB marked WATCH_FOLD is held back (at
 * most one entry in the whole guest, in the file's pending area) and written
 * only when the next event is not its clean exit; a clean exit turns the pair
 * into one KIND_CLEAN record.  Holding only while no other event happens keeps
 * the ring's order of events exactly what it would be without folding.  A
 * folded record equal to the one before it only counts in the pending batch
 * (ring.h): GDB's cost is then per batch, not per run.
 *
 * Cached state: each register read costs the guest ~46 ns, and a handler run
 * is two events.  The registers only instructions change -- x87/SSE (19
 * reads), and in long mode the FS/GS bases, KERNEL_GS_BASE, CR3 and EFER --
 * are kept per vCPU and read anew only when one of those instructions ran on
 * that vCPU since the last read (state_writers.c decides at translation and
 * plants an inline store that marks the vCPU; QEMU's code runs it before the
 * instruction), when the debugger may have written registers (GDB bumps
 * H_STATE_GEN at every stop), after a reset, and on a vCPU's first event.
 * Interrupt delivery changes none of them in long mode; outside long mode
 * a task switch may change CR3 and the segment state, so only x87/SSE is
 * cached there.  In long mode DS/ES/FS/GS are cached too, read anew also
 * after an iret or far ret (to user mode they may load null selectors): a
 * handler's exit reads them from the cache, its next entry reads them.
 * Not covered: QEMU's own changes of a running guest's state (loadvm, a
 * nested SVM guest's #VMEXIT).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "qemu_api.h"
#include "state_writers.h"
#include "ring.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 4;

_Static_assert(R_REGS + REG_BYTES + STACK_ABOVE <= R_BATCH_FLAGS,
               "a batch's flags must not overlap a folded record's stack");

#define MIN_API 4
#define MAX_VCPUS 256
#define PAGE 4096ull

/* The registers a record holds, in this order, when the vCPU has them
 * (x86_64 and i386 names: QEMU's gdbstub names): what the judge compares,
 * and what decoding an entry asks (CR2, CR3).  Each read costs the guest
 * ~55 ns, most of an event's cost: nothing else is read. */
static const char *const wanted[] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
    "eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eip",
    "eflags", "cs", "ss", "ds", "es", "fs", "gs",
    "fs_base", "gs_base", "k_gs_base", "cr2", "cr3",
    "fctrl", "fstat", "mxcsr",
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
};
#define N_WANTED (sizeof(wanted) / sizeof(wanted[0]))

/* Which registers are kept between events (see "Cached state" above) */
enum cached {
    CACHED_NEVER,           /* general registers, RFLAGS, CS, SS, CR2: read at every event */
    CACHED_ALWAYS,          /* x87/SSE: only instructions change them */
    CACHED_LONG_MODE,       /* FS/GS bases, KERNEL_GS_BASE, CR3: no task switch in long mode */
    CACHED_SELECTOR,        /* DS/ES/FS/GS in long mode: also read anew after an iret */
};

struct reg_slot {
    char name[REG_NAME];
    uint32_t offset;        /* in the record's register area */
    uint32_t size;
    enum cached cached;
};

/* A code page a probe found mapped, in an address space (CR3), while GDB's
 * view of the IDT did not change (H_VIEW_GEN): GDB's own decoder takes a page
 * it found mapped as mapped for as long as that view (gdbext/decode/entry.py),
 * so the plugin need not walk the page tables for it again meanwhile. */
#define KNOWN_PAGES 8
struct known_page {
    uint64_t view;          /* H_VIEW_GEN + 1; 0: empty */
    uint64_t cr3;
    uint64_t page;
};

struct vcpu {
    struct qemu_plugin_register *handle[MAX_REGS];
    struct known_page known[KNOWN_PAGES];
    unsigned next_known;
    uint8_t *scratch;       /* this vCPU's record, built before it is written or held */
    GByteArray *regs;       /* scratch: register reads append here */
    GByteArray *mem;        /* scratch: memory reads */
    struct qemu_plugin_register *efer;  /* long mode or not: which probes a frame needs */
    uint8_t cache[REG_BYTES];   /* the cached registers, at their record offsets */
    bool cache_valid;
    bool wide;              /* EFER.LMA when the cache was filled (EFER is cached state too) */
    uint64_t state_gen;     /* H_STATE_GEN when it was filled */
    uint64_t events;        /* callbacks so far: which ones are timed */
};

struct watch {
    uint64_t address;
    uint32_t tag;
    uint32_t kind;
};

static uint8_t *ring;                   /* the mapped file */
static uint64_t slots, mask;
static struct reg_slot layout[MAX_REGS];
static unsigned n_layout;
static int sp_slot = -1;                /* the layout entry of rsp (or esp) */
static int pc_slot = -1;                /* of rip (or eip) */
static int flags_slot = -1;             /* of eflags */
static int cr2_slot = -1;               /* of cr2: read at entries only (decoding a #PF) */
static int cr3_slot = -1;               /* of cr3 */
static pthread_mutex_t layout_lock = PTHREAD_MUTEX_INITIALIZER;
static bool layout_done;
static struct vcpu vcpus[MAX_VCPUS];
/* per vCPU, two u64: 1 once an instruction that may write the cached state
 * ran; 1 once an iret or far ret ran (the selectors) */
static struct qemu_plugin_scoreboard *state_written;
#define STATE_WRITTEN       0
#define SELECTORS_WRITTEN   8
/* GDB's watch table as the plugin copied it, sorted by address.  A newer one
 * replaces it while vCPUs run; the older ones are kept (a callback may still
 * be reading one) until a reset, when no vCPU runs. */
struct table {
    uint64_t gen;
    struct table *older;
    unsigned n;
    struct watch w[];
};
static struct table *tables;            /* the newest; NULL before GDB's first */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t requested_flush;        /* the H_FLUSH_GEN a reset was asked for */
static uint64_t applied_flush;          /* ... and the one the last reset applied */
static uint8_t *held;                   /* the pending area: the entry held back */
static uint8_t *batch;                  /* the batch area: a KIND_CLEAN record, repeated */
static uint64_t batch_since;            /* when the batch's first run was folded */
/* Serialises the decision about the held entry (write it, fold it, hold a new
 * one); records are still claimed lock-free. */
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;

#define FIELD(type, off) ((type *)(ring + (off)))

static void say(const char *fmt, const char *detail)
{
    char line[512];
    snprintf(line, sizeof line, fmt, detail);
    qemu_plugin_outs(line);
}

/* -- set-up ----------------------------------------------------------------- */

static int open_ring(const char *path, uint64_t n)
{
    uint64_t size = HEADER_SIZE + (uint64_t)MAX_WATCH * WATCH_SIZE + (n + 2) * RECORD_SIZE;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        say("isrdbg-trace: cannot create the ring file %s\n", path);
        return -1;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        say("isrdbg-trace: cannot size the ring file %s\n", path);
        close(fd);
        return -1;
    }
    ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (ring == MAP_FAILED) {
        ring = NULL;
        say("isrdbg-trace: cannot map the ring file %s\n", path);
        return -1;
    }
    slots = n;
    mask = n - 1;
    memcpy(FIELD(char, H_MAGIC), RING_MAGIC, 8);
    *FIELD(uint32_t, H_LAYOUT) = RING_LAYOUT;
    *FIELD(uint32_t, H_HEADER_SIZE) = HEADER_SIZE;
    *FIELD(uint32_t, H_RECORD_SIZE) = RECORD_SIZE;
    *FIELD(uint32_t, H_SLOTS) = (uint32_t)n;
    *FIELD(uint32_t, H_MAX_WATCH) = MAX_WATCH;
    *FIELD(uint32_t, H_STACK_BELOW) = STACK_BELOW;
    *FIELD(uint32_t, H_STACK_ABOVE) = STACK_ABOVE;
    *FIELD(uint64_t, H_WATCH_OFFSET) = HEADER_SIZE;
    *FIELD(uint64_t, H_RING_OFFSET) = HEADER_SIZE + (uint64_t)MAX_WATCH * WATCH_SIZE;
    *FIELD(uint32_t, H_REGS_OFFSET) = R_REGS;
    *FIELD(uint32_t, H_STACK_OFFSET) = R_REGS + REG_BYTES;
    *FIELD(uint64_t, H_PENDING_OFFSET) = *FIELD(uint64_t, H_RING_OFFSET) + n * RECORD_SIZE;
    held = ring + *FIELD(uint64_t, H_PENDING_OFFSET);
    *FIELD(uint64_t, H_BATCH_OFFSET) = *FIELD(uint64_t, H_PENDING_OFFSET) + RECORD_SIZE;
    batch = ring + *FIELD(uint64_t, H_BATCH_OFFSET);
    *FIELD(uint32_t, H_BATCH_MAX) = BATCH_MAX;
    for (uint64_t i = 0; i < n; i++) {
        *FIELD(uint64_t, *FIELD(uint64_t, H_RING_OFFSET) + i * RECORD_SIZE + R_SEQ) = i;
    }
    return 0;
}

static enum cached cached_kind(const char *name)
{
    static const char *const long_mode_only[] = {"fs_base", "gs_base", "k_gs_base", "cr3"};
    static const char *const selectors[] = {"ds", "es", "fs", "gs"};
    for (size_t i = 0; i < sizeof selectors / sizeof selectors[0]; i++) {
        if (!strcmp(name, selectors[i])) {
            return CACHED_SELECTOR;
        }
    }
    if (!strncmp(name, "xmm", 3) || !strcmp(name, "fctrl") || !strcmp(name, "fstat") ||
        !strcmp(name, "mxcsr")) {
        return CACHED_ALWAYS;
    }
    for (size_t i = 0; i < sizeof long_mode_only / sizeof long_mode_only[0]; i++) {
        if (!strcmp(name, long_mode_only[i])) {
            return CACHED_LONG_MODE;
        }
    }
    return CACHED_NEVER;
}

/* The first vCPU fixes the record's register layout (every vCPU has the same
 * registers); each vCPU keeps its own handles. */
static void vcpu_init(qemu_plugin_id_t id, unsigned int index)
{
    (void)id;
    if (index >= MAX_VCPUS) {
        return;
    }
    GArray *regs = qemu_plugin_get_registers();
    qemu_plugin_reg_descriptor *desc = (qemu_plugin_reg_descriptor *)regs->data;
    pthread_mutex_lock(&layout_lock);
    if (!layout_done) {
        uint32_t offset = 0;
        for (size_t w = 0; w < N_WANTED && n_layout < MAX_REGS; w++) {
            for (unsigned r = 0; r < regs->len; r++) {
                if (strcmp(desc[r].name, wanted[w]) != 0) {
                    continue;
                }
                GByteArray *probe = g_byte_array_new();
                int size = qemu_plugin_read_register(desc[r].handle, probe);
                g_byte_array_free(probe, 1);
                if (size <= 0 || size > 16 || offset + 16 > REG_BYTES) {
                    break;
                }
                struct reg_slot *slot = &layout[n_layout++];
                snprintf(slot->name, REG_NAME, "%s", wanted[w]);
                slot->offset = offset;
                slot->size = (uint32_t)size;
                if (sp_slot < 0 && (!strcmp(wanted[w], "rsp") || !strcmp(wanted[w], "esp"))) {
                    sp_slot = (int)n_layout - 1;
                }
                if (pc_slot < 0 && (!strcmp(wanted[w], "rip") || !strcmp(wanted[w], "eip"))) {
                    pc_slot = (int)n_layout - 1;
                }
                if (!strcmp(wanted[w], "eflags")) {
                    flags_slot = (int)n_layout - 1;
                }
                if (!strcmp(wanted[w], "cr2")) {
                    cr2_slot = (int)n_layout - 1;
                }
                if (!strcmp(wanted[w], "cr3")) {
                    cr3_slot = (int)n_layout - 1;
                }
                slot->cached = cached_kind(wanted[w]);
                offset += (size + 7) & ~7u;
                break;
            }
        }
        for (unsigned i = 0; i < n_layout; i++) {
            uint8_t *entry = ring + H_REG_TABLE + i * REG_ENTRY_SIZE;
            memcpy(entry, layout[i].name, REG_NAME);
            memcpy(entry + 16, &layout[i].offset, 4);
            memcpy(entry + 20, &layout[i].size, 4);
        }
        __atomic_store_n(FIELD(uint32_t, H_REG_COUNT), n_layout, __ATOMIC_RELEASE);
        layout_done = true;
    }
    pthread_mutex_unlock(&layout_lock);
    struct vcpu *cpu = &vcpus[index];
    for (unsigned i = 0; i < n_layout; i++) {
        for (unsigned r = 0; r < regs->len; r++) {
            if (strcmp(desc[r].name, layout[i].name) == 0) {
                cpu->handle[i] = desc[r].handle;
                break;
            }
        }
    }
    for (unsigned r = 0; r < regs->len; r++) {
        if (strcmp(desc[r].name, "efer") == 0) {
            cpu->efer = desc[r].handle;
        }
    }
    cpu->regs = g_byte_array_new();
    cpu->scratch = calloc(1, RECORD_SIZE);
    cpu->mem = g_byte_array_new();
    g_array_free(regs, 1);
    __atomic_add_fetch(FIELD(uint32_t, H_VCPUS), 1, __ATOMIC_RELAXED);
}

/* -- recording -------------------------------------------------------------- */

static bool read_mem(struct vcpu *cpu, uint64_t address, uint8_t *dest, uint64_t len)
{
    if (len == 0) {
        return true;
    }
    if (!qemu_plugin_read_memory_vaddr(address, cpu->mem, len) || cpu->mem->len < len) {
        return false;
    }
    memcpy(dest, cpu->mem->data, len);
    return true;
}

/* The stack window [rsp - below, rsp + above), page by page: a frame at the
 * very top of its stack is followed by unmapped memory.  Keeps the longest
 * readable run that starts at RSP. */
static void read_stack(struct vcpu *cpu, uint8_t *rec, uint64_t rsp, uint64_t below)
{
    uint8_t *stack = rec + R_REGS + REG_BYTES;
    uint64_t lo = rsp - below, hi = rsp + STACK_ABOVE;
    uint64_t page_end = (rsp | (PAGE - 1)) + 1, page_start = rsp & ~(PAGE - 1);
    uint64_t mid = hi < page_end ? hi : page_end;
    uint64_t first = rsp, last = rsp;
    if (read_mem(cpu, rsp, stack + below, mid - rsp)) {
        last = mid;
        if (mid < hi && read_mem(cpu, mid, stack + below + (mid - rsp), hi - mid)) {
            last = hi;
        }
        uint64_t low = lo > page_start ? lo : page_start;
        if (low < rsp && read_mem(cpu, low, stack + (low - lo), rsp - low)) {
            first = low;
            if (lo < low && read_mem(cpu, lo, stack, low - lo)) {
                first = lo;
            }
        }
    }
    if (last == rsp) {
        __atomic_add_fetch(FIELD(uint64_t, H_MEMORY_FAILED), 1, __ATOMIC_RELAXED);
    }
    if (first != lo) {
        memmove(stack, stack + (first - lo), last - first);
    }
    *(uint64_t *)(rec + R_STACK_ADDR) = first;
    *(uint32_t *)(rec + R_STACK_LEN) = (uint32_t)(last - first);
}

static uint64_t register_value(const uint8_t *rec, int slot);

/* Whether ``address`` is mapped in the address space of the event ``rec``
 * records (its CR3). */
static bool mapped(struct vcpu *cpu, const uint8_t *rec, uint64_t address)
{
    uint64_t view = __atomic_load_n(FIELD(uint64_t, H_VIEW_GEN), __ATOMIC_ACQUIRE) + 1;
    uint64_t cr3 = register_value(rec, cr3_slot) & ~0xfffull;  /* without PCID bits */
    uint64_t page = address & ~(PAGE - 1);
    for (unsigned i = 0; i < KNOWN_PAGES; i++) {
        const struct known_page *known = &cpu->known[i];
        if (known->view == view && known->cr3 == cr3 && known->page == page) {
            return true;
        }
    }
    uint8_t byte;
    if (!read_mem(cpu, address, &byte, 1)) {
        return false;
    }
    cpu->known[cpu->next_known++ % KNOWN_PAGES] = (struct known_page){view, cr3, page};
    return true;
}

/* Whether the vCPU is in long mode (EFER.LMA): its frames are 64-bit, and
 * more of its state is cached (only when the cache is filled: EFER is
 * cached state too). */
static bool long_mode(struct vcpu *cpu)
{
    if (cpu->efer == NULL) {
        return false;
    }
    unsigned before = cpu->regs->len;
    if (qemu_plugin_read_register(cpu->efer, cpu->regs) <= 0) {
        return false;
    }
    return (cpu->regs->data[before + 1] & 0x04) != 0;     /* bit 10 */
}

/* Which of the words a frame's saved RIP may be are mapped code: frame
 * validation needs it and GDB cannot ask while the guest runs.  In long mode
 * a frame's words are 64-bit: the 32-bit ones are not probed (each probe is a
 * page walk, ~0.35 us of the guest's time); without ``error_code`` (none of
 * the handler's vectors pushes one: GDB's WATCH_NO_ERROR_CODE) the RIP is the
 * first word, and the second is not probed. */
static uint32_t probe_frame(struct vcpu *cpu, const uint8_t *rec, uint64_t rsp,
                            bool error_code)
{
    const uint8_t *stack = rec + R_REGS + REG_BYTES;
    uint64_t first = *(const uint64_t *)(rec + R_STACK_ADDR);
    uint32_t len = *(const uint32_t *)(rec + R_STACK_LEN);
    uint64_t at = rsp - first, q;
    uint32_t d, flags = 0;
    if (!error_code) {
        flags |= F_NO_ERROR_CODE;
    }
    bool wide = cpu->wide;      /* read_registers() just made it current */
    if (at + 16 <= len) {
        memcpy(&q, stack + at, 8);
        flags |= mapped(cpu, rec, q) ? F_MAPPED_Q0 : 0;
        memcpy(&q, stack + at + 8, 8);
        flags |= error_code && mapped(cpu, rec, q) ? F_MAPPED_Q1 : 0;
    }
    if (wide) {
        return flags | F_LONG_MODE;
    }
    if (at + 8 <= len) {
        memcpy(&d, stack + at, 4);
        flags |= mapped(cpu, rec, d) ? F_MAPPED_D0 : 0;
        memcpy(&d, stack + at + 4, 4);
        flags |= error_code && mapped(cpu, rec, d) ? F_MAPPED_D1 : 0;
    }
    return flags;
}

static uint8_t *claim(uint64_t *position)
{
    uint64_t *head = FIELD(uint64_t, H_HEAD);
    uint64_t ring_offset = *FIELD(uint64_t, H_RING_OFFSET);
    uint64_t pos = __atomic_load_n(head, __ATOMIC_RELAXED);
    for (;;) {
        uint8_t *rec = ring + ring_offset + (pos & mask) * RECORD_SIZE;
        uint64_t seq = __atomic_load_n((uint64_t *)(rec + R_SEQ), __ATOMIC_ACQUIRE);
        int64_t diff = (int64_t)(seq - pos);
        if (diff == 0) {
            if (__atomic_compare_exchange_n(head, &pos, pos + 1, true,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
                *position = pos;
                return rec;
            }
        } else if (diff < 0) {
            return NULL;        /* GDB has not read this slot yet: full */
        } else {
            pos = __atomic_load_n(head, __ATOMIC_RELAXED);
        }
    }
}

static uint64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record(unsigned int index, void *udata, uint64_t now);

/* The guest's cost of tracing, measured (bench/plugin_rate.py reports it) on
 * one event in TIMED_EVERY per vCPU and counted for all of them: a precise
 * clock read on each side costs ~4% of an event.  The batch's age needs only
 * the coarse clock (ms resolution against BATCH_MAX_NS). */
#define TIMED_EVERY 16
static void on_watched(unsigned int index, void *udata)
{
    struct vcpu *cpu = &vcpus[index < MAX_VCPUS ? index : 0];
    uint64_t now = clock_ns(CLOCK_MONOTONIC_COARSE);
    if (cpu->events++ % TIMED_EVERY != 0) {
        record(index, udata, now);
        return;
    }
    uint64_t start = clock_ns(CLOCK_MONOTONIC);
    record(index, udata, now);
    __atomic_add_fetch(FIELD(uint64_t, H_CALLBACK_NS),
                       (clock_ns(CLOCK_MONOTONIC) - start) * TIMED_EVERY, __ATOMIC_RELAXED);
}

#define RFLAGS_IF 0x200u

/* Bytes of a built record that hold something: header, registers, stack. */
static size_t record_bytes(const uint8_t *rec)
{
    return R_REGS + REG_BYTES + *(const uint32_t *)(rec + R_STACK_LEN);
}

/* Write a built record into the ring: ``runs`` clean runs folded into it
 * (KIND_CLEAN: 2 events each), else one event. */
static void write_record(const uint8_t *built, uint32_t runs)
{
    uint64_t pos, events = runs ? 2ull * runs : 1;
    uint8_t *rec = claim(&pos);
    if (rec == NULL) {
        __atomic_add_fetch(FIELD(uint64_t, H_DROPPED), events, __ATOMIC_RELAXED);
        return;
    }
    memcpy(rec + R_PC, built + R_PC, record_bytes(built) - R_PC);
    *(uint32_t *)(rec + R_COUNT) = runs;
    if (runs > 1) {
        memcpy(rec + R_BATCH_FLAGS, built + R_BATCH_FLAGS, 2 * (size_t)runs);
    }
    __atomic_add_fetch(FIELD(uint64_t, H_RECORDED), events, __ATOMIC_RELAXED);
    if (runs) {
        __atomic_add_fetch(FIELD(uint64_t, H_FOLDED), runs, __ATOMIC_RELAXED);
    }
    __atomic_store_n((uint64_t *)(rec + R_SEQ), pos + 1, __ATOMIC_RELEASE);
}

static uint32_t *held_cpu(void)
{
    return FIELD(uint32_t, H_PENDING_CPU);
}

static uint32_t *batch_count(void)
{
    return FIELD(uint32_t, H_BATCH_COUNT);
}

/* (held_lock) Write the pending batch: whatever is written next is later. */
static void flush_batch(void)
{
    uint32_t runs = __atomic_load_n(batch_count(), __ATOMIC_ACQUIRE);
    if (runs != 0) {
        write_record(batch, runs);
        __atomic_store_n(batch_count(), 0, __ATOMIC_RELEASE);
    }
}

/* (held_lock) Any event but the held entry's clean exit writes the held
 * entry first, as the entry record it would have been, after the batch
 * (older): the order holds. */
static void release_held(void)
{
    if (__atomic_load_n(held_cpu(), __ATOMIC_ACQUIRE) != 0) {
        flush_batch();
        write_record(held, 0);
        __atomic_store_n(held_cpu(), 0, __ATOMIC_RELEASE);
    }
}

/* Whether an entry may be held: it must find its slot when it is written
 * later, and until then only records other vCPUs were already writing (one
 * each) can get in before it. */
static bool room_to_hold(void)
{
    uint64_t head = __atomic_load_n(FIELD(uint64_t, H_HEAD), __ATOMIC_RELAXED);
    uint64_t tail = __atomic_load_n(FIELD(uint64_t, H_TAIL), __ATOMIC_RELAXED);
    /* one slot per vCPU, the held entry's and the batch's */
    uint64_t reserve = (uint64_t)__atomic_load_n(FIELD(uint32_t, H_VCPUS), __ATOMIC_RELAXED) + 2;
    return head - tail + reserve < slots;
}

static uint64_t register_value(const uint8_t *rec, int slot)
{
    uint64_t value = 0;
    if (slot >= 0) {
        memcpy(&value, rec + R_REGS + layout[slot].offset,
               layout[slot].size < 8 ? layout[slot].size : 8);
    }
    return value;
}

/* Whether the exit whose registers ``exit`` holds (RSP ``exit_sp``) ends the
 * held ``entry``'s run with nothing for the judge to find: every register
 * recorded (CR3 too) as at the entry but the program counter, the stack
 * pointer and RFLAGS' bits other than IF (the CPU takes RFLAGS back from the
 * frame; the handler's own arithmetic flags are nobody's), and the words the
 * iret pops - at the entry's RSP, or one slot above it past an error code -
 * exactly those the CPU pushed at the entry, and the stack above them too.  GDB checks again, with the
 * judge's own definitions, what it needs of this (plugin_events.py). */
static bool closes_cleanly(const uint8_t *entry, const uint8_t *exit, uint64_t exit_sp,
                           const uint8_t *stack_now, uint64_t stack_len)
{
    for (unsigned i = 0; i < n_layout; i++) {
        if ((int)i == pc_slot || (int)i == sp_slot || (int)i == flags_slot ||
            (int)i == cr2_slot) {
            continue;       /* (CR2 is not read at exits: the judge compares no CR2) */
        }
        uint32_t offset = R_REGS + layout[i].offset;
        if (memcmp(entry + offset, exit + offset, layout[i].size) != 0) {
            return false;
        }
    }
    if ((register_value(entry, flags_slot) ^ register_value(exit, flags_slot)) & RFLAGS_IF) {
        return false;
    }
    uint64_t slot = (*(const uint32_t *)(entry + R_FLAGS) & F_LONG_MODE) ? 8 : 4;
    uint64_t entry_sp = register_value(entry, sp_slot);
    if (sp_slot < 0 || (exit_sp != entry_sp && exit_sp != entry_sp + slot)) {
        return false;
    }
    /* all the entry's stack from there up, not only the popped words: GDB
     * rebuilds the exit record from the entry's (plugin_events.unfold) */
    uint64_t first = *(const uint64_t *)(entry + R_STACK_ADDR);
    uint64_t end = first + *(const uint32_t *)(entry + R_STACK_LEN);
    if (exit_sp < first || exit_sp + 5 * slot > end || end - exit_sp > stack_len) {
        return false;
    }
    return memcmp(entry + R_REGS + REG_BYTES + (exit_sp - first), stack_now, end - exit_sp) == 0;
}

/* How many bytes from ``rsp`` up (at most STACK_ABOVE) are readable, into
 * ``dest``: a frame at the very top of its stack is followed by unmapped memory. */
static uint64_t read_above(struct vcpu *cpu, uint64_t rsp, uint8_t *dest)
{
    uint64_t page_end = (rsp | (PAGE - 1)) + 1, hi = rsp + STACK_ABOVE;
    uint64_t mid = hi < page_end ? hi : page_end;
    if (!read_mem(cpu, rsp, dest, mid - rsp)) {
        return 0;
    }
    return mid == hi || read_mem(cpu, mid, dest + (mid - rsp), hi - mid) ? hi - rsp : mid - rsp;
}

/* Where the RFLAGS word a folded record's iret pops lies in the record (its
 * low 16 bits), or 0 when the record does not hold it. */
static size_t popped_flags_at(const uint8_t *rec)
{
    uint64_t slot = (*(const uint32_t *)(rec + R_FLAGS) & F_LONG_MODE) ? 8 : 4;
    uint64_t at = *(const uint64_t *)(rec + R_EXIT_SP) + 2 * slot -
                  *(const uint64_t *)(rec + R_STACK_ADDR);
    if (at + slot > *(const uint32_t *)(rec + R_STACK_LEN)) {
        return 0;
    }
    return R_REGS + REG_BYTES + at;
}

static uint16_t u16_at(const uint8_t *rec, size_t at)
{
    uint16_t value;
    memcpy(&value, rec + at, 2);
    return value;
}

/* Whether bytes [from, to) of two records are equal but for the arithmetic
 * flags in the u16 at ``masked`` (when inside). */
static bool same_but_flags(const uint8_t *a, const uint8_t *b, size_t from, size_t to,
                           size_t masked)
{
    if (masked < from || masked + 2 > to) {
        return memcmp(a + from, b + from, to - from) == 0;
    }
    return memcmp(a + from, b + from, masked - from) == 0 &&
           ((u16_at(a, masked) ^ u16_at(b, masked)) & ~RFLAGS_ARITH) == 0 &&
           memcmp(a + masked + 2, b + masked + 2, to - masked - 2) == 0;
}

/* Whether a folded run repeats the batch's: the same record but for the
 * arithmetic flags of the entry's live RFLAGS and of the RFLAGS its iret
 * pops (ring.h: nothing GDB decodes or judges reads them). */
static bool repeats_batch(const uint8_t *folded, size_t popped)
{
    size_t bytes = record_bytes(folded);
    if (popped == 0 || bytes != record_bytes(batch) || popped != popped_flags_at(batch)) {
        return false;
    }
    /* the live flags lie in the register area, the popped ones in the stack */
    size_t live = flags_slot >= 0 ? R_REGS + layout[flags_slot].offset : 0;
    size_t split = R_REGS + REG_BYTES;
    return same_but_flags(folded, batch, R_PC, split, live) &&
           same_but_flags(folded, batch, split, bytes, popped);
}

/* (held_lock) The clean run folded in ``folded``: counted in the batch when
 * it repeats the batch's run (repeats_batch), its popped arithmetic flags
 * kept; else written after the batch, or starting a new one. */
static void add_to_batch(const uint8_t *folded, uint64_t now)
{
    uint32_t runs = __atomic_load_n(batch_count(), __ATOMIC_ACQUIRE);
    size_t popped = popped_flags_at(folded);
    /* (another vCPU may have started the batch after ``now``: it then wraps
     * past BATCH_MAX_NS, and the batch is written, no harm) */
    if (runs != 0 && runs < BATCH_MAX && now - batch_since < BATCH_MAX_NS &&
        repeats_batch(folded, popped)) {
        uint16_t arith = u16_at(folded, popped) & RFLAGS_ARITH;
        memcpy(batch + R_BATCH_FLAGS + 2 * (size_t)runs, &arith, 2);
        __atomic_store_n(batch_count(), runs + 1, __ATOMIC_RELEASE);
        return;
    }
    flush_batch();
    if (popped == 0 || !room_to_hold()) {
        write_record(folded, 1);    /* as before batching */
        return;
    }
    memcpy(batch + R_PC, folded + R_PC, record_bytes(folded) - R_PC);
    uint16_t arith = u16_at(folded, popped) & RFLAGS_ARITH;
    memcpy(batch + R_BATCH_FLAGS, &arith, 2);
    batch_since = now;
    __atomic_store_n(batch_count(), 1, __ATOMIC_RELEASE);
}

/* Whether this vCPU's cached registers still hold.  If not, this event reads
 * them anew: the vCPU's mark is cleared first (an instruction after this
 * callback marks it again). */
static bool cache_holds(struct vcpu *cpu, unsigned int index, bool *selectors_hold)
{
    uint8_t *marks = qemu_plugin_scoreboard_find(state_written, index);
    uint64_t *written = (uint64_t *)(marks + STATE_WRITTEN);
    uint64_t *selectors_written = (uint64_t *)(marks + SELECTORS_WRITTEN);
    uint64_t gen = __atomic_load_n(FIELD(uint64_t, H_STATE_GEN), __ATOMIC_ACQUIRE);
    *selectors_hold = *selectors_written == 0;
    *selectors_written = 0;
#ifndef ISRDBG_NO_STATE_CACHE     /* (A/B measurements only) */
    if (cpu->cache_valid && *written == 0 && cpu->state_gen == gen) {
#else
    if (false) {
#endif
        return true;
    }
    *written = 0;
    cpu->state_gen = gen;
    cpu->cache_valid = false;
    *selectors_hold = false;
    return false;
}

/* The registers into ``rec``; returns the stack pointer. */
static uint64_t read_registers(struct vcpu *cpu, unsigned int index, const struct watch *w,
                               uint8_t *rec)
{
    uint8_t *regs = rec + R_REGS;
    uint64_t rsp = 0;
    g_byte_array_set_size(cpu->regs, 0);
    bool selectors_cached;
    bool cached = cache_holds(cpu, index, &selectors_cached);
    if (!cached) {
        cpu->wide = long_mode(cpu);
        __atomic_add_fetch(FIELD(uint64_t, H_STATE_READS), 1, __ATOMIC_RELAXED);
    }
    for (unsigned i = 0; i < n_layout; i++) {
        unsigned before = cpu->regs->len;
        uint8_t *slot = regs + layout[i].offset;
        enum cached how = layout[i].cached;
        bool kept = how == CACHED_ALWAYS ||
                    ((how == CACHED_LONG_MODE || how == CACHED_SELECTOR) && cpu->wide);
        bool holds = how == CACHED_SELECTOR ? selectors_cached : cached;
        if ((int)i == pc_slot) {
            continue;       /* stale inside a block: the watched address, below */
        }
        if ((int)i == cr2_slot && (w->kind & KIND_MASK) != KIND_ENTRY) {
            memset(slot, 0, (layout[i].size + 7) & ~7u);    /* nothing judges it at an exit */
            continue;
        }
        if (kept && holds) {
            memcpy(slot, cpu->cache + layout[i].offset, layout[i].size);
            continue;
        }
        if (cpu->handle[i] == NULL || qemu_plugin_read_register(cpu->handle[i], cpu->regs) <= 0) {
            memset(slot, 0, (layout[i].size + 7) & ~7u);
        } else {
            memcpy(slot, cpu->regs->data + before, layout[i].size);
        }
        if (kept) {
            memcpy(cpu->cache + layout[i].offset, slot, layout[i].size);
        }
    }
    cpu->cache_valid = true;
    if (sp_slot >= 0) {
        memcpy(&rsp, regs + layout[sp_slot].offset, layout[sp_slot].size);
    }
    if (pc_slot >= 0) {     /* QEMU's RIP is stale inside a block: the watched address */
        memcpy(regs + layout[pc_slot].offset, &w->address, layout[pc_slot].size);
    }
    return rsp;
}

/* ``now``: when the callback began (the batch's age is measured with it) */
static long find_watch(const struct table *t, uint64_t address);

/* ``udata``: the instruction's address, looked up in the newest table (a
 * block translated under an older one may name an address no longer
 * watched, or watched with another tag). */
static void record(unsigned int index, void *udata, uint64_t now)
{
    const struct table *t = __atomic_load_n(&tables, __ATOMIC_ACQUIRE);
    long at = t != NULL ? find_watch(t, (uint64_t)(uintptr_t)udata) : -1;
    if (index >= MAX_VCPUS || at < 0) {
        return;
    }
    const struct watch *w = &t->w[at];
    struct vcpu *cpu = &vcpus[index];
    uint8_t *rec = cpu->scratch;
    uint32_t kind = w->kind & KIND_MASK;
    uint64_t rsp = read_registers(cpu, index, w, rec);
    *(uint64_t *)(rec + R_PC) = w->address;     /* RIP is stale inside a block */
    *(uint32_t *)(rec + R_TAG) = w->tag;
    *(uint32_t *)(rec + R_CPU) = index;
    *(uint32_t *)(rec + R_KIND) = kind;
    if (kind == KIND_ENTRY) {
        read_stack(cpu, rec, rsp, 0);
        *(uint32_t *)(rec + R_FLAGS) = probe_frame(cpu, rec, rsp,
                                                   !(w->kind & WATCH_NO_ERROR_CODE));
        pthread_mutex_lock(&held_lock);
        release_held();
        if ((w->kind & WATCH_FOLD) && room_to_hold()) {
            /* (a batch may stay pending: this entry is later than its runs) */
            memcpy(held + R_PC, rec + R_PC, record_bytes(rec) - R_PC);
            __atomic_store_n(held_cpu(), index + 1, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&held_lock);
            return;
        }
        flush_batch();
        write_record(rec, 0);
        pthread_mutex_unlock(&held_lock);
        return;
    }
    /* guest memory is read before the lock: only this vCPU holds an entry as
     * its own, and another may only write it out meanwhile */
    uint8_t stack_now[STACK_ABOVE];
    uint64_t stack_len = 0;
    if (__atomic_load_n(held_cpu(), __ATOMIC_ACQUIRE) == index + 1) {
        stack_len = read_above(cpu, rsp, stack_now);
    }
    pthread_mutex_lock(&held_lock);
    if (__atomic_load_n(held_cpu(), __ATOMIC_ACQUIRE) == index + 1 &&
        closes_cleanly(held, rec, rsp, stack_now, stack_len)) {
        *(uint32_t *)(held + R_KIND) = KIND_CLEAN;
        *(uint32_t *)(held + R_EXIT_TAG) = w->tag;
        *(uint64_t *)(held + R_EXIT_PC) = w->address;
        *(uint64_t *)(held + R_EXIT_SP) = rsp;
        *(uint64_t *)(held + R_EXIT_FLAGS) = register_value(rec, flags_slot);
        __atomic_store_n(held_cpu(), 0, __ATOMIC_RELEASE);
        add_to_batch(held, now);
        pthread_mutex_unlock(&held_lock);
        return;
    }
    pthread_mutex_unlock(&held_lock);
    read_stack(cpu, rec, rsp, STACK_BELOW);     /* guest memory: outside the lock */
    *(uint32_t *)(rec + R_FLAGS) = 0;
    pthread_mutex_lock(&held_lock);
    release_held();
    flush_batch();
    write_record(rec, 0);
    pthread_mutex_unlock(&held_lock);
}

/* -- instrumentation -------------------------------------------------------- */

static long find_watch(const struct table *t, uint64_t address)
{
    long lo = 0, hi = (long)t->n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (t->w[mid].address == address) {
            return mid;
        }
        if (t->w[mid].address < address) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -1;
}

/* Plant a mark: QEMU's code stores 1 in the vCPU's slot before the
 * instruction runs, in the order of registration with the callback on the
 * same instruction. */
static void mark(struct qemu_plugin_insn *insn, size_t which)
{
    qemu_plugin_u64 slot = {state_written, which};
    qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(insn, QEMU_PLUGIN_INLINE_STORE_U64,
                                                        slot, 1);
}

static void catch_up(void);

/* Every block gets the marks of the cached state, watched or not (a block
 * lives on in QEMU's cache while the table changes); watched instructions
 * their callback. */
static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    catch_up();
    const struct table *t = __atomic_load_n(&tables, __ATOMIC_ACQUIRE);
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint8_t code[16];
        size_t len = qemu_plugin_insn_data(insn, code, sizeof code);
        if (may_write_cached_state(code, len)) {
            mark(insn, STATE_WRITTEN);
        }
        uint64_t address = qemu_plugin_insn_vaddr(insn);
        if (t != NULL && t->n != 0 && find_watch(t, address) >= 0) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_watched, QEMU_PLUGIN_CB_R_REGS,
                                                   (void *)(uintptr_t)address);
        }
        if (may_null_selectors(code, len)) {
            mark(insn, SELECTORS_WRITTEN);  /* after an exit's callback: it reads the selectors as they are */
        }
    }
}

static int by_address(const void *a, const void *b)
{
    const struct watch *x = a, *y = b;
    return x->address < y->address ? -1 : x->address > y->address;
}

/* A copy of GDB's table, or NULL when there is none yet or GDB was writing
 * it meanwhile (it holds the generation at 0 while it writes: ring.h). */
static struct table *copy_table(void)
{
    uint64_t gen = __atomic_load_n(FIELD(uint64_t, H_WATCH_GEN), __ATOMIC_ACQUIRE);
    if (gen == 0) {
        return NULL;
    }
    uint32_t count = __atomic_load_n(FIELD(uint32_t, H_WATCH_COUNT), __ATOMIC_ACQUIRE);
    if (count > MAX_WATCH) {
        count = MAX_WATCH;
    }
    struct table *fresh = calloc(1, sizeof *fresh + (count ? count : 1) * sizeof(struct watch));
    const uint8_t *src = ring + *FIELD(uint64_t, H_WATCH_OFFSET);
    unsigned kept = 0;
    for (uint32_t i = 0; i < count; i++) {
        struct watch w;
        memcpy(&w.address, src + i * WATCH_SIZE, 8);
        memcpy(&w.tag, src + i * WATCH_SIZE + 8, 4);
        memcpy(&w.kind, src + i * WATCH_SIZE + 12, 4);
        uint32_t kind = w.kind & KIND_MASK;
        if (kind == KIND_ENTRY || kind == KIND_EXIT) {
            fresh->w[kept++] = w;
        }
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(FIELD(uint64_t, H_WATCH_GEN), __ATOMIC_ACQUIRE) != gen) {
        free(fresh);
        return NULL;
    }
    qsort(fresh->w, kept, sizeof fresh->w[0], by_address);
    fresh->gen = gen;
    fresh->n = kept;
    return fresh;
}

/* Take GDB's newest table, on whichever vCPU thread gets here first: at a
 * resume, and before a translation (no block is translated from an older
 * table once GDB published a newer one and the guest resumed).  GDB made
 * QEMU drop the translated blocks of the addresses it added (it wrote their
 * bytes back while the guest was stopped), so those are translated anew, with
 * their callbacks; no flush of every block, no vCPU running old code. */
static void catch_up(void)
{
    uint64_t wanted = __atomic_load_n(FIELD(uint64_t, H_WATCH_GEN), __ATOMIC_ACQUIRE);
    const struct table *now = __atomic_load_n(&tables, __ATOMIC_ACQUIRE);
    if (wanted == 0 || (now != NULL && now->gen == wanted)) {
        return;
    }
    pthread_mutex_lock(&table_lock);
    if (tables == NULL || tables->gen != wanted) {
        struct table *fresh = copy_table();
        if (fresh != NULL) {
            fresh->older = tables;
            __atomic_store_n(&tables, fresh, __ATOMIC_RELEASE);
            __atomic_store_n(FIELD(uint32_t, H_APPLIED_COUNT), fresh->n, __ATOMIC_RELAXED);
            __atomic_store_n(FIELD(uint64_t, H_APPLIED_GEN), fresh->gen, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&table_lock);
}

static void vcpu_resume(qemu_plugin_id_t id, unsigned int index);

static void register_callbacks(qemu_plugin_id_t id)
{
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_resume_cb(id, vcpu_resume);
}

/* QEMU runs it while no vCPU runs, after flushing every translation: the
 * retired tables can go, and no cache is trusted across it. */
static void after_reset(qemu_plugin_id_t id)
{
    for (unsigned i = 0; i < MAX_VCPUS; i++) {
        vcpus[i].cache_valid = false;
    }
    catch_up();
    pthread_mutex_lock(&table_lock);
    if (tables != NULL) {
        for (struct table *old = tables->older, *next; old != NULL; old = next) {
            next = old->older;
            free(old);
        }
        tables->older = NULL;
    }
    pthread_mutex_unlock(&table_lock);
    __atomic_store_n(&applied_flush, __atomic_load_n(&requested_flush, __ATOMIC_ACQUIRE),
                     __ATOMIC_RELEASE);
    register_callbacks(id);
}

/* A vCPU resumes after a stop (GDB's, or a halt): the newest table first.
 * GDB asks for a flush of every translation (H_FLUSH_GEN) only when nothing
 * is watched any more (so the guest runs uninstrumented again) or it could
 * not drop an added address's blocks itself.  The first vCPU to resume asks
 * QEMU for the reset; QEMU runs it as exclusive work queued on that vCPU
 * before the vCPU executes guest code again.  A vCPU resuming meanwhile may
 * run blocks translated before it for a moment: for an added address, an
 * interrupt taken then enters its handler unseen.  Such a vCPU is counted
 * (H_UNSYNCED_RESUMES) and GDB says entries may be unseen.  It cannot wait
 * here for the reset: QEMU calls this from its list of resume callbacks,
 * and the reset frees that list's entries (it counts on every vCPU being
 * asleep): a vCPU waiting here would use freed memory. */
static void vcpu_resume(qemu_plugin_id_t id, unsigned int index)
{
    (void)index;
    catch_up();
    uint64_t wanted = __atomic_load_n(FIELD(uint64_t, H_FLUSH_GEN), __ATOMIC_ACQUIRE);
    uint64_t asked = __atomic_load_n(&requested_flush, __ATOMIC_ACQUIRE);
    if (wanted != asked &&
        __atomic_compare_exchange_n(&requested_flush, &asked, wanted, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        qemu_plugin_reset(id, after_reset);
        return;
    }
    if (wanted == asked && __atomic_load_n(&applied_flush, __ATOMIC_ACQUIRE) != wanted &&
        __atomic_load_n(FIELD(uint32_t, H_APPLIED_COUNT), __ATOMIC_RELAXED) != 0) {
        /* another vCPU asked for the reset, not applied yet: this one runs first */
        __atomic_fetch_add(FIELD(uint64_t, H_UNSYNCED_RESUMES), 1, __ATOMIC_RELAXED);
    }
}

/* -- install ---------------------------------------------------------------- */

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    const char *path = NULL;
    uint64_t n = DEFAULT_SLOTS;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "ring=", 5) == 0) {
            path = argv[i] + 5;
        } else if (strncmp(argv[i], "slots=", 6) == 0) {
            char *end;
            errno = 0;
            n = strtoull(argv[i] + 6, &end, 10);
            if (errno || *end || n < 2 || n > (1u << 20) || (n & (n - 1))) {
                say("isrdbg-trace: slots=%s: want a power of two from 2 to 1048576\n",
                    argv[i] + 6);
                return -1;
            }
        } else {
            say("isrdbg-trace: unknown argument %s (want ring=PATH[,slots=N])\n", argv[i]);
            return -1;
        }
    }
    if (path == NULL) {
        say("%sisrdbg-trace: give the ring file: -plugin libisrdbg-trace.so,ring=PATH\n", "");
        return -1;
    }
    if (!info->system_emulation) {
        say("%sisrdbg-trace: needs system emulation (qemu-system-*)\n", "");
        return -1;
    }
    if (open_ring(path, n) != 0) {
        return -1;
    }
    snprintf(FIELD(char, H_TARGET), 32, "%s", info->target_name);
    *FIELD(uint32_t, H_API) = (uint32_t)info->version.cur;
    if (info->version.cur < MIN_API || qemu_plugin_read_memory_vaddr == NULL ||
        qemu_plugin_scoreboard_new == NULL || qemu_plugin_insn_data == NULL) {
        char why[128];
        snprintf(why, sizeof why, "%d", info->version.cur);
        say("isrdbg-trace: this QEMU's plugin API is version %s; reading registers and "
            "memory needs version 4 (QEMU 9.2 or later)\n", why);
        *FIELD(uint32_t, H_STATE) = STATE_REFUSED;
        return -1;
    }
    state_written = qemu_plugin_scoreboard_new(2 * sizeof(uint64_t));
    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    register_callbacks(id);
    __atomic_store_n(FIELD(uint32_t, H_STATE), STATE_RUNNING, __ATOMIC_RELEASE);
    return 0;
}
