"""The trace plugin's ring file, read by gdbext.tracking.plugin_ring: a fake producer
here writes what plugin/isrdbg_trace.c writes (layout plugin/ring.h)."""

import struct

import pytest

from gdbext.errors import TargetMemoryError
from gdbext.tracking.plugin_ring import (F_LONG_MODE, F_MAPPED_Q0, H_APPLIED_GEN, H_CALLBACK_NS,
                                         H_BATCH_COUNT, H_DROPPED, H_FOLDED, H_HEAD, H_PENDING_CPU,
                                         H_RECORDED, H_STATE_GEN, H_STATE_READS, LAYOUT, H_FLUSH_GEN,
                                         H_TAIL, H_WATCH_COUNT, KIND_CLEAN, KIND_ENTRY, KIND_EXIT,
                                         R_SEQ, WATCH_FOLD, Ring, RingError, Watch)

HEADER_SIZE, MAX_WATCH, WATCH_SIZE = 4096, 4096, 16
R_REGS, REG_BYTES, STACK_BYTES = 80, 640, 512
RECORD_SIZE = R_REGS + REG_BYTES + STACK_BYTES
BATCH_MAX = 192
BATCH_FLAGS = RECORD_SIZE - 2 * BATCH_MAX       # plugin/ring.h R_BATCH_FLAGS

REGS64 = (("rax", 8), ("rbx", 8), ("rcx", 8), ("rdx", 8), ("rsi", 8), ("rdi", 8), ("rbp", 8),
          ("rsp", 8), ("r8", 8), ("r9", 8), ("r10", 8), ("r11", 8), ("r12", 8), ("r13", 8),
          ("r14", 8), ("r15", 8), ("rip", 8), ("eflags", 4), ("cs", 4), ("ss", 4), ("ds", 4),
          ("es", 4), ("fs", 4), ("gs", 4), ("fs_base", 8), ("gs_base", 8), ("k_gs_base", 8),
          ("cr3", 8), ("fctrl", 4), ("fstat", 4), ("mxcsr", 4), ("xmm0", 16), ("xmm15", 16))


