#!/usr/bin/env python3
"""Packs isrdbg's /init into a Linux initramfs: a "newc" cpio archive
(the SVR4 portable format without checksums, magic 070701), written here so
the build needs no cpio tool.

The archive holds /dev, /dev/console (char 5:1: the kernel opens it as init's
stdin/stdout/stderr before running /init), /proc and /init. Every entry is
owned by root with mtime 0, so the same init gives the same bytes.

    mkinitramfs.py --init build/linux/init -o build/linux/initramfs.cpio
"""

import argparse
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List

MAGIC = b"070701"
TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    name: str              # path inside the archive, without a leading "/"
    mode: int              # file type bits | permission bits
    data: bytes = b""
    rdev_major: int = 0
    rdev_minor: int = 0


def directory(name: str) -> Entry:
    return Entry(name, stat.S_IFDIR | 0o755)


def char_device(name: str, major: int, minor: int) -> Entry:
    return Entry(name, stat.S_IFCHR | 0o600, rdev_major=major, rdev_minor=minor)


def executable(name: str, data: bytes) -> Entry:
    return Entry(name, stat.S_IFREG | 0o755, data)


def _pad4(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _member(ino: int, entry: Entry) -> bytes:
    name = entry.name.encode() + b"\0"
    # Directories count "." and their parent's link; nothing here is
    # hard-linked, and the kernel ignores nlink for everything else.
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (ino, entry.mode, 0, 0, nlink, 0, len(entry.data),
              0, 0, entry.rdev_major, entry.rdev_minor, len(name), 0)
    for value in fields:
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"mkinitramfs: {entry.name}: field {value} does not fit newc")
    header = MAGIC + b"".join(b"%08X" % value for value in fields)
    # The name is padded so that header + name ends on 4 bytes; so is the data.
    return header + name + _pad4(len(header) + len(name)) + entry.data + _pad4(len(entry.data))


def newc_archive(entries: Iterable[Entry]) -> bytes:
    """The newc bytes for entries (in order), ending with the trailer."""
    members: List[bytes] = []
    for ino, entry in enumerate(entries, start=1):
        if not entry.name or entry.name.startswith("/") or entry.name == TRAILER:
            raise ValueError(f"mkinitramfs: bad member name {entry.name!r}")
        if entry.data and not stat.S_ISREG(entry.mode):
            raise ValueError(f"mkinitramfs: {entry.name}: only regular files have data")
        members.append(_member(ino, entry))
    members.append(_member(0, Entry(TRAILER, 0)))
    return b"".join(members)


def initramfs_entries(init: bytes) -> List[Entry]:
    return [directory("dev"), char_device("dev/console", 5, 1),
            directory("proc"), executable("init", init)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="mkinitramfs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--init", required=True, type=Path, help="the static init program")
    parser.add_argument("-o", "--output", required=True, type=Path, help="the cpio to write")
    args = parser.parse_args(argv)
    try:
        init = args.init.read_bytes()
    except OSError as error:
        print(f"mkinitramfs: cannot read {args.init}: {error.strerror}", file=sys.stderr)
        return 1
    archive = newc_archive(initramfs_entries(init))
    partial = args.output.with_name(args.output.name + ".tmp")
    partial.write_bytes(archive)
    partial.replace(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
