"""A CPU's registers as the remote protocol's `g` packet carries them.

GDB's frame API costs some 0.2 ms per breakpoint hit before the first
register is read (frame 0 is built, then rebuilt by GDB after we drop it);
one `g` packet straight through the connection costs one round trip to the
stub and no frame at all.  This module knows where each register sits in the
packet (GDB's ``maint print remote-registers`` says it) and gives the
registers as a read-only mapping that decodes a value only when asked, so
that comparing an entry with an exit is a comparison of bytes.
"""

import operator
import re
from typing import Dict, Iterable, Iterator, Mapping, Optional, Tuple

# 32-bit names a 64-bit packet carries as the low half of their register
# (pseudo registers to GDB): 32-bit code under a 64-bit GDB is read by them.
_LOW_HALVES = {"eax": "rax", "ebx": "rbx", "ecx": "rcx", "edx": "rdx", "esi": "rsi",
               "edi": "rdi", "ebp": "rbp", "esp": "rsp", "eip": "rip"}
_ROW = re.compile(r"^\s*(\S+)\s+\d+\s+\d+\s+\d+\s+(\d+)\s+\S+\s+(\d+)\s+(\d+)\s*$")


def with_low_halves(slots: Dict[str, Tuple[int, int]]) -> Dict[str, Tuple[int, int]]:
    """``slots`` plus eax... as the low halves of rax... where those are 8 bytes."""
    slots = dict(slots)
    for narrow, wide in _LOW_HALVES.items():
        if narrow not in slots and slots.get(wide, (0, 0))[1] == 8:
            slots[narrow] = (slots[wide][0], 4)
    return slots


def _slicer(spans):
    """The bytes of ``spans`` from a packet, in one call (None: no span)."""
    return operator.itemgetter(*(slice(s, e) for s, e in spans)) if spans else None


class LayoutError(ValueError):
    """The `maint print remote-registers` text or a packet does not fit."""


class RegisterLayout:
    """Name -> (offset, size) of the registers in a `g` reply."""

    def __init__(self, slots: Dict[str, Tuple[int, int]]):
        if not slots:
            raise LayoutError("no register travels in the g packet")
        self.slots = dict(slots)
        # name -> slice of the packet's bytes: what a lookup at every hit uses
        self.cuts = {name: slice(offset, offset + size) for name, (offset, size) in slots.items()}
        self.size = max(offset + size for offset, size in self.slots.values())
        self._spans: Dict[Tuple[str, ...], tuple] = {}
        self._names: Dict[Tuple[str, ...], tuple] = {}

    @classmethod
    def parse(cls, text: str) -> "RegisterLayout":
        """From ``maint print remote-registers``: rows with a g/G offset."""
        slots = {}
        for line in text.splitlines():
            match = _ROW.match(line)
            if match and match.group(1) != "''":
                slots[match.group(1)] = (int(match.group(4)), int(match.group(2)))
        return cls(with_low_halves(slots))

    def spans(self, names: Iterable[str]) -> Tuple[frozenset, Tuple[Tuple[int, int], ...]]:
        """(the names of ``names`` the packet has, the byte ranges they
        occupy with adjacent ones merged); cached per tuple of names."""
        return self._ranges(tuple(names))[:2]

    def _ranges(self, key: Tuple[str, ...]) -> tuple:
        """spans() and a callable that cuts those ranges out of a packet's
        bytes as one tuple (one C call: a loop over ~10 ranges per exit costs
        more than the rest of the comparison)."""
        found = self._spans.get(key)
        if found is None:
            known = frozenset(n for n in key if n in self.slots)
            ranges = sorted((self.slots[n][0], self.slots[n][0] + self.slots[n][1])
                            for n in known)
            merged = []
            for start, end in ranges:
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            spans = tuple((s, e) for s, e in merged)
            found = self._spans[key] = (known, spans, _slicer(spans))
        return found

    def decode(self, reply: bytes, names: Tuple[str, ...]) -> "RawRegisters":
        """The registers ``names`` (those the packet has) from a `g` reply in hex."""
        unavailable = b"x" in reply
        if unavailable:      # the stub marks registers it cannot read with xx
            text = reply.decode("ascii", "replace")
            missing = {i // 2 for i in range(0, len(text), 2) if text[i] == "x"}
            reply = reply.replace(b"x", b"0")
        try:
            raw = bytes.fromhex(reply.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise LayoutError("the g reply is not hex") from None
        if len(raw) < self.size:
            raise LayoutError(f"the g reply has {len(raw)} bytes, the layout {self.size}")
        if unavailable:
            present = tuple(n for n in names if n in self.slots
                            and self.slots[n][0] not in missing)
            return RawRegisters(self, raw, present)
        return RawRegisters(self, raw, *self._chosen(names))

    def _chosen(self, names: Tuple[str, ...]) -> Tuple[Tuple[str, ...], frozenset]:
        """(the names the packet has, as a set too), cached: the per-interrupt
        paths ask for the same tuple every time."""
        found = self._names.get(names)
        if found is None:
            present = tuple(n for n in names if n in self.slots)
            found = self._names[names] = (present, frozenset(present))
        return found


class RawRegisters(Mapping):
    """Read-only name -> int over a `g` reply's bytes, for the chosen names;
    values wider than 64 bits (xmm) come as one integer too."""

    __slots__ = ("layout", "raw", "names", "_index")

    def __init__(self, layout: RegisterLayout, raw: bytes, names: Tuple[str, ...],
                 index: Optional[frozenset] = None):
        self.layout = layout
        self.raw = raw
        self.names = names
        self._index = frozenset(names) if index is None else index

    def __getitem__(self, name: str) -> int:
        if name not in self._index:
            raise KeyError(name)
        return int.from_bytes(self.raw[self.layout.cuts[name]], "little")

    def __contains__(self, name) -> bool:
        return name in self._index

    def get(self, name, default=None):
        # Mapping.get goes through __getitem__ and KeyError; this runs at every hit
        if name not in self._index:
            return default
        return int.from_bytes(self.raw[self.layout.cuts[name]], "little")

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def only(self, names: Iterable[str]) -> "RawRegisters":
        """The same bytes, seen through ``names`` (those this one has)."""
        present, index = self.layout._chosen(tuple(names))
        if not index <= self._index:
            present = tuple(n for n in present if n in self._index)
            index = None
        return RawRegisters(self.layout, self.raw, present, index)

    def same(self, other: "RawRegisters", names: Tuple[str, ...]) -> Optional[bool]:
        """Whether ``names`` hold the same bytes in both; None when the two
        cannot be compared byte for byte (other layouts, names missing)."""
        if other.layout is not self.layout:
            return None
        known, _, slices = self.layout._ranges(tuple(names))
        if not (known <= self._index and known <= other._index):
            return None
        return slices is None or slices(self.raw) == slices(other.raw)
