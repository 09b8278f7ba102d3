/*
 * The ring file shared by the isrdbg trace plugin (writer) and isrdbg's
 * reader inside GDB (gdbext/tracking/plugin_ring.py mirrors the fixed offsets below;
 * the variable parts -- where the table and the ring start, record and
 * register layout -- are read from the header itself).
 *
 * One file, mmap'd by both sides:
 *   [0, HEADER_SIZE)          header: sizes, counters, the register table
 *   [watch_offset, +MAX_WATCH*16)  the watch table GDB writes: address, tag, kind
 *   [ring_offset, +slots*record_size)  the records, a bounded MPSC ring
 *
 * Ring protocol (vCPU threads produce, GDB consumes; x86 host, little-endian):
 * slot i starts with seq = i.  A producer claims position pos with a CAS on
 * head when its slot's seq == pos, writes the record, then stores
 * seq = pos + 1.  The consumer reads the slot at tail when its seq == tail + 1,
 * then stores seq = tail + slots and tail + 1.  A producer that finds its
 * slot not yet consumed counts the event in `dropped` and writes nothing:
 * the ring never blocks the guest and never loses an event silently.
 *
 * Clean runs are folded (isrdbg_trace.c, "folding"): an entry whose watch has
 * WATCH_FOLD is held back in the pending area instead of being written; when
 * the very next event anywhere is its handler's iret on the same vCPU, popping
 * the words the CPU pushed at the entry, with the same CR3 and every register
 * but RIP, RSP and RFLAGS' non-IF bits unchanged, the pair is written as ONE
 * KIND_CLEAN record: the entry's record plus the exit's tag, address, RSP and
 * RFLAGS.  Any other event first writes the held entry as a normal entry
 * record, so the order of events in the ring is unchanged.  While every vCPU
 * is stopped GDB may take the held entry itself (H_PENDING_CPU: 0 = none held,
 * else vCPU index + 1).
 *
 * Clean runs that repeat are batched: a folded record equal to the one before
 * it from R_PC to its last stack byte, but for the arithmetic flags (CF PF AF
 * ZF SF OF: what an idle loop's compare leaves) of the RFLAGS its iret pops
 * and of the entry's live RFLAGS, is not written again: the plugin counts it
 * in the batch area (H_BATCH_COUNT runs, each proven clean as above), keeping
 * each run's popped arithmetic flags (u16, R_BATCH_FLAGS), and writes the
 * batch as one KIND_CLEAN record with R_COUNT runs when anything else is
 * written first (the held entry, any other record), when the batch is
 * BATCH_MAX runs or BATCH_MAX_NS old, or GDB takes it while every vCPU is
 * stopped (before the held entry: it is older).  Such records give GDB's side
 * the same inputs but the interrupted context's arithmetic flags, which
 * neither frame decoding nor judging reads: it judges one and counts the
 * others, each with its own flags.
 */
#ifndef ISRDBG_RING_H
#define ISRDBG_RING_H

#include <stdint.h>

#define RING_MAGIC          "ISRDBGR1"
#define RING_LAYOUT         5
#define HEADER_SIZE         4096
#define MAX_WATCH           4096        /* watched addresses */
#define WATCH_SIZE          16
#define MAX_REGS            64
#define REG_NAME            16

/* header fields (byte offsets) */
#define H_MAGIC             0           /* char[8] */
#define H_LAYOUT            8           /* u32 */
#define H_HEADER_SIZE       12          /* u32 */
#define H_RECORD_SIZE       16          /* u32 */
#define H_SLOTS             20          /* u32, a power of two */
#define H_MAX_WATCH         24          /* u32 */
#define H_API               28          /* u32: QEMU's current plugin API version */
#define H_STATE             32          /* u32: STATE_* */
#define H_REG_COUNT         36          /* u32: entries in the register table */
#define H_STACK_BELOW       40          /* u32: exit records: bytes read below RSP */
#define H_STACK_ABOVE       44          /* u32: bytes read from RSP up */
#define H_WATCH_OFFSET      48          /* u64 */
#define H_RING_OFFSET       56          /* u64 */
#define H_VCPUS             64          /* u32 */
#define H_REGS_OFFSET       72          /* u32: where a record's registers start */
#define H_STACK_OFFSET      76          /* u32: where a record's stack bytes start */
#define H_TARGET            80          /* char[32]: QEMU's target name */
#define H_WATCH_GEN         128         /* u64: GDB bumps it after writing the table, and
                                           holds it at 0 while it writes */
#define H_WATCH_COUNT       136         /* u32: entries in the table (GDB) */
#define H_VIEW_GEN          144         /* u64: GDB bumps it when it reads the IDT anew:
                                           a page found mapped stays so until then */
#define H_APPLIED_GEN       192         /* u64: the generation now instrumented */
#define H_APPLIED_COUNT     200         /* u32: addresses instrumented */
#define H_UNSYNCED_RESUMES  208         /* u64: vCPUs that resumed before a new table applied */
#define H_STATE_GEN         216         /* u64: GDB bumps it whenever the debugger may have
                                           written registers (every stop): the plugin's
                                           cached state is read anew */