class FakePlugin:
    """Writes a ring as the plugin does: header, register table, records
    claimed with the same protocol (one producer here)."""

    def __init__(self, slots=8, registers=REGS64):
        self.slots = slots
        self.watch_offset = HEADER_SIZE
        self.ring_offset = HEADER_SIZE + MAX_WATCH * WATCH_SIZE
        self.pending_offset = self.ring_offset + slots * RECORD_SIZE
        self.batch_offset = self.pending_offset + RECORD_SIZE
        self.buffer = bytearray(self.batch_offset + RECORD_SIZE)
        b = self.buffer
        b[0:8] = b"ISRDBGR1"
        struct.pack_into("<IIIIIIII", b, 8, LAYOUT, HEADER_SIZE, RECORD_SIZE, slots, MAX_WATCH,
                         4, 1, len(registers))
        struct.pack_into("<QQ", b, 456, self.pending_offset, self.batch_offset)
        struct.pack_into("<I", b, 476, BATCH_MAX)
        struct.pack_into("<IIQQ", b, 40, 448, 64, self.watch_offset, self.ring_offset)
        struct.pack_into("<III", b, 64, 1, 0, 0)
        struct.pack_into("<II", b, 72, R_REGS, R_REGS + REG_BYTES)
        b[80:86] = b"x86_64"
        self.layout = {}
        offset = 0
        for i, (name, size) in enumerate(registers):
            entry = 512 + i * 24
            b[entry:entry + len(name)] = name.encode()
            struct.pack_into("<II", b, entry + 16, offset, size)
            self.layout[name] = (offset, size)
            offset += (size + 7) & ~7
        for i in range(slots):
            struct.pack_into("<Q", b, self.ring_offset + i * RECORD_SIZE + R_SEQ, i)

    def u64(self, offset):
        return struct.unpack_from("<Q", self.buffer, offset)[0]

    def add(self, offset, value):
        struct.pack_into("<Q", self.buffer, offset, self.u64(offset) + value)

    def claim(self):
        pos = self.u64(H_HEAD)
        at = self.ring_offset + (pos % self.slots) * RECORD_SIZE
        if self.u64(at + R_SEQ) != pos:
            self.add(H_DROPPED, 1)      # not read yet: full
            return None, None
        struct.pack_into("<Q", self.buffer, H_HEAD, pos + 1)
        return pos, at

    def record(self, pc, tag, registers, stack_address, stack, cpu=0, kind=KIND_ENTRY,
               flags=0, commit=True, exit=None, hold=False, count=1, batch=False,
               batch_flags=()):
        """Write a record (``exit``: (tag, pc, sp, rflags) of a KIND_CLEAN
        record's exit, ``count`` the clean runs it stands for, ``batch_flags``
        their popped arithmetic flags; ``hold``: an entry held back in the
        pending area; ``batch``: a KIND_CLEAN record the plugin still counts
        in its batch area)."""
        if hold:
            pos, at = None, self.pending_offset
            struct.pack_into("<I", self.buffer, H_PENDING_CPU, cpu + 1)
        elif batch:
            pos, at = None, self.batch_offset
            struct.pack_into("<I", self.buffer, H_BATCH_COUNT, count)
        else:
            pos, at = self.claim()
            if at is None:
                return None
        struct.pack_into("<QIIIIQIIQQQI", self.buffer, at + 8, pc, tag, cpu, flags, len(stack),
                         stack_address, kind, *(exit or (0, 0, 0, 0)),
                         count if kind == KIND_CLEAN and not batch else 0)
        for name, value in registers.items():
            offset, size = self.layout[name]
            self.buffer[at + R_REGS + offset:at + R_REGS + offset + size] = \
                value.to_bytes(size, "little")
        base = at + R_REGS + REG_BYTES
        self.buffer[base:base + len(stack)] = stack
        if batch_flags:
            struct.pack_into(f"<{len(batch_flags)}H", self.buffer, at + BATCH_FLAGS, *batch_flags)
        if hold or batch:
            return None
        self.add(H_RECORDED, 2 * count if kind == KIND_CLEAN else 1)
        if kind == KIND_CLEAN:
            self.add(H_FOLDED, count)
        if commit:
            self.commit(pos)
        return pos

    def commit(self, pos):
        at = self.ring_offset + (pos % self.slots) * RECORD_SIZE
        struct.pack_into("<Q", self.buffer, at + R_SEQ, pos + 1)

    def apply(self):
        """What the plugin does when a vCPU resumes after GDB changed the table."""
        struct.pack_into("<Q", self.buffer, H_APPLIED_GEN, self.u64(128))

    def table(self):
        count = struct.unpack_from("<I", self.buffer, H_WATCH_COUNT)[0]
        return [Watch(*struct.unpack_from("<QII", self.buffer, self.watch_offset + i * 16))
                for i in range(count)]


def frame(*words):
    return struct.pack(f"<{len(words)}Q", *words)


def test_the_header_describes_the_records():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    assert (ring.slots, ring.record_size, ring.api_version, ring.target, ring.vcpus) == \
        (8, RECORD_SIZE, 4, "x86_64", 1)
    names = [name for name, _, _ in ring.registers_layout()]
    assert names[:3] == ["rax", "rbx", "rcx"] and "xmm15" in names
    assert ring.counters().recorded == 0 and ring.drain() == []


def test_records_come_out_in_order_with_their_registers_and_stack():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    regs = {"rax": 1, "rbx": 0x1122334455667788, "rsp": 0x7FD8, "cs": 8, "cr3": 0x12D000,
            "xmm15": (1 << 127) | 5}
    plugin.record(0x103000, 7, regs, 0x7FD8, frame(0x101234, 8, 0x202, 0x8000, 0x10),
                  flags=F_MAPPED_Q0)
    plugin.record(0x103040, 8, dict(regs, rax=2), 0x7F00, bytes(range(200)), cpu=1,
                  kind=KIND_EXIT)
    first, second = ring.drain()
    assert (first.position, first.pc, first.tag, first.cpu, first.kind) == \
        (0, 0x103000, 7, 0, KIND_ENTRY)
    assert first.registers["rbx"] == 0x1122334455667788 and first.registers["cr3"] == 0x12D000
    assert first.registers["xmm15"] == (1 << 127) | 5 and first.registers["r12"] == 0
    assert first.read(0x7FE0, 8) == struct.pack("<Q", 8)
    assert first.mapped(0x101234) is True and first.mapped(8) is False
    assert first.mapped(0x999) is None      # not a word the plugin probed
    assert (second.position, second.cpu, second.kind, second.registers["rax"]) == \
        (1, 1, KIND_EXIT, 2)
    assert second.read(0x7F10, 4) == bytes(range(16, 20))
    with pytest.raises(TargetMemoryError):
        second.read(0x7F00 + 198, 4)        # past what was recorded
    with pytest.raises(TargetMemoryError):
        second.read(0x7EFF, 1)
    assert ring.drain() == []
    assert struct.unpack_from("<Q", plugin.buffer, H_TAIL)[0] == 2


