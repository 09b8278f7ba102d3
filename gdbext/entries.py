"""Handler entries seen so far, per CPU: which frame belongs to the handler a
CPU is running now, once the handler has pushed registers and RSP moved."""

import itertools
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .frame import InterruptFrame

# How far below its frame a handler's stack may reach and still count as the
# same handler run (kernel stacks are 4-16 KiB; IST stacks smaller).
STACK_WINDOW = 64 * 1024


@dataclass
class HandlerEntry:
    cpu: int
    vectors: Tuple[int, ...]     # the vectors using this handler; one when known
    handler: int
    frame: InterruptFrame
    sequence: int = 0
    extra: Dict[str, object] = field(default_factory=dict)

    @property
    def vector(self) -> Optional[int]:
        return self.vectors[0] if len(self.vectors) == 1 else None

    def encloses(self, rsp: int) -> bool:
        """RSP is on this run's stack, below its frame: the handler is still running."""
        return self.frame.address - STACK_WINDOW <= rsp <= self.frame.address


class EntryLog:
    """Entries per CPU, newest last."""

    def __init__(self):
        self._by_cpu: Dict[int, List[HandlerEntry]] = {}
        self._sequence = itertools.count(1)

    def record(self, entry: HandlerEntry) -> HandlerEntry:
        entry.sequence = next(self._sequence)
        runs = self._by_cpu.setdefault(entry.cpu, [])
        # Entries the new frame is not nested in have returned (or switched
        # away); keep the ones it is nested in.
        runs[:] = [old for old in runs if old.encloses(entry.frame.address)]
        runs.append(entry)
        return entry

    def active(self, cpu: int, rsp: int) -> Optional[HandlerEntry]:
        for entry in reversed(self._by_cpu.get(cpu, [])):
            if entry.encloses(rsp):
                return entry
        return None

    def depth(self, cpu: int, rsp: int) -> int:
        return sum(1 for entry in self._by_cpu.get(cpu, []) if entry.encloses(rsp))

    def clear(self) -> None:
        self._by_cpu.clear()
