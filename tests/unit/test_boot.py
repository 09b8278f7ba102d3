"""What to boot: kernel kinds, validation, and the QEMU command line made from it."""

import struct
from pathlib import Path

import pytest

from gdbext.client.boot import BootSpec
from gdbext.client.kernel_image import BZIMAGE, MULTIBOOT_ELF, identify
from gdbext.client.qemu import Qemu
from gdbext.errors import UsageError


def bzimage(path: Path, kernel_64: bool = True, version: int = 0x20F) -> Path:
    head = bytearray(0x400)
    head[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", head, 0x206, version)
    head[0x236] = 1 if kernel_64 else 0
    path.write_bytes(bytes(head))
    return path


def elf(path: Path, machine: int = 62) -> Path:
    head = bytearray(64)
    head[:4] = b"\x7fELF"
    head[4], head[5] = 2, 1
    struct.pack_into("<H", head, 18, machine)
    path.write_bytes(bytes(head))
    return path


def test_kernel_kinds(tmp_path):
    image = identify(bzimage(tmp_path / "vmlinuz"))
    assert (image.kind, image.arch.name, image.has_symbols) == (BZIMAGE, "x86_64", False)
    assert identify(bzimage(tmp_path / "old", kernel_64=False)).arch.name == "i386"
    image = identify(elf(tmp_path / "k.elf", machine=3))
    assert (image.kind, image.arch.name, image.has_symbols) == (MULTIBOOT_ELF, "i386", True)
    (tmp_path / "text").write_text("hello")
    with pytest.raises(UsageError, match=r"neither an ELF kernel nor a Linux bzImage"):
        identify(tmp_path / "text")


def test_plan_defaults_and_symbols(tmp_path):
    kernel = bzimage(tmp_path / "vmlinuz")
    plan = BootSpec(kernel).plan()
    assert (plan.arch.name, plan.symbols, plan.memory, plan.accel) == \
        ("x86_64", None, "512M", "tcg")
    assert BootSpec(kernel, symbols=kernel).plan().symbols == kernel
    multiboot = elf(tmp_path / "k.elf")
    assert BootSpec(multiboot).plan().symbols == multiboot


@pytest.mark.parametrize("spec,message", [
    (dict(), "nothing to boot: give a KERNEL, --drive/--cdrom, or QEMU arguments"),
    (dict(kernel="missing"), "kernel not found: missing"),
    (dict(kernel="vmlinuz", smp=0), "--smp wants a number of CPUs from 1 to 255, got 0"),
    (dict(kernel="vmlinuz", memory="12Q"), "--memory wants a size such as 512M or 2G, got '12Q'"),
    (dict(kernel="k.elf", initrd="vmlinuz"), "--initrd is for a Linux bzImage; "),
    (dict(drives=("disk.img",), append="quiet"), "--append needs a KERNEL"),
    (dict(kernel="vmlinuz", initrd="nope"), "initrd not found: nope"),
])
def test_plan_rejects(tmp_path, monkeypatch, spec, message):
    monkeypatch.chdir(tmp_path)
    bzimage(tmp_path / "vmlinuz")
    elf(tmp_path / "k.elf")
    (tmp_path / "disk.img").write_bytes(b"\0" * 512)
    spec = {key: (tuple(Path(v) for v in value) if key == "drives" else
                  Path(value) if key in ("kernel", "initrd") else value)
            for key, value in spec.items()}
    with pytest.raises(UsageError) as error:
        BootSpec(**spec).plan()
    assert str(error.value).startswith(message)


def test_attach_refuses_what_starts_qemu(tmp_path):
    with pytest.raises(UsageError, match=r"^--initrd configures the QEMU that isrdbg starts"):
        BootSpec(initrd=tmp_path).plan(attaching=True)
    assert BootSpec().plan(attaching=True).arch.name == "x86_64"


def test_qemu_command_line(tmp_path):
    kernel = bzimage(tmp_path / "vmlinuz")
    initrd = tmp_path / "initrd.cpio"
    initrd.write_bytes(b"070701")
    work = tmp_path / "work,dir"
    spec = BootSpec(kernel, "console=ttyS0", initrd=initrd, smp=2, memory="1G",
                    qemu_args=("-cpu", "max"))
    argv = Qemu(spec.plan(), work).command(kernel)
    joined = " ".join(argv)
    assert argv[:7] == ["qemu-system-x86_64", "-kernel", str(kernel), "-initrd", str(initrd),
                        "-append", "console=ttyS0"]
    assert "-smp 2,sockets=2" in joined and "-m 1G" in joined and "-accel tcg" in joined
    assert f"unix:{tmp_path}/work,,dir/gdb.sock,server=on" in joined   # QEMU's comma escape
    assert argv[-2:] == ["-cpu", "max"]
    user_accel = BootSpec(kernel, qemu_args=("-accel", "kvm")).plan()
    assert user_accel.accel is None       # the user's own -accel is left alone
    assert "-accel" not in Qemu(user_accel, work).command(kernel)[:-2]


def test_disk_images(tmp_path):
    disk = tmp_path / "os.img"
    disk.write_bytes(b"QFI\xfb" + b"\0" * 508)
    iso = tmp_path / "a,b.iso"
    iso.write_bytes(b"\0" * 2048)
    plan = BootSpec(drives=(disk,), cdrom=iso).plan()
    argv = Qemu(plan, tmp_path).command(None)
    assert "-kernel" not in argv
    assert f"file={disk},format=qcow2,if=ide,media=disk" in argv
    assert f"file={tmp_path}/a,,b.iso,format=raw,if=ide,index=2,media=cdrom" in argv
    assert argv[argv.index("-boot") + 1] == "order=cd"


def test_kernel_elf_from_a_bzimage(tmp_path):
    """The payload is found through the setup header and decompressed by its magic."""
    import gzip
    from gdbext.client.kernel_image import extract_kernel_elf
    elf_bytes = b"\x7fELF" + bytes(range(256)) * 4
    payload = gzip.compress(elf_bytes) + struct.pack("<I", len(elf_bytes))
    image = bytearray(bzimage(tmp_path / "vmlinuz").read_bytes())
    image[0x1F1] = 1                                   # setup: 1 + 1 sectors
    struct.pack_into("<II", image, 0x248, 0x100, len(payload))
    image[1024:] = b"\0" * 0x100 + payload
    path = tmp_path / "vmlinuz"
    path.write_bytes(bytes(image))
    out = extract_kernel_elf(identify(path), tmp_path / "vmlinux")
    assert out.read_bytes() == elf_bytes
    image[1024 + 0x100:1024 + 0x104] = b"\x12\x34\x56\x78"
    path.write_bytes(bytes(image))
    with pytest.raises(Exception, match=r"unknown compression of the kernel payload \(starts 12345678\)"):
        extract_kernel_elf(identify(path), tmp_path / "vmlinux")


def test_lidt_sites_are_found_without_a_sweep():
    """lidt with each ModRM form, between bytes that a linear sweep would misread."""
    from gdbext.client.elf import ARCHES  # noqa: F401  (capstone is needed below)
    from gdbext.decode.disasm import lidt_sites
    from gdbext.decode.elf import CodeSection
    code = (b"\x0f\x01\x18"                          # lidt (%rax)          3 bytes
            b"\xb8\x0f\x01\x1d\x00"                   # mov $0x1d010f,%eax: no lidt inside
            b"\x0f\x01\x1d\x10\x00\x00\x00"           # lidt 0x10(%rip)      7 bytes
            b"\x0f\x01\xd8"                           # vmrun (mod = 3): not lidt
            b"\x0f\x01\x5c\x24\x06")                  # lidt 6(%rsp)         5 bytes
    sites = lidt_sites([CodeSection(".text", 0x1000, code)], 64)
    # the stray 0f 01 1d inside the mov decodes as a lidt too: it costs a breakpoint
    # that never fires, and finding every real one matters more
    assert {0x1003, 0x1008 + 7, 0x1012 + 5} <= set(sites)
    assert 0x1012 + 3 not in sites                    # vmrun
