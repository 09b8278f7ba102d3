"""The ring file of isrdbg's QEMU trace plugin (plugin/ring.h), read without
stopping the guest.

The plugin writes one record per execution of a watched instruction (a
handler entry or an exit instruction): the vCPU, the instruction's address,
the registers, and the stack bytes around RSP.  This module reads those
records and writes the table of watched addresses; it knows nothing of
handlers or runs (gdbext.tracking.plugin_events turns records into what the tracker
consumes).  A clean run the plugin folded (plugin/ring.h) is one KIND_CLEAN
record: the entry's record with the exit's tag, address, RSP and RFLAGS, and
how many clean runs in a row it stands for (``count``: the plugin batches
runs whose records differ at most in the arithmetic flags of the RFLAGS the
iret pops, and keeps those flags per run: ``batch_flags``).  Pure: it takes any writable buffer (an mmap of the file, or
a bytearray in tests).

Fixed header offsets mirror plugin/ring.h; everything variable (where the
table and the ring start, the record's size, which registers it holds and
where) is read from the header the plugin wrote.
"""

import ctypes
import mmap
import os
import struct
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

from gdbext.errors import IsrError, TargetMemoryError
from gdbext.x86.register_file import RawRegisters, RegisterLayout, with_low_halves

# How the launcher (gdbext/client/trace_plugin.py) and GDB's side
# (gdbext/gdbside/trace_engine.py) agree on the ring: its file name in QEMU's
# working directory, the variable naming it in GDB's environment, and the
# switch that keeps the plugin out ("off").
RING_NAME = "trace.ring"
RING_ENV = "ISRDBG_TRACE_RING"
SWITCH_ENV = "ISRDBG_TRACE_PLUGIN"

MAGIC = b"ISRDBGR1"
LAYOUT = 5

# header fields (plugin/ring.h H_*)
H_MAGIC, H_LAYOUT, H_HEADER_SIZE, H_RECORD_SIZE, H_SLOTS = 0, 8, 12, 16, 20
H_MAX_WATCH, H_API, H_STATE, H_REG_COUNT = 24, 28, 32, 36
H_STACK_BELOW, H_STACK_ABOVE, H_WATCH_OFFSET, H_RING_OFFSET = 40, 44, 48, 56
H_VCPUS, H_REGS_OFFSET, H_STACK_OFFSET, H_TARGET = 64, 72, 76, 80
H_WATCH_GEN, H_WATCH_COUNT, H_VIEW_GEN = 128, 136, 144
H_APPLIED_GEN, H_APPLIED_COUNT, H_UNSYNCED_RESUMES = 192, 200, 208
H_STATE_GEN, H_STATE_READS, H_FLUSH_GEN = 216, 224, 232
H_HEAD, H_DROPPED, H_RECORDED, H_MEMORY_FAILED, H_CALLBACK_NS = 256, 320, 328, 336, 344
H_FOLDED = 352
H_TAIL, H_PENDING_CPU, H_PENDING_OFFSET = 384, 448, 456
H_BATCH_OFFSET, H_BATCH_COUNT, H_BATCH_MAX = 464, 472, 476
H_REG_TABLE, REG_ENTRY_SIZE, REG_NAME = 512, 24, 16
MAX_REGS = 64
WATCH_SIZE = 16

STATE_STARTING, STATE_RUNNING, STATE_REFUSED = 0, 1, 2

KIND_ENTRY, KIND_EXIT, KIND_CLEAN = 1, 2, 3
WATCH_FOLD = 1 << 8     # on an entry's watch: the plugin may fold its clean runs
WATCH_NO_ERROR_CODE = 1 << 9    # on an entry's: no vector of it pushes an error code

# record fields (plugin/ring.h R_*)
R_SEQ, R_PC, R_TAG, R_CPU, R_FLAGS, R_STACK_LEN, R_STACK_ADDR, R_KIND = 0, 8, 16, 20, 24, 28, 32, 40
R_EXIT_TAG, R_EXIT_PC, R_EXIT_SP, R_EXIT_FLAGS, R_COUNT = 44, 48, 56, 64, 72

