"""Decoding what a stopped target shows: interrupt frames and their reports,
handler entries, register snapshots, ELF files, disassembly, QEMU monitor
text, user settings combined with what the target reports, how a target
ended.  Pure: no gdb."""
