"""Looking up segment descriptors by selector in the GDT."""

from typing import Optional

from gdbext.errors import TargetMemoryError
from gdbext.x86.cpu import DescriptorTableRegister, SegmentDescriptor, Selector


class Gdt:
    """The GDT of one CPU, read once.  ``descriptor(sel)`` is None for a null
    selector or one beyond the limit; LDT selectors are not resolved."""

    def __init__(self, data: bytes, gdtr: DescriptorTableRegister):
        self.data = data
        self.gdtr = gdtr

    @classmethod
    def read(cls, target, gdtr: Optional[DescriptorTableRegister]) -> Optional["Gdt"]:
        """The GDT, or None when GDTR is unknown or the table cannot be read."""
        if gdtr is None or gdtr.limit < 7:
            return None
        try:
            return cls(target.read_memory(gdtr.base, min(gdtr.size, 0x10000)), gdtr)
        except TargetMemoryError:
            return None

    def descriptor(self, selector: int) -> Optional[SegmentDescriptor]:
        sel = Selector(selector)
        offset = sel.index * 8
        if sel.table != "GDT" or sel.index == 0 or offset + 7 > self.gdtr.limit:
            return None
        return SegmentDescriptor.from_bytes(self.data[offset:offset + 8])

    def describe(self, selector: int) -> str:
        """For error-code and frame text: "code64, DPL 0" or why there is none."""
        sel = Selector(selector)
        if sel.table != "GDT":
            return "LDT descriptor (not decoded)"
        if sel.index == 0:
            return "null selector"
        desc = self.descriptor(selector)
        if desc is None:
            return f"beyond the GDT limit {self.gdtr.limit:#x}"
        return desc.describe()