F_MAPPED_Q0, F_MAPPED_Q1, F_MAPPED_D0, F_MAPPED_D1, F_LONG_MODE = 1, 2, 4, 8, 16
F_NO_ERROR_CODE = 32    # WATCH_NO_ERROR_CODE: the second words were not probed
RFLAGS_ARITH = 0x8D5    # CF PF AF ZF SF OF: what may differ between the runs of a batch
_RECORD_HEAD = struct.Struct("<QIIIIQIIQQQI")   # R_PC .. R_COUNT


class RingError(IsrError):
    """The file is no ring the plugin wrote (or of another layout)."""


@dataclass(frozen=True)
class Watch:
    """One watched instruction: ``tag`` is ours, handed back in its records."""

    address: int
    tag: int
    kind: int           # KIND_ENTRY or KIND_EXIT, with WATCH_FOLD on an entry whose
                        # clean runs may come as one KIND_CLEAN record


class Record:
    """One execution of a watched instruction, as the plugin saw it.
    ``registers``: a read-only mapping decoding a value only when asked
    (gdbext.x86.register_file), so that an entry and an exit compare as bytes.
    A KIND_CLEAN record is its entry's, and ``exit`` holds (tag, address, RSP,
    RFLAGS) of the exit that closed it cleanly (plugin/ring.h); it stands for
    ``count`` clean runs in a row (1 or more) whose records were equal but for
    the arithmetic flags (RFLAGS_ARITH) of the RFLAGS their iret popped:
    ``batch_flags`` holds those bits per run (when ``count`` > 1)."""

    __slots__ = ("position", "pc", "tag", "cpu", "kind", "flags", "registers",
                 "stack_address", "stack", "exit", "count", "batch_flags")

    def __init__(self, position: int, pc: int, tag: int, cpu: int, kind: int, flags: int,
                 registers, stack_address: int, stack: bytes,
                 exit: Optional[Tuple[int, int, int, int]] = None, count: int = 1,
                 batch_flags: Tuple[int, ...] = ()):
        self.position = position            # the event's number in the ring (0, 1, ...)
        self.pc = pc                        # the watched instruction
        self.tag = tag
        self.cpu = cpu                      # vCPU index (GDB thread number - 1)
        self.kind = kind
        self.flags = flags
        self.registers = registers
        self.stack_address = stack_address  # guest address of stack[0]
        self.stack = stack                  # the readable bytes around RSP
        self.exit = exit                    # KIND_CLEAN: (tag, pc, sp, rflags) of its exit
        self.count = count                  # KIND_CLEAN: the runs it stands for
        self.batch_flags = batch_flags      # ... and their popped arithmetic flags

    def read(self, address: int, size: int) -> bytes:
        """Guest memory as it was at this event, where the record holds it."""
        offset = address - self.stack_address
        if offset < 0 or offset + size > len(self.stack):
            raise TargetMemoryError(address, size, "not recorded by the trace plugin")
        return self.stack[offset:offset + size]

    def mapped(self, address: int) -> Optional[bool]:
        """Whether ``address`` was mapped, for the words the plugin probed
        (the candidates for a frame's saved RIP); None when not probed."""
        sp = self.registers.get("rsp", self.registers.get("esp"))
        if sp is None:
            return None
        found = None
        second = not self.flags & F_NO_ERROR_CODE   # (else only the first words were probed)
        probes = ((0, 8, F_MAPPED_Q0),) + (((8, 8, F_MAPPED_Q1),) if second else ())
        if not self.flags & F_LONG_MODE:    # (in long mode the 32-bit words were not probed)
            probes += ((0, 4, F_MAPPED_D0),) + (((4, 4, F_MAPPED_D1),) if second else ())
        for offset, size, flag in probes:
            try:
                word = int.from_bytes(self.read(sp + offset, size), "little")
            except TargetMemoryError:
                continue
            if word == address:
                # a 32-bit word is also the low half of a 64-bit one: any probe counts
                found = found or bool(self.flags & flag)
        return found


