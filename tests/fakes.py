"""A fake target for unit tests of pure decoding: memory regions and a CPU
state, no GDB and no QEMU.  Integration tests never use it."""

from gdbext.errors import TargetMemoryError


class FakeTarget:
    def __init__(self, cpu_state, regions=None, symbols=None):
        self._cpu_state = cpu_state
        self.regions = dict(regions or {})      # base address -> bytes
        self.symbols = dict(symbols or {})      # address -> name
        self.reads = []

    def cpu_state(self):
        return self._cpu_state

    def read_memory(self, address, size):
        self.reads.append((address, size))
        for base, data in self.regions.items():
            if base <= address and address + size <= base + len(data):
                return bytes(data[address - base:address - base + size])
        raise TargetMemoryError(address, size, "not mapped")

    def symbolize(self, address):
        name = self.symbols.get(address)
        return f"{name}+0" if name else None
