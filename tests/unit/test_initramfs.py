"""The newc cpio writer that packs the Linux test target's /init
(qemu_targets/linux/mkinitramfs.py), checked against the format as the
kernel's initramfs unpacker reads it (init/initramfs.c)."""

import importlib.util
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "qemu_targets" / "linux" / "mkinitramfs.py"
_spec = importlib.util.spec_from_file_location("mkinitramfs", SCRIPT)
mkinitramfs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mkinitramfs)

FIELDS = ("ino", "mode", "uid", "gid", "nlink", "mtime", "filesize",
          "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check")


def parse_newc(data: bytes):
    """An independent reader: a list of (header dict, name, file data)."""
    members, offset = [], 0
    while True:
        assert offset % 4 == 0, f"member at unaligned offset {offset}"
        assert data[offset:offset + 6] == b"070701"
        header = {name: int(data[offset + 6 + 8 * i: offset + 14 + 8 * i], 16)
                  for i, name in enumerate(FIELDS)}
        name_start = offset + 110
        raw_name = data[name_start:name_start + header["namesize"]]
        assert raw_name.endswith(b"\0") and raw_name.count(b"\0") == 1
        name = raw_name[:-1].decode()
        data_start = (name_start + header["namesize"] + 3) & ~3
        body = data[data_start:data_start + header["filesize"]]
        offset = (data_start + header["filesize"] + 3) & ~3
        members.append((header, name, body))
        if name == "TRAILER!!!":
            assert offset == len(data), "bytes after the trailer"
            return members


def test_exact_bytes_of_one_member():
    archive = mkinitramfs.newc_archive([mkinitramfs.executable("init", b"ab")])
    header = (b"070701" b"00000001" b"000081ED" b"00000000" b"00000000"
              b"00000001" b"00000000" b"00000002" b"00000000" b"00000000"
              b"00000000" b"00000000" b"00000005" b"00000000")
    # 110 + 5 name bytes = 115: one pad byte; data "ab" + two pad bytes.
    assert archive.startswith(header + b"init\0" + b"\0" + b"ab\0\0")
    assert archive[len(header) + 10:].startswith(b"070701")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 4097])
def test_every_member_is_4_byte_aligned(size):
    data = bytes(range(256)) * (size // 256 + 1)
    archive = mkinitramfs.newc_archive([mkinitramfs.executable("x" * (size % 7 + 1), data[:size])])
    (header, _, body), trailer = parse_newc(archive)
    assert body == data[:size] and header["filesize"] == size
    assert trailer[1] == "TRAILER!!!" and trailer[0]["ino"] == 0


def test_initramfs_layout():
    members = parse_newc(mkinitramfs.newc_archive(mkinitramfs.initramfs_entries(b"\x7fELF")))
    by_name = {name: (header, body) for header, name, body in members}
    assert list(by_name) == ["dev", "dev/console", "proc", "init", "TRAILER!!!"]
    console = by_name["dev/console"][0]
    assert stat.S_ISCHR(console["mode"])
    assert (console["rdevmajor"], console["rdevminor"]) == (5, 1)
    for directory in ("dev", "proc"):
        assert stat.S_ISDIR(by_name[directory][0]["mode"])
    init, body = by_name["init"]
    assert stat.S_ISREG(init["mode"]) and init["mode"] & 0o111 == 0o111
    assert body == b"\x7fELF"
    # Reproducible: root-owned, mtime 0, distinct inode numbers.
    assert all(h["uid"] == h["gid"] == h["mtime"] == 0 for h, _, _ in members)
    inodes = [h["ino"] for h, name, _ in members if name != "TRAILER!!!"]
    assert len(set(inodes)) == len(inodes) and 0 not in inodes


@pytest.mark.parametrize("entry", [
    mkinitramfs.Entry("/init", stat.S_IFREG | 0o755),
    mkinitramfs.Entry("", stat.S_IFDIR | 0o755),
    mkinitramfs.Entry("TRAILER!!!", stat.S_IFREG),
    mkinitramfs.Entry("dev", stat.S_IFDIR | 0o755, b"data"),
])
def test_bad_entries_are_refused(entry):
    with pytest.raises(ValueError, match="^mkinitramfs: "):
        mkinitramfs.newc_archive([entry])


def test_command_line_writes_the_archive(tmp_path):
    init = tmp_path / "init"
    init.write_bytes(b"\x7fELF-init")
    out = tmp_path / "initramfs.cpio"
    done = subprocess.run([sys.executable, str(SCRIPT), "--init", str(init), "-o", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {name for _, name, _ in parse_newc(out.read_bytes())} >= {"init", "dev/console"}
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_init_is_one_line_error(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--init", str(tmp_path / "nope"),
                           "-o", str(tmp_path / "out.cpio")], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("mkinitramfs: cannot read ")
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out.cpio").exists()
