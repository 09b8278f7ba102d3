/* The parts of Multiboot 1 the kernels use. Usable from assembly. */
#ifndef MULTIBOOT_H
#define MULTIBOOT_H

#define MB_HEADER_MAGIC 0x1badb002
/* No flags: an ELF image needs no address fields, and we need no memory map
 * or video mode; the command line is always passed when present. */
#define MB_HEADER_FLAGS 0x0
#define MB_BOOT_MAGIC 0x2badb002 /* in eax at entry */

#ifndef __ASSEMBLER__
#include "types.h"

#define MB_INFO_CMDLINE (1u << 2)

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline; /* physical address of a NUL-terminated string */
	/* further fields unused */
};
#endif

#endif