@dataclass(frozen=True)
class Counters:
    recorded: int               # events the plugin wrote
    dropped: int                # events lost: the ring was full
    memory_failed: int          # events whose stack could not be read
    pending: int                # written, not read yet
    callback_ns: int = 0        # time the vCPUs spent in the plugin's callbacks
    folded: int = 0             # clean runs written folded (2 events each), batches' too
    unsynced_resumes: int = 0   # vCPUs that ran before a new watch table applied
    state_reads: int = 0        # events that read the plugin's cached registers anew


class Ring:
    """A ring file's contents, over a writable buffer."""

    def __init__(self, buffer):
        self.buffer = buffer
        if len(buffer) < H_REG_TABLE + MAX_REGS * REG_ENTRY_SIZE:
            raise RingError("the ring file is too short for its header")
        if bytes(buffer[H_MAGIC:H_MAGIC + 8]) != MAGIC:
            raise RingError("not an isrdbg trace ring (bad magic)")
        layout = self._u32(H_LAYOUT)
        if layout != LAYOUT:
            raise RingError(f"ring layout {layout}, this isrdbg reads layout {LAYOUT}: "
                            f"rebuild the plugin (isrdbg build)")
        self.record_size = self._u32(H_RECORD_SIZE)
        self.slots = self._u32(H_SLOTS)
        self.max_watch = self._u32(H_MAX_WATCH)
        self.watch_offset = self._u64(H_WATCH_OFFSET)
        self.ring_offset = self._u64(H_RING_OFFSET)
        self.regs_offset = self._u32(H_REGS_OFFSET)
        self.stack_offset = self._u32(H_STACK_OFFSET)
        self.regs_size = self.stack_offset - self.regs_offset
        self.pending_offset = self._u64(H_PENDING_OFFSET)
        self.batch_offset = self._u64(H_BATCH_OFFSET)
        self.batch_max = self._u32(H_BATCH_MAX)
        if self.slots == 0 or self.slots & (self.slots - 1) or \
                self.ring_offset + self.slots * self.record_size > self.pending_offset or \
                self.pending_offset + self.record_size > self.batch_offset or \
                self.batch_offset + self.record_size > len(buffer) or \
                self.stack_offset + 2 * self.batch_max > self.record_size or \
                self.watch_offset + self.max_watch * WATCH_SIZE > self.ring_offset:
            raise RingError("the ring file's sizes do not fit the file")
        self._layout: Optional[Tuple[Tuple[str, int, int], ...]] = None
        self._registers_view: Optional[Tuple[RegisterLayout, Tuple[str, ...]]] = None
        # 8-byte words of the whole file: the ring's sequence numbers and
        # counters are read and stored each as one aligned access
        self._words = (ctypes.c_uint64 * (len(buffer) // 8)).from_buffer(buffer)
        self._next_generation = self._u64(H_WATCH_GEN) + 1

    # -- raw access ---------------------------------------------------------------
    def _u32(self, offset: int) -> int:
        return struct.unpack_from("<I", self.buffer, offset)[0]

    def _u64(self, offset: int) -> int:
        return struct.unpack_from("<Q", self.buffer, offset)[0]

    def _store64(self, offset: int, value: int) -> None:
        # one aligned 8-byte store: the plugin's threads read these words
        self._words[offset >> 3] = value

    # -- the plugin's state ---------------------------------------------------------
    @property
    def state(self) -> int:
        return self._u32(H_STATE)

    @property
    def api_version(self) -> int:
        return self._u32(H_API)

    @property
    def target(self) -> str:
        raw = bytes(self.buffer[H_TARGET:H_TARGET + 32])
        return raw.split(b"\0", 1)[0].decode("ascii", "replace")

    @property
    def vcpus(self) -> int:
        return self._u32(H_VCPUS)

    def counters(self) -> Counters:
        head, tail = self._u64(H_HEAD), self._u64(H_TAIL)
        return Counters(self._u64(H_RECORDED), self._u64(H_DROPPED),
                        self._u64(H_MEMORY_FAILED), max(0, head - tail),
                        self._u64(H_CALLBACK_NS), self._u64(H_FOLDED),
                        self._u64(H_UNSYNCED_RESUMES), self._u64(H_STATE_READS))

    def registers_layout(self) -> Tuple[Tuple[str, int, int], ...]:
        """(name, offset, size) of each register in a record; fixed by the
        plugin when the first vCPU started (empty before)."""
        if self._layout is None:
            count = self._u32(H_REG_COUNT)
            if count == 0:
                return ()
            entries = []
            for i in range(min(count, MAX_REGS)):
                at = H_REG_TABLE + i * REG_ENTRY_SIZE
                name = bytes(self.buffer[at:at + REG_NAME]).split(b"\0", 1)[0].decode("ascii")
                offset, size = struct.unpack_from("<II", self.buffer, at + REG_NAME)
                entries.append((name, offset, size))
            self._layout = tuple(entries)
        return self._layout

    # -- the watch table ------------------------------------------------------------
    @property
    def watch_generation(self) -> int:
        return self._u64(H_WATCH_GEN)

    @property
    def applied_generation(self) -> int:
        """The table generation the plugin instruments now (it applies a new
        one when a vCPU resumes after a stop)."""
        return self._u64(H_APPLIED_GEN)

    @property
    def applied(self) -> bool:
        return self.applied_generation == self.watch_generation

    def watches(self) -> List[Watch]:
        """The table as last written."""
        count = min(self._u32(H_WATCH_COUNT), self.max_watch)
        return [Watch(*struct.unpack_from("<QII", self.buffer, self.watch_offset + i * WATCH_SIZE))
                for i in range(count)]

    def set_watches(self, watches: Iterable[Watch]) -> int:
        """Write the table and publish it as a new generation: the plugin
        copies it at the next resume or translation.  Blocks QEMU translated
        before stay as they are: the caller makes QEMU drop those of added
        addresses (writing their bytes back while stopped) or asks for a
        flush (request_flush).  The generation reads 0 while the table is
        written: a plugin copying it then tries again."""
        watches = list(watches)
        if len(watches) > self.max_watch:
            raise IsrError(f"{len(watches)} addresses to watch; the plugin takes at most "
                           f"{self.max_watch}")
        generation = max(self._next_generation, self.watch_generation + 1,
                         self.applied_generation + 1)
        self._next_generation = generation + 1
        self._store64(H_WATCH_GEN, 0)
        for i, watch in enumerate(watches):
            struct.pack_into("<QII", self.buffer, self.watch_offset + i * WATCH_SIZE,
                             watch.address, watch.tag, watch.kind)
        struct.pack_into("<I", self.buffer, H_WATCH_COUNT, len(watches))
        self._store64(H_WATCH_GEN, generation)
        return generation

    def request_flush(self) -> None:
        """Have the plugin flush every block QEMU translated (a plugin reset)
        when the guest resumes: nothing is watched any more, or blocks of an
        added address could not be dropped otherwise.  A vCPU resuming before
        the flush applies is counted (unsynced_resumes)."""
        self._store64(H_FLUSH_GEN, self._u64(H_FLUSH_GEN) + 1)

    def new_view(self) -> None:
        """GDB read the IDT anew (a new CpuView): pages the plugin found
        mapped are probed again (while a view lasts, GDB's decoder takes a page
        found mapped as mapped, and so does the plugin).  While stopped."""
        self._store64(H_VIEW_GEN, self._u64(H_VIEW_GEN) + 1)

    def debugger_stopped(self) -> None:
        """The guest stopped for the debugger, which may write any register
        now (or restore them after a call): the plugin reads the registers it
        caches anew at each vCPU's next event.  While stopped."""
        self._store64(H_STATE_GEN, self._u64(H_STATE_GEN) + 1)

    # -- records --------------------------------------------------------------------
    def _register_view(self):
        """(the RegisterLayout of a record's register area, every name in it)."""
        if self._registers_view is None:
            layout = self.registers_layout()
            if not layout:
                return None
            slots = with_low_halves({name: (offset, size) for name, offset, size in layout})
            register_layout = RegisterLayout(slots)
            names = tuple(slots)
            # the names' index once: a record's registers are built per event
            self._registers_view = (register_layout, names, frozenset(names))
        return self._registers_view

    def drain(self, limit: Optional[int] = None) -> List[Record]:
        """The records written since the last drain, oldest first (at most
        ``limit``); their slots are handed back to the plugin."""
        view = self._register_view()
        words = self._words
        tail = words[H_TAIL >> 3]
        records = []
        while limit is None or len(records) < limit:
            at = self.ring_offset + (tail & (self.slots - 1)) * self.record_size
            if words[(at + R_SEQ) >> 3] != tail + 1:
                break       # not written yet (or being written)
            records.append(self._decode(at, tail, view))
            words[(at + R_SEQ) >> 3] = tail + self.slots    # the slot is the plugin's again
            tail += 1
        words[H_TAIL >> 3] = tail
        return records

    def take_batch(self) -> Optional[Record]:
        """The clean runs the plugin counts in its batch and has not written
        yet, as the KIND_CLEAN record it then writes (``count`` runs).  Only
        while every vCPU is stopped; drain first, and take it before the held
        entry: its runs are older."""
        runs = self._u32(H_BATCH_COUNT)
        if runs == 0:
            return None
        record = self._decode(self.batch_offset, self._u64(H_HEAD), self._register_view(),
                              min(runs, self.batch_max))
        struct.pack_into("<I", self.buffer, H_BATCH_COUNT, 0)
        self._store64(H_RECORDED, self._u64(H_RECORDED) + 2 * runs)
        self._store64(H_FOLDED, self._u64(H_FOLDED) + runs)
        return record

    def take_held(self) -> Optional[Record]:
        """The entry the plugin holds back to fold it with its exit, as the
        entry record it then becomes (the plugin writes that exit as a normal
        record).  Only while every vCPU is stopped (GDB's stop): the plugin
        changes the held entry while the guest runs.  Drain first: the held
        entry is the newest event."""
        if self._u32(H_PENDING_CPU) == 0:
            return None
        record = self._decode(self.pending_offset, self._u64(H_HEAD), self._register_view())
        struct.pack_into("<I", self.buffer, H_PENDING_CPU, 0)
        self._store64(H_RECORDED, self._u64(H_RECORDED) + 1)
        return record

    def _decode(self, at: int, position: int, view, count: Optional[int] = None) -> Record:
        """The record at ``at`` (``count``: a batch's runs, when the record
        does not say them itself)."""
        pc, tag, cpu, flags, stack_len, stack_address, kind, exit_tag, exit_pc, exit_sp, \
            exit_flags, written = _RECORD_HEAD.unpack_from(self.buffer, at + R_PC)
        count = max(1, min(count or written, self.batch_max or 1))
        batch_flags = ()
        if kind == KIND_CLEAN and count > 1:
            batch_flags = struct.unpack_from(f"<{count}H", self.buffer,
                                             at + self.record_size - 2 * self.batch_max)
        if view is None:
            registers = {}
        else:
            base = at + self.regs_offset
            # an mmap's slice is a bytes copy already (a bytearray's, in tests, a bytearray)
            registers = RawRegisters(view[0], self.buffer[base:base + self.regs_size], view[1],
                                     view[2])
        stack_len = min(stack_len, self.record_size - self.stack_offset)
        stack_at = at + self.stack_offset
        stack = self.buffer[stack_at:stack_at + stack_len]
        return Record(position, pc, tag, cpu, kind, flags, registers, stack_address,
                      stack if type(stack) is bytes else bytes(stack),
                      (exit_tag, exit_pc, exit_sp, exit_flags) if kind == KIND_CLEAN else None,
                      count if kind == KIND_CLEAN else 1, batch_flags)


class RingFile(Ring):
    """The plugin's ring file, mapped."""

    def __init__(self, path: str):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as error:
            raise RingError(f"cannot open the trace ring {path}: {error.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                raise RingError(f"the trace ring {path} is empty (did QEMU load the plugin?)")
            mapped = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        self.path = path
        super().__init__(mapped)