def test_a_full_ring_drops_and_counts_and_frees_slots_once_read():
    plugin = FakePlugin(slots=4)
    ring = Ring(plugin.buffer)
    for i in range(6):
        plugin.record(0x1000 + i, 1, {"rsp": 0x8000}, 0x8000, b"")
    counters = ring.counters()
    assert (counters.recorded, counters.dropped, counters.pending) == (4, 2, 4)
    assert [r.pc for r in ring.drain()] == [0x1000, 0x1001, 0x1002, 0x1003]
    # the slots are the plugin's again: the next events go through
    assert plugin.record(0x2000, 1, {"rsp": 0x8000}, 0x8000, b"") == 4
    assert [r.pc for r in ring.drain()] == [0x2000]
    assert ring.counters().dropped == 2


def test_a_record_still_being_written_stops_the_drain_until_it_is_done():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    pending = plugin.record(0x1000, 1, {}, 0, b"", commit=False)
    plugin.record(0x2000, 1, {}, 0, b"")
    assert ring.drain() == []
    plugin.commit(pending)
    assert [r.pc for r in ring.drain()] == [0x1000, 0x2000]


def test_drain_takes_at_most_limit_records():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    for i in range(5):
        plugin.record(i, 1, {}, 0, b"")
    assert [r.pc for r in ring.drain(limit=2)] == [0, 1]
    assert [r.pc for r in ring.drain()] == [2, 3, 4]


def test_watches_are_published_as_a_new_generation_the_plugin_applies():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    watches = [Watch(0x103000, 1, KIND_ENTRY), Watch(0x103040, 2, KIND_EXIT)]
    first = ring.set_watches(watches)
    assert plugin.table() == watches and ring.watch_generation == first
    assert ring.watches() == watches
    assert not ring.applied
    plugin.apply()
    assert ring.applied
    second = ring.set_watches(watches[:1])
    assert second > first and plugin.table() == watches[:1] and not ring.applied


def test_too_many_watches_are_refused_and_change_nothing():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    ring.set_watches([Watch(1, 1, KIND_ENTRY)])
    generation = ring.watch_generation
    with pytest.raises(Exception, match="at most 4096"):
        ring.set_watches([Watch(i, i, KIND_ENTRY) for i in range(4097)])
    assert ring.watch_generation == generation and plugin.table() == [Watch(1, 1, KIND_ENTRY)]


@pytest.mark.parametrize("damage, message", [
    (lambda b: b.__setitem__(slice(0, 8), b"NOTARING"), "bad magic"),
    (lambda b: struct.pack_into("<I", b, 8, 1), "layout 1"),   # the ring before folding
    (lambda b: struct.pack_into("<I", b, 20, 6), "sizes"),
    (lambda b: struct.pack_into("<I", b, 20, 1 << 20), "sizes"),
])
def test_a_file_that_is_no_ring_of_this_layout_is_refused(damage, message):
    plugin = FakePlugin()
    damage(plugin.buffer)
    with pytest.raises(RingError, match=message):
        Ring(plugin.buffer)


def test_a_short_file_is_refused():
    with pytest.raises(RingError, match="too short"):
        Ring(bytearray(100))


def test_no_registers_before_the_first_vcpu_started():
    plugin = FakePlugin(registers=())
    ring = Ring(plugin.buffer)
    assert ring.registers_layout() == ()


