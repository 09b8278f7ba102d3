/*
 * GDT layout shared by both kernels, plus the descriptor encoder.
 * i386 adds SEL_DF_TSS (0x30) for its double-fault task; see i386/arch.h.
 * Usable from assembly (selectors only).
 */
#ifndef SEGMENTS_H
#define SEGMENTS_H

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE (0x18 | 3) /* RPL 3: what ring-3 CS holds */
#define SEL_UDATA (0x20 | 3)
#define SEL_TSS 0x28         /* 16-byte descriptor in long mode */

#define GDT_INDEX(sel) ((sel) >> 3) /* drops the RPL/TI bits */

#ifndef __ASSEMBLER__
#include "types.h"

/* Access byte */
#define DESC_P 0x80
#define DESC_DPL(n) ((n) << 5)
#define DESC_S 0x10         /* code/data (as opposed to system) */
#define DESC_CODE 0x0a      /* execute/read */
#define DESC_DATA 0x02      /* read/write */
#define DESC_TSS_AVAIL 0x09 /* available 32-bit TSS / 64-bit TSS */

/* Flags nibble */
#define DESC_G 0x8  /* limit in 4 KiB units */
#define DESC_DB 0x4 /* 32-bit default operand size */
#define DESC_L 0x2  /* 64-bit code */

static inline uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned access,
				unsigned flags)
{
	return (uint64_t)(limit & 0xffff) |
	       ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)(access & 0xff) << 40) |
	       ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)(flags & 0xf) << 52) |
	       ((uint64_t)(base >> 24) << 56);
}
#endif

#endif
