# The Linux test target's own parts (included by ../Makefile; paths are
# relative to qemu_targets/). The kernel itself is Debian's, fetched by
# linux/fetch-kernel.sh (./run setup); building these does not need it.
#   build/linux/init            static x86_64 /init, no libc
#   build/linux/initramfs.cpio  newc archive with /init and /dev/console

LINUX_CFLAGS := -std=gnu11 -ffreestanding -nostdlib -static -fno-pic -no-pie \
	-fno-stack-protector -O2 -g -Wall -Wextra -Werror \
	-Wl,--build-id=none -Wl,-z,noexecstack
PYTHON3 ?= python3

$(BUILD)/linux/init: linux/init.c linux/linux.mk
	@mkdir -p $(@D)
	$(CC) $(LINUX_CFLAGS) -o $@ $<

$(BUILD)/linux/initramfs.cpio: $(BUILD)/linux/init linux/mkinitramfs.py
	$(PYTHON3) linux/mkinitramfs.py --init $< -o $@

all: $(BUILD)/linux/initramfs.cpio