def test_the_time_the_plugin_spent_is_read_from_the_header():
    plugin = FakePlugin(slots=4)
    ring = Ring(plugin.buffer)
    assert ring.counters().callback_ns == 0
    plugin.add(H_CALLBACK_NS, 12345)        # plugin/ring.h H_CALLBACK_NS, after H_MEMORY_FAILED
    assert ring.counters().callback_ns == 12345


def test_a_new_table_never_reuses_a_generation_and_a_flush_is_asked_by_a_bump():
    plugin = FakePlugin(slots=4)
    ring = Ring(plugin.buffer)
    first = ring.set_watches([Watch(0x1000, 1, KIND_ENTRY)])
    plugin.buffer[H_APPLIED_GEN:H_APPLIED_GEN + 8] = struct.pack("<Q", first + 5)
    assert ring.set_watches([Watch(0x2000, 2, KIND_ENTRY)]) == first + 6
    assert ring.watch_generation == first + 6 and plugin.table() == [Watch(0x2000, 2, KIND_ENTRY)]
    flush = struct.unpack_from("<Q", plugin.buffer, H_FLUSH_GEN)[0]
    ring.request_flush()
    assert struct.unpack_from("<Q", plugin.buffer, H_FLUSH_GEN)[0] == flush + 1


def test_a_stop_for_the_debugger_makes_the_plugin_read_its_cached_registers_anew():
    plugin = FakePlugin(slots=4)
    ring = Ring(plugin.buffer)
    before = struct.unpack_from("<Q", plugin.buffer, H_STATE_GEN)[0]
    ring.debugger_stopped()
    ring.debugger_stopped()
    assert struct.unpack_from("<Q", plugin.buffer, H_STATE_GEN)[0] == before + 2
    assert ring.counters().state_reads == 0
    plugin.add(H_STATE_READS, 7)
    assert ring.counters().state_reads == 7


def test_the_header_offsets_are_those_of_plugin_ring_h():
    import re
    from pathlib import Path
    from gdbext.tracking import plugin_ring
    header = (Path(__file__).resolve().parents[2] / "plugin" / "ring.h").read_text()
    offsets = {name: int(value) for name, value in
               re.findall(r"^#define (H_[A-Z_]+|R_[A-Z_]+)\s+(\d+)\b", header, re.M)}
    assert offsets["H_CALLBACK_NS"] == 344
    mirrored = {name: getattr(plugin_ring, name) for name in offsets if hasattr(plugin_ring, name)}
    assert mirrored == {name: offsets[name] for name in mirrored}
    assert len(mirrored) >= 25


@pytest.mark.parametrize("long_mode, low_half", [(True, None), (False, False)])
def test_in_long_mode_the_32_bit_words_were_not_probed(long_mode, low_half):
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    rip = 0xFFFFFFFF81001234
    flags = F_MAPPED_Q0 | (F_LONG_MODE if long_mode else 0)
    plugin.record(0x103000, 7, {"rsp": 0x7FD8}, 0x7FD8, frame(rip, 0x10, 0x202, 0x8000, 0x18),
                  flags=flags)
    (record,) = ring.drain()
    assert record.mapped(rip) is True
    assert record.mapped(rip & 0xFFFFFFFF) is low_half     # unknown, not "unmapped"


def test_a_folded_clean_run_is_one_record_with_its_exit_and_counts_two_events():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    words = frame(0x101234, 0x08, 0x202, 0x8000, 0x10)
    plugin.record(0x103000, 7, {"rax": 1, "rsp": 0x7FD8}, 0x7FD8, words, cpu=1,
                  kind=KIND_CLEAN, flags=F_MAPPED_Q0, exit=(9, 0x103040, 0x7FD8, 0x46))
    (record,) = ring.drain()
    assert (record.kind, record.pc, record.tag, record.cpu, record.flags) == \
        (KIND_CLEAN, 0x103000, 7, 1, F_MAPPED_Q0)
    assert record.exit == (9, 0x103040, 0x7FD8, 0x46)
    assert record.registers["rax"] == 1 and record.read(0x7FD8, 40) == words
    counters = ring.counters()
    assert (counters.recorded, counters.folded) == (2, 1)