#define H_STATE_READS       224         /* u64: events that read the cached state anew */
#define H_FLUSH_GEN         232         /* u64: GDB bumps it to have every translated block
                                           flushed at the next resume (a plugin reset) */
#define H_HEAD              256         /* u64: next position producers claim */
#define H_DROPPED           320         /* u64: events lost, ring full */
#define H_RECORDED          328         /* u64: events written */
#define H_MEMORY_FAILED     336         /* u64: events whose stack was unreadable */
#define H_CALLBACK_NS       344         /* u64: time the vCPUs spent in the plugin's callbacks
                                           (one event in TIMED_EVERY timed, counted for all) */
#define H_FOLDED            352         /* u64: clean runs written as one KIND_CLEAN record */
#define H_TAIL              384         /* u64: next position GDB reads */
#define H_PENDING_CPU       448         /* u32: the vCPU (+1) whose entry is held; 0: none */
#define H_PENDING_OFFSET    456         /* u64: where the held entry record lies */
#define H_BATCH_OFFSET      464         /* u64: where the batch of repeated clean runs lies */
#define H_BATCH_COUNT       472         /* u32: clean runs in the batch; 0: none */
#define H_BATCH_MAX         476         /* u32: BATCH_MAX (where R_BATCH_FLAGS starts) */
#define H_REG_TABLE         512         /* MAX_REGS x {char name[16]; u32 offset; u32 size} */
#define REG_ENTRY_SIZE      24

#define STATE_STARTING      0
#define STATE_RUNNING       1
#define STATE_REFUSED       2

/* watch table entry: u64 address, u32 tag (GDB's), u32 kind */
#define KIND_ENTRY          1           /* stack from RSP up: the frame the CPU pushed */
#define KIND_EXIT           2           /* stack around RSP: the frame iret pops, the save slots */
#define KIND_CLEAN          3           /* a record only: an entry and its clean exit, folded */
#define KIND_MASK           0xff        /* a watch's kind: the low byte ... */
#define WATCH_FOLD          (1u << 8)   /* ... and, on an entry, GDB lets its clean runs fold */
#define WATCH_NO_ERROR_CODE (1u << 9)   /* on an entry: none of its vectors pushes an error code */

/* record fields */
#define R_SEQ               0           /* u64: ring protocol */
#define R_PC                8           /* u64: the instrumented instruction's address */
#define R_TAG               16          /* u32 */
#define R_CPU               20          /* u32: vCPU index */
#define R_FLAGS             24          /* u32: F_* */
#define R_STACK_LEN         28          /* u32: bytes valid at R_STACK */
#define R_STACK_ADDR        32          /* u64: guest address of the first stack byte */
#define R_KIND              40          /* u32: the watch's kind (KIND_CLEAN: folded) */
#define R_EXIT_TAG          44          /* u32: KIND_CLEAN: the exit's watch tag */
#define R_EXIT_PC           48          /* u64: KIND_CLEAN: the exit instruction */
#define R_EXIT_SP           56          /* u64: KIND_CLEAN: RSP at the exit */
#define R_EXIT_FLAGS        64          /* u64: KIND_CLEAN: RFLAGS at the exit */
#define R_COUNT             72          /* u32: KIND_CLEAN: the identical clean runs it stands for */
#define R_REGS              80
#define REG_BYTES           640         /* 35 scalars x 8 + 16 xmm x 16 fit */
#define STACK_BYTES         512
#define RECORD_SIZE         (R_REGS + REG_BYTES + STACK_BYTES)
/* KIND_CLEAN, R_COUNT > 1: u16 per run, the arithmetic flags its iret popped,
 * at the end of the stack area (a folded record's stack is an entry's:
 * STACK_ABOVE bytes at most) */
#define R_BATCH_FLAGS       (RECORD_SIZE - 2 * BATCH_MAX)
#define RFLAGS_ARITH        0x8d5u      /* CF PF AF ZF SF OF */

/* mapped-page probes of the words a frame's RIP may be (see frame.py) */
#define F_MAPPED_Q0         (1u << 0)   /* the u64 at RSP */
#define F_MAPPED_Q1         (1u << 1)   /* the u64 at RSP+8 */
#define F_MAPPED_D0         (1u << 2)   /* the u32 at RSP */
#define F_MAPPED_D1         (1u << 3)   /* the u32 at RSP+4 */
#define F_LONG_MODE         (1u << 4)   /* long mode: the u32 words were not probed */
#define F_NO_ERROR_CODE     (1u << 5)   /* WATCH_NO_ERROR_CODE: the second words were not probed */

#define BATCH_MAX           192         /* clean runs in one batch at most ... */
#define BATCH_MAX_NS        10000000ull /* ... and for at most 10 ms: GDB sees them soon */

#define DEFAULT_SLOTS       32768       /* ~1 KiB each: 32 MiB, some seconds of a busy kernel */
#define STACK_ABOVE         64          /* error code + 5 words, and some */
#define STACK_BELOW         (STACK_BYTES - STACK_ABOVE)

#endif
