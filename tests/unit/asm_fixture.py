"""Byte fixtures for the static analysis: GNU as assembles a snippet at test
time (no binaries in the tree) into a flat image at a fixed address, which a
reader serves like target memory."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from gdbext.errors import TargetMemoryError

BASE = 0x100000

needs_as = pytest.mark.skipif(shutil.which("as") is None or shutil.which("objcopy") is None,
                              reason="GNU as/objcopy not installed")


class Image:
    def __init__(self, code: bytes, symbols):
        self.code = code
        self.symbols = symbols

    def read(self, address, size):
        offset = address - BASE
        if offset < 0 or offset >= len(self.code):
            raise TargetMemoryError(address, size)
        return self.code[offset:offset + size]

    def __getitem__(self, name):
        return self.symbols[name]


def assemble(source: str, bits: int = 64) -> Image:
    """Assemble AT&T ``source`` (labels become symbols) at BASE."""
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "t.s").write_text(f".text\n.code{bits}\n{source}\n")
        subprocess.run(["as", f"--{bits}", "-o", str(work / "t.o"), str(work / "t.s")],
                       check=True, capture_output=True)
        subprocess.run(["ld", "-m", "elf_x86_64" if bits == 64 else "elf_i386", "-Ttext",
                        hex(BASE), "-e", "0", "-o", str(work / "t.elf"), str(work / "t.o")],
                       check=True, capture_output=True)
        subprocess.run(["objcopy", "-O", "binary", "-j", ".text", str(work / "t.elf"),
                        str(work / "t.bin")], check=True, capture_output=True)
        nm = subprocess.run(["nm", str(work / "t.elf")], check=True, capture_output=True,
                            text=True).stdout
        symbols = {line.split()[2]: int(line.split()[0], 16) for line in nm.splitlines()
                   if len(line.split()) == 3}
        return Image((work / "t.bin").read_bytes(), symbols)