def test_other_records_carry_no_exit():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    plugin.record(0x103000, 7, {"rsp": 0x7FD8}, 0x7FD8, frame(1, 2, 3))
    assert ring.drain()[0].exit is None


def test_the_held_entry_is_taken_once_as_an_entry_record():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    assert ring.take_held() is None
    plugin.record(0x103000, 1, {"rsp": 0x7FE0}, 0x7FE0, frame(1, 2, 3))
    plugin.record(0x103000, 1, {"rsp": 0x7FD8, "rbx": 5}, 0x7FD8, frame(4, 5, 6), cpu=1,
                  hold=True)
    assert [r.position for r in ring.drain()] == [0]
    held = ring.take_held()
    assert (held.kind, held.pc, held.cpu, held.registers["rbx"], held.exit) == \
        (KIND_ENTRY, 0x103000, 1, 5, None)
    assert held.position == 1                   # the newest event: after every written one
    assert plugin.u64(H_PENDING_CPU) == 0       # the plugin now writes that run's exit as is
    assert ring.counters().recorded == 2
    assert ring.take_held() is None


def test_a_batch_of_clean_runs_is_one_record_with_its_count_and_each_runs_flags():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    words = frame(0x101234, 0x08, 0x283, 0x8000, 0x10)
    plugin.record(0x103000, 7, {"rsp": 0x7FD8}, 0x7FD8, words, kind=KIND_CLEAN,
                  flags=F_LONG_MODE | F_MAPPED_Q0, exit=(9, 0x103040, 0x7FD8, 0x46), count=3,
                  batch_flags=(0x81, 0x85, 0x81))
    plugin.record(0x103000, 7, {"rsp": 0x7FD8}, 0x7FD8, words, kind=KIND_CLEAN,
                  flags=F_LONG_MODE | F_MAPPED_Q0, exit=(9, 0x103040, 0x7FD8, 0x46))
    batch, single = ring.drain()
    assert (batch.kind, batch.count, batch.batch_flags) == (KIND_CLEAN, 3, (0x81, 0x85, 0x81))
    assert batch.read(0x7FD8, 40) == words and batch.exit == (9, 0x103040, 0x7FD8, 0x46)
    assert (single.count, single.batch_flags) == (1, ())
    counters = ring.counters()
    assert (counters.recorded, counters.folded) == (8, 4)      # 2 events a run


def test_the_pending_batch_is_taken_at_a_stop_before_the_held_entry():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    assert ring.take_batch() is None
    words = frame(0x101234, 0x08, 0x283, 0x8000, 0x10)
    plugin.record(0x103000, 7, {"rsp": 0x7FD8}, 0x7FD8, words, kind=KIND_CLEAN,
                  flags=F_LONG_MODE | F_MAPPED_Q0, exit=(9, 0x103040, 0x7FD8, 0x46), count=2,
                  batch=True, batch_flags=(0x81, 0x85))
    plugin.record(0x103000, 7, {"rsp": 0x7FD8}, 0x7FD8, words, hold=True)
    assert ring.drain() == []
    batch = ring.take_batch()
    assert (batch.kind, batch.count, batch.batch_flags, batch.exit) == \
        (KIND_CLEAN, 2, (0x81, 0x85), (9, 0x103040, 0x7FD8, 0x46))
    assert plugin.u64(H_BATCH_COUNT) & 0xFFFFFFFF == 0      # the plugin starts a new one
    assert ring.take_batch() is None and ring.take_held().kind == KIND_ENTRY
    counters = ring.counters()
    assert (counters.recorded, counters.folded) == (5, 2)


def test_an_entry_watch_may_carry_the_fold_permission():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    watches = [Watch(0x103000, 1, KIND_ENTRY | WATCH_FOLD), Watch(0x103040, 2, KIND_EXIT)]
    ring.set_watches(watches)
    assert plugin.table() == watches


def test_each_new_view_of_the_idt_is_published_for_the_plugins_mapped_pages():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    assert plugin.u64(144) == 0             # plugin/ring.h H_VIEW_GEN
    ring.new_view()
    ring.new_view()
    assert plugin.u64(144) == 2
