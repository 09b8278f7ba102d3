# Everything architecture-specific about building the x86_64 kernel.
# -mno-red-zone: ring-0 interrupts push onto the interrupted stack, which
# would clobber the 128 bytes below rsp that leaf functions may use.
x86_64_CFLAGS  := -m64 -mcmodel=small -mno-red-zone
x86_64_LDFLAGS := -m elf_x86_64
# QEMU's -kernel multiboot loader refuses ELF64, so also ship an ELF32 copy.
x86_64_IMAGES  := kernel.elf kernel.elf32
# Objects from foreign/ (other compilers; see the Makefile).
x86_64_FOREIGN := style_clang style_rust
