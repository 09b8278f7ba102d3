# Everything architecture-specific about building the i386 kernel.
i386_CFLAGS  := -m32 -march=i686
i386_LDFLAGS := -m elf_i386
i386_IMAGES  := kernel.elf
# Objects from foreign/ (other compilers; see the Makefile).
i386_FOREIGN   := style_clang
